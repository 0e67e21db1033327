"""Opening the warehouse for reading, without pandas: what the queries and the exports share.

:func:`read_warehouse` opens a short read-only connection (:func:`warehouse.db.reading`) and
checks the file is a socialkpi warehouse; :func:`open_warehouse` also says whether the file has
the aggregates of schema version 3 (:mod:`warehouse.aggregates`): a file written by an older
socialkpi and opened read-only (the dashboard never migrates) is answered from ``observations``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb

from warehouse.db import WarehouseError, reading
from warehouse.schema import check_readable

AGGREGATES_VERSION = 3

DbPath = str | os.PathLike[str]
Period = Literal["month", "week"]

HOW_TO_START = "run `make demo` for sample data, or `socialkpi collect` after filling socialkpi.toml"


class WarehouseMissing(WarehouseError):
    """There is no warehouse yet at the path (or the file has no socialkpi tables yet)."""


@contextmanager
def open_warehouse(db_path: DbPath) -> Iterator[tuple[duckdb.DuckDBPyConnection, bool]]:
    """(connection, has the aggregates) for a short read-only look at a socialkpi warehouse."""
    if not Path(db_path).exists():
        raise WarehouseMissing(f"no warehouse at {os.fspath(db_path)}: {HOW_TO_START}")
    with reading(db_path) as con:
        version = check_readable(con)
        if version == 0:
            raise WarehouseMissing(f"the warehouse at {os.fspath(db_path)} is empty: {HOW_TO_START}")
        yield con, version >= AGGREGATES_VERSION


@contextmanager
def read_warehouse(db_path: DbPath) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-only connection to a socialkpi warehouse; :class:`WarehouseMissing` if there is none."""
    with open_warehouse(db_path) as (con, _):
        yield con


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
        version = check_readable(con)
    except WarehouseError:
        version = 0
    if version >= AGGREGATES_VERSION:
        return "SELECT min(first_day), max(newest_day) FROM account_days"
    return "SELECT min(observed_on), max(observed_on) FROM observations"
