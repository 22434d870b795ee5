"""ONNX export: the inference graph of a model, to run anywhere ONNX runs (``pip install 'digitnet[onnx]'``).

The graph takes the raw inputs, as the model does (for the embedded digits: 64 pixels 0..16),
with the input scaling folded into the first layer::

    x (n, d) -> Gemm(W1 / s, b1 - (o / s) @ W1) -> Tanh -> Gemm(W2, b2) -> Softmax -> probabilities (n, K)
                                                                                   -> ArgMax -> label (n,)

It does not check the inputs' range (ONNX has no error path): check them before, as
``Model.predict`` does. The model's description goes into the ONNX model's metadata properties.
"""

from __future__ import annotations

import json

import numpy as np

from ._version import __version__
from .errors import DigitnetError
from .model import Model

OPSET = 17  # Gemm, Tanh, Softmax(axis=1) and ArgMax as every runtime of the last years knows them
IR_VERSION = 8  # the oldest IR that opset 17 allows: the widest choice of runtimes


def to_onnx(model: Model):
    """The model's inference graph as an ``onnx.ModelProto`` (float32 or float64, as the model's weights)."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise DigitnetError("ONNX export needs the onnx package: pip install 'digitnet[onnx]'") from None
    W1, b1, W2, b2 = model.folded
    dtype = W1.dtype  # the network's, or float64 where the folded scaling needs it (inputs of size 1e200)
    elem = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}[dtype]
    weights = [numpy_helper.from_array(np.ascontiguousarray(w, dtype=dtype), name)
               for w, name in ((W1, "W1"), (b1, "b1"), (W2, "W2"), (b2, "b2"))]
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["z1"], name="hidden"),  # x @ W1 + b1, the scaling folded in
        helper.make_node("Tanh", ["z1"], ["a1"], name="tanh"),
        helper.make_node("Gemm", ["a1", "W2", "b2"], ["z2"], name="output"),
        helper.make_node("Softmax", ["z2"], ["probabilities"], axis=1, name="softmax"),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0, name="argmax"),
    ]
    graph = helper.make_graph(
        nodes,
        "digitnet",
        [helper.make_tensor_value_info("x", elem, ["n", model.n_inputs])],
        [helper.make_tensor_value_info("probabilities", elem, ["n", model.n_classes]),
         helper.make_tensor_value_info("label", TensorProto.INT64, ["n"])],
        initializer=weights,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="digitnet",
                              producer_version=__version__, doc_string=__doc__.splitlines()[0])
    proto.ir_version = IR_VERSION
    inputs = model.inputs
    helper.set_model_props(proto, {
        "digitnet_version": __version__,
        "inputs": inputs.describe(),
        "image_shape": json.dumps(list(inputs.image_shape) if inputs.image_shape else None),
        "value_range": json.dumps(list(inputs.value_range) if inputs.value_range else None),
        "n_classes": str(model.n_classes),
        "config": json.dumps(model.config.to_dict(), sort_keys=True),
        "test_accuracy": json.dumps(model.metrics.get("accuracy")),
    })
    onnx.checker.check_model(proto)
    return proto


def to_bytes(model: Model) -> bytes:
    return to_onnx(model).SerializeToString()
