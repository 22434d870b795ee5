"""ONNX export: the inference graph of a model, to run anywhere ONNX runs (``pip install 'digitnet[onnx]'``).

The graph takes the raw inputs, as the model does (for the embedded digits: 64 pixels 0..16),
with the input scaling folded into the first layer::

    x (n, d) -> Gemm(W1 / s, b1 - (o / s) @ W1) -> Tanh -> Gemm(W2, b2) -> Softmax -> probabilities (n, K)
                                                      -> ArgMax -> column (n,) -> Gather(classes) -> label (n,)

``label`` is the class label: a DigitNetClassifier's ``classes_`` (strings, non-contiguous integers,
floats), typed as they are (string, int64, double, bool); a model without labels answers its column,
0..K-1 (int64), with no Gather. It does not check the inputs' range (ONNX has no error path): check
them before, as ``Model.predict`` does. The model's description, its class labels included, goes into
the ONNX model's metadata properties.
"""

from __future__ import annotations

import json

import numpy as np

from ._version import __version__
from .errors import DigitnetError
from .model import Model
from .persistence import json_safe

OPSET = 17  # Gemm, Tanh, Softmax(axis=1) and ArgMax as every runtime of the last years knows them
IR_VERSION = 8  # the oldest IR that opset 17 allows: the widest choice of runtimes


def to_onnx(model: Model):
    """The inference graph of ``model`` (a Model, or a fitted DigitNetClassifier) as an ``onnx.ModelProto``
    (float32 or float64, as the model's weights)."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise DigitnetError("ONNX export needs the onnx package: pip install 'digitnet[onnx]'") from None
    classes = getattr(model, "classes_", None)  # an estimator's labels, or those of an estimator's network
    model = getattr(model, "model_", model)
    classes = getattr(model, "classes", None) if classes is None else classes
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
    ]
    if classes is None:
        nodes.append(helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0, name="argmax"))
        label_type = TensorProto.INT64
    else:
        labels, label_type = _labels(np.asarray(classes), model.n_classes)
        weights.append(numpy_helper.from_array(labels, "classes") if labels.dtype != object
                       else helper.make_tensor("classes", TensorProto.STRING, [len(labels)], [str(c).encode() for c in labels]))
        nodes += [helper.make_node("ArgMax", ["probabilities"], ["column"], axis=1, keepdims=0, name="argmax"),
                  helper.make_node("Gather", ["classes", "column"], ["label"], axis=0, name="label_of_column")]
    graph = helper.make_graph(
        nodes,
        "digitnet",
        [helper.make_tensor_value_info("x", elem, ["n", model.n_inputs])],
        [helper.make_tensor_value_info("probabilities", elem, ["n", model.n_classes]),
         helper.make_tensor_value_info("label", label_type, ["n"])],
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
        "classes": json.dumps(json_safe(list(range(model.n_classes)) if classes is None else np.asarray(classes).tolist())),
        "config": json.dumps(model.config.to_dict(), sort_keys=True),
        "test_accuracy": json.dumps(model.metrics.get("accuracy")),
    })
    onnx.checker.check_model(proto)
    return proto


def to_bytes(model: Model) -> bytes:
    return to_onnx(model).SerializeToString()


def _labels(classes: np.ndarray, n_classes: int):
    """The labels as the constant the graph gathers from, and its ONNX element type."""
    from onnx import TensorProto

    if classes.shape != (n_classes,):
        raise DigitnetError(f"{classes.size} class labels for a network of {n_classes} outputs")
    kind = classes.dtype.kind
    if kind in "US" or classes.dtype == object:
        return classes.astype(object), TensorProto.STRING
    if kind == "b":
        return classes.astype(np.bool_), TensorProto.BOOL
    if kind in "iu":
        return classes.astype(np.int64), TensorProto.INT64
    return classes.astype(np.float64), TensorProto.DOUBLE
