"""CSV exports: the observations table (README.md, "Exports") and the KPI snapshot (docs/kpis.md), and the
dashboard's downloads.

Every CSV of socialkpi is written in one place, :func:`write_csv`: DuckDB itself
(``COPY (SELECT ...) TO file (HEADER)``: about 0.5 s per million rows;
https://duckdb.org/docs/stable/sql/statements/copy) with every cell
already formatted in SQL:

- dates ``YYYY-MM-DD``; ``collected_at`` UTC ISO 8601 with ``Z`` (``2026-03-10T06:30:00Z``,
  with ``.ffffff`` only when the time has sub-second digits);
- numbers: a whole value is written without a decimal point (``1234``), others in the shortest
  form that reads back to the same double (``0.0667``); an empty cell means no value;
- ``competitor``: ``true`` / ``false``;
- a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, which a
  spreadsheet would run as a formula, gets a leading single quote (``'=cmd``);
- UTF-8, comma-separated, ``\\n`` line ends; a cell holding a comma, a double quote, a CR or an LF
  anywhere is quoted (``"Shop\\r=cmd"``: it stays one cell, never a new row starting with a formula),
  an empty text is ``""``; no other quotes.

``out`` is a path (written by :func:`warehouse.files.replacing`: only over a regular file or nothing, a
temp file beside it, fsync, then renamed) or an open stream, text (``sys.stdout``) or binary
(``sys.stdout.buffer``, ``io.BytesIO``).

:func:`frame_csv` writes any :mod:`warehouse.queries` result frame (the dashboard's tables) through the
same writer, the cells formatted by column type with the same SQL; :func:`kpis_frame_csv` turns an
already-fetched :func:`~warehouse.queries.kpi_snapshot` into exactly the bytes of :func:`write_kpis_csv`.

No pandas here (``socialkpi export`` never needs it): the SQL comes from the pandas-free
:mod:`warehouse.access` and :mod:`warehouse.snapshot`; the frame functions only receive frames.
"""

from __future__ import annotations

import io
import os
import re
import select
import shutil
import tempfile
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import duckdb

from warehouse import files
from warehouse.access import DbPath, Period, bounds_on, open_warehouse, shared_memory
from warehouse.snapshot import snapshot_query

if TYPE_CHECKING:
    import pandas as pd

Out = str | os.PathLike[str] | IO[str] | IO[bytes]
Plan = Callable[[duckdb.DuckDBPyConnection, bool], tuple[str, list[date | None]]]

OBSERVATIONS_HEADER = "date,platform,account_id,account_name,competitor,metric,value,source_metric,collected_at"

_CHUNK = 1 << 20


def _text(expr: str) -> str:
    """SQL for a text cell with spreadsheet-formula neutralisation."""
    return f"CASE WHEN left({expr}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || {expr} ELSE {expr} END"


def _number(expr: str) -> str:
    """SQL for a numeric cell: whole values without a decimal point."""
    return (
        f"CASE WHEN isfinite({expr}) AND {expr} = trunc({expr}) AND abs({expr}) < 1e18 "
        f"THEN CAST({expr} AS BIGINT)::VARCHAR ELSE {expr}::VARCHAR END"
    )


def _bool(expr: str) -> str:
    return f"CASE WHEN {expr} THEN 'true' ELSE 'false' END"


def _day(expr: str) -> str:
    return f"strftime({expr}, '%Y-%m-%d')"


def _utc_z(expr: str) -> str:
    return (
        f"CASE WHEN epoch_us({expr}) % 1000000 = 0 THEN strftime({expr}, '%Y-%m-%dT%H:%M:%SZ') "
        f"ELSE strftime({expr}, '%Y-%m-%dT%H:%M:%S.%fZ') END"
    )


_OBSERVATIONS_SQL = f"""
SELECT {_day("o.observed_on")} AS date,
       {_text("o.platform")} AS platform,
       {_text("o.account_id")} AS account_id,
       {_text("coalesce(a.name, o.account_id)")} AS account_name,
       {_bool("coalesce(a.competitor, false)")} AS competitor,
       {_text("o.metric")} AS metric,
       {_number("o.value")} AS value,
       {_text("o.source_metric")} AS source_metric,
       {_utc_z("o.collected_at")} AS collected_at
FROM observations o
LEFT JOIN accounts a USING (platform, account_id)
WHERE (?::DATE IS NULL OR o.observed_on >= ?::DATE)
  AND (?::DATE IS NULL OR o.observed_on <= ?::DATE)
ORDER BY o.observed_on, o.platform, o.account_id, o.metric
"""

