"""Opening the warehouse for reading, without pandas: what the queries and the exports share.

:func:`open_warehouse` is the one way to read a socialkpi warehouse: a short read-only connection
that checks the file is one, and says whether it has the aggregates of schema version 3
(:mod:`warehouse.aggregates`): a file written by an older socialkpi and opened read-only (the
dashboard never migrates) is answered from ``observations``.  Under it, :func:`warehouse.db.reading`
is the bare read-only connection of a file, for what needs a DuckDB instance of its own (``socialkpi
backup``'s ``EXPORT DATABASE``).

Opening costs: a new DuckDB instance (``duckdb.connect(file)``) takes ~12 ms even for an empty
file, which was most of a dashboard page's budget (seven reads).  So a read ``ATTACH``es the
file ``READ_ONLY`` to one in-memory DuckDB instance shared by the process (~2 ms) and
``DETACH``es it when the last concurrent reader is done: the file is still held only while a
query runs (https://duckdb.org/docs/stable/sql/statements/attach), so a
``socialkpi collect`` in another process can always write between two reruns.  A file that is not
a DuckDB file is refused before it is attached, a damaged one when it is (:func:`warehouse.db.verify`,
as every connection); any other error while attaching (the file locked by a writer, ...) falls
back to the plain :func:`warehouse.db.reading`, with its bounded retry on the lock and its
explained errors.

A dashboard page makes 4-8 reads, and attaching a 55M-row file costs ~8 ms each time (its verify
and the detach included): :func:`page_reads` keeps the attachment its first read makes until the
end of its block (one rerun of the dashboard script), so the page's other reads only take a cursor.
That is still "per refresh": the file is let go when the rerun ends, and a page's reads see one state
of the file.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb

from warehouse.aggregates import KPI_METRICS, LEVEL_METRICS, RUNNING_OFF
from warehouse.db import DUCKDB_CONFIG, WarehouseError, damaged, forget, is_damage, reading, refuse_foreign, verify
from warehouse.lake_config import Lake
from warehouse.schema import SCHEMA_VERSION, check_readable

AGGREGATES_VERSION = 3
RUNS_VERSION = 4  # account_runs: each account's latest run, kept by the load
LEVELS_VERSION = 7  # kpi_daily.posts and kpi_daily.followers_gained, network_daily
RUNNING_VERSION = 8  # kpi_running: each account's running totals, kept by the load

DbPath = str | os.PathLike[str] | Lake  # a DuckDB file, or the lake of [warehouse] url
FilePath = str | os.PathLike[str]  # a file beside the warehouse (the token store)
Period = Literal["month", "week"]

HOW_TO_START = "run `make demo` for sample data, or `socialkpi collect` after filling socialkpi.toml"


class WarehouseMissing(WarehouseError):
    """There is no warehouse yet at the path (or the file has no socialkpi tables yet)."""


_shared: duckdb.DuckDBPyConnection | None = None
_lock = threading.Lock()
_attached: dict[str, list[Any]] = {}  # real path -> [alias, readers]
_aliases = itertools.count(1)
_local = threading.local()  # .blocks: real path -> pinned?, for this thread's page_reads() blocks


def shared_memory() -> duckdb.DuckDBPyConnection:
    """A cursor on the process's in-memory DuckDB instance (no file): close it after use."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = duckdb.connect(":memory:", config=dict(DUCKDB_CONFIG))
        return _shared.cursor()


def _acquire(path: str) -> tuple[duckdb.DuckDBPyConnection, Callable[[], None]]:
    """(cursor whose default database is ``path`` attached read-only, release); raises ``duckdb.Error``."""
    key = os.path.realpath(path)
    refuse_foreign(path)
    base = shared_memory()
    try:
        with _lock:
            entry = _attached.get(key)
            if entry is None:
                alias = f"warehouse_{next(_aliases)}"
                literal = key.replace("'", "''")
                base.execute(f"ATTACH '{literal}' AS {alias} (READ_ONLY)")
                try:
                    verify(base, path, writable=False, catalog=alias)
                except BaseException:
                    base.execute(f"DETACH {alias}")
                    raise
                entry = _attached[key] = [alias, 0]
            entry[1] += 1
            blocks: dict[str, bool] | None = getattr(_local, "blocks", None)
            if blocks is not None and blocks.get(key) is False:  # the first read of a page_reads() block
                entry[1] += 1  # held until the block ends (_unpin)
                blocks[key] = True
    except BaseException:
        base.close()
        raise

    def release() -> None:
        with _lock:
            entry[1] -= 1
            if entry[1] == 0:
                del _attached[key]
                base.execute(f"DETACH {entry[0]}")
        base.close()

    try:
        cur = base.cursor()
        cur.execute(f"USE {entry[0]}")
    except BaseException:
        release()
        raise

    def done() -> None:
        cur.close()
        release()

    return cur, done


def _unpin(key: str) -> None:
    base = shared_memory()
    try:
        with _lock:
            entry = _attached[key]
            entry[1] -= 1
            if entry[1] == 0:
                del _attached[key]
                base.execute(f"DETACH {entry[0]}")
    finally:
        base.close()


