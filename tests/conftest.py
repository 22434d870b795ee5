import numpy as np
import pytest

import digitnet
from digitnet.data import load_digits


@pytest.fixture(scope="session")
def digits():
    return load_digits()


@pytest.fixture(scope="session")
def small_model():
    """A modern model trained briefly on the embedded digits (seed 0): about 95% accurate, in well under a second."""
    return digitnet.train(config=digitnet.Config.from_recipe("modern", epochs=8, patience=None, seed=0))


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
