"""Short-lived DuckDB connections with a bounded retry on the file lock, and damaged files refused.

DuckDB lets one process write a file, or many processes read it
(https://duckdb.org/docs/stable/connect/concurrency).  The
collector opens read-write only while it writes one batch; the dashboard opens read-only per
query.  Both retry on a lock with exponential backoff (20 ms doubling to 0.5 s, jittered) for at
most ``timeout`` seconds, then give up with :class:`WarehouseBusy`.

Every connection is opened with DuckDB's extension auto-install and auto-load turned off
(:data:`DUCKDB_CONFIG`): a path naming an SQLite or Parquet file must never make DuckDB download
an extension.  Such files are refused before DuckDB sees them (:func:`refuse_foreign`: a DuckDB
file says ``DUCK`` at byte 8).

A damaged file (cut short, bytes overwritten) is refused with one :class:`WarehouseDamaged`
naming what to do, before anything is written to it:

- on every open, DuckDB's own errors (its checksum of every block, a read past the end of the
  file) and the file's size against the blocks in use DuckDB counts (a file cut short opens, and
  fails only when a query reaches a missing block);
- on the first open of a file state in a process (:func:`verify`): every column of every table
  is read, so every data block passes DuckDB's checksum, and a read-write open also looks up one
  key in every primary key (an ``INSERT`` of an existing row, refused and rolled back), which reads
  the index's blocks on that key's path: the whole index while it fits in one block (256 KiB,
  some thousands of keys), part of it beyond.  DuckDB still checks every block it reads later,
  and an error then is the same :class:`WarehouseDamaged`.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb

from warehouse.duckdb_config import DUCKDB_CONFIG as DUCKDB_CONFIG
from warehouse.errors import WarehouseBusy as WarehouseBusy
from warehouse.errors import WarehouseDamaged as WarehouseDamaged
from warehouse.errors import WarehouseError as WarehouseError
from warehouse.errors import is_damage as is_damage
from warehouse.errors import is_lock_error, words
from warehouse.lake_config import Lake

Target = str | os.PathLike[str] | Lake  # a DuckDB file, or the lake of [warehouse] url

_T = TypeVar("_T")

LOCK_TIMEOUT = 30.0


HEADER_BYTES = 3 * 4096  # DuckDB's main header and its two database headers, before block 0


def _retry_on_lock(target: str, timeout: float, open_it: Callable[[], _T]) -> _T:
    """``open_it()``, tried again with a capped, jittered backoff while another process holds the file's lock.

    Past ``timeout`` seconds it raises :class:`WarehouseBusy`; any other DuckDB error is the one-line
    ``_open_error`` at once.
    """
    start, delay = time.monotonic(), 0.02
    while True:
        try:
            return open_it()
        except duckdb.IOException as exc:
            if not is_lock_error(exc):
                raise _open_error(target, exc) from None
            if time.monotonic() - start > timeout:
                raise WarehouseBusy(
                    f"the warehouse {target} stayed locked by another process for {timeout:.0f}s"
                ) from None
            time.sleep(delay + random.random() * delay)
            delay = min(delay * 2, 0.5)
        except duckdb.Error as exc:
            raise _open_error(target, exc) from None


_CHECKSUM = re.compile(r"checksum .* in block at location (\d+)", re.IGNORECASE)
_SHORT = re.compile(r"attempted to read (\d+) bytes from location (\d+)", re.IGNORECASE)


def damaged(path: str | os.PathLike[str], exc: BaseException) -> WarehouseDamaged:
    """:class:`WarehouseDamaged` saying what DuckDB found, in a few words (its first line otherwise)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if match := _CHECKSUM.search(text):
        return WarehouseDamaged(path, f"the block at byte {match[1]} fails DuckDB's checksum")
    if match := _SHORT.search(text):
        return WarehouseDamaged(path, f"it is cut short: DuckDB could not read {match[1]} bytes at byte {match[2]}")
    return WarehouseDamaged(path, "DuckDB: " + text.replace(f'"{os.fspath(path)}"', "the file"))


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
    """Open ``path``; on a lock held by another process, retry for up to ``timeout`` seconds.

    A foreign or damaged file raises :class:`WarehouseError` (:class:`WarehouseDamaged`) and is
    left as it was."""
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
    con = _retry_on_lock(
        target, timeout, lambda: duckdb.connect(target, read_only=read_only, config=dict(DUCKDB_CONFIG))
    )
    try:
        verify(con, target, writable=not read_only)
    except BaseException:
        con.close()
        raise
    return con


