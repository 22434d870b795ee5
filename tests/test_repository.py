"""The repository itself: nothing in it names a path of the machine it was written on."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# a path of a workplace or a home directory: data are found through ../shared or an environment variable instead
MACHINE_PATH = re.compile(r"(?<![\w.~])/(?:work|home|Users|root)/\w")


def tracked_files() -> list[Path]:
    """The files git tracks (every file below the root, less ignored folders, where git is missing)."""
    try:
        names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        return [ROOT / name for name in names.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "out", "__pycache__", ".pytest_cache", "site", "build", "dist"}
        return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


def test_no_file_names_a_path_of_this_machine():
    found = []
    for path in tracked_files():
        if path.is_file() and path.resolve() != Path(__file__).resolve():
            text = path.read_bytes().decode("utf-8", errors="ignore")
            found += [f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group()}"
                      for m in MACHINE_PATH.finditer(text)]
    assert found == []
