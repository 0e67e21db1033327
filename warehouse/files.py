"""Files socialkpi writes for the user (``export --out``, ``report --out``, socialkpi.toml): whole or not at all.

The one writer of those files (:func:`replacing`, :func:`write_atomically`):

- only a regular file or nothing is replaced.  A symbolic link (never followed), a folder, a device, a FIFO
  or a socket at the path, a read-only file, a missing or unwritable folder: :class:`OutputError`, one line
  naming the path and the fix (the command exits 2), and nothing is changed;
- the new content goes to a temporary file in the same folder (``.NAME.XXXXXXXX.tmp``), is flushed to disk
  (``fsync``), the path is checked again, then the temporary file is renamed over it (``os.replace``: a
  reader sees the old file or the new one, never a part) and the folder is flushed so the rename survives a
  power cut.  On any error the temporary file is removed;
- permissions: an existing file's are kept; a new file gets ``0o666`` minus the umask, as ``open()`` would
  give it, unless ``mode`` says otherwise.

Everything here works on the path as given: the folder is ``os.path.dirname(path)`` unresolved, so the
temporary file and the rename stay in the directory the kernel resolves the name in.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PathLike = str | os.PathLike[str]


class OutputError(Exception):
    """An output path that cannot be written: one line naming it and the fix (exit 2); nothing was changed."""


class StreamFull(OutputError):
    """An open stream (standard output) refused the data: a full disk, a device such as /dev/full.  What was
    written before stays written: the message says the output is incomplete."""


_NOT_REGULAR = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def _label(path: PathLike, flag: str | None) -> str:
    return f"{flag} {os.fspath(path)}" if flag else os.fspath(path)


def _folder(path: PathLike) -> str:
    return os.path.dirname(os.fspath(path)) or "."


def check_output(path: PathLike, *, flag: str | None = "--out", stdout_hint: bool = False) -> os.stat_result | None:
    """Refuse what :func:`replacing` would refuse, before any work is done (:class:`OutputError`).

    Returns the ``lstat`` of the regular file at ``path``, or None when there is nothing there yet.
    ``flag`` prefixes the messages (``--out PATH ...``); ``stdout_hint`` adds "or - for standard output".
    """
    text = os.fspath(path)
    label = _label(path, flag)
    other = ", or - for standard output" if stdout_hint else ""
    name = os.path.basename(text)
    if not name or name in (".", ".."):
        raise OutputError(f"{label}: give a file name (a path ending in a name, not a folder){other}")
    folder = _folder(text)
    prefix = f"{flag}: " if flag else ""
    try:
        folder_mode = os.stat(folder).st_mode
    except FileNotFoundError:
        raise OutputError(
            f"{prefix}the folder {folder} does not exist: nothing was written (create it first)"
        ) from None
    except OSError as exc:
        raise OutputError(f"{prefix}the folder {folder} cannot be used ({exc.strerror}): nothing was written") from None
    if not stat.S_ISDIR(folder_mode):
        raise OutputError(f"{prefix}{folder} is not a folder: nothing was written")
    try:
        found = os.lstat(text)
    except FileNotFoundError:
        found = None
    except OSError as exc:
        raise OutputError(f"{label} cannot be used ({exc.strerror}): nothing was written") from None
    if found is not None:
        for test, kind in _NOT_REGULAR:
            if test(found.st_mode):
                if kind == "a symbolic link":
                    fix = f"links are not followed: give the path of the file itself{other}"
                elif kind == "a folder":
                    fix = f"give a file name inside it{other}"
                else:
                    fix = f"give the path of a regular file{other}"
                raise OutputError(f"{label} is {kind}, not a regular file: nothing was written ({fix})")
        if not stat.S_ISREG(found.st_mode):
            raise OutputError(f"{label} is not a regular file: nothing was written (give the path of a regular file)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{prefix}the folder {folder} is not writable: nothing was written (choose another folder)")
    # read-only by its mode (no write bit for anyone) is refused even for root, who could write it anyway
    if found is not None and (not os.access(text, os.W_OK) or not found.st_mode & 0o222):
        raise OutputError(f"{label} is read-only: nothing was written (make it writable or choose another path)")
    return found


def _umask() -> int:
    """The process's umask, read without changing it where the system tells (Linux), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def _fsync_folder(folder: str) -> None:
    """Flush the folder's entry list (the rename) to disk; file systems that cannot are left as they are."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def replacing(
    path: PathLike, *, flag: str | None = "--out", mode: int | None = None, stdout_hint: bool = False
) -> Iterator[Path]:
    """``with replacing(path) as tmp:`` write ``tmp`` (a new empty file beside ``path``, any way: Python,
    DuckDB's ``COPY``); when the block ends without an error, ``tmp`` is flushed and renamed over ``path``.

    Refused before the block runs, and checked again just before the rename: see the module docstring.
    An ``OSError`` while flushing or renaming becomes :class:`OutputError`; ``tmp`` never outlives the block.
    """
    existing = check_output(path, flag=flag, stdout_hint=stdout_hint)
    folder = _folder(path)
    label = _label(path, flag)
    if mode is None:
        mode = stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~_umask()
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{os.path.basename(os.fspath(path))}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        prefix = f"{flag}: " if flag else ""
        raise OutputError(
            f"{prefix}the folder {folder} is not writable ({exc.strerror}): nothing was written (choose another folder)"
        ) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        try:
            os.chmod(tmp, mode)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise OutputError(f"{label}: cannot write ({exc.strerror}): nothing was written") from None
        check_output(path, flag=flag, stdout_hint=stdout_hint)  # nothing put there meanwhile that must stay
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise OutputError(f"{label}: cannot write ({exc.strerror}): nothing was written") from None
        _fsync_folder(folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_atomically(path: PathLike, data: str | bytes, *, flag: str | None = "--out", mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) by the rules of :func:`replacing`."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with replacing(path, flag=flag, mode=mode) as tmp:
        try:
            tmp.write_bytes(payload)
        except OSError as exc:
            raise OutputError(f"{_label(path, flag)}: cannot write ({exc.strerror}): nothing was written") from None