# The same rows and cells, faster: the account cells are formatted once per account (from
# ``account_days``, a few thousand rows) and the sort runs on (day, account rank, metric rank)
# integers, which orders exactly as (observed_on, platform, account_id, metric).
_OBSERVATIONS_RANKED_SQL = f"""
WITH acct AS (
    SELECT d.platform, d.account_id,
           row_number() OVER (ORDER BY d.platform, d.account_id) AS k,
           {_text("d.platform")} AS f_platform,
           {_text("d.account_id")} AS f_account_id,
           {_text("coalesce(a.name, d.account_id)")} AS f_account_name,
           {_bool("coalesce(a.competitor, false)")} AS f_competitor
    FROM account_days d
    LEFT JOIN accounts a USING (platform, account_id)
),
met AS (
    SELECT metric, row_number() OVER (ORDER BY metric) AS mk
    FROM (SELECT DISTINCT metric FROM observations)
)
SELECT {_day("o.observed_on")} AS date,
       acct.f_platform AS platform,
       acct.f_account_id AS account_id,
       acct.f_account_name AS account_name,
       acct.f_competitor AS competitor,
       {_text("o.metric")} AS metric,
       {_number("o.value")} AS value,
       {_text("o.source_metric")} AS source_metric,
       {_utc_z("o.collected_at")} AS collected_at
FROM observations o
JOIN acct USING (platform, account_id)
JOIN met USING (metric)
WHERE (?::DATE IS NULL OR o.observed_on >= ?::DATE)
  AND (?::DATE IS NULL OR o.observed_on <= ?::DATE)
ORDER BY o.observed_on, acct.k, met.mk
"""

_KPI_TEXT = ("platform", "account_id", "account_name")
_KPI_NUMBERS = (
    "followers", "followers_change", "impressions", "reach_avg_daily", "engagements", "engagement_rate",
    "profile_views", "link_clicks", "page_views", "visits", "visitors_avg_daily", "social_visits",
    "social_page_views", "social_share_of_visits",
)  # fmt: skip


def _kpis_sql(period: Period, aggregated: bool = False, source: str | None = None) -> str:
    """The kpis CSV cells of the snapshot (``source``: a relation with the snapshot's columns)."""
    numbers = ",\n       ".join(f"{_number('s.' + c)} AS {c}" for c in _KPI_NUMBERS)
    texts = ",\n       ".join(f"{_text('s.' + c)} AS {c}" for c in _KPI_TEXT)
    source = source or f"({snapshot_query(period, aggregated=aggregated)})"
    return f"""
SELECT s.period,
       {_day("s.period_start")} AS period_start,
       {_day("s.period_end")} AS period_end,
       {texts},
       {_bool("s.competitor")} AS competitor,
       {numbers}
FROM {source} s
ORDER BY s.period_start, s.platform = 'all', s.platform, s.account_id
"""


def write_observations_csv(db_path: DbPath, out: Out, *, since: date | None = None, until: date | None = None) -> int:
    """Write the observations CSV (README.md, "Exports") to ``out``; returns the number of data rows.

    Header exactly :data:`OBSERVATIONS_HEADER`; one row per (date, platform, account_id, metric),
    sorted by those; ``since``/``until`` (inclusive) limit the dates.
    """
    params = [since, since, until, until]
    return _copy(
        db_path, out, lambda con, aggregated: (_OBSERVATIONS_RANKED_SQL if aggregated else _OBSERVATIONS_SQL, params)
    )


