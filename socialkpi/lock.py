"""One collect at a time: an exclusive ``flock`` on ``<warehouse>.lock``.

The kernel drops an flock when its process dies (even on ``kill -9``), so a lock left behind by
a killed run is never a real obstacle: the file is still there, its lock is not, and the next
run takes it over (and says so).  A second run while one is live fails at once (exit 75).
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from types import TracebackType

log = logging.getLogger("socialkpi.lock")


class LockHeld(Exception):
    pass


class RunLock:
    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        from warehouse.db import WarehouseError

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise WarehouseError(
                f"cannot write beside the warehouse in {self.path.parent} ({exc.strerror}): "
                "check [warehouse] path or SOCIALKPI_DB and the folder's permissions"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise LockHeld(f"another socialkpi collect (pid {holder}) is running on this warehouse") from None
        previous = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        if previous:
            log.warning(
                "a previous collect (pid %s) ended without releasing its lock; taking it over", previous
            )
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
