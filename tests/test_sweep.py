"""digitnet sweep: grids, scikit-learn's searches on joblib and on a real Dask LocalCluster, bad input."""

import csv
import time

import numpy as np
import pytest
from typer.testing import CliRunner

import digitnet
from digitnet import ConfigError, DigitNetClassifier
from digitnet.cli import app
from digitnet.sweep import parse_grid, search

from conftest import write_csv


def test_grid_names_are_options_or_fields_and_values_are_checked():
    assert parse_grid("hidden=100,200 dropout=0,0.3 batch-size=32 lr=0.01 patience=none") == {
        "n_hidden": [100, 200], "dropout": [0.0, 0.3], "batch_size": [32], "lr": [0.01], "patience": [None]}
    for text, message in [
        ("hidden", "grid item 'hidden': expected NAME=V1,V2,..."),
        ("hidden=", "expected NAME=V1,V2"),
        ("colour=red", "unknown setting 'colour'"),
        ("hidden=100 hidden=200", "hidden is given twice"),
        ("hidden=0", "grid hidden=0: n_hidden must be 1..1,000,000,000; got 0"),
        ("dropout=0.3,1.5", "grid dropout=1.5: dropout must be in [0, 1); got 1.5"),
        ("lr=fast", "lr must be a number; got 'fast'"),
        ("", "the grid is empty"),
    ]:
        with pytest.raises(ConfigError) as e:
            parse_grid(text)
        assert message in str(e.value), text


@pytest.fixture(scope="module")
def small(digits):
    rows = np.random.default_rng(0).permutation(len(digits.y))[:500]
    return digitnet.Dataset(digits.X[rows], digits.y[rows], inputs=digits.inputs, n_classes=10)


def test_searches_rank_candidates(small):
    grid = {"n_hidden": [20, 100], "l2": [0.0, 1e-3]}
    results, searcher = search(small, grid, cv=3, kind="grid")
    assert len(results) == 4 and [r.rank for r in results] == sorted(r.rank for r in results)
    assert results[0].mean_score == max(r.mean_score for r in results) and results[0].params == searcher.best_params_
    results, _ = search(small, grid, cv=3, kind="random", n_iter=2)
    assert len(results) == 2
    results, searcher = search(small, {"n_hidden": [5, 20, 100]}, cv=3, kind="halving")
    assert 1 <= len(results) < 3 and isinstance(searcher.best_estimator_, DigitNetClassifier)


def test_the_same_sweep_on_a_dask_cluster_gives_the_same_ranking(small):
    from dask.distributed import LocalCluster

    grid = {"n_hidden": [20, 100], "dropout": [0.0, 0.3]}
    t = time.perf_counter()
    local, _ = search(small, grid, cv=3, n_jobs=1)
    local_time = time.perf_counter() - t
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        t = time.perf_counter()
        remote, _ = search(small, grid, cv=3, n_jobs=-1, scheduler=cluster.scheduler_address)
        remote_time = time.perf_counter() - t
    assert [r.params for r in remote] == [r.params for r in local]
    np.testing.assert_array_equal([r.mean_score for r in remote], [r.mean_score for r in local])
    print(f"local joblib {local_time:.1f} s, Dask LocalCluster (2 workers) {remote_time:.1f} s")


