"""Training jobs without HTTP: the run cache (nothing written outside it), the event log (ids, resuming, what a
late joiner gets), the operator's limits and the settings a page may send. Runs themselves: test_train_api.py."""

import json
import os
import stat

import pytest

from digitnet import jobs
from digitnet.errors import ConfigError, OutputFileError
from digitnet.jobs import LimitError, Limits, Runner, config_from
from digitnet.run_cache import RunCache, cache_home


# ---- the cache


def test_the_cache_writes_inside_its_own_directory(tmp_path):
    cache = RunCache(tmp_path / "home")
    path = cache.write("modern-00ff.safetensors", b"model bytes")
    assert path == tmp_path / "home" / "digitnet" / "runs" / "modern-00ff.safetensors"
    assert path.read_bytes() == b"model bytes" and cache.read("modern-00ff.safetensors") == b"model bytes"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["modern-00ff.safetensors"]  # no temporary left


@pytest.mark.parametrize("linked", ["digitnet", "digitnet/runs"])
def test_a_link_in_the_cache_is_never_followed(tmp_path, linked):
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (home / linked).parent.mkdir(parents=True, exist_ok=True)
    (home / linked).symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(OutputFileError, match="symbolic link"):
        RunCache(home).write("modern-00ff.safetensors", b"model bytes")
    assert list(elsewhere.rglob("*")) == []


def test_a_linked_file_is_replaced_not_written_through(tmp_path):
    cache = RunCache(tmp_path / "home")
    cache.write("modern-0001.safetensors", b"first")
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    link = cache.directory / "modern-0002.safetensors"
    link.symlink_to(victim)
    with pytest.raises(FileNotFoundError):
        cache.read("modern-0002.safetensors")  # not read through either
    cache.write("modern-0002.safetensors", b"second")
    assert victim.read_bytes() == b"keep me"
    assert not link.is_symlink() and link.read_bytes() == b"second"


@pytest.mark.parametrize("name", ["../x.safetensors", "a/b.safetensors", ".hidden.safetensors", "x.txt", ""])
def test_the_cache_takes_plain_names_only(tmp_path, name):
    with pytest.raises(ValueError, match="not a run's file name"):
        RunCache(tmp_path).write(name, b"x")


def test_the_cache_keeps_the_newest_files(tmp_path):
    cache = RunCache(tmp_path, keep=3)
    for i in range(5):
        path = cache.write(f"run-{i}.safetensors", b"x")
        os.utime(path, ns=(i * 10**9, i * 10**9))
    assert sorted(p.name for p in cache.directory.iterdir()) == [f"run-{i}.safetensors" for i in (2, 3, 4)]


def test_the_cache_home_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_home() == tmp_path and RunCache().directory == tmp_path / "digitnet" / "runs"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the XDG rules say
    assert cache_home() == cache_home().home() / ".cache"


# ---- the event log


@pytest.fixture
def runner(digits, tmp_path):
    return Runner({"digits": digits}, cache=RunCache(tmp_path))


def test_events_resume_after_an_id_and_late_joiners_get_everything(runner):
    for i in range(5):
        runner._emit("epoch", {"epoch": i})
    log = runner.events_after(None)
    assert [e.data["epoch"] for e in log] == [0, 1, 2, 3, 4]
    assert [e.id for e in log] == [f"{runner.instance}.{i}" for i in range(1, 6)]
    assert [json.loads(e.text) for e in log] == [e.data for e in log]
    assert runner.events_after(log[1].id) == log[2:]
    assert runner.events_after(log[-1].id) == []
    for foreign in ("other.3", "garbage", f"{runner.instance}.x", ""):
        assert runner.events_after(foreign) == log  # another server's, or an earlier one's: from the start


def test_a_superseded_progress_event_gives_up_its_weights(runner):
    runner._emit("progress", {"epoch": 0.5, "tiles": {"levels": "AAAA"}, "mistakes": [], "test_accuracy": 0.5})
    runner._emit("progress", {"epoch": 0.7})  # no weights: the last ones stay
    assert "tiles" in runner.events_after(None)[0].data
    runner._emit("progress", {"epoch": 0.9, "tiles": {"levels": "BBBB"}, "mistakes": []})
    first, _, last = runner.events_after(None)
    assert first.data == {"epoch": 0.5, "test_accuracy": 0.5} and json.loads(first.text) == first.data
    assert last.data["tiles"] == {"levels": "BBBB"}


def test_epochs_are_thinned_past_the_weights_budget(runner, monkeypatch):
    monkeypatch.setattr(jobs, "WEIGHTS_LOG_BYTES", 10_000)
    for epoch in range(1, 41):
        runner._emit("epoch", {"epoch": epoch, "tiles": {"levels": "x" * 1000}})
    log = runner.events_after(None)
    kept = [e.data["epoch"] for e in log if "tiles" in e.data]
    assert kept[0] == 1 and kept[-1] == 40 and len(kept) < 12
    assert sum(len(e.text) for e in log if "tiles" in e.data) <= 10_000 + 1100
    assert [e.data["epoch"] for e in log] == list(range(1, 41))  # every epoch's numbers stay


def test_listeners_hear_every_event_until_they_leave(runner):
    heard = []
    leave = runner.subscribe(lambda: heard.append(1))
    runner._emit("epoch", {"epoch": 1})
    leave()
    runner._emit("epoch", {"epoch": 2})
    assert heard == [1]


# ---- what a page may ask


def test_settings_come_from_the_recipe_and_the_page():
    config = config_from({"recipe": "blog", "seed": 3, "lr": None})
    assert (config.recipe, config.seed, config.lr, config.batch_size) == ("blog", 3, 0.1, 1)
    with pytest.raises(ConfigError, match="^l2: not a setting"):
        config_from({"recipe": "modern", "l2": 0.1})
    with pytest.raises(ConfigError, match="^n_hidden must be 1..1,000,000,000; got 0"):
        config_from({"n_hidden": 0})


def test_limits(digits):
    limits = Limits(seconds=10, n_hidden=100, epochs=50, samples=1000)
    limits.check(config_from({"n_hidden": 100, "epochs": 50}))
    with pytest.raises(LimitError, match="^n_hidden 101 is more than this server allows [(]100, its --max-train-hidden[)]"):
        limits.check(config_from({"n_hidden": 101}))
    with pytest.raises(LimitError, match="^epochs 51 is more"):
        limits.check(config_from({"n_hidden": 10, "epochs": 51}))
    with pytest.raises(LimitError, match="'digits' has 1,797 samples, more than this server allows [(]1,000, its --max-train-samples[)]"):
        Runner({"digits": digits}, limits)
    with pytest.raises(ConfigError, match="limit on seconds must be positive"):
        Limits(seconds=0)


def test_unknown_data_is_named(runner):
    with pytest.raises(KeyError, match="unknown data 'mnist'; this server trains on digits"):
        runner.start("mnist", {})
    assert runner.job is None
