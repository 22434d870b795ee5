"""What to tell a person from a model's probabilities: a digit, perhaps a second one, or "no digit".

Two rules, by name (``digitnet predict --rule``):

- ``likeliest`` (the page's, ``predict --image``'s): the likeliest digit; with it the other digits that are
  nearly as probable (at least ALSO_RATIO of the likeliest's probability: "7, or perhaps 1"); "no digit"
  (-1) only when no digit reaches NO_DIGIT_BELOW, which is what inputs far from every class get (a
  scribble, a letter) while real digits, even badly written ones, rarely do. An empty picture never
  reaches a model: :func:`digitnet.preprocess.to_input` says None first. Nor does an input with no variation (every
  pixel the same: a blank grid, all 0 or all at the maximum): whatever a model says of it, no digit is written
  there, so :func:`answers` and :func:`answer` say -1 for it under either rule when given the inputs.
- ``blog``: the post's rule, a digit only when its probability rounds to 1 (> 0.5), else -1
  (:func:`digitnet.metrics.blog_labels`): the -1 column of ``evaluate`` and ``reproduce-blog``.

The thresholds work on ``Model.predict_proba``'s probabilities, calibrated where the model is.
benchmarks/REALWORLD.md measures both rules on held-out writers and on scribbles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metrics import NO_DIGIT, blog_labels

NO_DIGIT_BELOW = 0.3  # the likeliest digit less probable than this: nothing looks like a digit
ALSO_RATIO = 0.25  # other digits at least this share of the likeliest's probability are named too
MAX_ALTERNATIVES = 2
RULES = ("likeliest", "blog")
EMPTY_DRAWING = "no digit: the drawing is empty, too small, or only dots or a dash"  # strokes that leave no digit
BLANK_PICTURE = "no digit: the picture is blank, or its ink is too small, specks or a dash"  # a picture that leaves none


@dataclass(frozen=True)
class Answer:
    """The answer for one input."""

    digit: int  # the answer, or NO_DIGIT (-1)
    likeliest: int  # the most probable class, answered or not
    alternatives: tuple[int, ...]  # other digits nearly as probable, most probable first; () when sure or no digit
    reason: str | None  # why "no digit", or that the answer is unsure; None when sure


def no_variation(X: np.ndarray) -> np.ndarray:
    """Which rows of inputs X (n, d) hold the same value in every pixel (n,) bool: a grid without strokes."""
    X = np.asarray(X)
    return (X.max(axis=1) == X.min(axis=1)) if X.size else np.zeros(len(X), dtype=bool)


def blank_reason(x: np.ndarray) -> str:
    """Why an input x (d,) with no variation is no digit."""
    value = float(np.asarray(x).flat[0]) + 0.0  # + 0.0: -0 is paper too, and is said 0
    return f"no digit: every pixel is {value:g}, a blank grid"


def answer(p: np.ndarray, rule: str = "likeliest", x: np.ndarray | None = None) -> Answer:
    """The answer for one input's probabilities p (K,) by ``rule`` ("likeliest" or "blog"); given the input x (d,),
    -1 for one with no variation (:func:`no_variation`)."""
    digits, alternatives = answers(np.asarray(p)[None], rule, None if x is None else np.asarray(x).reshape(1, -1))
    best = int(np.argmax(p))
    digit, also = int(digits[0]), alternatives[0]
    if x is not None and no_variation(np.asarray(x).reshape(1, -1))[0]:
        reason = blank_reason(x)
    elif digit == NO_DIGIT:
        reason = (f"no digit: the likeliest, {best}, has only {p[best]:.0%}" if rule == "likeliest"
                  else f"unsure: no digit above {0.5:.0%}")
    elif also:
        reason = f"unsure: {digit}, or perhaps {' or '.join(map(str, also))}"
    else:
        reason = None
    return Answer(digit, best, also, reason)


def answers(P: np.ndarray, rule: str = "likeliest",
            X: np.ndarray | None = None) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Answers (n,) for probabilities P (n, K) by ``rule``, -1 for "no digit", and each row's alternatives. Given the
    inputs X (n, d), rows with no variation (:func:`no_variation`) are -1 whatever P says. ValueError: an unknown rule."""
    if X is not None:
        digits, alternatives = answers(P, rule)
        blank = no_variation(X)
        digits[blank] = NO_DIGIT
        return digits, [() if b else a for a, b in zip(alternatives, blank.tolist())]
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    P = np.nan_to_num(np.asarray(P, dtype=np.float64), nan=0.0)
    best = P.argmax(axis=1)
    top = P[np.arange(len(P)), best]
    if rule == "blog":
        return blog_labels(P), [()] * len(P)
    digits = np.where(top >= NO_DIGIT_BELOW, best, NO_DIGIT)
    order = np.argsort(-P, axis=1, kind="stable")[:, 1 : 1 + MAX_ALTERNATIVES]  # the runners-up
    keep = (np.take_along_axis(P, order, axis=1) >= ALSO_RATIO * top[:, None]) & (digits != NO_DIGIT)[:, None]
    return digits, [tuple(row[k].tolist()) for row, k in zip(order, keep)]
