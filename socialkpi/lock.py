"""One collect at a time: an exclusive ``flock`` on ``<warehouse>.lock``.

The kernel drops an flock when its process dies (even on ``kill -9``), so a lock left behind by
a killed run is never a real obstacle: the file is still there, its lock is not, and the next
run takes it over (and says so).  A second run while one is live fails at once (exit 75).

The lock file is only ever a regular file of socialkpi's own: it is opened without following a
symbolic link (``O_NOFOLLOW``), and anything else at its path (a link, a FIFO, a directory, a
device, a file with other names) is refused with exit 2 before it is written or truncated.  What
it holds is printed only when it is what socialkpi writes there: a pid, as digits.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
from pathlib import Path
from types import TracebackType

log = logging.getLogger("socialkpi.lock")

_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK


class LockHeld(Exception):
    pass


def _pid(fd: int) -> str | None:
    """The pid a socialkpi run wrote into the lock file, or None when it holds anything else."""
    text = os.pread(fd, 32, 0).strip()
    return text.decode("ascii") if text.isdigit() and len(text) <= 10 else None


class RunLock:
    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fd: int | None = None

    def _refuse(self, what: str) -> Exception:
        from warehouse.db import WarehouseError

        return WarehouseError(
            f"{self.path} is {what}, not socialkpi's lock file: move it away "
            "(socialkpi creates the lock file itself beside the warehouse)"
        )

    def _open(self) -> int:
        from warehouse.db import WarehouseError

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            before = os.lstat(self.path)
        except FileNotFoundError:
            before = None
        except OSError as exc:
            raise WarehouseError(
                f"cannot write beside the warehouse in {self.path.parent} ({exc.strerror}): "
                "check [warehouse] path or SOCIALKPI_DB and the folder's permissions"
            ) from None
        # Looked at before opening, so that a device or a FIFO is never even opened.
        if before is not None and stat.S_ISLNK(before.st_mode):
            raise self._refuse("a symbolic link")
        if before is not None and not stat.S_ISREG(before.st_mode):
            raise self._refuse("not a regular file")
        try:
            fd = os.open(self.path, _FLAGS, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # became a link after the look
                raise self._refuse("a symbolic link") from None
            if exc.errno in (errno.EISDIR, errno.ENXIO, errno.ENODEV):
                raise self._refuse("not a regular file") from None
            raise WarehouseError(
                f"cannot write beside the warehouse in {self.path.parent} ({exc.strerror}): "
                "check [warehouse] path or SOCIALKPI_DB and the folder's permissions"
            ) from None
        # What was opened is what counts (the path may have changed since the look).
        st = os.fstat(fd)
        problem = (
            "not a regular file"
            if not stat.S_ISREG(st.st_mode)
            else "a file with other names (hard links)"
            if st.st_nlink != 1
            else None
        )
        if problem is not None:
            os.close(fd)
            raise self._refuse(problem)
        return fd

    def acquire(self) -> None:
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _pid(fd)
            os.close(fd)
            who = f" (pid {holder})" if holder else ""
            raise LockHeld(f"another socialkpi collect{who} is running on this warehouse") from None
        except BaseException:
            os.close(fd)
            raise
        previous = os.pread(fd, 1, 0)
        if previous:
            holder = _pid(fd)
            who = f" (pid {holder})" if holder else ""
            log.warning("a previous collect%s ended without releasing its lock; taking it over", who)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
