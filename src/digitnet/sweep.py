"""Searches and cross-validation over DigitNetClassifier, on joblib's processes or a Dask cluster.

``parse_grid("n_hidden=100,200 dropout=0,0.3")`` gives a parameter grid (names are Config
fields or the CLI's option names; every value is checked by Config); :func:`search` runs
scikit-learn's grid, random or halving search on it and returns the ranked results.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from .config import Config
from .data import Dataset
from .errors import ConfigError, DigitnetError
from .estimator import DigitNetClassifier

OPTION_NAMES = {"hidden": "n_hidden", "batch-size": "batch_size", "seed": "random_state"}  # the CLI's names
SEARCHES = ("grid", "random", "halving")


def parse_grid(text: str) -> dict[str, list]:
    """``"hidden=100,200 dropout=0,0.3"`` -> ``{"n_hidden": [100, 200], "dropout": [0.0, 0.3]}``, each value checked."""
    grid: dict[str, list] = {}
    for item in text.split():
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise ConfigError(f"grid item {item!r}: expected NAME=V1,V2,... (e.g. hidden=100,200)")
        name = OPTION_NAMES.get(key.replace("_", "-"), key.replace("-", "_"))
        field = "seed" if name == "random_state" else name
        if name in grid:
            raise ConfigError(f"grid: {key} is given twice")
        parsed = []
        for text_value in values.split(","):
            value = Config.parse(field, text_value)
            try:
                Config.from_recipe("modern", **{field: value})  # the error names the key and the value
            except ConfigError as e:
                raise ConfigError(f"grid {key}={text_value}: {e}") from None
            parsed.append(value)
        grid[name] = parsed
    if not grid:
        raise ConfigError("the grid is empty: give NAME=V1,V2,... items, e.g. hidden=100,200 dropout=0,0.3")
    return grid


@dataclass(frozen=True)
class Result:
    params: dict
    mean_score: float
    std_score: float
    mean_fit_time: float
    rank: int


def search(
    data: Dataset,
    grid: dict[str, list],
    *,
    cv: int = 5,
    kind: str = "grid",
    n_iter: int = 10,
    n_jobs: int = 1,
    scheduler: str | None = None,
    seed: int = 0,
    verbose: int = 0,
):
    """Cross-validated search over ``grid`` on ``data``; returns (ranked results, the fitted search).

    ``scheduler``: a Dask scheduler's address (``tcp://host:8786``): the fits run on its cluster
    through joblib's Dask backend. The estimator starts from Config's defaults with ``seed``.
    """
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, RandomizedSearchCV, StratifiedKFold

    if kind not in SEARCHES:
        raise ConfigError(f"search must be one of {', '.join(SEARCHES)}; got {kind!r}")
    if cv < 2:
        raise ConfigError(f"cv must be at least 2 folds; got {cv}")
    folds = StratifiedKFold(cv, shuffle=True, random_state=seed)
    base = DigitNetClassifier(random_state=seed)
    common = dict(cv=folds, n_jobs=n_jobs, verbose=min(verbose, 1), refit=True)
    if kind == "grid":
        searcher = GridSearchCV(base, grid, **common)
    elif kind == "random":
        searcher = RandomizedSearchCV(base, grid, n_iter=n_iter, random_state=seed, **common)
    else:
        searcher = HalvingGridSearchCV(base, grid, random_state=seed, **common)
    import joblib

    # joblib's own progress lines: fits done of fits planned, elapsed, remaining
    with _backend(scheduler), joblib.parallel_config(verbose=verbose):
        # a data set with an official test split (MNIST) is searched on its training rows only
        rows = slice(None) if data.test_rows is None else np.setdiff1d(np.arange(len(data.y)), data.test_rows)
        searcher.fit(data.X[rows], data.y[rows])
    r = searcher.cv_results_
    results = [
        Result(dict(p), float(m), float(s), float(t), int(k))
        for p, m, s, t, k in zip(r["params"], r["mean_test_score"], r["std_test_score"], r["mean_fit_time"], r["rank_test_score"])
    ]
    if kind == "halving":  # the last round's candidates, scored on the most data, are the ones ranked
        last = r["iter"] == r["iter"].max()
        results = [res for res, keep in zip(results, last) if keep]
    return sorted(results, key=lambda res: (res.rank, -res.mean_score)), searcher


@contextlib.contextmanager
def _backend(scheduler: str | None, timeout: float = 5.0):
    """joblib's default processes, or a Dask cluster (an unreachable scheduler fails within ``timeout`` seconds)."""
    if scheduler is None:
        yield
        return
    try:
        from dask.distributed import Client
    except ImportError:
        raise DigitnetError("a Dask scheduler needs dask.distributed: pip install 'digitnet[dask]'") from None
    import joblib

    try:
        client = Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as e:
        raise DigitnetError(f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({e.__class__.__name__})") from None
    try:
        with joblib.parallel_backend("dask"):
            yield
    finally:
        client.close()


def to_csv(results: list[Result]) -> bytes:
    """The ranked results as CSV bytes: rank, mean and std of the score, mean fit time, then one column per parameter."""
    import csv
    import io

    names = sorted({k for res in results for k in res.params})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["rank", "mean_score", "std_score", "mean_fit_time_s", *names])
    for res in results:
        writer.writerow([res.rank, f"{res.mean_score:.6f}", f"{res.std_score:.6f}", f"{res.mean_fit_time:.4f}",
                         *[res.params.get(n, "") for n in names]])
    return buffer.getvalue().encode()


def plot(results: list[Result]):
    """Mean score (± std) against each parameter's values: one panel a parameter."""
    from matplotlib.figure import Figure

    names = sorted({k for res in results for k in res.params})
    fig = Figure(figsize=(4 * len(names), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names):
        values = sorted({res.params[name] for res in results}, key=lambda v: (v is None, str(type(v)), v if v is not None else 0))
        x = {v: i for i, v in enumerate(values)}
        for res in results:
            ax.errorbar(x[res.params[name]], res.mean_score, yerr=res.std_score, fmt="o", color="#0072B2", alpha=0.6)
        ax.set_xticks(range(len(values)), [str(v) for v in values])
        ax.set(xlabel=name, ylabel="cross-validated accuracy")
        ax.grid(alpha=0.3)
    fig.suptitle("Score against each parameter (every candidate a point)")
    return fig