def test_an_unreachable_scheduler_fails_within_seconds(small):
    t = time.perf_counter()
    r = CliRunner().invoke(app, ["sweep", "--grid", "hidden=20", "--cv", "2", "--dask-scheduler", "tcp://127.0.0.1:9",
                                 "--quiet", "--out", "/nonexistent-dir-for-sure/x.csv"])
    assert r.exit_code == 2 and "does not exist" in r.stderr  # the output path is checked before any work
    with pytest.raises(digitnet.DigitnetError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 5 s"):
        search(small, {"n_hidden": [20]}, cv=2, scheduler="tcp://127.0.0.1:9")
    assert time.perf_counter() - t < 20


def test_sweep_command_writes_results_a_figure_and_the_best_model(tmp_path, digits):
    data = write_csv(tmp_path / "d.csv", digits.X[:400], digits.y[:400])
    out = tmp_path / "sweep.csv"
    r = CliRunner().invoke(app, ["sweep", "--grid", "hidden=20,100 l2=0,0.001", "--cv", "2", "--data", str(data),
                                 "--out", str(out), "--save-best", str(tmp_path / "best.safetensors")])
    assert r.exit_code == 0, r.stderr
    assert "Fitting 2 folds for each of 4 candidates, totalling 8 fits" in r.stderr  # progress on stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 4 and rows[0]["rank"] == "1" and set(rows[0]) >= {"mean_score", "n_hidden", "l2"}
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best = digitnet.load(tmp_path / "best.safetensors")
    assert isinstance(best, DigitNetClassifier) and best.n_hidden == int(rows[0]["n_hidden"])
    assert "Sweep: 4 candidates x 2 folds" in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grid", "hidden=100 colour=red"], "unknown setting 'colour'"),
        (["--grid", "dropout=2"], "grid dropout=2: dropout must be in [0, 1); got 2.0"),
        (["--grid", "hidden=100,"], "n_hidden (--hidden) must be an integer; got ''"),
        (["--grid", "hidden=20", "--cv", "1"], "cv must be at least 2 folds; got 1"),
        (["--grid", "hidden=20", "--search", "exhaustive"], "Invalid value for '--search'"),
        (["--grid", "hidden=20", "--n-jobs", "0"], "--n-jobs must be a positive number"),
    ],
)
def test_sweep_bad_input_is_one_line(tmp_path, args, message):
    r = CliRunner().invoke(app, ["sweep", *args, "--quiet", "--out", str(tmp_path / "s.csv")])
    assert r.exit_code == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and message in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_scheduler_without_workers_fails_in_bounded_time_with_one_line(tmp_path, small):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None, processes=True) as cluster:
        t = time.perf_counter()
        r = CliRunner().invoke(app, ["sweep", "--grid", "hidden=20", "--cv", "2", "--dask-scheduler",
                                     cluster.scheduler_address, "--quiet", "--out", str(tmp_path / "s.csv")])
        assert time.perf_counter() - t < 30
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1, r.output
    assert f"the Dask scheduler at {cluster.scheduler_address} has no workers (none joined within 5 s)" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_starts_from_the_recipe_auto_chooses(digits):
    from digitnet.sweep import base_estimator, choose_recipe

    images = digitnet.Dataset(np.zeros((10_000, 784), np.uint8) + np.arange(10_000)[:, None] % 2,
                              np.arange(10_000) % 2, inputs=digitnet.Inputs(784, (28, 28), (0, 255)))
    assert choose_recipe("auto", images) == "mnist" and choose_recipe("auto", digits) == "modern"
    assert choose_recipe("blog", images) == "blog"
    params = base_estimator("mnist", 3).get_params()
    assert (params["batch_size"], params["lr"], params["augment"], params["random_state"]) == (256, 0.004, 1, 3)


def test_a_fit_that_fails_ranks_last_and_says_why(small):
    results, _ = search(small, {"lr": [0.01, 1e300]}, cv=2)
    assert [r.params["lr"] for r in results] == [0.01, 1e300]
    assert np.isfinite(results[0].mean_score) and results[0].failure is None
    assert np.isnan(results[1].mean_score) and "training diverged" in results[1].failure


def test_a_sweep_on_pen_data_holds_out_whole_writers(tmp_path):
    """Pen data know their writers: each fold scores writers its fits never saw (GroupKFold), not rows of the
    same writers (what StratifiedKFold would do)."""
    from digitnet.data import load_data
    from digitnet.sweep import cv_folds
    from test_unipen import pen_file

    data = load_data(f"unipen8:{pen_file(tmp_path / 'p.tra', writers=6, per_writer=3)}")
    folds = cv_folds(data, 3, seed=0)
    assert sorted(np.concatenate([held for _, held in folds]).tolist()) == list(range(len(data.y)))
    for fit, held in folds:
        assert not set(data.groups[fit]) & set(data.groups[held]) and len(set(data.groups[held])) == 2
    results, searcher = search(data, {"n_hidden": [10, 40]}, cv=3, kind="grid")
    assert searcher.n_splits_ == 3 and [list(h) for _, h in searcher.cv] == [list(h) for _, h in folds]
    with pytest.raises(digitnet.DataError, match=r"cannot cut 54 samples into --cv 7 folds: 6 writers, each held out "
                                                 r"whole, cannot fill 7 folds; use 6 folds or fewer"):
        search(data, {"n_hidden": [10]}, cv=7)


def test_data_without_writers_keep_stratified_folds(small):
    from sklearn.model_selection import StratifiedKFold

    from digitnet.sweep import cv_folds

    expected = list(StratifiedKFold(3, shuffle=True, random_state=4).split(small.X, small.y))
    got = cv_folds(small, 3, seed=4)
    assert all(np.array_equal(a, c) and np.array_equal(b, d) for (a, b), (c, d) in zip(expected, got))


def test_sweep_joins_repeated_data_and_one_data_commands_refuse_it(tmp_path, model_file):
    from test_unipen import pen_file

    pen = pen_file(tmp_path / "p.tra", writers=4, per_writer=2)
    r = CliRunner().invoke(app, ["sweep", "--grid", "epochs=1", "--cv", "3", "--data", "digits", "--data",
                                 f"unipen8:{pen}", "--out", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.stderr
    assert "on 1821 samples" in r.stderr  # 1,797 embedded digits + 24 pen digits: both read
    for command in (["evaluate", str(model_file)], ["report", str(model_file), "--out", str(tmp_path / "r.html")],
                    ["plot", str(model_file), "confusion", "--out", str(tmp_path / "c.png")]):
        r = CliRunner().invoke(app, [*command, "--data", "digits", "--data", f"unipen8:{pen}"])
        assert r.exit_code == 2 and r.stderr == ("error: --data is given 2 times, and this command reads one data set: "
                                                 "give it once (train and sweep join several)\n"), command
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "c.png").exists()
