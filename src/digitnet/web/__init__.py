"""The drawing page and JSON API: ``pip install 'digitnet[web]'``, then ``digitnet serve``."""
