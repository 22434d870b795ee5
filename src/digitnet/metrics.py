"""Scores: plain accuracy, the post's "percent correct", the -1 class, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_DIGIT = -1  # the post's label for an output where no neuron rounds to 1


def labels(n_classes: int) -> list[int]:
    """Rows and columns of the confusion matrix: -1 (no class chosen), then 0..K-1."""
    return list(range(NO_DIGIT, n_classes))


def blog_labels(P: np.ndarray) -> np.ndarray:
    """The post's decision: the first class whose output rounds to 1, else -1; a row with a NaN output gives -1."""
    hit = np.round(P) == 1.0
    return np.where(hit.any(axis=1) & ~_undefined(P), hit.argmax(axis=1), NO_DIGIT)


def predicted(P: np.ndarray) -> np.ndarray:
    """The most probable class of each row of P (n, K); -1 for a row with a NaN output (a diverged network
    answers nothing, so it is scored as wrong: NumPy's argmax would call it class 0)."""
    with np.errstate(invalid="ignore"):
        return np.where(_undefined(P), NO_DIGIT, np.nan_to_num(P, nan=-np.inf).argmax(axis=1))


def _undefined(P: np.ndarray) -> np.ndarray:
    """(n,) True for rows with a NaN output."""
    return np.isnan(P).any(axis=1)


def blog_score(P: np.ndarray, y: np.ndarray) -> float:
    """The post's "percent correct" as a fraction: all K rounded outputs equal the one-hot target."""
    Y = np.eye(P.shape[1])[y]
    return float(np.mean(np.all(np.round(P) == Y, axis=1)))


def squared_error(P: np.ndarray, y: np.ndarray) -> float:
    """The post's "average error": sum over outputs of (p - y)^2, averaged over samples."""
    Y = np.eye(P.shape[1])[y]
    return float(np.sum((P - Y) ** 2) / len(P))


def scores(P: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The headline numbers, cheaply (the trainer records them in every model): n, accuracy, the post's score and error."""
    return {
        "n_test": len(y),
        "accuracy": float(np.mean(predicted(P) == y)),
        "blog_score": blog_score(P, y),
        "squared_error": squared_error(P, y),
    }


@dataclass(frozen=True)
class Evaluation:
    """Scores of probabilities P (n, K) against labels y (n,)."""

    n: int
    accuracy: float  # argmax correct, 0..1
    blog_score: float  # the post's "percent correct", 0..1
    squared_error: float  # the post's "average test set error"
    no_digit: int  # samples for which the post's rule chose no digit (-1)
    confusion: np.ndarray  # (K+1, K+1) counts; rows true label, columns the post's predicted label, both -1..K-1
    precision: np.ndarray  # (K,) per class, argmax predictions
    recall: np.ndarray  # (K,)
    f1: np.ndarray  # (K,)
    ece: float = float("nan")  # expected calibration error: see calibration(), ECE_BINS bins
    log_loss: float = float("nan")  # mean -log p of the true class (natural log)

    @property
    def labels(self) -> list[int]:
        return labels(len(self.precision))

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "blog_score": self.blog_score,
            "squared_error": self.squared_error,
            "no_digit": self.no_digit,
            "labels": self.labels,
            "confusion": self.confusion.tolist(),
            "precision": self.precision.tolist(),
            "recall": self.recall.tolist(),
            "f1": self.f1.tolist(),
            "ece": self.ece,
            "ece_bins": ECE_BINS,
            "log_loss": self.log_loss,
        }


def evaluate(P: np.ndarray, y: np.ndarray) -> Evaluation:
    """Every score of class probabilities against labels.

    Parameters
    ----------
    P : ndarray of shape (n, K)
        Class probabilities, rows summing to 1 (NaN rows, from a diverged network, count as wrong).
    y : ndarray of shape (n,)
        True labels in 0..K-1.

    Returns
    -------
    Evaluation
        Accuracy (argmax), the post's score and squared error, the number of "no digit" answers
        (the post's rule: no output rounds to 1), the (K+1, K+1) confusion matrix with the -1 class,
        and per-class precision, recall and F1 (scikit-learn's).
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    blog = blog_labels(P)
    argmax = predicted(P)  # -1 (wrong) for NaN rows
    K = P.shape[1]
    precision, recall, f1, _ = precision_recall_fscore_support(y, argmax, labels=range(K), zero_division=0)
    return Evaluation(
        n=len(y),
        accuracy=float(accuracy_score(y, argmax)),
        blog_score=blog_score(P, y),
        squared_error=squared_error(P, y),
        no_digit=int(np.sum(blog == NO_DIGIT)),
        confusion=confusion_matrix(y, blog, labels=labels(K)),
        precision=precision,
        recall=recall,
        f1=f1,
        ece=calibration(P, y)[3],
        log_loss=log_loss(P, y),
    )


def log_loss(P: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of labels y (n,) under probabilities P (n, K), natural log; a probability
    below the smallest normal float64 counts as that (a finite loss for a confident mistake), NaN stays NaN."""
    p = np.asarray(P, dtype=np.float64)[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.maximum(p, np.finfo(np.float64).tiny))))


ECE_BINS = 10


def calibration(P: np.ndarray, y: np.ndarray, n_bins: int = ECE_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Per confidence bin: mean confidence, accuracy, count; and the expected calibration error (ECE).

    Confidence is the largest probability of each row; bins are ``n_bins`` equal widths of [0, 1] (the last
    includes 1); ECE = sum over bins of (count / n) * |accuracy - mean confidence| (Guo et al. 2017, eq. 3)."""
    confidence = P.max(axis=1)
    correct = predicted(P) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    safe = np.maximum(count, 1)
    mean_conf = np.bincount(which, confidence, n_bins) / safe
    accuracy = np.bincount(which, correct, n_bins) / safe
    ece = float(np.sum(count / len(y) * np.abs(accuracy - mean_conf)))
    return mean_conf, accuracy, count, ece
