"""ONNX export: the inference graph of a model, to run anywhere ONNX runs (``pip install 'digitnet[onnx]'``).

The graph takes the raw inputs, as the model does (for the embedded digits: 64 pixels 0..16),
with the input scaling folded into the first layer::

    x (n, d) -> Gemm(W1 / s, b1 - (o / s) @ W1) -> Tanh -> Gemm(W2, b2) -> Softmax -> probabilities (n, K)
                                                      -> ArgMax -> column (n,) -> Gather(classes) -> label (n,)

A model trained with ``deskew`` straightens each image first, in the graph (moments by ReduceSum, the
bilinear reading by GridSample: opset 16 or later), so the graph takes the same raw inputs.

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
    nodes = []
    network_input = "x"
    if model.config.deskew:  # the images straightened first, as Model.predict_proba does
        deskew_nodes, deskew_weights = _deskew_graph(model.inputs.image_shape, dtype, elem)
        nodes += deskew_nodes
        weights += deskew_weights
        network_input = "x_deskewed"
    nodes += [
        helper.make_node("Gemm", [network_input, "W1", "b1"], ["z1"], name="hidden"),  # x @ W1 + b1, the scaling folded in
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


def _deskew_graph(shape: tuple[int, int], dtype: np.dtype, elem: int):
    """Nodes and constants that turn "x" (n, h * w) into "x_deskewed": digitnet.deskew's formulas, the bilinear
    reading done by GridSample (opset 16; align_corners 1, so that -1 and 1 are the centres of the edge pixels;
    zeros outside, as paper). A blank image (no ink) samples paper everywhere: 0, as it was."""
    from onnx import TensorProto, helper, numpy_helper

    h, w = shape
    d = h * w

    def const(name, value):
        return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)

    rows = np.repeat(np.arange(h), w).reshape(1, d)
    cols = np.tile(np.arange(w), h).reshape(1, d)
    weights = [const("dk_rows", rows), const("dk_cols", cols), const("dk_zero", 0.0), const("dk_one", 1.0),
               const("dk_cy", (h - 1) / 2), const("dk_cx", (w - 1) / 2),
               const("dk_to_grid_y", 2 / (h - 1)), const("dk_to_grid_x", 2 / (w - 1)),
               numpy_helper.from_array(np.array([1], np.int64), "dk_axis1"),
               numpy_helper.from_array(np.array([-1, 1, h, w], np.int64), "dk_image"),
               numpy_helper.from_array(np.array([-1, h, w, 2], np.int64), "dk_grid_shape"),
               numpy_helper.from_array(np.array([-1, d], np.int64), "dk_rows_shape"),
               numpy_helper.from_array(np.array([2], np.int64), "dk_axis2")]
    n = helper.make_node
    nodes = [
        n("ReduceSum", ["x", "dk_axis1"], ["dk_mass"], keepdims=1),  # (n, 1)
        n("Greater", ["dk_mass", "dk_zero"], ["dk_inked"]),
        n("Where", ["dk_inked", "dk_mass", "dk_one"], ["dk_safe"]),
        n("Mul", ["x", "dk_rows"], ["dk_xr"]), n("ReduceSum", ["dk_xr", "dk_axis1"], ["dk_sr"], keepdims=1),
        n("Div", ["dk_sr", "dk_safe"], ["dk_my"]),
        n("Mul", ["x", "dk_cols"], ["dk_xc"]), n("ReduceSum", ["dk_xc", "dk_axis1"], ["dk_sc"], keepdims=1),
        n("Div", ["dk_sc", "dk_safe"], ["dk_mx"]),
        n("Sub", ["dk_rows", "dk_my"], ["dk_dr"]), n("Sub", ["dk_cols", "dk_mx"], ["dk_dc"]),  # (n, d)
        n("Mul", ["x", "dk_dr"], ["dk_xdr"]),
        n("Mul", ["dk_xdr", "dk_dr"], ["dk_xdrdr"]), n("ReduceSum", ["dk_xdrdr", "dk_axis1"], ["dk_vr"], keepdims=1),
        n("Mul", ["dk_xdr", "dk_dc"], ["dk_xdrdc"]), n("ReduceSum", ["dk_xdrdc", "dk_axis1"], ["dk_cv"], keepdims=1),
        n("Greater", ["dk_vr", "dk_zero"], ["dk_spread"]),  # the masses cancel in cov / var_r
        n("Where", ["dk_spread", "dk_vr", "dk_one"], ["dk_vr_safe"]),
        n("Div", ["dk_cv", "dk_vr_safe"], ["dk_ratio"]),
        n("Where", ["dk_spread", "dk_ratio", "dk_zero"], ["dk_s"]),  # (n, 1) the slant
        n("Sub", ["dk_my", "dk_cy"], ["dk_shift_r"]), n("Add", ["dk_rows", "dk_shift_r"], ["dk_src_r"]),
        n("Sub", ["dk_rows", "dk_cy"], ["dk_r_centred"]), n("Mul", ["dk_s", "dk_r_centred"], ["dk_slant"]),
        n("Sub", ["dk_mx", "dk_cx"], ["dk_shift_c"]), n("Add", ["dk_cols", "dk_shift_c"], ["dk_src_c0"]),
        n("Add", ["dk_src_c0", "dk_slant"], ["dk_src_c"]),
        n("Mul", ["dk_src_r", "dk_to_grid_y"], ["dk_gy0"]), n("Sub", ["dk_gy0", "dk_one"], ["dk_gy"]),
        n("Mul", ["dk_src_c", "dk_to_grid_x"], ["dk_gx0"]), n("Sub", ["dk_gx0", "dk_one"], ["dk_gx"]),
        n("Unsqueeze", ["dk_gx", "dk_axis2"], ["dk_gx3"]), n("Unsqueeze", ["dk_gy", "dk_axis2"], ["dk_gy3"]),
        n("Concat", ["dk_gx3", "dk_gy3"], ["dk_grid_flat"], axis=2),  # (n, d, 2): (x, y) as GridSample wants
        n("Reshape", ["dk_grid_flat", "dk_grid_shape"], ["dk_grid"]),
        n("Reshape", ["x", "dk_image"], ["dk_images"]),
    ]
    if elem == TensorProto.FLOAT:
        nodes += [n("GridSample", ["dk_images", "dk_grid"], ["dk_sampled"], align_corners=1, mode="bilinear",
                    padding_mode="zeros", name="deskew")]
    else:  # runtimes sample float images: the coordinates computed in double, the sampling in float
        nodes += [n("Cast", ["dk_images"], ["dk_images32"], to=TensorProto.FLOAT),
                  n("Cast", ["dk_grid"], ["dk_grid32"], to=TensorProto.FLOAT),
                  n("GridSample", ["dk_images32", "dk_grid32"], ["dk_sampled32"], align_corners=1, mode="bilinear",
                    padding_mode="zeros", name="deskew"),
                  n("Cast", ["dk_sampled32"], ["dk_sampled"], to=elem)]
    nodes += [n("Reshape", ["dk_sampled", "dk_rows_shape"], ["x_deskewed"])]
    return nodes, weights


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