def _open_error(path: str, exc: Exception) -> WarehouseError:
    if is_damage(exc):
        return damaged(path, exc)
    return WarehouseError(_explain_open_error(path, exc))


def _explain_open_error(path: str, exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    reason = words(text)  # classify on DuckDB's words, not on the path
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


# ---------------------------------------------------------------------------------------------
# Reading every block once per file state
# ---------------------------------------------------------------------------------------------

_verified: dict[str, tuple[object, ...]] = {}  # real path -> the file state last read through
_verified_lock = threading.Lock()


def _state(path: str) -> tuple[object, ...] | None:
    """What changes when the file (or its write-ahead log) is written: device, inode, size, mtime."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    try:
        wal = os.stat(path + ".wal")
        log: tuple[int, int] | None = (wal.st_size, wal.st_mtime_ns)
    except OSError:
        log = None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, log)


def remember(path: str | os.PathLike[str]) -> None:
    """Mark the file's current state as read through (after this process wrote it itself)."""
    key, state = os.path.realpath(path), _state(os.fspath(path))
    with _verified_lock:
        if state is not None:
            _verified[key] = state


def forget(path: str | os.PathLike[str]) -> None:
    with _verified_lock:
        _verified.pop(os.path.realpath(path), None)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def verify(
    con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str], *, writable: bool, catalog: str | None = None
) -> None:
    """Raise :class:`WarehouseDamaged` unless the file opened as ``catalog`` (default: the
    connection's database) is whole: its size on every call, every block once per file state."""
    target = os.fspath(path)
    try:
        db = catalog or str(con.execute("SELECT current_database()").fetchone()[0])  # type: ignore[index]
        # Every block in use is in the file, each at its own place: a file shorter than the used
        # blocks is cut short.  (Not total_blocks: a checkpoint may cut free blocks off the end.)
        row = con.execute(
            "SELECT used_blocks, block_size FROM pragma_database_size() WHERE database_name = ?", [db]
        ).fetchone()
        if row is not None and row[0]:
            needed = HEADER_BYTES + int(row[0]) * int(row[1])
            size = os.path.getsize(target)
            if size < needed:
                raise WarehouseDamaged(
                    target, f"it is cut short: {size} bytes, less than the {needed} its {row[0]} blocks in use take"
                )
        key, state = os.path.realpath(target), _state(target)
        with _verified_lock:
            if state is not None and _verified.get(key) == state:
                return
        _read_every_block(con, db, writable=writable)
    except duckdb.Error as exc:
        if is_damage(exc):
            raise damaged(target, exc) from None
        raise
    if state is not None:
        with _verified_lock:
            _verified[key] = state


def _read_every_block(con: duckdb.DuckDBPyConnection, db: str, *, writable: bool) -> None:
    tables = con.execute(
        """
        SELECT t.schema_name, t.table_name, list(c.column_name ORDER BY c.column_index)
        FROM duckdb_tables() t JOIN duckdb_columns() c USING (database_name, schema_name, table_name)
        WHERE t.database_name = ? GROUP BY ALL ORDER BY ALL
        """,
        [db],
    ).fetchall()
    for schema, table, columns in tables:
        name = f"{_ident(db)}.{_ident(schema)}.{_ident(table)}"
        reads = ", ".join(f"bit_xor(hash({_ident(c)}))" for c in columns)
        con.execute(f"SELECT count(*), {reads} FROM {name}").fetchall()
    if not writable:
        return
    keyed = con.execute(
        "SELECT DISTINCT schema_name, table_name FROM duckdb_constraints() "
        "WHERE database_name = ? AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY ALL",
        [db],
    ).fetchall()
    for schema, table in keyed:
        name = f"{_ident(db)}.{_ident(schema)}.{_ident(table)}"
        con.execute("BEGIN TRANSACTION")
        try:
            # A plain INSERT of a row already there: its key is looked up in the index, read from the
            # file (DuckDB 2.0's INSERT OR IGNORE / ON CONFLICT does not read it there); the
            # duplicate key is the expected answer, and nothing is kept.
            con.execute(f"INSERT INTO {name} SELECT * FROM {name} LIMIT 1")
        except duckdb.ConstraintException:
            pass
        except duckdb.Error as exc:
            if is_damage(exc):
                raise
            # not ours to insert into (another tool's table): the schema check refuses the file next
        finally:
            con.execute("ROLLBACK")


# ---------------------------------------------------------------------------------------------
# Short connections
# ---------------------------------------------------------------------------------------------


