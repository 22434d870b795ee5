"""The post's experiment, repeated over seeds: does the published run reproduce?"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import numpy as np
from joblib import Parallel, delayed

from .config import Config
from .data import Dataset, load_digits
from .pipeline import train

# What the post printed for its one run: "converged at iteration: 11" (the loop had run 12 epochs),
# "average error: 0.009976326528757164", "average test set error: 0.06930050980970036",
# "percent correct: 95.33333333333334".
PUBLISHED = {"epochs": 12, "train_error": 0.009976326528757164, "test_error": 0.06930050980970036, "blog_score": 0.9533333333333334}


@dataclass(frozen=True)
class BlogRun:
    """One run of the ``blog`` recipe."""

    seed: int
    dropout: bool
    epochs: int  # epochs run (the post prints this minus one as "converged at iteration")
    stop_reason: str  # "tolerance", "max_epochs" or "diverged"
    train_error: float  # the post's `err` after the last epoch: summed squared error / 1797
    test_error: float  # the post's "average test set error"
    blog_score: float  # the post's "percent correct", 0..1
    accuracy: float  # argmax accuracy, 0..1

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def run_blog(seed: int, dropout: bool, data: Dataset | None = None) -> BlogRun:
    config = Config.from_recipe("blog", seed=seed, dropout=0.5 if dropout else 0.0)
    model = train(data, config)
    h = model.history
    return BlogRun(
        seed=seed,
        dropout=dropout,
        epochs=h.epochs,
        stop_reason=h.stop_reason,
        train_error=h.error[-1],
        test_error=model.metrics["squared_error"],
        blog_score=model.metrics["blog_score"],
        accuracy=model.metrics["accuracy"],
    )


def reproduce_blog(
    seeds: Iterable[int],
    dropouts: Iterable[bool] = (True, False),
    *,
    n_jobs: int = 1,
    callback: Callable[[BlogRun], None] | None = None,
) -> list[BlogRun]:
    """Run the post's algorithm for every (dropout, seed) pair; runs go to ``callback`` as they finish."""
    data = load_digits()
    tasks = [(seed, dropout) for dropout in dropouts for seed in seeds]
    runs = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(run_blog)(s, d, data) for s, d in tasks)
    results = []
    for run in runs:
        results.append(run)
        if callback is not None:
            callback(run)
    return results


def summarise(runs: list[BlogRun]) -> dict[str, dict[str, float]]:
    """Per dropout setting: runs, how they stopped, median epochs, mean scores of the finite runs."""
    summary = {}
    for dropout in (True, False):
        group = [r for r in runs if r.dropout == dropout]
        if not group:
            continue
        finite = [r for r in group if r.stop_reason != "diverged"]
        summary["on" if dropout else "off"] = {
            "runs": len(group),
            "diverged": sum(r.stop_reason == "diverged" for r in group),
            "tolerance": sum(r.stop_reason == "tolerance" for r in group),
            "max_epochs": sum(r.stop_reason == "max_epochs" for r in group),
            "median_epochs": float(np.median([r.epochs for r in group])),
            "mean_accuracy": float(np.mean([r.accuracy for r in group])),
            "std_accuracy": float(np.std([r.accuracy for r in group])),
            "mean_blog_score": float(np.mean([r.blog_score for r in group])),
            "mean_accuracy_not_diverged": float(np.mean([r.accuracy for r in finite])) if finite else float("nan"),
        }
    return summary
