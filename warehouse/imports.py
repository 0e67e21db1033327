"""``socialkpi import-csv``: numbers no API gives, loaded as platform ``manual``.

A newsletter's subscribers, a Nextdoor or Yelp follower count, the customers who said "saw you on
Instagram": written in a spreadsheet with the columns of the observations export
(``date,platform,account_id,account_name,competitor,metric,value,source_metric,collected_at``) and
loaded here.  Every row is validated first; one bad row rejects the whole file, nothing is
written, and every bad row is reported with its line number and the reason.  Loading is the
same keyed upsert as the collectors', so importing a file twice changes nothing, and a file
exported with ``socialkpi export --table observations`` (manual rows) imports back unchanged.

How (no Python object per row):

1. One pass over the file's bytes in Python (C-speed calls on 1 MiB chunks): its SHA-256 (the
   run id), that it is UTF-8, and whether DuckDB's CSV reader reads it exactly as Python's ``csv``
   module does.  They agree on every RFC 4180 file (quotes around whole cells, doubled inside;
   ``\\n`` or ``\\r\\n`` line ends; blank lines); they differ on a quote in the middle of a cell
   after a space or before more text, an unclosed quote, and a bare ``\\r``.  The header line is
   read with the ``csv`` module.
2. DuckDB reads the rows (``read_csv``, every column as text) into an in-memory table, applying
   every check of a row as SQL (:data:`_PROBLEM` codes, in the order the rules were always
   applied), then checks keys and accounts across rows with aggregates.  A file DuckDB could read
   differently is read by the ``csv`` module instead and handed to DuckDB as JSON lines: slower,
   same checks.  Cells only Python reads the same way (a number in non-ASCII digits, a time that
   is not plain ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM)``) are converted by Python once per
   distinct text.
3. Clean: the warehouse is attached to that DuckDB and the rows upserted from the table with one
   statement (and the accounts and the aggregates with one each), in one transaction.  Not
   clean: the file is read again in order, each error found with SQL (window functions for the
   first row of a key or an account), its line number worked out from the rows' line breaks and
   the blank lines, and the first :data:`MAX_ERRORS` are formatted in Python, as before.
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import csv
import hashlib
import io
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from collectors import EARLIEST_DAY
from warehouse.aggregates import KPI_METRICS, NETWORK_PREFIX
from warehouse.db import DUCKDB_CONFIG, writing_into

COLUMNS = (
    "date",
    "platform",
    "account_id",
    "account_name",
    "competitor",
    "metric",
    "value",
    "source_metric",
    "collected_at",
)
REQUIRED = ("date", "account_id", "metric", "value")
MANUAL = "manual"
MAX_ERRORS = 50
MAX_CELL = csv.field_size_limit()  # 131,072 characters: Python's csv module reads no longer cell
NOT_UTF8 = "not UTF-8 text: save the file as CSV UTF-8"

# What ``str.strip()`` removes (``str.isspace``), for DuckDB's ``trim(text, characters)``.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# The same statement as warehouse.load.UPSERT_SQL (a test keeps them equal): imported here
# without warehouse.load, which imports pyarrow (~0.15 s this command does not need).
UPSERT_SQL = """
INSERT INTO observations
    (platform, account_id, metric, observed_on, value, source_metric, collected_at, run_id)
SELECT platform, account_id, metric, observed_on, value, source_metric, collected_at, run_id
FROM batch
ON CONFLICT (platform, account_id, metric, observed_on) DO UPDATE SET
    value = excluded.value,
    source_metric = excluded.source_metric,
    collected_at = excluded.collected_at,
    run_id = excluded.run_id
WHERE observations.value IS DISTINCT FROM excluded.value
   OR observations.source_metric IS DISTINCT FROM excluded.source_metric
"""

CHUNK = 1 << 20
# DuckDB's buffers for one import: the checked rows spill to a temporary folder beyond this, so the
# process stays within a few hundred MB whatever the file's size.
MEMORY_LIMIT = "160MB"
# ... but the upsert's key index (DuckDB's ART, which it does not spill) needs ~100 bytes a row being
# loaded: the limit grows with the rows, to at most three quarters of the machine's memory.
INDEX_BYTES_PER_ROW = 120
# DuckDB's CSV reader refuses longer lines (and buffers a few times this per thread): such a file,
# whose cells are most likely over MAX_CELL anyway, is read by the csv module instead.
MAX_LINE = 1 << 22
_NULL = "\x00socialkpi: no cell is this\x00"  # read_csv's NULL text: an empty cell stays ''


class ImportRejected(Exception):
    """The file was not loaded; ``errors`` lists ``(line, reason)`` for each bad row."""

    def __init__(self, path: str, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        shown = "; ".join(f"line {line}: {reason}" for line, reason in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        super().__init__(f"{path}: nothing imported, {len(errors)} bad row(s): {shown}{more}")


@dataclass(frozen=True)
class ImportResult:
    rows: int  # valid rows in the file
    written: int  # rows inserted or changed


# ---------------------------------------------------------------------------------------------
# 1. The bytes
# ---------------------------------------------------------------------------------------------

# A quote with an ordinary character on both sides: the middle of a cell.  RFC 4180 has none;
# Python keeps ``ab"c`` and ``"ab"c`` as ``ab"c`` and ``abc`` where DuckDB may not.
_MID_QUOTE = re.compile(rb'"(?:(?<=[^,\n"]")|(?<=[,\n]""))(?=[^,\r\n"])')
# Spaces then a quote, at a cell's start (`` "x"``): Python keeps it as text, DuckDB as a quote.  Not
# the same bytes within a quoted cell, where a quote is doubled (``"a, ""b"""`` is the cell ``a, "b"``).
# (Each pattern starts with a fixed byte: Python's re then skips to it at C speed.)
_SPACED_QUOTE = re.compile(rb'"(?:(?<=[,\n][ \t]")|(?<=[ \t][ \t]"))(?!"[^",\r\n])')


