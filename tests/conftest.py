import json

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save as st_save

import digitnet
from digitnet.data import load_digits


@pytest.fixture(scope="session")
def digits():
    return load_digits()


@pytest.fixture(scope="session")
def small_model():
    """A modern model trained briefly on the embedded digits (seed 0): about 97% accurate, in well under a second;
    with a validation split (not modern's default), so that its history has validation curves to plot and check."""
    return digitnet.train(config=digitnet.Config.from_recipe("modern", epochs=8, val_fraction=0.1, seed=0))


@pytest.fixture(scope="session")
def model_file(small_model, tmp_path_factory):
    return digitnet.save(small_model, tmp_path_factory.mktemp("models") / "small.safetensors")


def write_csv(path, X, y=None, header=False):
    rows = []
    if header:
        rows.append(",".join([f"p{i}" for i in range(X.shape[1])] + (["label"] if y is not None else [])))
    for i in range(len(X)):
        cells = [str(int(v)) for v in X[i]] + ([str(int(y[i]))] if y is not None else [])
        rows.append(",".join(cells))
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def rewrite_model(source, path, *, metadata=None, tensors=None, resign=True):
    """Copy the model file ``source`` to ``path`` with metadata entries and tensors replaced.

    ``resign``: recompute the checksum, as a crafted file would; without it the change looks like corruption.
    """
    from digitnet.persistence import _digest

    with safe_open(str(source), framework="numpy") as f:
        meta = {**json.loads(f.metadata()["digitnet"]), **(metadata or {})}
        arrays = {k: f.get_tensor(k) for k in f.keys()}
    arrays.update(tensors or {})
    arrays = {k: v for k, v in arrays.items() if v is not None}
    if resign:
        meta["sha256"] = _digest(arrays, meta)
    path.write_bytes(st_save(arrays, metadata={"digitnet": json.dumps(meta)}))
    return path
