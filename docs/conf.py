"""Sphinx configuration of digitnet's documentation site. `make docs` builds it into docs/_build/html.

Sphinx, because the docstrings are numpydoc (numpydoc is a Sphinx extension, the reference of
NumPy, SciPy and scikit-learn) and MyST-NB executes the notebooks at build time and lets their
text quote the run's own figures (``glue``). The site makes no request outside itself: MathJax
is served from _static (sphinx-mathjax-offline), the theme (furo) bundles its assets, and
widget JavaScript (fetched from a CDN by default) is turned off.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import digitnet  # noqa: E402
from digitnet_docs import drawing_model_figures  # noqa: E402

project = "digitnet"
author = "the digitnet developers"
copyright = "the digitnet developers, MIT licence"
release = version = digitnet.__version__

extensions = [
    "myst_nb",  # Markdown pages (MyST) and Jupyter notebooks, executed at build time
    "sphinx.ext.autodoc",
    "numpydoc",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static: no CDN
    "digitnet_docs",  # the API and CLI references generated from the code; the benchmark pages
]

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "jupyter_execute", "**.ipynb_checkpoints", "**/README.md"]

# MyST: $...$ and $$...$$ math (docs/backprop.md), GitHub-style heading anchors (#1-notation)
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "substitution"]
myst_heading_anchors = 3
# {{ drawing_pen_accuracy }} & co.: read from the shipped drawing model's own file (docs/guide/real-handwriting.md)
myst_substitutions = drawing_model_figures()

# notebooks: run on every build, top to bottom; a failing cell fails the build
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 600  # per cell, seconds: a stuck cell fails instead of hanging the build
nb_merge_streams = True
nb_ipywidgets_js = {}  # the default loads require.js and the widget manager from CDNs

# API reference: numpydoc renders the docstrings; autodoc lists members
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
autodoc_inherit_docstrings = False

smartquotes = False  # "--data" in the CLI's help texts must not become an en dash

html_theme = "furo"
html_title = f"digitnet {release}"
html_static_path = ["_static"]
html_css_files = ["digitnet.css"]
html_show_sourcelink = False
html_copy_source = False
