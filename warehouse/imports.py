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

Step 1 is :mod:`warehouse.import_file`, step 2 :mod:`warehouse.import_rules`; step 3, the errors' line
numbers and words, and the load are here.
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import os
import re
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from collectors import EARLIEST_DAY
from warehouse.aggregates import KPI_METRICS
from warehouse.db import DUCKDB_CONFIG, writing_into
from warehouse.import_file import (
    CHUNK,
    MANUAL,
    MAX_CELL,
    _create,
    _header,
    _lit,
    _NotUtf8,
    _python_source,
    _Scan,
    _scan,
    _Source,
    _stat,
    _Unreadable,
    _utf8,
    _utf8_error_line,
)
from warehouse.import_rules import (
    _PROBLEM,
    ACCOUNT_CHANGED,
    ACCOUNT_EMPTY,
    ACCOUNT_LONG,
    COLLECTED_FORMAT,
    COLLECTED_ZONE,
    COMPETITOR,
    DATE_EARLY,
    DATE_FORMAT,
    DATE_LATE,
    DUPLICATE,
    EXTRA,
    LONG,
    METRIC,
    PLATFORM,
    VALUE_INFINITE,
    VALUE_NAN,
    _check,
    _checked_sql,
    _resolve_python_cells,
    _typed_sql,
)

MAX_ERRORS = 50
NOT_UTF8 = "not UTF-8 text: save the file as CSV UTF-8"

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

# DuckDB's buffers for one import: the checked rows spill to a temporary folder beyond this, so the
# process stays within a few hundred MB whatever the file's size.
MEMORY_LIMIT = "160MB"
# ... but the upsert's key index (DuckDB's ART, which it does not spill) needs ~100 bytes a row being
# loaded: the limit grows with the rows, to at most three quarters of the machine's memory.
INDEX_BYTES_PER_ROW = 120


class ImportRejected(Exception):
    """The file was not loaded; ``errors`` lists ``(line, reason)`` for each bad row, or is one ``(0, reason)``
    when the fault is the file itself (gone, a folder, changed while it was read), not a row of it."""

    def __init__(self, path: str, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        if [line for line, _ in errors] == [0]:
            super().__init__(f"{path}: nothing imported: {errors[0][1]}")
            return
        shown = "; ".join(f"line {line}: {reason}" for line, reason in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        super().__init__(f"{path}: nothing imported, {len(errors)} bad row(s): {shown}{more}")


@dataclass(frozen=True)
class ImportResult:
    rows: int  # valid rows in the file
    written: int  # rows inserted or changed


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
        # The byte pass (Python, one core) runs in a thread while DuckDB checks the rows (_import): what it
        # finds decides how the rows are read, so the check made meanwhile stands only if it read them so.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="socialkpi-scan") as pool:
            scanning = pool.submit(_scan, path)
            try:
                try:
                    header, header_lines, errors = _header(path)
                except (OSError, UnicodeDecodeError):
                    scanning.result()  # the byte pass's error first, as when it ran before
                    raise
                if errors:
                    scanning.result()
                    if not _utf8(path):
                        raise _NotUtf8
                    raise ImportRejected(str(path), errors)
            except OSError as exc:  # the file itself (a folder, no permission, gone): later errors are not its
                raise ImportRejected(str(path), [(0, f"cannot read the file: {exc.strerror}")]) from None
            return _import(path, db_path, scanning, header, header_lines, now, today)
    except (_NotUtf8, UnicodeDecodeError):
        raise ImportRejected(str(path), [(_utf8_error_line(path), NOT_UTF8)]) from None


def _scanned(path: Path, scanning: Future[_Scan]) -> _Scan:
    """The byte pass's result, and the file's UTF-8 checked when the csv module is to read it."""
    try:
        scan = scanning.result()
        if scan.python_reads and not _utf8(path):
            raise _NotUtf8
    except OSError as exc:
        raise ImportRejected(str(path), [(0, f"cannot read the file: {exc.strerror}")]) from None
    return scan


def _import(
    path: Path,
    db_path: str | os.PathLike[str],
    scanning: Future[_Scan],
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
        # While the byte pass runs: the check, reading the rows as the file's first chunk says they read.
        try:
            guess: _Scan | None = _scan(path, chunks=1)
        except OSError:
            guess = None
        early: tuple[bool, int, dict[str, Any]] | None = None
        if guess is not None and not guess.python_reads:
            guessed = _Source(path, header, header_lines, guess.cells)
            try:
                early = _check(con, guessed, latest)
            except duckdb.InterruptException:
                raise  # (Ctrl-C: not a failure to decide again)
            except (duckdb.Error, _NotUtf8, _Unreadable, OSError):
                early = None  # decided below, as without the guess
        scan = _scanned(path, scanning)
        if early is not None and guess is not None and not scan.python_reads and scan.cells == guess.cells:
            source, (clean, rows, converted) = guessed, early
        else:
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
        written = _load(con, source, db_path, "import-" + scan.digest[:12], moment, converted, scan.stat, rows)
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
    rows: int,
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
            if _imported_already(wh, run_id, rows):
                written = 0  # every row holds what this file says already: the upsert would change none
            else:
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


def _imported_already(wh: duckdb.DuckDBPyConnection, run_id: str, rows: int) -> bool:
    """Whether the warehouse holds, unchanged since, every row of this very file (the same bytes: the
    run id is their SHA-256) as an earlier import of it wrote them: then the upsert would change no row,
    and the second read of the file is skipped.

    A row keeps its ``run_id`` only while no later write changed its value or source metric (the upsert
    sets ``run_id`` with them), and only this file's rows can carry its run id; ``rows`` is the file's
    rows, each key once (it passed the checks).  So ``rows`` rows with this run id are this file's rows,
    each still as this file says."""
    found = wh.execute(
        "SELECT count(*) FROM observations WHERE platform = $platform AND run_id = $run_id",
        {"platform": MANUAL, "run_id": run_id},
    ).fetchone()
    return found is not None and int(found[0]) == rows


def _load_limit(rows: int) -> str:
    """DuckDB's memory limit for the upsert of ``rows`` rows (see :data:`INDEX_BYTES_PER_ROW`)."""
    floor = int(MEMORY_LIMIT.removesuffix("MB")) << 20
    try:
        ceiling = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 3 // 4
    except (ValueError, OSError):
        ceiling = 4 << 30
    return f"{max(floor, min(ceiling, rows * INDEX_BYTES_PER_ROW)) >> 20}MB"


__all__ = ["ImportRejected", "ImportResult", "import_csv"]