# Bytes that start a whitespace character other than the space (``\t``, ``\x0b``... and the first byte
# of NEL, NO-BREAK SPACE and the other Unicode spaces): all but these are deleted to look for them.
_EXOTIC_START = b"\t\x0b\x0c\x1c\x1d\x1e\x1f\xc2\xe1\xe2\xe3"
_NOT_EXOTIC = bytes(b for b in range(256) if b not in _EXOTIC_START)
_UNICODE_SPACES = {
    0xC2: re.compile(rb"\xc2[\x85\xa0]"),
    0xE1: re.compile(rb"\xe1\x9a\x80"),
    0xE2: re.compile(rb"\xe2(?:\x80[\x80-\x8a\xa8\xa9\xaf]|\x81\x9f)"),
    0xE3: re.compile(rb"\xe3\x80\x80"),
}
# A quoted cell that starts or ends with a line break (``"\nx"``): the csv module strips it, trim() not.
_EDGE_BREAK = re.compile(rb'"(?:(?<=[,\n]")[\r\n]|(?<=[\r\n]")[,\r\n])')
_GUARD = re.compile(rb"'[=+@\t\r-]")
_OVERLAP = 8  # bytes of a chunk searched again with the next: more than any pattern above spans


@dataclass
class _Scan:
    digest: str = ""
    stat: tuple[int, int] = (0, 0)  # size and mtime when read: the second read must find the same file
    python_reads: bool = False  # DuckDB may read it otherwise than the csv module: the csv module reads it
    exotic: bool = False  # whitespace other than spaces (or a quoted line break) may edge a cell
    guards: bool = False  # a cell may start with the export's formula guard

    @property
    def cells(self) -> str:
        return "any" if self.exotic else "guards" if self.guards else "spaces"


