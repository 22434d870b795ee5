"""Where a server keeps the model files of runs trained on its Train view: one cache directory, nothing outside it.

    store = RunCache()                    # $XDG_CACHE_HOME/digitnet/runs (default ~/.cache/digitnet/runs)
    path = store.write("modern-1a2b3c4d.safetensors", data)
    data = store.read("modern-1a2b3c4d.safetensors")

The cache home ($XDG_CACHE_HOME, or ~/.cache) is the user's to place, so it is followed wherever it points;
below it, ``digitnet`` and ``runs`` are opened one at a time relative to their parent's descriptor without
following symbolic links, must be directories owned by this user, and every file is opened relative to the
last one the same way. A link planted in the cache therefore fails the write with one line; it never sends
one elsewhere. Files are written to a temporary name and renamed into place (a reader never sees half a
file), and only the newest ``keep`` model files stay.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from pathlib import Path

from .errors import OutputFileError
from .files import process_running

KEPT_FILES = 20  # model files kept in the cache; older ones are deleted as new runs end
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\.safetensors")  # file names the cache accepts: no paths, no dots first
TEMPORARY = re.compile(r"\.[a-z0-9][a-z0-9-]{0,63}\.safetensors\.([0-9]{1,10})\.tmp")  # write's, with the writer's pid
_PARTS = ("digitnet", "runs")


def cache_home() -> Path:
    """$XDG_CACHE_HOME when it is an absolute path (the XDG rule: a relative one is ignored), else ~/.cache."""
    home = os.environ.get("XDG_CACHE_HOME", "")
    return Path(home) if os.path.isabs(home) else Path.home() / ".cache"


class RunCache:
    """The model files of finished runs, in ``base``/digitnet/runs (``base``: :func:`cache_home`)."""

    def __init__(self, base: str | Path | None = None, keep: int = KEPT_FILES) -> None:
        self.base = Path(base) if base is not None else cache_home()
        self.keep = keep
        self.directory = self.base.joinpath(*_PARTS)

    def path(self, name: str) -> Path:
        return self.directory / _checked(name)

    def write(self, name: str, data: bytes) -> Path:
        """Write ``data`` as ``name`` (a plain file name, see NAME); returns its path. Raises OutputFileError,
        having written nothing, when the cache cannot be used (a link or a stranger's directory in it, no space)."""
        name = _checked(name)
        with self._directory() as fd:
            tmp = f".{name}.{os.getpid()}.tmp"
            try:
                out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600, dir_fd=fd)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(out, view):]
                    os.fsync(out)
                finally:
                    os.close(out)
                os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)  # replaces a link of that name, never follows it
            except OSError as e:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=fd)
                full = e.errno in (errno.ENOSPC, errno.EDQUOT)
                raise OutputFileError(f"cannot write {self.directory / name}: "
                                      f"{'no space left on the device' if full else e.strerror or e}") from None
            self._prune(fd)
        return self.directory / name

    def check(self) -> None:
        """Make the directory when missing and prune it (see :meth:`write`); OutputFileError as write raises it,
        when the cache cannot be used. A server checks once it starts, before any run trains."""
        with self._directory() as fd:
            self._prune(fd)

    def read(self, name: str) -> bytes:
        """The bytes of file ``name``; FileNotFoundError when it is not (or no longer) in the cache."""
        name = _checked(name)
        with self._directory() as fd:
            try:
                f = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as e:
                raise FileNotFoundError(f"{name} is not in the cache") from e
            with os.fdopen(f, "rb") as file:
                if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                    raise FileNotFoundError(f"{name} in the cache is not a regular file")
                return file.read()

    @contextlib.contextmanager
    def _directory(self):
        """A descriptor of the runs directory, made when missing, reached without following links below the cache home."""
        try:
            self.base.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.base, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            raise OutputFileError(f"cannot use the cache directory {self.base}: {e.strerror or e}") from None
        try:
            where = self.base
            for part in _PARTS:
                where = where / part
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o700, dir_fd=fd)
                try:
                    child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                except OSError as e:
                    why = "a symbolic link or not a directory" if e.errno in (errno.ELOOP, errno.ENOTDIR) else e.strerror
                    raise OutputFileError(f"cannot use the cache directory {where}: {why}; remove it and start again") \
                        from None
                os.close(fd)
                fd = child
                if os.fstat(fd).st_uid != os.geteuid():
                    raise OutputFileError(f"cannot use the cache directory {where}: another user owns it")
            yield fd
        finally:
            os.close(fd)

    def _prune(self, fd: int) -> None:
        """Delete all but the newest ``keep`` model files, whichever server wrote them (an earlier server's runs are
        no longer served), and the temporaries of writers that no longer run. Only regular files of the cache's
        own naming (NAME, TEMPORARY) are deleted; links and other entries are left alone, never followed."""
        files = []
        for entry in os.listdir(fd):
            own, temporary = NAME.fullmatch(entry), TEMPORARY.fullmatch(entry)
            if not (own or temporary):
                continue
            with contextlib.suppress(OSError):
                st = os.stat(entry, dir_fd=fd, follow_symlinks=False)
                if not stat.S_ISREG(st.st_mode):
                    continue
                if own:
                    files.append((st.st_mtime_ns, entry))
                elif not process_running(int(temporary.group(1))):
                    os.unlink(entry, dir_fd=fd)
        for _, entry in sorted(files)[: max(0, len(files) - self.keep)]:
            with contextlib.suppress(OSError):
                os.unlink(entry, dir_fd=fd)


def _checked(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ValueError(f"not a run's file name: {name!r}")
    return name