def refuse_lake(target: Target, what: str) -> None:
    """:class:`WarehouseError` naming the lake when ``target`` is one and ``what`` needs the DuckDB file."""
    if isinstance(target, Lake):
        raise WarehouseError(f"{what} works on the DuckDB file only, not yet on the lake of [warehouse] url ({target})")


@contextmanager
def holding(path: Target, *, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Keep ``path`` open read-write in this process while the block runs (``socialkpi demo``'s replays).

    DuckDB shares one database instance among a process's connections to a file, so every
    :func:`writing` inside the block costs ~5 ms instead of ~34 ms (measured on the demo warehouse:
    open, verify, schema check, close), and its close does not checkpoint (the last connection's
    close does, once, at the end).  Other processes cannot open the file meanwhile (the dashboard's
    reads wait), nor can a read-only connection of this process: only for building a warehouse
    nobody reads yet.  On the lake it holds nothing (each write is its own transaction there).
    """
    if isinstance(path, Lake):
        yield
        return
    con = connect(path, read_only=False, timeout=timeout)
    try:
        yield
    finally:
        con.close()
        remember(path)  # the checkpoint of that close changed the file; this process wrote all of it


@contextmanager
def reading(path: Target, *, timeout: float = LOCK_TIMEOUT) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection closed on exit (one per query in the dashboard); on the lake a cursor at
    one snapshot of it (:func:`warehouse.lake_store.reading`)."""
    if isinstance(path, Lake):
        from warehouse import lake_store

        with lake_store.reading(path) as cur:
            yield cur
        return
    con = connect(path, read_only=True, timeout=timeout)
    try:
        yield con
    except duckdb.Error as exc:
        if is_damage(exc):
            forget(path)
            raise damaged(path, exc) from None
        raise
    finally:
        con.close()


@contextmanager
def writing(
    path: Target, *, timeout: float = LOCK_TIMEOUT, accounts: Iterable[tuple[str, str]] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection with the schema ensured, closed on exit.

    On the lake (``path`` a :class:`~warehouse.lake_config.Lake`) the connection's default database is a
    scratch copy holding the rows of ``accounts`` (platform, account id) and the small tables, whose
    changes go to the lake in one transaction when the block ends without an error
    (:func:`warehouse.lake_store.writing`); ``accounts`` changes nothing for the file."""
    from warehouse.schema import ensure_schema

    if isinstance(path, Lake):
        from warehouse import lake_store

        with lake_store.writing(path, accounts) as lake_con:
            yield lake_con
        return

    con = connect(path, read_only=False, timeout=timeout)
    ok = False
    try:
        ensure_schema(con)
        yield con
        ok = True
    except duckdb.Error as exc:
        if is_damage(exc):
            raise damaged(path, exc) from None
        raise
    finally:
        con.close()
        if ok:
            remember(path)  # what this process wrote was read through before: no second full read
        else:
            forget(path)


@contextmanager
def writing_into(
    con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str], *, timeout: float = LOCK_TIMEOUT
) -> Iterator[duckdb.DuckDBPyConnection]:
    """:func:`writing`, but ``path`` is ``ATTACH``ed read-write to ``con`` (an in-memory DuckDB of
    this process, opened with :data:`DUCKDB_CONFIG`) as its default database, and detached on exit.

    What ``con`` already holds (``socialkpi import-csv``'s checked rows) can then be written with
    one ``INSERT ... SELECT`` instead of crossing from one DuckDB instance to another.  The same
    refusals as :func:`connect` (a foreign file, a damaged one, every block read before the first
    write) and the same bounded retry on another process's lock.
    """
    from warehouse.schema import ensure_schema

    target = str(path)
    parent = Path(target).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WarehouseError(f"cannot create the warehouse folder {parent}: {exc.strerror}") from None
    refuse_foreign(target)
    alias = "warehouse"
    attach = "ATTACH '" + target.replace("'", "''") + f"' AS {alias}"
    _retry_on_lock(target, timeout, lambda: con.execute(attach))
    ok = False
    try:
        verify(con, target, writable=True, catalog=alias)
        con.execute(f"USE {alias}")
        ensure_schema(con)
        yield con
        ok = True
    except duckdb.Error as exc:
        if is_damage(exc):
            raise damaged(target, exc) from None
        raise
    finally:
        try:
            con.execute("USE memory")
            con.execute(f"DETACH {alias}")
        except duckdb.Error:
            if ok:
                raise
        if ok:
            remember(target)
        else:
            forget(target)
