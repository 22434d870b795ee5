"""Temperature scaling (Guo, Pleiss, Sun & Weinberger 2017, "On calibration of modern neural networks"):
one number T > 0 that divides the logits, p = softmax(z2 / T), chosen to minimise the negative log-likelihood
of labelled data the network did not train on. T > 1 softens overconfident answers, T < 1 sharpens
underconfident ones (label smoothing's); the argmax, hence the accuracy, does not change.

Where the held-out data come from is the caller's (pipeline.fit_model): a split carved from the training
data (``calibration_fraction``), or every training row through cross-fitting (``calibration_folds``); either
way whole writers where the data know them, so that T is fitted on writers the network never saw.

The NLL of softmax(beta z) is convex in beta = 1 / T (a log-sum-exp of linear functions minus a linear
one), so a bounded one-dimensional search (SciPy's ``minimize_scalar``, Brent's method) finds its minimum.
"""

from __future__ import annotations

import numpy as np

MIN_TEMPERATURE = 0.01  # sharpens logits 100-fold: far beyond what a trained network needs (label smoothing 0.3: ~0.5)
MAX_TEMPERATURE = 100.0  # flattens every answer to near-uniform


def nll(z: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of labels y (n,) under p = softmax(z / temperature), z (n, K) logits;
    by log-sum-exp, in float64."""
    s = np.asarray(z, dtype=np.float64) / temperature
    top = s.max(axis=1, keepdims=True)
    log_total = np.log(np.sum(np.exp(s - top), axis=1)) + top[:, 0]
    return float(np.mean(log_total - s[np.arange(len(y)), y]))


def fit_temperature(z: np.ndarray, y: np.ndarray) -> float:
    """The temperature in [MIN_TEMPERATURE, MAX_TEMPERATURE] that minimises :func:`nll` of labels y (n,) for
    logits z (n, K). Raises ValueError for no rows or logits that are not finite."""
    from scipy.optimize import minimize_scalar

    z = np.asarray(z, dtype=np.float64)
    if len(z) == 0 or not np.all(np.isfinite(z)):
        raise ValueError("temperature scaling needs finite logits of at least one sample")
    result = minimize_scalar(lambda beta: nll(z, y, 1.0 / beta), bounds=(1 / MAX_TEMPERATURE, 1 / MIN_TEMPERATURE),
                             method="bounded", options={"xatol": 1e-6})
    return float(np.clip(1.0 / result.x, MIN_TEMPERATURE, MAX_TEMPERATURE))


def logits(model, X: np.ndarray) -> np.ndarray:
    """The logits z2 (n, K) of ``model`` (a :class:`~digitnet.model.Model`, its temperature not applied) for
    raw inputs X (n, d), in float64 by ``network.forward``."""
    from . import network

    params = {name: w.astype(np.float64) for name, w in model.params.items()}
    return network.forward(params, model.scaling.apply(model.deskewed(np.asarray(X))))[1].z2


def calibrated(model, X: np.ndarray, y: np.ndarray):
    """``model`` with the temperature that fits raw inputs X (n, d) with labels y (n,), data it did not train on."""
    import dataclasses

    return dataclasses.replace(model, temperature=fit_temperature(logits(model, X), np.asarray(y)))
