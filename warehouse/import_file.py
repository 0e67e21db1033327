"""``socialkpi import-csv``'s reading of the file (step 1 of :mod:`warehouse.imports`).

Its bytes in one pass (SHA-256, UTF-8, whether DuckDB's CSV reader reads it exactly as Python's
``csv`` module does), its header (read with the ``csv`` module), and the two ways its rows reach
DuckDB: ``read_csv``, every column as text, or the ``csv`` module's rows as JSON lines.

The names with a leading underscore are import-csv's own: shared by its three modules
(:mod:`warehouse.imports`, :mod:`warehouse.import_file`, :mod:`warehouse.import_rules`), used
nowhere else.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

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
MAX_CELL = csv.field_size_limit()  # 131,072 characters: Python's csv module reads no longer cell

CHUNK = 1 << 20
# DuckDB's CSV reader refuses longer lines (and buffers a few times this per thread): such a file,
# whose cells are most likely over MAX_CELL anyway, is read by the csv module instead.
MAX_LINE = 1 << 22
# read_json's maximum_object_size for the csv module's rows: the longest line's, at least DuckDB's default
# (16 MiB; it takes no less).  Its read buffers are sized from it and must fit in the import's memory
# limit beside the checks' hash tables: DuckDB 1.5.5 ran out of memory on a tiny file with 32 MiB.
MIN_OBJECT = 1 << 24
# read_csv's NULL text (an empty cell stays ''): NUL, the words, NUL, built with chr(0) in the SQL, since
# DuckDB 1.5.5's parser ends a statement's text at a NUL byte ("unterminated quoted string").
_NULL = "chr(0) || 'socialkpi: no cell is this' || chr(0)"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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


def _scan(path: Path, chunks: int | None = None) -> _Scan:
    """SHA-256, and the shape of the quotes, line ends, whitespace: one read of the file, C-speed
    calls on 1 MiB chunks.  (DuckDB's reader checks it is UTF-8; the csv module's path decodes it.)
    ``chunks``: only the first ones, as if the file ended there (a guess of the shape, nothing more).

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
        while (chunks is None or chunks > 0) and (chunk := fh.read(CHUNK)):
            chunks = None if chunks is None else chunks - 1
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
# The rows, as DuckDB reads them
# ---------------------------------------------------------------------------------------------

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
    longest: int = 0  # the longest of the JSON lines, in bytes

    @property
    def width(self) -> int:
        return len(self.header) + 1  # one column more: a cell there is one more than the header has

    def sql(self, *, parallel: bool) -> str:
        if self.json is not None:
            cells = ", ".join(f"c[{i + 1}] AS c{i}" for i in range(self.width))
            return (
                f"(SELECT n, line, {cells} FROM read_json({_lit(str(self.json))}, format = 'newline_delimited', "
                "columns = {'n': 'BIGINT', 'line': 'BIGINT', 'c': 'VARCHAR[]'}, "
                f"maximum_object_size = {max(self.longest + 1, MIN_OBJECT)}))"
            )
        columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(self.width))
        return (
            f"read_csv({_lit(str(self.path))}, header = false, auto_detect = false, delim = ',', quote = '\"', "
            f"escape = '\"', columns = {{{columns}}}, nullstr = {_NULL}, null_padding = true, "
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
            line = json.dumps({"n": n, "line": last, "c": cells})  # ASCII: as many bytes as characters
            source.longest = max(source.longest, len(line))
            fh.write(line + "\n")
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


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns
