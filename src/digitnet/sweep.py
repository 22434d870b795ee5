"""Searches and cross-validation over DigitNetClassifier, on joblib's processes or a Dask cluster.

``parse_grid("n_hidden=100,200 dropout=0,0.3")`` gives a parameter grid (names are Config
fields or the CLI's option names; every value is checked by Config); :func:`search` runs
scikit-learn's grid, random or halving search on it and returns the ranked results.

Everything that can be checked is checked before the first fit, with one-line errors of the library's own
types: the options, the size of the grid (at most :data:`MAX_CANDIDATES` candidates, counted in Python
integers), every candidate's settings together, what the data allow (folds per class, halving's smallest
round, memory), the scheduler's address and that it has workers. A fit that fails anyway (a rate that
diverges) scores NaN and ranks last; when every fit fails, the search raises, saying why.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from dataclasses import dataclass

import numpy as np

from .config import RECIPES, SEED_LIMIT, Config
from .data import Dataset
from .data.dataset import held_out_folds
from .errors import ConfigError, DataError, DigitnetError, DivergedError
from .estimator import DigitNetClassifier, _inputs
from .trainer import check_memory

OPTION_NAMES = {"hidden": "n_hidden", "batch-size": "batch_size", "seed": "random_state"}  # the CLI's names
SEARCHES = ("grid", "random", "halving")
MAX_CANDIDATES = 10_000  # settings tried by one search: with 5 folds, 50,000 fits
MAX_RANDOM_GRID = 10**15  # the grid a random search samples from (scikit-learn counts it in 64-bit integers)
SCHEDULER_TIMEOUT = 5.0  # seconds to reach a Dask scheduler, and again for a worker to join it


def parse_grid(text: str, *, limit: int | None = MAX_CANDIDATES) -> dict[str, list]:
    """``"hidden=100,200 dropout=0,0.3"`` -> ``{"n_hidden": [100, 200], "dropout": [0.0, 0.3]}``, each value checked.

    A grid of more than ``limit`` combinations is refused before any value is parsed (``None``: no limit).
    """
    items: dict[str, tuple[str, list[str]]] = {}
    for item in text.split():
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise ConfigError(f"grid item {item!r}: expected NAME=V1,V2,... (e.g. hidden=100,200)")
        name = OPTION_NAMES.get(key.replace("_", "-"), key.replace("-", "_"))
        if name in items:
            raise ConfigError(f"grid: {key} is given twice")
        if name in ("distill", "distill_temperature"):
            raise ConfigError(f"grid: {key} needs a teacher network, which a sweep does not take; train a student "
                              "with `digitnet train --teacher MODEL --set distill=SHARE`")
        if name == "recipe":
            raise ConfigError("grid: recipe is not a setting to search (a recipe is a set of settings); "
                              "choose the one the grid starts from with --recipe")
        items[name] = key, values.split(",")
    if not items:
        raise ConfigError("the grid is empty: give NAME=V1,V2,... items, e.g. hidden=100,200 dropout=0,0.3")
    size = math.prod(len(texts) for _, texts in items.values())  # Python integers: no overflow
    if limit is not None and size > limit:
        raise ConfigError(f"the grid has {size:,} combinations, more than the {limit:,} a search may try; "
                          "search fewer values, or sample some with --search random --n-iter N")
    grid: dict[str, list] = {}
    for name, (key, texts) in items.items():
        field = "seed" if name == "random_state" else name
        parsed = []
        for text_value in texts:
            value = Config.parse(field, text_value)
            try:
                Config.from_recipe("modern", **{field: value})  # the error names the key and the value
            except ConfigError as e:
                raise ConfigError(f"grid {key}={text_value}: {e}") from None
            parsed.append(value)
        grid[name] = parsed
    return grid


def check_options(*, cv: int, kind: str, n_iter: int, n_jobs: int, seed: int, recipe: str,
                  scheduler: str | None = None) -> None:
    """The search's own options, checked before any data are read (ConfigError naming the option)."""
    if kind not in SEARCHES:
        raise ConfigError(f"search must be one of {', '.join(SEARCHES)}; got {kind!r}")
    if cv < 2:
        raise ConfigError(f"cv must be at least 2 folds; got {cv}")
    if n_iter < 1:
        raise ConfigError(f"n_iter must be at least 1 candidate; got {n_iter}")
    if kind == "random" and n_iter > MAX_CANDIDATES:
        raise ConfigError(f"n_iter must be at most {MAX_CANDIDATES:,} candidates; got {n_iter:,}")
    if n_jobs < 1 and n_jobs != -1:  # joblib's -2, -3, ... (all cores but 1, 2, ...) are not offered: one rule to state
        raise ConfigError(f"n_jobs must be a positive number of processes or -1 for one per core; got {n_jobs}")
    if not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"seed must be in 0..{SEED_LIMIT - 1} (2**32 - 1); got {seed}")
    if recipe != "auto" and recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r}; choose auto or one of {', '.join(RECIPES)}")
    if scheduler is not None:
        check_scheduler_address(scheduler)


def check_scheduler_address(address: str) -> None:
    """Raise DigitnetError unless ``address`` is a Dask scheduler's address (tcp://HOST:PORT and the like)."""
    try:
        from distributed.comm import registry
        from distributed.comm.addressing import parse_address, parse_host_port
    except ImportError:
        raise DigitnetError("a Dask scheduler needs dask.distributed: pip install 'digitnet[dask]'") from None
    expected = "expected an address such as tcp://HOST:8786"
    try:
        scheme, location = parse_address(address)
    except (ValueError, TypeError) as e:
        raise DigitnetError(f"dask scheduler {address!r}: {_one_line(e)}; {expected}") from None
    if scheme not in registry.backends:
        raise DigitnetError(f"dask scheduler {address!r}: unknown scheme {scheme!r} "
                            f"(known: {', '.join(sorted(registry.backends))}); {expected}")
    if scheme == "inproc":
        return
    try:
        host, port = parse_host_port(location)
    except (ValueError, TypeError) as e:
        raise DigitnetError(f"dask scheduler {address!r}: {_one_line(e)}; {expected}") from None
    if not host or not 1 <= port <= 65535:
        raise DigitnetError(f"dask scheduler {address!r}: needs a host and a port 1..65535; {expected}")


@dataclass(frozen=True)
class Result:
    params: dict
    mean_score: float  # NaN when a fit of this candidate failed (it ranks last)
    std_score: float
    mean_fit_time: float
    rank: int
    failure: str | None = None  # why fits failed, when mean_score is NaN


def choose_recipe(recipe: str, data: Dataset) -> str:
    """The recipe a search starts from: ``recipe``, or for "auto" the one train's --recipe auto picks."""
    from .config import recipe_for

    return recipe_for(data.inputs.image_shape, len(data.y)) if recipe == "auto" else recipe


def candidates(grid: dict[str, list], *, kind: str = "grid", n_iter: int = 10, seed: int = 0) -> list[dict]:
    """The settings the search will try, as scikit-learn will draw them (random: ParameterSampler with ``seed``)."""
    from sklearn.model_selection import ParameterGrid, ParameterSampler

    if kind == "random":
        return list(ParameterSampler(grid, n_iter, random_state=seed))
    return list(ParameterGrid(grid))


def base_estimator(recipe: str, seed: int) -> DigitNetClassifier:
    """A DigitNetClassifier with ``recipe``'s settings (the grid changes some of them) and ``seed``."""
    params = Config.from_recipe(recipe, seed=seed).to_dict()
    params["random_state"] = params.pop("seed")
    return DigitNetClassifier(**params)


def training_rows(data: Dataset) -> np.ndarray:
    """The rows a search fits and scores on: all of them, or those outside an official test split (MNIST's t10k)."""
    return np.arange(len(data.y)) if data.test_rows is None else np.setdiff1d(np.arange(len(data.y)), data.test_rows)


def cv_folds(data: Dataset, cv: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The search's ``cv`` (fit rows, scored rows) pairs, as positions within :func:`training_rows`: every writer's
    rows in one fold where the data know writers (pen data), so that a score is on writers the fit never saw;
    stratified folds, shuffled by ``seed``, for rows without one (scikit-learn's StratifiedKFold, as before).
    DataError when the rows cannot be cut so."""
    rows = training_rows(data)
    groups = None if data.groups is None else data.groups[rows]
    return held_out_folds(data.y[rows], groups, cv, seed, stratify=True, what=f"--cv {cv} folds")


def check_against_data(data: Dataset, grid: dict[str, list], *, cv: int, kind: str = "grid", n_iter: int = 10,
                       seed: int = 0, recipe: str = "modern") -> list[tuple[np.ndarray, np.ndarray]]:
    """What the data allow, checked before any fit: folds, halving's smallest round, every candidate's settings
    together (Config), its memory, and moving images only where the inputs are images. Returns the search's
    folds (:func:`cv_folds`)."""
    rows = training_rows(data)
    y = data.y[rows]
    counts = np.bincount(y)
    present = np.flatnonzero(counts)
    smallest = int(present[np.argmin(counts[present])])
    fewest = int(counts[smallest])
    if cv > fewest:
        advice = f"use --cv {fewest} or fewer, or more data" if fewest >= 2 else "give it more samples"
        raise DataError(f"cv {cv}: class {smallest} has only {fewest} sample{'s' * (fewest != 1)}, and each of the "
                        f"{cv} folds needs one of every class; {advice}")
    folds = cv_folds(data, cv, seed)  # writers too few for the folds: said before any fit
    if kind == "halving" and len(y) < 2 * cv * len(present):
        raise DataError(f"halving search: its first round fits on 2 x {cv} folds x {len(present)} classes = "
                        f"{2 * cv * len(present)} samples, and the data have {len(y)}; use --search grid, fewer folds, "
                        "or more data")
    base = base_estimator(recipe, seed).get_params()
    d, K = data.X.shape[1], len(present)
    images = _inputs(d).image_shape is not None
    for params in candidates(grid, kind=kind, n_iter=n_iter, seed=seed):
        values = {**base, **params}
        values["seed"] = values.pop("random_state")
        try:
            config = Config(**values)
            check_memory(len(y), d, K, config)  # the refit of the best, on all the rows
        except ConfigError as e:
            raise ConfigError(f"grid candidate {_settings(params)}: {e}") from None
        if config.augment and not images:
            raise ConfigError(f"grid candidate {_settings(params)}: augment moves images, and these {d} features "
                              "are not a square image")
    return folds


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
    recipe: str = "modern",
    verbose: int = 0,
):
    """Cross-validated search over ``grid`` on ``data``; returns (ranked results, the fitted search).

    ``scheduler``: a Dask scheduler's address (``tcp://host:8786``): the fits run on its cluster
    through joblib's Dask backend. The estimator starts from ``recipe``'s settings ("auto": as
    ``train --recipe auto`` chooses for these data) with ``seed``. Everything is checked before the
    first fit (see the module's docstring); errors are ConfigError, DataError or DigitnetError.
    """
    from sklearn.exceptions import FitFailedWarning
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, RandomizedSearchCV

    check_options(cv=cv, kind=kind, n_iter=n_iter, n_jobs=n_jobs, seed=seed, recipe=recipe, scheduler=scheduler)
    size = math.prod(len(v) for v in grid.values())
    if size > (MAX_RANDOM_GRID if kind == "random" else MAX_CANDIDATES):
        raise ConfigError(f"the grid has {size:,} combinations, more than a {kind} search may take")
    recipe = choose_recipe(recipe, data)
    folds = check_against_data(data, grid, cv=cv, kind=kind, n_iter=n_iter, seed=seed, recipe=recipe)
    base = base_estimator(recipe, seed)
    common = dict(cv=folds, n_jobs=n_jobs, verbose=min(verbose, 1), refit=True, error_score=np.nan)
    if kind == "grid":
        searcher = GridSearchCV(base, grid, **common)
    elif kind == "random":
        searcher = RandomizedSearchCV(base, grid, n_iter=n_iter, random_state=seed, **common)
    else:
        searcher = HalvingGridSearchCV(base, grid, random_state=seed, **common)
    import joblib

    # joblib's own progress lines: fits done of fits planned, elapsed, remaining
    with _backend(scheduler), joblib.parallel_config(verbose=verbose), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FitFailedWarning)
        warnings.filterwarnings("ignore", message="One or more of the test scores are non-finite")
        # a data set with an official test split (MNIST) is searched on its training rows only
        rows = training_rows(data)
        try:
            searcher.fit(data.X[rows], data.y[rows])
        except DigitnetError:
            raise
        except ValueError as e:  # scikit-learn's, after its own checks: one line of it
            if "fits failed" in str(e):
                reason = _reason(str(e))
                # every fit diverged: the search ran and failed as a diverged train does (exit code 1, not 2)
                kind = DivergedError if reason.startswith("training diverged") else DigitnetError
                raise kind(f"every fit failed: {reason}") from None
            first = _one_line(str(e).strip().splitlines()[0])
            raise (DivergedError if first.startswith("training diverged") else DigitnetError)(
                f"the search failed: {first}") from None
    failures = sorted({_reason(str(w.message)) for w in caught if issubclass(w.category, FitFailedWarning)})
    r = searcher.cv_results_
    results = [
        Result(dict(p), float(m), float(s), float(t), int(k), "; ".join(failures) if not np.isfinite(m) else None)
        for p, m, s, t, k in zip(r["params"], r["mean_test_score"], r["std_test_score"], r["mean_fit_time"], r["rank_test_score"])
    ]
    if kind == "halving":  # the last round's candidates, scored on the most data, are the ones ranked
        last = r["iter"] == r["iter"].max()
        results = [res for res, keep in zip(results, last) if keep]
    return sorted(results, key=lambda res: (res.rank, -np.nan_to_num(res.mean_score, nan=-1.0))), searcher


def _reason(text: str) -> str:
    """The last 'SomeError: message' line of scikit-learn's report of failed fits (their tracebacks): why they failed."""
    found = re.findall(r"^\w*(?:Error|Exception): (.+)$", text, re.M)
    return _one_line(found[-1] if found else text.strip().splitlines()[-1] if text.strip() else "unknown")


def _settings(params: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def _one_line(e: object) -> str:
    return " ".join(str(e).split())


@contextlib.contextmanager
def _backend(scheduler: str | None, timeout: float = SCHEDULER_TIMEOUT):
    """joblib's default processes, or a Dask cluster: an unreachable scheduler fails within ``timeout`` seconds,
    and one with no worker after another ``timeout``."""
    if scheduler is None:
        yield
        return
    try:
        from dask.distributed import Client
    except ImportError:
        raise DigitnetError("a Dask scheduler needs dask.distributed: pip install 'digitnet[dask]'") from None
    import joblib

    check_scheduler_address(scheduler)
    try:
        client = Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as e:
        raise DigitnetError(f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({e.__class__.__name__})") from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, OSError):
            raise DigitnetError(f"the Dask scheduler at {scheduler} has no workers (none joined within {timeout:g} s); "
                                f"start one with: dask worker {scheduler}") from None
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
