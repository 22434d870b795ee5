"""What to tell a person from a model's probabilities: a digit, perhaps a second one, or "no digit".

Two rules, by name (``digitnet predict --rule``):

- ``likeliest`` (the page's, ``predict --image``'s): the likeliest digit; with it the other digits that are
  nearly as probable (at least ALSO_RATIO of the likeliest's probability: "7, or perhaps 1"); "no digit"
  (-1) only when no digit reaches NO_DIGIT_BELOW, which is what inputs far from every class get (a
  scribble, a letter) while real digits, even badly written ones, rarely do. An empty picture never
  reaches a model: :func:`digitnet.preprocess.to_input` says None first.
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


@dataclass(frozen=True)
class Answer:
    """The answer for one input."""

    digit: int  # the answer, or NO_DIGIT (-1)
    likeliest: int  # the most probable class, answered or not
    alternatives: tuple[int, ...]  # other digits nearly as probable, most probable first; () when sure or no digit
    reason: str | None  # why "no digit", or that the answer is unsure; None when sure


def answer(p: np.ndarray, rule: str = "likeliest") -> Answer:
    """The answer for one input's probabilities p (K,) by ``rule`` ("likeliest" or "blog")."""
    digits, alternatives = answers(np.asarray(p)[None], rule)
    best = int(np.argmax(p))
    digit, also = int(digits[0]), alternatives[0]
    if digit == NO_DIGIT:
        reason = (f"no digit: the likeliest, {best}, has only {p[best]:.0%}" if rule == "likeliest"
                  else f"unsure: no digit above {0.5:.0%}")
    elif also:
        reason = f"unsure: {digit}, or perhaps {' or '.join(map(str, also))}"
    else:
        reason = None
    return Answer(digit, best, also, reason)


def answers(P: np.ndarray, rule: str = "likeliest") -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Answers (n,) for probabilities P (n, K) by ``rule``, -1 for "no digit", and each row's alternatives."""
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