def write_kpis_csv(
    db_path: DbPath,
    out: Out,
    *,
    since: date | None = None,
    until: date | None = None,
    period: Period = "month",
) -> int:
    """Write :func:`warehouse.queries.kpi_snapshot` as CSV (columns in docs/kpis.md); returns data rows.

    ``since``/``until`` default to the oldest/newest stored day; ``period`` is ``month`` or ``week``.
    """
    snapshot_query(period)  # a bad period fails before the file is opened

    def plan(con: duckdb.DuckDBPyConnection, aggregated: bool) -> tuple[str, list[date | None]]:
        bounds = bounds_on(con, since, until)
        lo, hi = bounds if bounds else (None, None)
        return _kpis_sql(period, aggregated), [lo, hi, lo]

    return _copy(db_path, out, plan)


def _copy(db_path: DbPath, out: Out, plan: Plan) -> int:
    """Run ``COPY (plan's query) TO <temp file> (HEADER)``, then rename it over ``out`` (a path:
    :func:`warehouse.files.replacing`) or stream it to ``out`` (a stream)."""
    if isinstance(out, str | os.PathLike):
        with files.replacing(out, stdout_hint=True) as tmp, open_warehouse(db_path) as (con, aggregated):
            sql, params = plan(con, aggregated)
            return write_csv(con, sql, params, tmp, label=f"--out {os.fspath(out)}")
    fd, tmp_name = tempfile.mkstemp(prefix=".socialkpi-export-", suffix=".csv")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with open_warehouse(db_path) as (con, aggregated):
            sql, params = plan(con, aggregated)
            count = write_csv(con, sql, params, tmp, label=f"a temporary file in {tmp.parent}")
        _stream(tmp, out)
        return count
    finally:
        tmp.unlink(missing_ok=True)


_ERRNO = re.compile(r'"errno"\s*:\s*"?(\d+)')


def write_csv(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], path: Path, *, label: str = "") -> int:
    """THE CSV writer of socialkpi: every CSV it produces (both exports, the dashboard's downloads) is
    ``sql``'s result written here by DuckDB's ``COPY ... (FORMAT csv, HEADER)``; returns the data rows.

    The cells arrive already formatted and neutralised (:func:`_text` and its siblings); DuckDB quotes
    (``"``, doubled inside) every cell holding a comma, a quote, a CR or an LF, and an empty text as ``""``
    (an empty cell without quotes is no value), so no cell can start a new row.  A write that fails (a full
    disk) is :class:`~warehouse.files.OutputError` naming ``label``.
    """
    literal = str(path).replace("'", "''")
    try:
        rows = con.execute(f"COPY ({sql}) TO '{literal}' (FORMAT csv, HEADER, DELIMITER ',')", params).fetchall()
    except duckdb.IOException as exc:
        found = _ERRNO.search(str(exc))
        reason = os.strerror(int(found.group(1))) if found else str(exc).splitlines()[0]
        raise files.OutputError(f"{label or path}: cannot write ({reason}): nothing was written") from None
    return int(rows[0][0]) if rows else 0


def kpis_frame_csv(snapshot: pd.DataFrame) -> bytes:
    """The :func:`write_kpis_csv` bytes of an already-fetched :func:`warehouse.queries.kpi_snapshot`
    (the dashboard's download button: no second query of the warehouse).

    The frame goes through the same SQL cell formatting, on a private in-memory DuckDB."""
    con = shared_memory()  # no file: a cursor on the process's in-memory DuckDB
    try:
        con.register("snapshot_frame", snapshot)
        source = (
            "(SELECT * REPLACE (CAST(period_start AS DATE) AS period_start, CAST(period_end AS DATE) AS period_end,"
            " CAST(competitor AS BOOLEAN) AS competitor) FROM snapshot_frame)"
        )
        return _csv_bytes(con, _kpis_sql("month", source=source))
    finally:
        con.close()


def _stream(path: Path, out: IO[str] | IO[bytes]) -> None:
    """Copy the finished CSV to ``out``, every byte: a raw stream (``sys.stdout.buffer`` under
    ``PYTHONUNBUFFERED``) may take part of a write, the rest is written again.  A stream that cannot take it
    (a full disk behind standard output) is :class:`~warehouse.files.StreamFull`; a reader gone away (a
    closed pipe) stays ``BrokenPipeError``."""
    try:
        if isinstance(out, io.RawIOBase | io.BufferedIOBase) or not hasattr(out, "encoding"):
            with path.open("rb") as src:
                while chunk := src.read(_CHUNK):
                    _write_all(out, chunk)  # type: ignore[arg-type]
        else:
            with path.open("r", encoding="utf-8", newline="") as text:
                shutil.copyfileobj(text, out, _CHUNK)  # type: ignore[misc]
        out.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        name = getattr(out, "name", None)
        where = "standard output" if name in ("<stdout>", 1) else "the output stream"
        raise files.StreamFull(f"cannot write the CSV to {where} ({exc.strerror}): it is incomplete") from None


