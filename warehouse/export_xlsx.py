"""Excel exports (``socialkpi export --format xlsx``): the rows and columns of the CSV exports, typed.

The CSV (:mod:`warehouse.export`) stays the default and the contract.  A comma-separated file opens as
one column in a French or German Excel (their list separator is ``;``) and its UTF-8 turns into "CafÃ©"
without a byte-order mark; a workbook has neither problem.  Each cell is written with its type:

- dates (``date``, ``period_start``, ``period_end``) as Excel dates, shown in the reader's own short
  date format (built-in format 14: 10/03/2026 in Paris, 10.03.2026 in Berlin);
- ``collected_at`` as a date and time (UTC, as in the CSV), shown ``yyyy-mm-dd hh:mm:ss``;
- numbers as numbers: counts with the reader's thousands separator, rates as percentages, fractions
  with their digits (the decimal comma is Excel's, from the reader's locale); no value is an empty cell;
- ``competitor`` as a boolean (TRUE/FALSE, VRAI/FAUX, WAHR/FALSCH);
- text always as text, never as a formula: a text starting with ``=``, ``+``, ``-``, ``@``, a tab or a
  CR keeps its characters and gets Excel's own "quote prefix" (what typing ``'`` before it does), so
  neither opening nor editing the cell runs it.  A text longer than an Excel cell holds (32,767
  characters) is refused before anything is written.

One frozen, bold header row with a filter, columns as wide as their longest value (at most 60
characters).  A sheet holds at most 1,048,576 rows: a longer export goes on in a second sheet
("observations (2)", each with the header), and so on.

Written by xlsxwriter in its constant-memory mode (one row in memory at a time), through
:func:`warehouse.files.replacing` for a path (whole or not at all) or a temporary file streamed to an
open binary stream.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import duckdb

from warehouse import files
from warehouse.access import DbPath, Period, bounds_on, open_warehouse
from warehouse.export import _stream
from warehouse.snapshot import snapshot_query

SHEET_ROWS = 1_048_576  # Excel's rows per sheet, the header included
CELL_CHARS = 32_767  # Excel's characters per cell
MAX_WIDTH = 60
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FETCH = 10_000

Out = str | os.PathLike[str] | IO[bytes]


class CellTooLong(files.OutputError):
    """A text an Excel cell cannot hold: nothing was written (the CSV export holds it)."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text | date | moment | bool | count | number | fraction


OBSERVATION_COLUMNS = (
    Column("date", "date"),
    Column("platform", "text"),
    Column("account_id", "text"),
    Column("account_name", "text"),
    Column("competitor", "bool"),
    Column("metric", "text"),
    Column("value", "number"),
    Column("source_metric", "text"),
    Column("collected_at", "moment"),
)

_OBSERVATIONS_SQL = """
SELECT o.observed_on, o.platform, o.account_id, coalesce(a.name, o.account_id), coalesce(a.competitor, false),
       o.metric, o.value, o.source_metric, o.collected_at
FROM observations o
LEFT JOIN accounts a USING (platform, account_id)
WHERE (?::DATE IS NULL OR o.observed_on >= ?::DATE)
  AND (?::DATE IS NULL OR o.observed_on <= ?::DATE)
ORDER BY o.observed_on, o.platform, o.account_id, o.metric
"""

_KPI_COUNTS = (
    "followers", "followers_change", "impressions", "engagements", "profile_views", "link_clicks", "page_views",
    "visits", "social_visits", "social_page_views",
)  # fmt: skip
_FRACTIONS = ("_rate", "_of_visits")  # engagement_rate, social_share_of_visits: shown as percentages
KPI_COLUMNS = (
    Column("period", "text"),
    Column("period_start", "date"),
    Column("period_end", "date"),
    Column("platform", "text"),
    Column("account_id", "text"),
    Column("account_name", "text"),
    Column("competitor", "bool"),
    *(
        Column(name, "count" if name in _KPI_COUNTS else "fraction" if name.endswith(_FRACTIONS) else "number")
        for name in (
            "followers", "followers_change", "impressions", "reach_avg_daily", "engagements", "engagement_rate",
            "profile_views", "link_clicks", "page_views", "visits", "visitors_avg_daily", "social_visits",
            "social_page_views", "social_share_of_visits",
        )  # fmt: skip
    ),
)

_FORMATS: dict[str, dict[str, Any]] = {
    "text": {},
    "quoted": {"quote_prefix": True},
    "date": {"num_format": 14},  # the reader's short date
    "moment": {"num_format": "yyyy-mm-dd hh:mm:ss"},
    "bool": {"align": "center"},
    "count": {"num_format": "#,##0"},
    "number": {"num_format": "General"},
    "fraction": {"num_format": "0.00%"},
}
_WIDTHS = {"date": 12, "moment": 20, "bool": 11}


def write_observations_xlsx(
    db_path: DbPath, out: Out, *, since: date | None = None, until: date | None = None
) -> int:
    """The rows of :func:`warehouse.export.write_observations_csv` as a workbook; returns the data rows."""
    params = [since, since, until, until]
    return _write(db_path, out, "observations", OBSERVATION_COLUMNS, lambda con: (_OBSERVATIONS_SQL, params))


