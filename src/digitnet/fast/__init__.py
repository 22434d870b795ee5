"""The compiled side: the same arithmetic as :mod:`digitnet.network` and :mod:`digitnet.optim`, fast.

- :mod:`.kernels`: numba loops (the per-sample epoch, the output layer, dropout, Adam, input checks)
- :mod:`.step`: the forward pass shared by training and inference, and one fused mini-batch step
- :mod:`.predict`: inference on raw inputs, row by row in one kernel (large batches across threads)
- :mod:`.augment`: each epoch's random shifts, affine maps, stroke widths and elastic fields, which the
  batch gather (kernels.gather) applies as it copies each batch

Readers: start with network.py. Tests check every piece here against it (tests/test_fused.py,
tests/test_blog.py, tests/test_model.py).
"""
