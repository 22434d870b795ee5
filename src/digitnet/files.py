"""Writing files safely: atomically, never over a device, a directory or a read-only file.

Model files, figures and reports all go through :func:`write_atomic`: the data go to a
temporary file beside the target, which is renamed over it once complete, so a reader, a
crash or a full disk never leaves a half-written target. Temporaries carry the writer's
process id; one left by a killed process is removed by the next write to the same target.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from pathlib import Path

from .errors import OutputFileError

TMP_SUFFIX = ".digitnet-tmp"


def check_writable(path: str | Path, example: str = "model.safetensors") -> int:
    """Raise OutputFileError unless ``path`` can be created or replaced; returns the mode the file will get.

    Checked before long work. An existing file keeps its mode; a read-only one is refused (its
    mode says "do not replace me", and root would otherwise ignore it). ``example`` names a file
    to suggest when ``path`` is a directory.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputFileError(f"{path} is a directory; give a file name such as {path / example}")
    if not path.parent.is_dir():
        raise OutputFileError(f"cannot write {path}: directory {path.parent} does not exist (create it first)")
    if path.exists():
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise OutputFileError(f"{path} exists and is not a regular file (a device, pipe or socket); choose another path")
        if not st.st_mode & stat.S_IWUSR:
            raise OutputFileError(
                f"{path} is read-only (mode {stat.S_IMODE(st.st_mode):o}); make it writable (chmod u+w) or choose another path"
            )
        mode = stat.S_IMODE(st.st_mode)
    else:
        mode = 0o666 & ~_umask()
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise OutputFileError(f"cannot write {path}: no permission to write in {path.parent}")
    return mode


def write_atomic(path: str | Path, data: bytes, example: str = "model.safetensors") -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename; a failure leaves ``path`` as it was.

    A symbolic link is followed: its target is replaced, the link stays.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    mode = check_writable(path, example)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OutputFileError(
                f"cannot write {path}: no space left on the device ({len(data):,} bytes needed); {path} was not changed"
            ) from None
        raise OutputFileError(f"cannot write {path}: {e.strerror or e}; {path} was not changed") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete temporaries of ``path`` left by processes that no longer run (killed during a write)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\..*{re.escape(TMP_SUFFIX)}")
    removed = []
    for candidate in path.parent.glob(f".{glob_escape(path.name)}.*{TMP_SUFFIX}"):
        match = pattern.fullmatch(candidate.name)
        if match and not _running(int(match.group(1))):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