def write_kpis_xlsx(
    db_path: DbPath, out: Out, *, since: date | None = None, until: date | None = None, period: Period = "month"
) -> int:
    """The rows of :func:`warehouse.export.write_kpis_csv` as a workbook; returns the data rows."""
    snapshot_query(period)  # a bad period fails before the file is opened

    def plan(con: duckdb.DuckDBPyConnection) -> tuple[str, list[Any]]:
        bounds = bounds_on(con, since, until)
        lo, hi = bounds if bounds else (None, None)
        names = ", ".join(c.name for c in KPI_COLUMNS)
        sql = (
            f"SELECT {names} FROM ({snapshot_query(period)}) s "
            "ORDER BY s.period_start, s.platform = 'all', s.platform, s.account_id"
        )
        return sql, [lo, hi, lo]

    return _write(db_path, out, "kpis", KPI_COLUMNS, plan)


def _write(db_path: DbPath, out: Out, sheet: str, columns: Sequence[Column], plan: Any) -> int:
    if isinstance(out, str | os.PathLike):
        with files.replacing(out, stdout_hint=True) as tmp:
            return _workbook(db_path, tmp, sheet, columns, plan)
    fd, name = tempfile.mkstemp(prefix=".socialkpi-export-", suffix=".xlsx")
    os.close(fd)
    tmp = Path(name)
    try:
        count = _workbook(db_path, tmp, sheet, columns, plan)
        _stream(tmp, out)
        return count
    finally:
        tmp.unlink(missing_ok=True)


def _widths(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], columns: Sequence[Column]) -> list[int]:
    """Each column's width in characters: its header or its longest value, within [8, MAX_WIDTH]; a text too
    long for a cell is :class:`CellTooLong` (nothing was written yet)."""
    lengths = ", ".join(f"max(length(CAST(c{i} AS VARCHAR)))" for i in range(len(columns)))
    aliased = ", ".join(f"c{i}" for i in range(len(columns)))
    row = con.execute(f"SELECT {lengths} FROM ({sql}) AS t({aliased})", params).fetchone() or ()
    widths = []
    for column, longest in zip(columns, row, strict=True):
        longest = int(longest or 0)
        if column.kind == "text" and longest > CELL_CHARS:
            raise CellTooLong(
                f"a {column.name} of {longest:,} characters is more than an Excel cell holds ({CELL_CHARS:,}): "
                "nothing was written (export it as CSV, the default format, instead)"
            )
        wanted = _WIDTHS.get(column.kind) or (longest + 4 if column.kind in ("count", "number") else longest + 2)
        widths.append(max(8, len(column.name) + 3, min(wanted, MAX_WIDTH)))
    return widths


def _workbook(db_path: DbPath, path: Path, sheet: str, columns: Sequence[Column], plan: Any) -> int:
    import xlsxwriter  # imported here: `socialkpi export` in CSV never pays for it

    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "tmpdir": str(path.parent),
        },
    )
    try:
        formats = {kind: workbook.add_format(spec) for kind, spec in _FORMATS.items()}
        header = workbook.add_format({"bold": True, "bottom": 1, "bg_color": "#F3F4F6"})
        with open_warehouse(db_path) as (con, _aggregated):
            sql, params = plan(con)
            widths = _widths(con, sql, params, columns)
            cursor = con.execute(sql, params)
            count, sheets, row_no = 0, 0, SHEET_ROWS
            ws: Any = None
            while batch := cursor.fetchmany(FETCH):
                for record in batch:
                    if row_no >= SHEET_ROWS:
                        if ws is not None:
                            ws.autofilter(0, 0, row_no - 1, len(columns) - 1)
                        sheets += 1
                        ws = _sheet(workbook, sheet if sheets == 1 else f"{sheet} ({sheets})", columns, widths, header)
                        row_no = 1
                    for col, (column, value) in enumerate(zip(columns, record, strict=True)):
                        _cell(ws, row_no, col, column.kind, value, formats)
                    row_no += 1
                    count += 1
            if ws is None:  # no rows: the header alone
                ws = _sheet(workbook, sheet, columns, widths, header)
            ws.autofilter(0, 0, max(row_no - 1, 0), len(columns) - 1)
    except BaseException:
        _discard(workbook)
        raise
    try:
        workbook.close()
    except OSError as exc:
        raise files.OutputError(f"cannot write the workbook ({exc.strerror}): nothing was written") from None
    return count


def _sheet(workbook: Any, name: str, columns: Sequence[Column], widths: Sequence[int], header: Any) -> Any:
    ws = workbook.add_worksheet(name)
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    ws.freeze_panes(1, 0)
    for col, column in enumerate(columns):
        ws.write_string(0, col, column.name, header)
    return ws


def _cell(ws: Any, row: int, col: int, kind: str, value: Any, formats: dict[str, Any]) -> None:
    if value is None:
        return  # no value: an empty cell, as the CSV's empty field
    if kind == "text":
        text = str(value)
        ws.write_string(row, col, text, formats["quoted"] if text.startswith(FORMULA_START) else formats["text"])
    elif kind == "date":
        ws.write_datetime(row, col, datetime(value.year, value.month, value.day), formats["date"])  # noqa: DTZ001
    elif kind == "moment":
        ws.write_datetime(row, col, value, formats["moment"])  # naive UTC, as stored
    elif kind == "bool":
        ws.write_boolean(row, col, bool(value), formats["bool"])
    else:
        number = float(value)
        if math.isfinite(number):
            ws.write_number(row, col, number, formats[kind])
        else:  # Excel has no NaN or infinity: the CSV's text for it
            ws.write_string(row, col, str(value), formats["text"])


def _discard(workbook: Any) -> None:
    """Drop a workbook left half-written: its temporary files go, nothing is written at ``path``."""
    for ws in getattr(workbook, "worksheets_objs", []):
        handle = getattr(ws, "row_data_fh", None)
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()
        name = getattr(ws, "row_data_filename", None)
        if name:
            Path(name).unlink(missing_ok=True)
