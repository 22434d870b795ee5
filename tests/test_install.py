"""digitnet installed where its user cannot write: numba's compiled-code cache has nowhere to go (a package
installed by root, run by a service user with no writable home). Every command still works, and says once,
in one line, that it compiles in memory."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import digitnet

PACKAGE = Path(digitnet.__file__).parent
SCRIPT = "import digitnet; m = digitnet.train(config=digitnet.Config.from_recipe('modern', epochs=1)); " \
         "print(digitnet.__file__); print(m.metrics['accuracy'] > 0.8)"


def _copy(tmp_path: Path) -> Path:
    """A copy of the package without its compiled caches, as a fresh install is."""
    root = tmp_path / "site"
    shutil.copytree(PACKAGE, root / "digitnet", ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    return root


def _environment(root: Path, home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_", "DIGITNET_"))}
    env.update(PYTHONPATH=str(root), HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
               NUMBA_CACHE_DIR=str(home / "numba-cache"), PYTHONDONTWRITEBYTECODE="1")
    return env


def _check(result: subprocess.CompletedProcess, root: Path) -> None:
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(root / "digitnet" / "__init__.py"), "True"]  # this copy, trained
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    assert lines[0].startswith("digitnet: numba cannot cache compiled code") and "NUMBA_CACHE_DIR" in lines[0]


@pytest.mark.slow
def test_no_writable_cache_anywhere_compiles_in_memory(tmp_path):
    """Every place numba would cache in is a file, not a folder: no user can create it, root included."""
    root = _copy(tmp_path)
    for folder in (root / "digitnet", root / "digitnet" / "fast"):
        (folder / "__pycache__").write_text("not a folder")
    home = tmp_path / "home-is-a-file"
    home.write_text("not a folder")
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=_environment(root, home), capture_output=True,
                            text=True, timeout=600)
    _check(result, root)
    cli = subprocess.run([sys.executable, "-m", "digitnet", "predict", "--help"], env=_environment(root, home),
                         capture_output=True, text=True, timeout=600)
    assert cli.returncode == 0 and len(cli.stderr.splitlines()) == 1, cli.stderr


@pytest.mark.slow
def test_a_read_only_install_and_home_compile_in_memory(tmp_path):
    """The package, the home folder and NUMBA_CACHE_DIR on read-only mounts (a private mount namespace: needs
    root or user namespaces; skipped without them)."""
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare, "-m", "true"], capture_output=True) if unshare else None
    if probe is None or probe.returncode != 0:
        pytest.skip("no private mount namespace here (unshare -m needs root): see the test above")
    root = _copy(tmp_path)
    home = tmp_path / "home"
    (home / "numba-cache").mkdir(parents=True)
    mounts = " && ".join(f"mount --bind -o ro {d} {d}" for d in (root, home))
    command = f"{mounts} && exec {sys.executable} -c \"{SCRIPT}\""
    result = subprocess.run([unshare, "-m", "sh", "-c", command], env=_environment(root, home),
                            capture_output=True, text=True, timeout=600)
    _check(result, root)