def _scan(path: Path) -> _Scan:
    """SHA-256, and the shape of the quotes, line ends, whitespace: one read of the file, C-speed
    calls on 1 MiB chunks.  (DuckDB's reader checks it is UTF-8; the csv module's path decodes it.)

    Each chunk is searched with the last bytes of the one before (``tail``), and a pattern found in
    the very last bytes of a chunk, whose look-ahead has not seen what follows yet, is looked at again
    with the next chunk (or, at the end of the file, as it is)."""
    scan = _Scan(stat=_stat(path))
    digest = hashlib.sha256()
    quotes = cr = crlf = 0
    tail = b"\n"  # the file starts as after a line end

    def hit(pattern: re.Pattern[bytes], data: bytes, final: bool) -> bool:
        match = pattern.search(data)
        return match is not None and (final or match.start() < len(data) - _OVERLAP // 2)

    def look(data: bytes, final: bool) -> None:
        if b'"' in data:
            if hit(_MID_QUOTE, data, final) or hit(_SPACED_QUOTE, data, final):
                scan.python_reads = True
            if not scan.exotic and hit(_EDGE_BREAK, data, final):
                scan.exotic = True
        if not scan.exotic:
            starts = data.translate(None, _NOT_EXOTIC)
            if starts.strip(b"\xc2\xe1\xe2\xe3") or any(
                lead in starts and hit(pattern, data, final) for lead, pattern in _UNICODE_SPACES.items()
            ):
                scan.exotic = True
        if not scan.guards and b"'" in data and hit(_GUARD, data, final):
            scan.guards = True

    first = True
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            if first:
                chunk, first = chunk.removeprefix(codecs.BOM_UTF8), False
            if scan.python_reads:
                continue
            joined = tail + chunk
            quotes += chunk.count(b'"')
            returns = chunk.count(b"\r")
            if returns or b"\r" in tail:
                cr += returns
                crlf += joined.count(b"\r\n") - tail.count(b"\r\n")
            look(joined, final=False)
            tail = joined[-_OVERLAP:]
    if not scan.python_reads:
        look(tail, final=True)
    if cr != crlf or quotes % 2:
        scan.python_reads = True  # a bare \r, or a quote left open
    scan.digest = digest.hexdigest()
    return scan


def _utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return True


def _utf8_error_line(path: Path) -> int:
    """The line of the first byte that is not UTF-8, as ``raw[:exc.start].count(b"\\n") + 1`` always said."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return raw[: exc.start].count(b"\n") + 1
    return 1


def _lines(path: Path) -> Iterator[str]:
    """The file's text split after each ``\\n`` (as ``io.StringIO(text)`` is iterated), lazily."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            pending += decoder.decode(chunk)
            *whole, pending = pending.split("\n")
            for line in whole:
                yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _unreadable(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return f"a cell is longer than {MAX_CELL:,} characters, the most a cell may hold: shorten it"
    return f"not readable as CSV ({exc}): save the file as CSV UTF-8"


def _header(path: Path) -> tuple[list[str], int, list[tuple[int, str]]]:
    """(stripped header names, lines the header takes, errors) with the csv module, as before."""
    reader = csv.DictReader(_lines(path))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        return [], 0, [(reader.line_num + 1, _unreadable(exc))]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return [], 0, [(1, f"the header lacks {', '.join(missing)}: use the columns {','.join(COLUMNS)}")]
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        return [], 0, [(1, f"unknown column(s) {', '.join(unknown)}: use only {','.join(COLUMNS)}")]
    return header, reader.line_num, []


# ---------------------------------------------------------------------------------------------
# 2. The rows, checked in SQL
# ---------------------------------------------------------------------------------------------

# Row problems, in the order they were always checked (the first one found is the one reported).
LONG, EXTRA, PLATFORM, DATE_FORMAT, DATE_EARLY, DATE_LATE, ACCOUNT_EMPTY, ACCOUNT_LONG, METRIC = range(1, 10)
VALUE_NAN, VALUE_INFINITE, COMPETITOR, COLLECTED_FORMAT, COLLECTED_ZONE = range(10, 15)
DUPLICATE, ACCOUNT_CHANGED = 20, 21
PENDING = 255  # a cell Python converts (below): not decided yet

_NUMBER = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
_NOT_FINITE = r"(?i)[+-]?(inf|infinity|nan)"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# A time Python's datetime.fromisoformat and DuckDB's TIMESTAMPTZ read alike (any other goes to Python).
_TIME = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# One character of WHITESPACE, for RE2.
_SPACE = r"[\t-\r\x1c- \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
_METRIC = "[a-z][a-z0-9_]{0,62}"
# A cell its rule can read as it is: nothing to strip, no formula guard to undo (most cells).  The
# rule's own pattern says so where there is one; free text must not start or end with a space or
# start with the guard.  Any other cell is stripped and un-guarded first (DuckDB's trim with a set
# of characters costs ~1.5 us a cell, too much for every cell).
_AS_IS = {
    "date": f"regexp_full_match({{c}}, '{_DATE}')",
    "platform": f"{{c}} IN ('', '{MANUAL}')",
    "competitor": "{c} IN ('', 'true', 'false')",
    "metric": f"regexp_full_match({{c}}, '{_METRIC}')",
    "value": f"regexp_full_match({{c}}, '{_NUMBER}')",
    "collected_at": f"({{c}} = '' OR regexp_full_match({{c}}, '{_TIME}'))",
}
_FREE_TEXT = f"NOT regexp_matches({{c}}, '^({_SPACE}|''[=+@\\t\\r-])|{_SPACE}$')"


def _stripped(c: str) -> str:
    """``_unneutralise(c.strip())``: ``'=x`` -> ``=x`` (the export's formula guard undone)."""
    return f"regexp_replace(trim({c}, {_lit(WHITESPACE)}), '^''([=+@\\t\\r-])', '\\1')"


_GUARDED = "CASE WHEN prefix({c}, '''') THEN regexp_replace({c}, '^''([=+@\\t\\r-])', '\\1') ELSE {c} END"


def _checked_sql(
    header: list[str],
    width: int,
    source: str,
    keep: str = "",
    *,
    exact: bool = False,
    cells: str = "any",
    typed_only: bool = False,
) -> str:
    """Each row of ``source`` (columns c0..c<width-1>, and ``keep``, e.g. ``"n, ends, "``) as the rules
    read it: typed, with its first problem (NULL: none) in three parts (before the value, the value,
    after it).  ``exact``: blank rows kept (flagged), and the cells the messages quote.

    ``cells``, from :func:`_scan`, says what stripping and un-guarding a cell takes: ``"spaces"`` (the
    file holds no whitespace but spaces where a cell could start or end, and no formula guard: DuckDB's
    plain ``trim``), ``"guards"`` (the same, and a cell may start with the guard), ``"any"``.
    ``typed_only``: rows known good (no rule checked again, no problem columns): the typed cells only."""
    position = {name: i for i, name in enumerate(header)}  # the last column of a name wins, as in a dict
    if cells == "any" and typed_only:
        raw = ", ".join(f"coalesce(c{i}, '') AS r_{name}" for name, i in position.items())
        asis = ", ".join(f"false AS m_{name}" for name in position)
        texts_sql = ", ".join(f"{_stripped('r_' + n)} AS t_{n}" if n in position else f"'' AS t_{n}" for n in COLUMNS)
        number = f"trim(t_value, {_lit(WHITESPACE)})"
    elif cells == "any":
        raw = ", ".join(f"coalesce(c{i}, '') AS r_{name}" for name, i in position.items())
        asis = ", ".join(f"{_AS_IS.get(name, _FREE_TEXT).replace('{c}', 'r_' + name)} AS m_{name}" for name in position)
        texts_sql = ", ".join(
            f"CASE WHEN m_{n} THEN r_{n} ELSE {_stripped('r_' + n)} END AS t_{n}" if n in position else f"'' AS t_{n}"
            for n in COLUMNS
        )
        number = f"CASE WHEN m_value THEN t_value ELSE trim(t_value, {_lit(WHITESPACE)}) END"
    else:
        # trim() only where a cell starts or ends with a space: it copies every cell it is given
        raw = ", ".join(
            f"CASE WHEN ascii(c{i}) = 32 OR suffix(c{i}, ' ') THEN trim(c{i}) ELSE coalesce(c{i}, '') END AS r_{name}"
            for name, i in position.items()
        )
        asis = ", ".join(f"false AS m_{name}" for name in position)
        texts_sql = ", ".join(
            (_GUARDED.replace("{c}", f"r_{n}") if cells == "guards" else f"r_{n}") + f" AS t_{n}"
            if n in position
            else f"'' AS t_{n}"
            for n in COLUMNS
        )
        number = "t_value"
    flags = ", ".join(f"m_{n}" if n in position else f"true AS m_{n}" for n in COLUMNS)
    extra = f"c{width - 1} IS NOT NULL" if width > len(header) else "false"
    long = " OR ".join(f"(strlen(c{i}) > {MAX_CELL} AND length(c{i}) > {MAX_CELL})" for i in range(width))
    # Blank: every cell empty once stripped.  A cell read as it is and not empty settles it cheaply.
    if cells == "any":
        settled = " OR ".join(f"(m_{name} AND r_{name} <> '')" for name in position)
        blank = f"CASE WHEN {settled} THEN false ELSE " + " AND ".join(f"t_{name} = ''" for name in position) + " END"
    else:  # r_ is stripped already (and un-guarding never empties a cell)
        blank = " AND ".join(f"r_{name} = ''" for name in position)
    # Only a row whose every cell is empty or starts with whitespace can be blank: most rows are settled
    # by their first cell's first character, before any cell is stripped.
    first = "(0, " + ", ".join(str(ord(c)) for c in WHITESPACE) + ")" if cells == "any" else "(0, 32)"
    maybe_blank = " AND ".join(f"coalesce(ascii(c{i}), 0) IN {first}" for i in position.values())
    where = ""
    problems = (
        "NULL::UTINYINT AS p_row, NULL::UTINYINT AS p_value, NULL::UTINYINT AS p_after, "
        "number AS value_text, t_collected_at AS collected_text"
        if typed_only
        else f"""CASE
        WHEN long THEN {LONG}
        WHEN extra THEN {EXTRA}
        WHEN t_platform NOT IN ('', '{MANUAL}') THEN {PLATFORM}
        WHEN observed_on IS NULL THEN {DATE_FORMAT}
        WHEN observed_on < DATE '{EARLIEST_DAY}' THEN {DATE_EARLY}
        WHEN observed_on > $latest THEN {DATE_LATE}
        WHEN t_account_id = '' THEN {ACCOUNT_EMPTY}
        WHEN length(t_account_id) > 200 THEN {ACCOUNT_LONG}
        WHEN NOT (m_metric OR regexp_full_match(t_metric, '{_METRIC}')) THEN {METRIC}
    END AS p_row,
    CASE
        WHEN is_number THEN CASE WHEN isfinite(number_value) THEN NULL ELSE {VALUE_INFINITE} END
        WHEN regexp_full_match(number, '{_NOT_FINITE}') THEN {VALUE_INFINITE}
        WHEN regexp_matches(number, '[^\\x00-\\x7f]') THEN {PENDING}
        ELSE {VALUE_NAN}
    END AS p_value,
    CASE
        WHEN t_competitor NOT IN ('', 'true', 'false')
             AND lower(t_competitor) NOT IN ('true', 'false') THEN {COMPETITOR}
        WHEN t_collected_at = '' THEN NULL
        WHEN is_time THEN CASE WHEN time_value IS NULL THEN {COLLECTED_FORMAT} END
        ELSE {PENDING}
    END AS p_after,
    CASE WHEN NOT is_number THEN number END AS value_text,
    CASE WHEN t_collected_at <> '' AND NOT is_time THEN t_collected_at END AS collected_text"""
    )
    is_number = "true" if typed_only else f"m_value OR regexp_full_match(number, '{_NUMBER}')"
    is_time = "t_collected_at <> ''" + (
        ""
        if typed_only
        else " AND NOT prefix(t_collected_at, '0000')"
        f" AND (m_collected_at OR regexp_full_match(t_collected_at, '{_TIME}'))"
    )  # (year 0 is no year for Python: such a time is left to Python, as any other)
    is_day = (
        "true" if typed_only else f"(m_date OR regexp_full_match(t_date, '{_DATE}')) AND NOT prefix(t_date, '0000')"
    )
    texts = (
        "t_platform AS platform_text, t_date AS date_text, t_competitor AS competitor_text, "
        "t_value AS value_cell, t_collected_at AS collected_cell, "
        if exact
        else ""
    )
    return f"""
SELECT {keep}{texts}maybe_blank AND blank AS blank, t_account_id AS account_id, t_metric AS metric, observed_on,
    CASE WHEN t_account_name = '' THEN t_account_id ELSE t_account_name END AS name,
    t_competitor = 'true' OR (t_competitor NOT IN ('', 'false') AND lower(t_competitor) = 'true') AS competitor,
    CASE WHEN t_source_metric = '' THEN '{MANUAL}' ELSE t_source_metric END AS source_metric,
    CASE WHEN is_number THEN number_value END AS value,
    CASE WHEN is_time THEN timezone('UTC', time_value) END AS collected_at,
    {problems}
FROM (
    SELECT *, CASE WHEN is_number THEN TRY_CAST(number AS DOUBLE) END AS number_value,
           CASE WHEN is_time THEN TRY_CAST(t_collected_at AS TIMESTAMPTZ) END AS time_value,
           CASE WHEN is_day THEN TRY_CAST(t_date AS DATE) END AS observed_on
    FROM (
        SELECT *, {is_number} AS is_number, {is_time} AS is_time, {is_day} AS is_day
        FROM (
            SELECT * EXCLUDE ({", ".join("r_" + n for n in position)}),
                   {number} AS number,
                   {blank} AS blank
            FROM (
                SELECT {keep}extra, long, maybe_blank, {", ".join("r_" + n for n in position)}, {flags}, {texts_sql}
                FROM (SELECT {keep}{raw}, {asis}, {extra} AS extra, {long} AS long, {maybe_blank} AS maybe_blank
                      FROM {source})
            )
        )
        {where}
    )
)
"""


def _python_cells(values: list[str], times: list[str]) -> tuple[list[Any], list[Any]]:
    """What ``float`` and ``datetime.fromisoformat`` make of the texts SQL left to Python:
    ([(text, value, problem)], [(text, naive UTC time, problem)])."""
    numbers: list[tuple[str, float | None, int | None]] = []
    for text in values:
        try:
            number = float(text.replace("_", "x"))
        except ValueError:
            numbers.append((text, None, VALUE_NAN))
            continue
        numbers.append(
            (text, number if math.isfinite(number) else None, None if math.isfinite(number) else VALUE_INFINITE)
        )
    stamps: list[tuple[str, datetime | None, int | None]] = []
    for text in times:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            stamps.append((text, None, COLLECTED_FORMAT))
            continue
        if moment.tzinfo is None:
            stamps.append((text, None, COLLECTED_ZONE))
        else:
            stamps.append((text, moment.astimezone(UTC).replace(tzinfo=None), None))
    return numbers, stamps


def _resolve_python_cells(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Decide the cells marked :data:`PENDING` in ``table``, once per distinct text."""
    values = [
        t for (t,) in con.execute(f"SELECT DISTINCT value_text FROM {table} WHERE p_value = {PENDING}").fetchall()
    ]
    times = [
        t
        for (t,) in con.execute(
            f"SELECT DISTINCT collected_text FROM {table} WHERE p_after = {PENDING} AND collected_text IS NOT NULL"
        ).fetchall()
    ]
    numbers, stamps = _python_cells(values, times)
    if numbers:
        con.execute(
            f"""UPDATE {table} SET value = m.v, p_value = m.p
                FROM (SELECT unnest($t::VARCHAR[]) AS t, unnest($v::DOUBLE[]) AS v, unnest($p::UTINYINT[]) AS p) m
                WHERE {table}.p_value = {PENDING} AND {table}.value_text = m.t""",
            {"t": [n[0] for n in numbers], "v": [n[1] for n in numbers], "p": [n[2] for n in numbers]},
        )
    if stamps:
        con.execute(
            f"""UPDATE {table} SET collected_at = m.v, p_after = m.p
                FROM (SELECT unnest($t::VARCHAR[]) AS t, unnest($v::TIMESTAMP[]) AS v, unnest($p::UTINYINT[]) AS p) m
                WHERE {table}.p_after = {PENDING} AND {table}.collected_text = m.t""",
            {"t": [s[0] for s in stamps], "v": [s[1] for s in stamps], "p": [s[2] for s in stamps]},
        )


_PROBLEM = "coalesce(p_row, p_value, p_after)"


class _NotUtf8(Exception):
    """DuckDB's reader met bytes that are not UTF-8."""


class _Unreadable(Exception):
    """DuckDB could not read the file at all (a line longer than :data:`MAX_LINE`, ...)."""


@dataclass
class _Source:
    """Where the rows come from: DuckDB's CSV reader, or the csv module's rows as JSON lines."""

    path: Path
    header: list[str]
    header_lines: int
    cells: str = "any"  # what stripping a cell takes (_checked_sql)
    parallel: bool = True  # False once DuckDB's parallel reader refused it
    json: Path | None = None  # the csv module's rows (the file is not one DuckDB reads alike)
    abort: tuple[int, int, str] | None = None  # (row, line, reason): the csv module stopped there

    @property
    def width(self) -> int:
        return len(self.header) + 1  # one column more: a cell there is one more than the header has

    def sql(self, *, parallel: bool) -> str:
        if self.json is not None:
            cells = ", ".join(f"c[{i + 1}] AS c{i}" for i in range(self.width))
            return (
                f"(SELECT n, line, {cells} FROM read_json({_lit(str(self.json))}, format = 'newline_delimited', "
                "columns = {'n': 'BIGINT', 'line': 'BIGINT', 'c': 'VARCHAR[]'}, maximum_object_size = 33554432))"
            )
        columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(self.width))
        return (
            f"read_csv({_lit(str(self.path))}, header = false, auto_detect = false, delim = ',', quote = '\"', "
            f"escape = '\"', columns = {{{columns}}}, nullstr = {_lit(_NULL)}, null_padding = true, "
            f"strict_mode = false, skip = {self.header_lines}, max_line_size = {MAX_LINE}, "
            f"buffer_size = {2 * MAX_LINE}, "
            f"parallel = {str(parallel).lower()})"
        )


def _python_source(path: Path, header: list[str], folder: Path) -> _Source:
    """The rows as the csv module reads them (as before), as JSON lines for DuckDB: the row's number,
    its last line, its cells (one more, empty, when it has more than the header), up to a csv error."""
    reader = csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig")))
    out = folder / "rows.jsonl"
    source = _Source(path, header, 0, json=out)
    n, width = 0, len(header)
    with open(out, "w", encoding="utf-8") as fh:
        next(reader)  # the header, read by _header already
        last, blank = reader.line_num, None  # csv.DictReader's line_num; the first empty line since the last row
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # the reader cannot go on past it: report it with the rows before
                source.abort = (n + 1, (last if blank is None else blank) + 1, _unreadable(exc))
                break
            if not row:  # an empty line: DictReader skips it (but were the next row to fail, it said this line)
                blank = reader.line_num if blank is None else blank
                continue
            n += 1
            last, blank = reader.line_num, None
            cells = row[:width] + ([""] if len(row) > width else [])
            fh.write(json.dumps({"n": n, "line": last, "c": cells}) + "\n")
    return source


def _create(con: duckdb.DuckDBPyConnection, sql: Any, source: _Source, params: dict[str, Any]) -> Any:
    """``con.execute(sql(source_sql), params)``: the file read in parallel, or (quoted line breaks with
    short rows, which DuckDB's parallel reader refuses) in one thread; DuckDB's reading errors sorted."""
    for parallel in (True, False) if source.parallel else (False,):
        try:
            return con.execute(sql(source.sql(parallel=parallel)), params)
        except duckdb.Error as exc:
            if parallel and "parallel" in str(exc).lower():
                source.parallel = False
                continue
            if "invalid unicode" in str(exc).lower():
                raise _NotUtf8 from None
            if isinstance(exc, duckdb.InvalidInputException | duckdb.ConversionException):
                raise _Unreadable(str(exc).splitlines()[0]) from None
            raise
    raise AssertionError("unreachable")


assert len(KPI_METRICS) < 62  # one bit each in _check's mask, bit 62 for the networks

_KEEP = f"NOT blank OR coalesce(p_row, 0) IN ({LONG}, {EXTRA})"  # blank rows are no rows, as always


def _check(con: duckdb.DuckDBPyConnection, source: _Source, latest: date) -> tuple[bool, int, dict[str, Any]]:
    """The first read: every rule of every row, summed up per account in ``accounts_in`` (rows, problems,
    keys, whether a key repeats, its names and flags, first and last day, KPI metrics), nothing else
    kept.  Returns (no error at all, rows, what Python made of the cells SQL left to it).

    One grouping by both (account, key) and (account, name, flag): plain hash aggregates, which DuckDB
    spills to disk within its memory limit (a ``count(DISTINCT ...)`` per account does not, and took
    4 GB for 10M rows).  Keys are hashed: a collision only sends the file to :func:`_errors`, which
    decides."""
    bits = " ".join(f"WHEN {_lit(m)} THEN {1 << i}" for i, m in enumerate(KPI_METRICS))

    def sql(src: str) -> str:
        checked = _checked_sql(source.header, source.width, src, cells=source.cells)
        return f"""
        CREATE OR REPLACE TEMP TABLE accounts_in AS
        WITH sets AS (
            SELECT account_id, key, name, competitor, GROUPING(key) AS by_name, count(*) AS n,
                   count(*) FILTER (WHERE problem IS NOT NULL) AS bad,
                   count(*) FILTER (WHERE p_value = {PENDING} OR p_after = {PENDING}) AS pending,
                   min(observed_on) AS first_day, max(observed_on) AS newest_day, bit_or(kpi) AS kpis
            FROM (
                SELECT account_id, name, competitor, observed_on, p_value, p_after, {_PROBLEM} AS problem,
                       hash(metric, observed_on) AS key,
                   CASE metric {bits} ELSE CASE WHEN prefix(metric, '{NETWORK_PREFIX}') THEN {1 << 62} ELSE 0 END END
                       AS kpi
                FROM ({checked}) WHERE {_KEEP}
            )
            GROUP BY GROUPING SETS ((account_id, key), (account_id, name, competitor))
        )
        SELECT account_id, sum(n) FILTER (WHERE by_name = 1) AS rows, sum(bad) FILTER (WHERE by_name = 1) AS bad,
               sum(pending) FILTER (WHERE by_name = 1) AS pending,
               count(*) FILTER (WHERE by_name = 0) AS keys, count(*) FILTER (WHERE by_name = 1) AS variants,
               any_value(name) FILTER (WHERE by_name = 1) AS name,
               any_value(competitor) FILTER (WHERE by_name = 1) AS competitor,
               min(first_day) AS first_day, max(newest_day) AS newest_day, bit_or(kpis) AS kpis
        FROM sets GROUP BY account_id
        """

    _create(con, sql, source, {"latest": latest})
    row = con.execute(
        """SELECT coalesce(sum(rows), 0), coalesce(sum(bad), 0), coalesce(sum(keys), 0),
                  coalesce(max(variants), 1), coalesce(sum(pending), 0) FROM accounts_in"""
    ).fetchone()
    assert row is not None
    rows, bad, keys, variants, pending = (int(v) for v in row)
    numbers: list[Any] = []
    stamps: list[Any] = []
    if pending:  # cells only Python reads alike (rare): a read more, for their distinct texts

        def texts(src: str) -> str:
            checked = _checked_sql(source.header, source.width, src, cells=source.cells)
            return f"""SELECT list(DISTINCT value_text) FILTER (WHERE p_value = {PENDING}),
                              list(DISTINCT collected_text) FILTER (WHERE p_after = {PENDING})
                       FROM ({checked}) WHERE {_KEEP}"""

        found = _create(con, texts, source, {"latest": latest}).fetchone()
        numbers, stamps = _python_cells(sorted(found[0] or []), sorted(found[1] or []))
    converted = {"values": numbers, "times": stamps}
    clean = bad == 0 and keys == rows and variants == 1 and all(p is None for *_, p in numbers + stamps)
    return clean, rows, converted


def _typed_sql(source: _Source, src: str, converted: dict[str, Any]) -> str:
    """The second read: the rows as ``observations`` rows (known good: no rule is checked again)."""
    checked = _checked_sql(source.header, source.width, src, cells=source.cells, typed_only=True)
    joins, value, stamp = "", "value", "collected_at"
    if converted["values"]:
        joins += " LEFT JOIN (SELECT unnest($vt::VARCHAR[]) AS t, unnest($vv::DOUBLE[]) AS v) pv ON pv.t = value_text"
        value = "coalesce(pv.v, value)"
    if converted["times"]:
        joins += (
            " LEFT JOIN (SELECT unnest($tt::VARCHAR[]) AS t, unnest($tv::TIMESTAMP[]) AS v) pt ON pt.t = collected_text"
        )
        stamp = "coalesce(pt.v, collected_at)"
    return f"""
    SELECT '{MANUAL}' AS platform, account_id, metric, observed_on, {value} AS value, source_metric,
           coalesce({stamp}, $seen) AS collected_at, $run_id AS run_id
    FROM ({checked}) c {joins}
    WHERE {_KEEP}
    """


# ---------------------------------------------------------------------------------------------
# 3. Errors, with their line numbers
# ---------------------------------------------------------------------------------------------

_BLANK = re.compile(rb"\n(?=\r?\n)")


def _blank_lines(path: Path) -> list[int]:
    """The lines the csv module reads as an empty row (``""`` or ``"\\r"`` between line ends,
    outside quotes): DuckDB skips them without a trace, and the line numbers count them."""
    blanks: list[int] = []
    lines = quotes = 0  # line ends and quotes before ``offset``
    offset, tail, found = 0, b"", -1
    with open(path, "rb") as fh:
        first = True
        while chunk := fh.read(CHUNK):
            if first:
                chunk, first = chunk.removeprefix(codecs.BOM_UTF8), False
            joined, base = tail + chunk, offset - len(tail)
            at, at_lines, at_quotes = 0, lines - tail.count(b"\n"), quotes - tail.count(b'"')
            for match in _BLANK.finditer(joined):
                p = match.start()
                if base + p <= found:
                    continue
                at_lines += joined.count(b"\n", at, p)
                at_quotes += joined.count(b'"', at, p)
                at = p
                if at_quotes % 2 == 0:
                    blanks.append(at_lines + 2)  # the line after the one this \n ends
                found = base + p
            lines += chunk.count(b"\n")
            quotes += chunk.count(b'"')
            offset += len(chunk)
            tail = joined[-2:]
    return blanks


def _errors(con: duckdb.DuckDBPyConnection, source: _Source, latest: date) -> list[tuple[int, str]]:
    """Every error as the row-by-row reading found them: in file order, the first :data:`MAX_ERRORS`
    (and the row where the csv module stopped, when it stopped before more were read)."""
    con.execute("SET preserve_insertion_order = true")
    if source.json is not None:

        def build(src: str) -> str:
            return _checked_sql(
                source.header,
                source.width,
                f"(SELECT *, line AS ends, 1 AS lines FROM {src})",
                "n, ends, lines, ",
                exact=True,
            )

    else:
        breaks = " + ".join(
            f"coalesce(strlen(c{i}) - strlen(replace(c{i}, chr(10), '')), 0)" for i in range(source.width)
        )

        def build(src: str) -> str:
            numbered = f"(SELECT row_number() OVER () AS n, 1 + {breaks} AS lines, * FROM {src})"
            ends = f"(SELECT *, {source.header_lines} + sum(lines) OVER (ORDER BY n) AS ends FROM {numbered})"
            return _checked_sql(source.header, source.width, ends, "n, ends, lines, ", exact=True, cells=source.cells)

    _create(con, lambda src: f"CREATE OR REPLACE TEMP TABLE checked AS {build(src)}", source, {"latest": latest})
    _resolve_python_cells(con, "checked")
    abort_row = source.abort[0] if source.abort else None
    if source.json is None:
        long = con.execute(f"SELECT min(n) FROM checked WHERE p_row = {LONG}").fetchone()
        if long is not None and long[0] is not None:
            abort_row = int(long[0])
    found = con.execute(
        f"""
        WITH ok AS (
            SELECT n, account_id, name, competitor,
                   min(n) OVER (PARTITION BY account_id, metric, observed_on) AS first
            FROM checked WHERE NOT blank AND {_PROBLEM} IS NULL AND n < $limit
        ), kept AS (
            SELECT *, arg_min({{'name': name, 'competitor': competitor}}, n) OVER (PARTITION BY account_id) AS account
            FROM ok WHERE n = first
        ), problems AS (
            SELECT n, {_PROBLEM} AS problem, NULL::BIGINT AS first FROM checked
            WHERE {_PROBLEM} IS NOT NULL AND (NOT blank OR p_row IN ({LONG}, {EXTRA})) AND n < $limit
            UNION ALL
            SELECT n, {DUPLICATE}, first FROM ok WHERE n > first
            UNION ALL
            SELECT n, {ACCOUNT_CHANGED}, NULL FROM kept
            WHERE account.name IS DISTINCT FROM name OR account.competitor IS DISTINCT FROM competitor
        ), shown AS (SELECT * FROM problems ORDER BY n LIMIT {MAX_ERRORS})
        SELECT s.n, s.problem, c.ends, c.lines, f.ends, f.lines, c.platform_text, c.date_text, c.observed_on,
               c.account_id,
               c.metric, c.value_cell, c.competitor_text, c.collected_cell
        FROM shown s JOIN checked c USING (n) LEFT JOIN checked f ON f.n = s.first
        ORDER BY s.n
        """,
        {"limit": abort_row if abort_row is not None else 2**62},
    ).fetchall()
    blanks = _blank_lines(source.path) if source.json is None else []
    empty, before = set(blanks), [b - i for i, b in enumerate(blanks, 1)]  # lines not blank before each blank

    def line(ends: int, lines: int) -> int:
        """The line csv.DictReader says a row is on (``line_num``): the last line of the row, worked out
        from the lines of the rows up to it with the blank lines added back."""
        if source.json is not None:
            return int(ends)  # said by the csv module itself
        return int(ends) + bisect.bisect_left(before, int(ends))

    errors = [
        (line(ends, lines), _reason(problem, platform, day_text, day, account, metric, value, competitor, stamp,
                                    line(first, first_lines) if first is not None else 0, latest))
        for _, problem, ends, lines, first, first_lines, platform, day_text, day, account, metric, value, competitor,
        stamp in found
    ]  # fmt: skip
    if abort_row is not None and (len(found) < MAX_ERRORS or found[-1][0] + 1 == abort_row):
        if source.abort is not None:
            errors.append(source.abort[1:])
        else:  # DictReader's line_num when it failed, plus one: the row before's, or the first blank line's since
            rows = dict(
                (n, (e, k))
                for n, e, k in con.execute(
                    "SELECT n, ends, lines FROM checked WHERE n IN ($n - 1, $n)", {"n": abort_row}
                ).fetchall()
            )
            ends, lines = rows[abort_row]
            start = int(ends) - int(lines) + 1
            start += bisect.bisect_left(before, start)
            if start - 1 in empty:
                while start - 1 in empty:
                    start -= 1
                said = start
            else:
                said = line(*rows[abort_row - 1]) if abort_row - 1 in rows else source.header_lines
            errors.append(
                (said + 1, f"a cell is longer than {MAX_CELL:,} characters, the most a cell may hold: shorten it")
            )
    return errors


def _reason(
    problem: int,
    platform: str,
    day_text: str,
    day: date | None,
    account_id: str,
    metric: str,
    value: str | None,
    competitor: str,
    stamp: str | None,
    first_line: int,
    latest: date,
) -> str:
    """The words of each rule, as they always were."""
    if problem == EXTRA:
        return "more cells than columns"
    if problem == PLATFORM:
        return f"platform must be {MANUAL!r} (collected platforms come from their APIs), not {platform!r}"
    if problem == DATE_FORMAT:
        return f"date {day_text!r} is not YYYY-MM-DD"
    if problem == DATE_EARLY:
        return f"date {day} is before {EARLIEST_DAY}: no platform has data that old (a typo?)"
    if problem == DATE_LATE:
        return f"date {day} is after tomorrow ({latest}): that day has not happened yet"
    if problem == ACCOUNT_EMPTY:
        return "account_id is empty: name the source, e.g. newsletter or yelp"
    if problem == ACCOUNT_LONG:
        return "account_id is longer than 200 characters"
    if problem == METRIC:
        return f"metric {metric!r} must be snake_case (a-z, 0-9, _), e.g. followers or newsletter_subscribers"
    if problem == VALUE_NAN:
        return f"value {value!r} is not a number"
    if problem == VALUE_INFINITE:
        return f"value {value!r} is not a finite number"
    if problem == COMPETITOR:
        return f"competitor must be true or false, not {competitor!r}"
    if problem == COLLECTED_FORMAT:
        return f"collected_at {stamp!r} is not an ISO 8601 time such as 2026-03-10T06:30:00Z"
    if problem == COLLECTED_ZONE:
        return f"collected_at {stamp!r} needs a time zone (end it with Z for UTC)"
    if problem == DUPLICATE:
        return f"same account, metric and date as line {first_line}"
    if problem == ACCOUNT_CHANGED:
        return f"account {account_id!r} has another name or competitor flag earlier in the file"
    raise AssertionError(f"unknown problem {problem}")


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def import_csv(
    db_path: str | os.PathLike[str],
    csv_path: str | os.PathLike[str],
    *,
    now: datetime | None = None,
    today: date | None = None,
) -> ImportResult:
    """Validate every row of ``csv_path``; load all of them in one transaction, or none.  ``today`` is the
    business's (default: the UTC day of ``now``): rows dated after the day after it are refused."""
    path = Path(csv_path)
    try:
        try:
            scan = _scan(path)
            header, header_lines, errors = _header(path)
            if (errors or scan.python_reads) and not _utf8(path):
                raise _NotUtf8
        except OSError as exc:  # the file itself (a folder, no permission, gone): later errors are not its
            raise ImportRejected(str(path), [(0, f"cannot read the file: {exc.strerror}")]) from None
        if errors:
            raise ImportRejected(str(path), errors)
        return _import(path, db_path, scan, header, header_lines, now, today)
    except (_NotUtf8, UnicodeDecodeError):
        raise ImportRejected(str(path), [(_utf8_error_line(path), NOT_UTF8)]) from None


def _import(
    path: Path,
    db_path: str | os.PathLike[str],
    scan: _Scan,
    header: list[str],
    header_lines: int,
    now: datetime | None,
    today: date | None,
) -> ImportResult:
    moment = now or datetime.now(UTC)
    latest = (today or moment.astimezone(UTC).date()) + timedelta(days=1)
    folder = Path(tempfile.mkdtemp(prefix="socialkpi-import-"))
    con = duckdb.connect(":memory:", config=dict(DUCKDB_CONFIG))
    try:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = {_lit(str(folder / 'spill'))}")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")  # DuckDB's own bar, on a long read, in the user's terminal
        source = (
            _python_source(path, header, folder)
            if scan.python_reads
            else _Source(path, header, header_lines, scan.cells)
        )
        try:
            clean, rows, converted = _check(con, source, latest)
        except _Unreadable:
            if source.json is not None:
                raise
            source = _python_source(path, header, folder)  # a line too long for DuckDB's reader
            clean, rows, converted = _check(con, source, latest)
        errors = _errors(con, source, latest) if not clean or source.abort is not None else []
        if errors:
            raise ImportRejected(str(path), errors)
        if not rows:
            raise ImportRejected(str(path), [(1, "no data rows")])
        con.execute(f"SET memory_limit = '{_load_limit(rows)}'")
        written = _load(con, source, db_path, "import-" + scan.digest[:12], moment, converted, scan.stat)
    finally:
        con.close()
        shutil.rmtree(folder, ignore_errors=True)
    return ImportResult(rows=rows, written=written)


def _load(
    con: duckdb.DuckDBPyConnection,
    source: _Source,
    db_path: str | os.PathLike[str],
    run_id: str,
    moment: datetime,
    converted: dict[str, Any],
    stat: tuple[int, int],
) -> int:
    """The second read of the file, upserted into the warehouse with one statement, with its accounts
    and the aggregates, in one transaction."""
    from warehouse import aggregates

    seen = moment.astimezone(UTC).replace(tzinfo=None)
    params: dict[str, Any] = {"seen": seen, "run_id": run_id}
    if converted["values"]:
        params |= {"vt": [v[0] for v in converted["values"]], "vv": [v[1] for v in converted["values"]]}
    if converted["times"]:
        params |= {"tt": [t[0] for t in converted["times"]], "tv": [t[1] for t in converted["times"]]}
    with writing_into(con, db_path) as wh:
        wh.execute("BEGIN TRANSACTION")
        try:
            wh.execute(
                """
                INSERT INTO accounts (platform, account_id, name, competitor, first_seen_at, last_seen_at)
                SELECT $platform, account_id, name, competitor, $seen, $seen FROM temp.main.accounts_in
                ON CONFLICT (platform, account_id) DO UPDATE SET
                    name = excluded.name, competitor = excluded.competitor, last_seen_at = excluded.last_seen_at
                WHERE accounts.name IS DISTINCT FROM excluded.name
                   OR accounts.competitor IS DISTINCT FROM excluded.competitor
                """,
                {"platform": MANUAL, "seen": seen},
            )
            result = _create(
                wh, lambda src: UPSERT_SQL.replace("FROM batch", f"FROM ({_typed_sql(source, src, converted)})"),
                source, params,
            ).fetchall()  # fmt: skip
            written = int(result[0][0]) if result else 0
            if written:  # else no row changed: the aggregates, kept with the rows, are as they were
                kpis = wh.execute("SELECT bit_or(kpis) FROM temp.main.accounts_in").fetchone()
                mask = int(kpis[0]) if kpis and kpis[0] is not None else 0  # KPI metrics; bit 62: networks
                aggregates.maintain_from(
                    wh,
                    days=f"""(SELECT '{MANUAL}' AS platform, account_id, first_day AS observed_on
                              FROM temp.main.accounts_in
                              UNION ALL
                              SELECT '{MANUAL}', account_id, newest_day FROM temp.main.accounts_in)""",
                    rows=f"(SELECT * FROM observations WHERE platform = '{MANUAL}' AND run_id = {_lit(run_id)})",
                    metrics={m for i, m in enumerate(KPI_METRICS) if mask >> i & 1},
                    networks=bool(mask >> 62 & 1),
                )
            if _stat(source.path) != stat:
                raise ImportRejected(str(source.path), [(0, "the file changed while it was imported: import it again")])
            wh.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                wh.execute("ROLLBACK")
            raise
    return written


def _load_limit(rows: int) -> str:
    """DuckDB's memory limit for the upsert of ``rows`` rows (see :data:`INDEX_BYTES_PER_ROW`)."""
    floor = int(MEMORY_LIMIT.removesuffix("MB")) << 20
    try:
        ceiling = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 3 // 4
    except (ValueError, OSError):
        ceiling = 4 << 30
    return f"{max(floor, min(ceiling, rows * INDEX_BYTES_PER_ROW)) >> 20}MB"


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


__all__ = ["ImportRejected", "ImportResult", "import_csv"]
