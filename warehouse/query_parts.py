"""The pieces of SQL and the helpers the query modules share (:mod:`warehouse.queries`,
:mod:`warehouse.kpi_cards`, :mod:`warehouse.competitors`, :mod:`warehouse.website`, :mod:`warehouse.health`):
the platform filter, "own accounts", the own observations of a period and the one before it, the
``kpi_running`` lookups, and reading a result into a DataFrame through Arrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd


def _platform_list(platforms: Sequence[str] | None) -> list[str] | None:
    return None if platforms is None else [str(p) for p in platforms]


# A platform filter: NULL means every platform.  Bound twice (DuckDB `?` is positional).
_PLATFORM_FILTER = "(?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], o.platform))"

# Own accounts: an account missing from `accounts` (rows loaded without one) counts as own.
_OWN = "NOT coalesce(a.competitor, false)"


def _frame(con: Any, sql: str, params: list[Any]) -> pd.DataFrame:
    """``con.execute(sql, params).df()``, through Arrow: the same columns, dtypes and values, several
    times faster on a frame of many text cells (a page's per-account-and-day frames: 450,000 rows at
    5,000 accounts), which ``df()`` builds one Python string at a time.  A DATE column is
    ``datetime64[us]``, as ``df()`` gives it."""
    import pyarrow as pa

    con.execute("SELECT 1").fetchall()  # ends a result an earlier fetchone() left open: con.sql() refuses to start
    table = con.sql(sql, params=params).to_arrow_table()  # beside one (DB-API execute() warns of a copy)
    if table.num_rows == 0:  # df() gives text columns of an empty frame the object dtype
        return con.execute(sql, params).df()
    frame = table.to_pandas(date_as_object=False)
    for field in table.schema:  # where df() gives another dtype than Arrow's default
        column = table.column(field.name)
        if pa.types.is_date(field.type):
            frame[field.name] = frame[field.name].astype("datetime64[us]")
        elif pa.types.is_decimal(field.type):
            frame[field.name] = frame[field.name].astype("float64")
        elif pa.types.is_boolean(field.type) and column.null_count:
            frame[field.name] = frame[field.name].astype("boolean")
        elif pa.types.is_string(field.type) and column.null_count == table.num_rows:
            frame[field.name] = pd.Series([None] * table.num_rows, dtype=object, index=frame.index)
    return frame


def _utc(moment: datetime | None) -> datetime | None:
    """DuckDB TIMESTAMP columns hold naive UTC; hand back aware datetimes."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# Own observations of the period and of the previous one (parameters: start, prev_start, end,
# metrics, platforms, platforms); `current` tells the two apart.
_OWN_WINDOW = f"""
    SELECT o.platform, o.account_id, o.metric, o.observed_on, o.value,
           o.observed_on >= ? AS current
    FROM observations o
    LEFT JOIN accounts a USING (platform, account_id)
    WHERE o.observed_on BETWEEN ? AND ?
      AND list_contains(?::VARCHAR[], o.metric)
      AND {_OWN}
      AND {_PLATFORM_FILTER}
"""


def _running_rows(days: int, columns: Sequence[str], own: bool = True) -> str:
    """``WITH s`` (each account of ``account_days``: own ones only when ``own``, platform filter ``$1``)
    and ``k`` (the ``columns`` of ``kpi_running`` on the days of ``$2``), and ``FROM s LEFT JOIN k r0 ...
    r<days-1>``: ``r<i>`` the account's row on day ``$<i+3>``, clamped to its newest day, and none
    before its first day (zeros).  kpi_running has a row for every day from first_day to newest_day,
    so these are exact-key lookups, and ``$2`` (:func:`_lookup_days`) lets the scan skip every other
    day's rows."""
    where = "NOT coalesce(a.competitor, false) AND " if own else ""
    joins = "\n".join(
        f"LEFT JOIN k r{i} ON r{i}.platform = s.platform AND r{i}.account_id = s.account_id "
        f"AND r{i}.observed_on = least(${i + 3}::DATE, s.newest_day) AND ${i + 3}::DATE >= s.first_day"
        for i in range(days)
    )
    return f"""
WITH s AS (
    SELECT d.platform, d.account_id, d.first_day, d.newest_day,
           coalesce(a.name, d.account_id) AS account_name, coalesce(a.competitor, false) AS competitor
    FROM account_days d
    LEFT JOIN accounts a USING (platform, account_id)
    WHERE {where}($1::VARCHAR[] IS NULL OR list_contains($1::VARCHAR[], d.platform))
),
k AS (
    SELECT platform, account_id, observed_on, {", ".join(columns)}
    FROM kpi_running WHERE observed_on = ANY($2::DATE[])
)
SELECT * FROM s
{joins}"""


def _lookup_days(con: Any, days: Sequence[date]) -> list[date]:
    """``days`` and every account's newest day before the last of them: the days :func:`_running_rows`
    may look up."""
    older = con.execute("SELECT DISTINCT newest_day FROM account_days WHERE newest_day < ?", [max(days)]).fetchall()
    return sorted({*days, *(r[0] for r in older)})
