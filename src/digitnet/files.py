"""Files, safely: written atomically, never over a device, a directory, a read-only file or an input;
read only when regular, bounded, and hashed as they are read.

Model files, figures and reports all go through :func:`write_atomic`: the data go to a
temporary file beside the target, which is renamed over it once complete, so a reader, a
crash or a full disk never leaves a half-written target. Temporaries carry the writer's
process id; one left by a killed process is removed by the next write to the same target.
:func:`check_distinct` keeps a command's outputs off its inputs and off each other.
:func:`open_regular` opens a file whose name came from elsewhere (a model file's metadata, a folder
of pictures): a FIFO, a device or a directory is refused before it is opened.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from .errors import DataError, OutputFileError

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


def write_atomic(path: str | Path, data: bytes, example: str = "model.safetensors", *, follow_links: bool = True) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename; a failure leaves ``path`` as it was.

    A symbolic link is followed: its target is replaced, the link stays. With ``follow_links=False`` the
    link itself is replaced by the new file and its target is not touched (a cache never writes out of
    its directory).
    """
    try:
        path, tmp = _prepare(Path(path), data, example, follow_links)
    except _WriteError as e:
        raise OutputFileError(f"{e}; {e.path} was not changed") from None
    try:
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OutputFileError(f"cannot write {path}: {_why(e, len(data))}; {path} was not changed") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_all(outputs: Sequence[tuple[str | Path, bytes, str]]) -> list[Path]:
    """Write every output (path, data, example) or none: each goes to a temporary file beside its path, and only
    once all of them are whole is each renamed into place. A failure while writing (a full disk) removes the
    temporaries and leaves every path as it was, and the OutputFileError says nothing was written; a rename that
    fails (it needs no space: rare) says which outputs were written and which were not. Returns the paths written.
    """
    prepared: list[tuple[Path, str]] = []
    try:
        for path, data, example in outputs:
            try:
                prepared.append(_prepare(Path(path), data, example, follow_links=True))
            except OutputFileError as e:
                raise OutputFileError(f"{e}; nothing was written (not {_names([p for p, _, _ in outputs])})") from None
    except BaseException:
        for _, tmp in prepared:
            Path(tmp).unlink(missing_ok=True)
        raise
    written: list[Path] = []
    for i, (path, tmp) in enumerate(prepared):
        try:
            os.replace(tmp, path)
        except BaseException as e:
            for _, left in prepared[i:]:
                Path(left).unlink(missing_ok=True)
            if not isinstance(e, OSError):
                raise
            raise OutputFileError(f"cannot write {path}: {_why(e, 0)}; written: {', '.join(map(str, written)) or 'none'}; "
                                  f"not written: {', '.join(str(p) for p, _ in prepared[i:])}") from None
        written.append(path)
    return written


