"""Short-lived DuckDB connections with a bounded retry on the file lock.

DuckDB lets one process write a file, or many processes read it (docs: tech-notes §1).  The
collector opens read-write only while it writes one batch; the dashboard opens read-only per
query.  Both retry on a lock with exponential backoff (20 ms doubling to 0.5 s, jittered) for at
most ``timeout`` seconds, then give up with :class:`WarehouseBusy`.

Every connection is opened with DuckDB's extension auto-install and auto-load turned off
(:data:`DUCKDB_CONFIG`): a path naming an SQLite or Parquet file must never make DuckDB download
an extension.  Such files are refused before DuckDB sees them (:func:`refuse_foreign`: a DuckDB
file says ``DUCK`` at byte 8).
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

LOCK_TIMEOUT = 30.0

# DuckDB's settings for every connection of the project (names as in duckdb_settings(), DuckDB 2.0).
DUCKDB_CONFIG: dict[str, Any] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


class WarehouseError(Exception):
    """The warehouse file cannot be used (foreign file, newer schema, unwritable path)."""


class WarehouseBusy(WarehouseError):
    """Another process held the file longer than the bounded wait."""


_QUOTED = re.compile(r'"[^"]*"')


def _is_lock_error(exc: Exception) -> bool:
    """DuckDB's "Could not set lock on file ...: Conflicting lock is held in ..." error.

    The quoted parts (the database path, the other process's executable) are dropped first: a
    path such as ``/srv/locks/socialkpi.duckdb`` must not turn "not a DuckDB file" into a
    30-second wait ending in :class:`WarehouseBusy`.
    """
    text = _QUOTED.sub('""', str(exc)).lower()
    return "could not set lock" in text or "conflicting lock" in text


def foreign(path: str | os.PathLike[str], what: str = "not a DuckDB file") -> WarehouseError:
    return WarehouseError(f"{os.fspath(path)} is not a socialkpi warehouse ({what}): move it away or set SOCIALKPI_DB")


_MAGIC = (
    (b"SQLite format 3\x00", "an SQLite database, not a DuckDB file"),
    (b"PAR1", "a Parquet file, not a DuckDB file"),
)


def refuse_foreign(path: str | os.PathLike[str]) -> None:
    """Raise when ``path`` is an existing regular file that is not a DuckDB file (an SQLite
    database, a Parquet or text file, an empty file): DuckDB would try to read it with an
    extension (SQLite), open it as an in-memory database of views (Parquet), or refuse it."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return  # not a readable file (a folder, no permission, missing): DuckDB says what it is
    if head[8:12] == b"DUCK":
        return
    what = next((w for magic, w in _MAGIC if head.startswith(magic)), "not a DuckDB file")
    raise foreign(path, "an empty file, not a DuckDB file" if not head else what)


def connect(
    path: str | os.PathLike[str], *, read_only: bool, timeout: float = LOCK_TIMEOUT
) -> duckdb.DuckDBPyConnection:
    """Open ``path``; on a lock held by another process, retry for up to ``timeout`` seconds."""
    target = str(path)
    if not read_only:
        parent = Path(target).parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(f"cannot create the warehouse folder {parent}: {exc.strerror}") from None
    elif not Path(target).exists():
        raise FileNotFoundError(target)
    refuse_foreign(target)
    start, delay = time.monotonic(), 0.02
    while True:
        try:
            return duckdb.connect(target, read_only=read_only, config=dict(DUCKDB_CONFIG))
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise WarehouseError(_explain_open_error(target, exc)) from None
            if time.monotonic() - start > timeout:
                raise WarehouseBusy(
                    f"the warehouse {target} stayed locked by another process for {timeout:.0f}s"
                ) from None
            time.sleep(delay + random.random() * delay)
            delay = min(delay * 2, 0.5)
        except duckdb.Error as exc:
            raise WarehouseError(_explain_open_error(target, exc)) from None


def _explain_open_error(path: str, exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    reason = _QUOTED.sub('""', text).lower()  # classify on DuckDB's words, not on the path
    if "wal" in reason and ("replaying" in reason or "does not match" in reason):
        return (
            f"cannot open the warehouse {path}: its write-ahead log {path}.wal does not belong to it "
            "(left by a crashed writer?): move the .wal file away and retry"
        )
    if "not a valid duckdb database" in reason or "magic" in reason:
        return str(foreign(path))
    if "permission" in reason or "read-only file system" in reason:
        return f"cannot write the warehouse {path}: check the folder's permissions or set SOCIALKPI_DB"
    return f"cannot open the warehouse {path}: {text}"


@contextmanager
def reading(
    path: str | os.PathLike[str], *, timeout: float = LOCK_TIMEOUT
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection closed on exit (one per query in the dashboard)."""
    con = connect(path, read_only=True, timeout=timeout)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def writing(
    path: str | os.PathLike[str], *, timeout: float = LOCK_TIMEOUT
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection with the schema ensured, closed on exit."""
    from warehouse.schema import ensure_schema

    con = connect(path, read_only=False, timeout=timeout)
    try:
        ensure_schema(con)
        yield con
    finally:
        con.close()