def _write_all(out: IO[bytes], chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        written = out.write(view)
        if written is None:  # a non-blocking stream that is full: wait for it, as a blocking one would
            select.select([], [out], [])
            continue
        view = view[written:]


_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
             "UHUGEINT"}  # fmt: skip
_TIMESTAMPS = {"TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP_US"}


def _frame_cell(column: str, kind: str) -> str:
    """SQL for one :func:`frame_csv` cell of a column of DuckDB type ``kind`` (the module docstring's rules)."""
    c = '"' + column.replace('"', '""') + '"'
    kind = kind.upper()
    if kind == "BOOLEAN":
        return f"CASE WHEN {c} THEN 'true' WHEN NOT {c} THEN 'false' END"
    if kind in _INTEGERS:
        return f"{c}::VARCHAR"
    if kind in ("FLOAT", "DOUBLE") or kind.startswith("DECIMAL"):
        number = f"{c}::DOUBLE"
        return f"CASE WHEN isnan({number}) THEN NULL ELSE {_number(number)} END"
    if kind == "DATE":
        return _day(c)
    if kind in _TIMESTAMPS:  # a day (pandas keeps dates as midnight timestamps) or a UTC moment
        moment = f"{c}::TIMESTAMP"
        return f"CASE WHEN {moment} = date_trunc('day', {moment}) THEN {_day(moment)} ELSE {_utc_z(moment)} END"
    if kind.startswith("TIMESTAMP WITH TIME ZONE") or kind == "TIMESTAMPTZ":
        return _utc_z(f"timezone('UTC', {c})")
    return _text(f"{c}::VARCHAR")


def frame_csv(frame: pd.DataFrame) -> bytes:
    """A query result as UTF-8 CSV bytes (header = the frame's columns), for a download button.

    The same writer and cells as the exports (:func:`write_csv`): dates ``YYYY-MM-DD``, times UTC with
    ``Z``, whole numbers without a decimal point, empty for no value, ``true``/``false``, text starting
    with a formula character prefixed with ``'``, a cell holding a comma, a quote, a CR or an LF quoted.
    The frame is read by DuckDB (a private cursor on the in-memory instance, no warehouse query).
    """
    if len(frame.columns) == 0:
        return b""
    names = [str(c) for c in frame.columns]
    positional = frame.set_axis([f"c{i}" for i in range(len(names))], axis=1)
    view = f"frame_{uuid.uuid4().hex}"
    con = shared_memory()
    try:
        con.register(view, positional)
        kinds = [str(row[1]) for row in con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()]
        neutralised = ", ".join(_text(f"${i + 1}::VARCHAR") for i in range(len(names)))  # as any text cell
        headers = [str(h) for h in con.execute(f"SELECT {neutralised}", names).fetchone() or names]
        cells = [_frame_cell(f"c{i}", kind) for i, kind in enumerate(kinds)]
        if len(cells) == 1:  # one column: an empty cell would be an empty line, which readers skip
            cells = [f"coalesce({cells[0]}, '')"]
        select = ", ".join(
            f'{cell} AS "{header.replace(chr(34), chr(34) * 2)}"' for cell, header in zip(cells, headers, strict=True)
        )
        return _csv_bytes(con, f"SELECT {select} FROM {view}")
    finally:
        con.close()


def _csv_bytes(con: duckdb.DuckDBPyConnection, sql: str) -> bytes:
    """:func:`write_csv` of ``sql`` into a temporary file, returned as bytes (the file removed)."""
    fd, tmp_name = tempfile.mkstemp(prefix=".socialkpi-export-", suffix=".csv")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write_csv(con, sql, [], tmp, label=f"a temporary file in {tmp.parent}")
        return tmp.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)