@contextmanager
def page_reads(db_path: DbPath) -> Iterator[None]:
    """The reads of ``db_path`` this thread makes inside the block share one read-only attachment of
    the file: the first read attaches it (nothing is attached when no read comes), and it is detached
    when the block ends and no other reader uses it.  The dashboard wraps each rerun of its script in
    one (a collect waits for the lock at most that long, and retries).  A read that cannot attach (the
    file locked by a writer) opens its own connection as always; a nested block for the same file
    changes nothing.  On the lake (each read a cursor on one shared connection) it changes nothing."""
    if isinstance(db_path, Lake):
        yield
        return
    key = os.path.realpath(os.fspath(db_path))
    blocks: dict[str, bool] | None = getattr(_local, "blocks", None)
    if blocks is None:
        blocks = _local.blocks = {}
    if key in blocks:
        yield
        return
    blocks[key] = False
    try:
        yield
    finally:
        if blocks.pop(key):
            _unpin(key)


@contextmanager
def _connection(path: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """The file attached to the shared instance or, when attaching fails, a read-only connection of its own."""
    try:
        con, release = _acquire(path)
    except duckdb.Error as exc:
        if is_damage(exc):
            raise damaged(path, exc) from None
        with reading(path) as con:
            yield con
        return
    try:
        yield con
    except duckdb.Error as exc:
        if is_damage(exc):
            forget(path)
            raise damaged(path, exc) from None
        raise
    finally:
        release()


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open socialkpi warehouse: :func:`~warehouse.schema.check_readable`
    with a fast path, one read of ``meta`` when it holds a version this socialkpi knows (any other
    case takes the full check and its errors)."""
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        version = int(rows[0][0])
    except (duckdb.Error, IndexError, TypeError, ValueError):
        return check_readable(con)
    return version if 0 < version <= SCHEMA_VERSION else check_readable(con)


def exists(db_path: DbPath) -> bool:
    """Whether there is a warehouse at ``db_path``: the file exists; the lake has socialkpi's tables."""
    if isinstance(db_path, Lake):
        from warehouse import lake_store

        with lake_store.reading(db_path) as con:
            return lake_store.lake_version(con) > 0
    return Path(db_path).exists()


@contextmanager
def open_warehouse(db_path: DbPath) -> Iterator[tuple[duckdb.DuckDBPyConnection, bool]]:
    """(connection, has the aggregates) for a short read-only look at a socialkpi warehouse;
    :class:`WarehouseMissing` if there is none (no file, or a file without socialkpi's tables).

    On the lake: a cursor at one snapshot of it (never waiting on a writer), missing while no collect
    made its tables."""
    if isinstance(db_path, Lake):
        from warehouse import lake_store

        with lake_store.reading(db_path) as con:
            version = lake_store.lake_version(con)
            if version == 0:
                raise WarehouseMissing(f"the {db_path} has no socialkpi tables yet: run `socialkpi collect`")
            if version > SCHEMA_VERSION:
                check_readable(con)
            yield con, version >= AGGREGATES_VERSION
        return
    if not Path(db_path).exists():
        raise WarehouseMissing(f"no warehouse at {os.fspath(db_path)}: {HOW_TO_START}")
    with _connection(os.fspath(db_path)) as con:
        version = schema_version(con)
        if version == 0:
            raise WarehouseMissing(f"the warehouse at {os.fspath(db_path)} is empty: {HOW_TO_START}")
        yield con, version >= AGGREGATES_VERSION


def kpi_columns(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """The metrics ``kpi_daily`` has a column for in this open warehouse: every
    :data:`~warehouse.aggregates.KPI_METRICS` from schema version 7, all but ``posts`` and
    ``followers_gained`` at 3 to 6, none before (no ``kpi_daily``: read ``observations``)."""
    version = schema_version(con)
    if version >= LEVELS_VERSION:
        return frozenset(KPI_METRICS)
    if version >= AGGREGATES_VERSION:
        return frozenset(m for m in KPI_METRICS if m not in LEVEL_METRICS)
    return frozenset()


def has_networks(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the open warehouse has ``network_daily`` (schema version 7), kept by the load."""
    return schema_version(con) >= LEVELS_VERSION


def has_running(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the open warehouse has ``kpi_running`` (schema version 8), kept by the load, and in use:
    not turned off by a value or a span outside its exact domain (:data:`warehouse.aggregates.RUNNING_OFF`)."""
    return schema_version(con) >= RUNNING_VERSION and not con.execute(RUNNING_OFF).fetchall()[0][0]


def account_keys_sql(con: duckdb.DuckDBPyConnection) -> str:
    """``SELECT`` the (platform, account_id) of every account with observations: from ``account_days``
    (one row each, schema 3) when the file has it, else from every observation."""
    if schema_version(con) >= AGGREGATES_VERSION:
        return "SELECT platform, account_id FROM account_days"
    return "SELECT DISTINCT platform, account_id FROM observations"


def bounds_on(con: duckdb.DuckDBPyConnection, since: date | None, until: date | None) -> tuple[date, date] | None:
    """``since``/``until`` with a missing end filled from the stored days; None when nothing is stored."""
    if since is not None and until is not None:
        return since, until
    row: Any = con.execute(bounds_sql(con)).fetchone()
    if not row or row[0] is None:
        return None
    return (since if since is not None else row[0]), (until if until is not None else row[1])


def bounds_sql(con: duckdb.DuckDBPyConnection) -> str:
    """``SELECT`` the oldest and newest stored day: from ``account_days`` when the file has it."""
    try:
        version = schema_version(con)  # one read of meta (the full check only when it holds no known version)
    except WarehouseError:
        version = 0
    if version >= AGGREGATES_VERSION:
        return "SELECT min(first_day), max(newest_day) FROM account_days"
    return "SELECT min(observed_on), max(observed_on) FROM observations"
