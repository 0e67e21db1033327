"""``socialkpi import-csv``'s rules (step 2 of :mod:`warehouse.imports`): every check of a row, as SQL.

The rows come from :mod:`warehouse.import_file` (DuckDB's ``read_csv`` or the ``csv`` module's rows);
:func:`_checked_sql` reads each one as the rules do, typed, with its first problem (:data:`LONG` ...,
in the order the rules were always applied); the cells only Python reads alike are converted once
per distinct text; :func:`_check` is the first read, summed up per account, and :func:`_typed_sql`
the second, the rows as ``observations`` rows.  The words of each problem are
:func:`warehouse.imports._reason`'s.

The names with a leading underscore are import-csv's own: shared by its three modules
(:mod:`warehouse.imports`, :mod:`warehouse.import_file`, :mod:`warehouse.import_rules`), used
nowhere else.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from collectors import EARLIEST_DAY
from warehouse.aggregates import KPI_METRICS, NETWORK_PREFIX
from warehouse.import_file import COLUMNS, MANUAL, MAX_CELL, _create, _lit, _Source

# What ``str.strip()`` removes (``str.isspace``), for DuckDB's ``trim(text, characters)``.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

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
    if cells == "any":  # (typed_only too: a cell its pattern passes as it is is not stripped, ~10x faster)
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
    if typed_only:
        # A clean file's rows (the only ones read typed): a row without an account_id is blank, since any
        # other would have failed its rule (ACCOUNT_EMPTY), and a blank row has none.  No other cell is read.
        maybe_blank, blank = "true", "t_account_id = ''"
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
