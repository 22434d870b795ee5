"""Why a model answered: the hidden layer's activations, each unit's part in the answer, and which input
pixels pushed it toward the chosen digit (gradient x input), for one raw input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import network
from .metrics import NO_DIGIT
from .model import Model

REJECT_BELOW = 0.5  # the post's rule: a digit is chosen when its probability rounds to 1


@dataclass(frozen=True)
class Explanation:
    digit: int  # the chosen digit, or NO_DIGIT (-1) when no probability reaches the threshold
    likeliest: int  # the most probable class, chosen or not
    probabilities: np.ndarray  # (K,)
    input: np.ndarray  # (d,) the raw input the network received (deskewed, for a model that deskews)
    saliency: np.ndarray  # (d,) x * d log p_likeliest / dx: > 0 where a pixel pushed toward the answer
    hidden: np.ndarray  # (H,) tanh activations
    contributions: np.ndarray  # (H,) a1_j * W2[j, likeliest]: each unit's push on the answer's logit

    def strongest_units(self, k: int = 8) -> np.ndarray:
        """The k units that pushed hardest toward the answer, strongest first."""
        return np.argsort(-self.contributions, kind="stable")[:k]


class Explainer:
    """:func:`explain` for one model, its weights converted to float64 once (a server explains many inputs)."""

    def __init__(self, model: Model, *, threshold: float = REJECT_BELOW) -> None:
        self.model, self.threshold = model, threshold
        self.params = {name: w.astype(np.float64) for name, w in model.params.items()}
        for name in ("W2", "b2"):  # the calibrated logits z2 / T, as predict_proba computes them
            if name in self.params:
                self.params[name] /= model.temperature

    def __call__(self, x: np.ndarray) -> Explanation:
        """Explain the model's answer for one raw input x (d,), in float64 from the model's own weights.

        The input scaling is part of the chain: the saliency is with respect to the RAW input, so
        d/dx = (d/dx_scaled) / scale, times x (the raw value: 0 is blank paper). For a model that deskews its
        inputs (``config.deskew``), x is the deskewed image, what the network reads: ``input`` holds it.
        """
        model = self.model
        x = model.deskewed(model.inputs.check(np.asarray(x, dtype=np.float64).reshape(1, -1)))
        scaled = (x - model.scaling.offset) / model.scaling.scale
        p, cache = network.forward(self.params, scaled)
        c = p.argmax(axis=1)
        gradient = network.input_gradient(self.params, cache, c) / model.scaling.scale
        best = int(c[0])
        return Explanation(
            digit=best if p[0, best] > self.threshold else NO_DIGIT,
            likeliest=best,
            probabilities=p[0],
            input=x[0],
            saliency=(x * gradient)[0],
            hidden=cache.a1[0],
            contributions=cache.a1[0] * self.params["W2"][:, best],
        )


def explain(model: Model, x: np.ndarray, *, threshold: float = REJECT_BELOW) -> Explanation:
    """Why ``model`` answers what it does for one raw input x (d,); see :class:`Explainer`."""
    return Explainer(model, threshold=threshold)(x)