def _prepare(path: Path, data: bytes, example: str, follow_links: bool) -> tuple[Path, str]:
    """(the path to replace, a temporary file beside it holding ``data`` with the mode the file will have);
    OutputFileError "cannot write PATH: why", with no temporary left, when it cannot be written."""
    if not path.is_symlink():
        mode = check_writable(path, example)
    elif follow_links:
        path = path.resolve()
        mode = check_writable(path, example)
    else:
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise OutputFileError(f"cannot write {path}: no permission to write in {path.parent}")
        mode = 0o666 & ~_umask()
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise _WriteError(path, f"cannot write {path}: {_why(e, len(data))}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path, tmp


class _WriteError(OutputFileError):
    """Writing the temporary of ``path`` failed (no space, an I/O error): nothing of it is left."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


def _why(e: OSError, size: int) -> str:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the device ({size:,} bytes needed)" if size else "no space left on the device"
    return str(e.strerror or e)


def _names(paths: Sequence[str | Path]) -> str:
    """'a', 'a nor b', 'a, b nor c'."""
    names = [str(p) for p in paths]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} nor {names[-1]}"


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete temporaries of ``path`` left by processes that no longer run (killed during a write)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\..*{re.escape(TMP_SUFFIX)}")
    removed = []
    for candidate in path.parent.glob(f".{glob_escape(path.name)}.*{TMP_SUFFIX}"):
        match = pattern.fullmatch(candidate.name)
        if match and not process_running(int(match.group(1))):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def process_running(pid: int) -> bool:
    """Whether process ``pid`` runs (this one does; another user's counts as running)."""
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


# ---- outputs that are inputs ----------------------------------------------------------------------------


def check_distinct(outputs: Iterable[tuple[str, str | Path]], inputs: Iterable[tuple[str, str | Path]] = ()) -> None:
    """Raise OutputFileError when an output is the same file as an input, or as another output.

    ``outputs`` and ``inputs`` are (what it is, path) pairs, e.g. ("--out", "m.safetensors"), ("--data", "d.csv").
    The same file: the same path once symbolic links are resolved (a write follows a link to its target),
    or the same inode on the same device (a hard link, or any other name of it).
    """
    outputs, inputs = list(outputs), list(inputs)
    for i, (what, path) in enumerate(outputs):
        for other, other_path in inputs:
            if same_file(path, other_path):
                raise OutputFileError(f"{what} {path} is the same file as {other} {other_path}: writing it would "
                                      "destroy what this command reads; choose another path")
        for other, other_path in outputs[:i]:
            if same_file(path, other_path):
                raise OutputFileError(f"{other} {other_path} and {what} {path} are the same file: one would overwrite "
                                      "the other; choose different paths")


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when paths ``a`` and ``b`` name one file: equal once links are resolved, or one inode (hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one of them does not exist (yet): not the same file
        return False


# ---- reading a file whose name came from elsewhere ------------------------------------------------------


_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


class HashingReader(io.RawIOBase):
    """A binary file read through a SHA-256 of every byte read, and never past ``limit`` bytes (then it says end of file)."""

    def __init__(self, raw: io.RawIOBase | io.BufferedIOBase, limit: int | None = None, name: str = "") -> None:
        self.raw, self.limit, self.name = raw, limit, name
        self.sha256, self.count = hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        if self.limit is not None:
            view = view[: max(0, self.limit - self.count)]
            if not len(view):
                return 0
        n = self.raw.readinto(view) or 0
        self.sha256.update(view[:n])
        self.count += n
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()

    def check(self, sha256: str) -> None:
        """Raise DataError unless the file, read to its end, is exactly ``limit`` bytes whose SHA-256 is ``sha256``."""
        while self.read(1 << 20):  # what the parser left unread still counts
            pass
        if self.raw.read(1):
            raise DataError(f"{self.name}: has more than the {self.limit:,} bytes recorded: it has changed since")
        if self.sha256.hexdigest() != sha256:
            raise DataError(f"{self.name}: has changed since (its SHA-256 is not the one recorded)")


def open_regular(path: str | Path, *, size: int | None = None, limit: int | None = None,
                 expected: str = "expected") -> HashingReader:
    """``path`` opened for reading, hashed as it is read, only if it is a regular file of ``size`` bytes (when given)
    and no more than ``limit`` bytes (when given): reads stop there.

    A FIFO (which would block), a device (which may never end), a socket or a directory is refused without reading
    it. Raises DataError naming the file and what it is; ``expected`` names where ``size`` came from.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror or e})") from None
    _check_regular(path, st, size, limit, expected)
    try:  # non-blocking: should it have become a FIFO since the check, the open still returns
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror or e})") from None
    raw = os.fdopen(fd, "rb", buffering=0)
    try:
        _check_regular(path, os.fstat(fd), size, limit, expected)
    except DataError:
        raw.close()
        raise
    return HashingReader(raw, size if size is not None else limit, str(path))


def open_stream(path: str | Path, expected: str) -> io.BufferedReader:
    """``path`` opened for reading when it is a regular file or a pipe (a FIFO, /dev/stdin from a shell's ``|``):
    a device (which may never end: /dev/zero) or a socket is refused before it is opened, with a DataError naming
    it and ``expected``. OSError (FileNotFoundError, IsADirectoryError, ...) as ``open`` raises them."""
    path = Path(path)
    _check_stream(path, os.stat(path), expected)
    f = path.open("rb")
    try:
        _check_stream(path, os.fstat(f.fileno()), expected)  # it may have been replaced since the check
    except DataError:
        f.close()
        raise
    return f


def _check_stream(path: Path, st: os.stat_result, expected: str) -> None:
    kind = stat.S_IFMT(st.st_mode)
    if kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFSOCK):
        raise DataError(f"{path}: is {_KINDS[kind]}, not {expected}")


# a file recorded by an older digitnet, without its size, is read up to this many bytes and no further
UNRECORDED_LIMIT = 1 << 30


class Recorded(NamedTuple):
    """What a model file recorded of a file it was trained on. Untrusted (the model's checksum is no signature):
    the file is read again only when it is regular, of ``size`` bytes and of this SHA-256."""

    sha256: str
    size: int | None = None  # None: recorded by a digitnet that kept no size (read up to UNRECORDED_LIMIT bytes)

    def open(self, path: str | Path) -> HashingReader:
        """``path`` opened as :func:`open_regular` does, at the recorded size; ``check(self.sha256)`` once it is read."""
        return open_regular(path, size=self.size, limit=UNRECORDED_LIMIT if self.size is None else None,
                            expected="recorded: it has changed since")


def _check_regular(path: Path, st: os.stat_result, size: int | None, limit: int | None, expected: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path}: is {_KINDS.get(stat.S_IFMT(st.st_mode), 'not a file')}, not a regular file")
    if size is not None and st.st_size != size:
        raise DataError(f"{path}: has {st.st_size:,} bytes, not the {size:,} {expected}")
    if limit is not None and st.st_size > limit:
        raise DataError(f"{path}: has {st.st_size:,} bytes, more than the {limit:,} allowed")
