"""import-csv reads the file in DuckDB (issue 12): the same rows, errors and line numbers as the row-by-row
reading with Python's csv module always gave, in the cases where the two readers part ways.

Each expectation below is what the earlier implementation (csv.DictReader and the rules in Python) said
for the same file: blank lines and quoted line breaks in the line numbers, the csv module stopping at a
cell over its limit (after blank lines, or right after the 50th error), cells only Python reads alike
(non-ASCII digits, unusual ISO times), quoting DuckDB's reader would read otherwise (text after a closing
quote, spaces before an opening one, an unclosed quote, a bare carriage return), and Unicode spaces.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from warehouse import import_file, import_rules, imports
from warehouse.imports import ImportRejected, import_csv

H = "date,platform,account_id,account_name,competitor,metric,value,source_metric,collected_at\n"
NOW = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
LONG = "x" * 131_073
TOO_LONG = "a cell is longer than 131,072 characters, the most a cell may hold: shorten it"
UNQUOTED_BREAK = (
    "not readable as CSV (new-line character seen in unquoted field - do you need to open the file in "
    "universal-newline mode?): save the file as CSV UTF-8"
)


def rejected(tmp_path: Path, text: str) -> list[tuple[int, str]]:
    src = tmp_path / "in.csv"
    src.write_text(text, encoding="utf-8", newline="")
    with pytest.raises(ImportRejected) as info:
        import_csv(tmp_path / "wh.duckdb", src, now=NOW)
    assert not (tmp_path / "wh.duckdb").exists()
    return info.value.errors


def loaded(tmp_path: Path, text: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    src = tmp_path / "in.csv"
    src.write_text(text, encoding="utf-8", newline="")
    import_csv(tmp_path / "wh.duckdb", src, now=NOW)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT account_id, metric, observed_on::VARCHAR, value, source_metric, collected_at FROM observations "
            "ORDER BY ALL"
        ).fetchall()
        accounts = con.execute("SELECT account_id, name, competitor FROM accounts ORDER BY ALL").fetchall()
    finally:
        con.close()
    return rows, accounts


def test_line_numbers_count_blank_lines_and_quoted_line_breaks(tmp_path: Path) -> None:
    text = (
        H
        + '\n2026-03-01,manual,a,"Multi\nline",false,followers,1,,\n\n\n'
        + "2026-03-01,manual,b,,false,followers,x,,\n,,,,,,,,\n"
        + '2026-03-02,manual,a,"Multi\nline",false,followers,2,"s\n\ns",\n'
        + '2026-03-01,manual,a,"Multi\nline",false,followers,3,,\n'
    )
    assert rejected(tmp_path, text) == [
        (7, "value 'x' is not a number"),
        (14, "same account, metric and date as line 4"),
    ]


def test_a_cell_over_the_limit_after_blank_lines_stops_the_reading_there(tmp_path: Path) -> None:
    text = (
        H
        + "2026-03-01,manual,a,,false,followers,x,,\n\n\n"
        + f"2026-03-01,manual,{LONG},,false,followers,1,,\n2026-03-01,manual,b,,false,followers,y,,\n"
    )
    assert rejected(tmp_path, text) == [(2, "value 'x' is not a number"), (4, TOO_LONG)]


@pytest.mark.parametrize(
    ("bad_rows", "count", "last"), [(50, 51, (52, TOO_LONG)), (52, 50, (51, "value 'x' is not a number"))]
)
def test_fifty_errors_then_the_row_the_csv_module_stopped_at(
    tmp_path: Path, bad_rows: int, count: int, last: tuple[int, str]
) -> None:
    text = H + "".join(f"2026-03-01,manual,a{i},,false,followers,x,,\n" for i in range(bad_rows))
    errors = rejected(tmp_path, text + f"2026-03-01,manual,{LONG},,false,followers,1,,\n")
    assert len(errors) == count and errors[-1] == last


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        (
            H
            + "2026-03-01,manual,a,,false,followers,1,,2026-03-01T08:00:00.1234567+00:00\n"
            + "2026-03-02,manual,a,,false,followers,2,,2026-03-01T08:00:00z\n",
            [(3, "collected_at '2026-03-01T08:00:00z' is not an ISO 8601 time such as 2026-03-10T06:30:00Z")],
        ),
        (
            H
            + "0000-01-01,manual,a,,false,followers,1,,\n"
            + "2026-03-01,manual,a,,false,followers,1,,0000-01-01T00:00:00Z\n",
            [
                (2, "date '0000-01-01' is not YYYY-MM-DD"),
                (3, "collected_at '0000-01-01T00:00:00Z' is not an ISO 8601 time such as 2026-03-10T06:30:00Z"),
            ],
        ),
        (H.replace("\n", "\r") + "2026-03-01,manual,a,,false,followers,1,,\r", [(1, UNQUOTED_BREAK)]),
        (H + "2026-03-01,manual,a,x\ry,false,followers,1,,\n", [(2, UNQUOTED_BREAK)]),
        (H + '2026-03-01,manual,a,,""x,followers,1,,\n', [(2, "competitor must be true or false, not 'x'")]),
        (
            H + '2026-03-01,manual,a,"x,false,followers,1,,\n',
            [(2, "metric '' must be snake_case (a-z, 0-9, _), e.g. followers or newsletter_subscribers")],
        ),
    ],
    ids=["unusual-times", "year-zero", "bare-cr-lines", "cr-in-a-cell", "text-after-empty-quotes", "unclosed-quote"],
)
def test_cells_and_quoting_the_readers_part_on_are_refused_as_before(
    tmp_path: Path, text: str, errors: list[tuple[int, str]]
) -> None:
    assert rejected(tmp_path, text) == errors


@pytest.mark.parametrize(
    ("text", "value", "name"),
    [
        (H + "2026-03-01,manual,a,,false,followers,١٢,,\n", 12.0, "a"),  # Arabic-Indic digits, as float() reads
        (H + '2026-03-01,manual,a,"Bar"x,false,followers,1,,\n', 1.0, "Barx"),
        (H + '2026-03-01,manual,a, "x",false,followers,1,,\n', 1.0, '"x"'),
        (
            H + "2026-03-01,\u00a0manual\u3000,\u2009a\u00a0,\u2028A\u2029,\tfalse\t,followers,\u00857\u0085,,\n",
            7.0,
            "A",
        ),
        (H + '2026-03-01,manual,"\na",,false,followers,1,,\n', 1.0, "a"),
    ],
    ids=["non-ascii-digits", "text-after-quote", "space-before-quote", "unicode-spaces", "quoted-edge-break"],
)
def test_cells_only_python_reads_alike_load_as_before(tmp_path: Path, text: str, value: float, name: str) -> None:
    rows, accounts = loaded(tmp_path, text)
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [("a", "followers", "2026-03-01", value, "manual")]
    assert accounts == [("a", name, False)]


@pytest.mark.skipif(
    int(duckdb.__version__.split(".")[0]) < 2,
    reason="DuckDB 1.5.5's JSON reader takes buffers of twice the line: more than the import's memory limit",
)
def test_a_row_the_csv_module_reads_may_be_longer_than_read_jsons_default_object(tmp_path: Path) -> None:
    name = "\U0001f600" * 131_071  # with the x, a cell at the limit: 12 bytes a character as JSON, 1.5 MiB
    names = 22  # a repeated column (the last one is read): a line of 35 MB, over twice the default
    assert len(json.dumps([name] * names)) > 2 * import_file.MIN_OBJECT
    header = "date,account_id,metric,value" + ",account_name" * names + "\n"
    rows, accounts = loaded(tmp_path, header + "2026-03-01,a,followers,1" + f',"{name}"x' * names + "\n")
    assert [r[3] for r in rows] == [1.0]
    assert accounts == [("a", name + "x", False)]


def test_an_unusual_time_is_read_by_python_once(tmp_path: Path) -> None:
    rows, _ = loaded(tmp_path, H + "2026-03-01,manual,a,,false,followers,1,,2026-03-01T08:00:00.1234567+01:00\n")
    assert rows[0][5] == datetime(2026, 3, 1, 7, 0, 0, 123456)  # as fromisoformat: 6 digits kept, to UTC


@pytest.mark.parametrize(
    "blank",
    [",,,,,,,,\n", "  , ,,   ,,,,,\n", ",,\t,\u00a0,,,,,\n", ",,,'=,,,,,\n"],
    ids=["empty-cells", "spaces", "other-whitespace", "formula-guard"],
)
def test_rows_of_empty_cells_in_a_clean_file_are_no_rows(tmp_path: Path, blank: str) -> None:
    """Whatever the shape of the file (spaces, other whitespace, formula guards: each reads the rows with
    other SQL), a row whose cells are all empty once stripped is skipped, as a blank line is."""
    text = H + "2026-03-01,manual,a,,false,followers,1,,\n" + blank + "2026-03-02,manual,a,,false,followers,2,,\n"
    if "'=" in blank:  # the guard alone is no empty cell: a row of it is refused (account_id empty)
        assert [e[0] for e in rejected(tmp_path, text)] == [3]
        return
    rows, _ = loaded(tmp_path, text)
    assert [(r[0], r[2], r[3]) for r in rows] == [("a", "2026-03-01", 1.0), ("a", "2026-03-02", 2.0)]
    assert import_csv(tmp_path / "wh.duckdb", tmp_path / "in.csv", now=NOW).rows == 2


def test_the_last_column_of_a_repeated_name_is_the_one_read(tmp_path: Path) -> None:
    rows, _ = loaded(tmp_path, "date,account_id,metric,value,value\n2026-03-01,a,followers,x,5\n")
    assert [r[3] for r in rows] == [5.0]


def test_bytes_that_are_not_utf8_late_in_the_file_give_their_line(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    good = (H + "2026-03-01,manual,a,,false,followers,1,,\n" * 3).encode()
    src.write_bytes(good + b"2026-03-01,manual,caf\xe9,,,m,1,,\n")
    with pytest.raises(ImportRejected) as info:
        import_csv(tmp_path / "wh.duckdb", src, now=NOW)
    assert info.value.errors == [(5, "not UTF-8 text: save the file as CSV UTF-8")]


def test_the_upsert_is_the_one_of_warehouse_load() -> None:
    from warehouse import load

    assert imports.UPSERT_SQL == load.UPSERT_SQL


def test_whitespace_is_what_str_strip_removes() -> None:
    spaces = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
    assert spaces == import_rules.WHITESPACE


@pytest.mark.parametrize("chunk", [3, 5, 7, 8, 11, 1 << 20])
def test_the_scan_reads_alike_whatever_the_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """A quoted cell with a comma and doubled quotes is RFC 4180: DuckDB reads it; a space before an
    opening quote is not: the csv module does.  Whatever chunk boundary cuts them."""
    monkeypatch.setattr(import_file, "CHUNK", chunk)
    clean, spaced = tmp_path / "clean.csv", tmp_path / "spaced.csv"
    clean.write_text(H + '2026-03-01,manual,a,"Café, ""Bar"" 0",false,followers,1,,\n' * 3, encoding="utf-8")
    spaced.write_text(H + '2026-03-01,manual,a, "x",false,followers,1,,\n', encoding="utf-8")
    assert not import_file._scan(clean).python_reads
    assert import_file._scan(spaced).python_reads


@pytest.mark.parametrize(
    ("late", "name"),
    [("\tShop\t", "Shop"), ("'=Shop", "=Shop"), ('x"y', 'x"y'), ("\u00a0Shop", "Shop")],
    ids=["tab", "formula-guard", "mid-quote", "no-break-space"],
)
def test_a_shape_first_seen_after_the_first_chunk_decides_how_the_rows_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, late: str, name: str
) -> None:
    """The rows are checked while the byte pass runs, read as the first chunk says they read: a cell
    further on that needs another reading (stripped of other whitespace, un-guarded, read by the csv
    module) has the whole file read that way."""
    monkeypatch.setattr(import_file, "CHUNK", 256)
    text = H + "".join(f"2026-03-{d:02d},manual,a,Shop,false,followers,{d},,\n" for d in range(1, 11))
    assert len(text.encode()) > 2 * 256
    rows, accounts = loaded(tmp_path, text + f"2026-03-01,manual,b,{late},false,followers,1,,\n")
    assert len(rows) == 11
    assert accounts == [("a", "Shop", False), ("b", name, False)]


def test_the_aggregates_are_what_a_rebuild_makes(tmp_path: Path) -> None:
    """kpi_daily, account_days and network_daily kept by the import equal those recomputed from observations."""
    from warehouse import aggregates

    text = H + "".join(
        f"2026-03-0{d},manual,{a},,false,{m},{d * 3 + len(a)},,\n"
        for d in (1, 2, 3)
        for a in ("newsletter", "yelp")
        for m in ("followers", "visits", "visits_from_facebook", "subscribers")
    )
    loaded(tmp_path, text)
    loaded(tmp_path, text.replace(",7,,", ",70,,"))  # again, a few values changed
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        tables = ("kpi_daily", "account_days", "network_daily")
        kept = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
        con.execute("BEGIN TRANSACTION")
        aggregates.rebuild(con)
        rebuilt = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
        con.execute("ROLLBACK")
    finally:
        con.close()
    assert kept == rebuilt
    assert kept["network_daily"] and kept["kpi_daily"]


def test_kpi_running_kept_by_the_import_equals_the_raw_answer(tmp_path: Path) -> None:
    """kpi_running after importing a file, then the same file with changed values, a gap and an earlier
    day, equals the running totals computed in Python from the observations (tests/test_warehouse.py)."""
    from tests.test_warehouse import reference_kpi_running

    metrics = ("followers", "visits", "subscribers")
    rows = [(d, a, m) for d in (1, 2, 5) for a in ("newsletter", "yelp") for m in metrics]
    text = H + "".join(f"2026-03-0{d},manual,{a},,false,{m},{d * 3 + len(a)},,\n" for d, a, m in rows)
    loaded(tmp_path, text)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        assert con.execute("SELECT * FROM kpi_running ORDER BY ALL").fetchall() == reference_kpi_running(con) != []
    finally:
        con.close()
    again = text.replace(",7,,", ",70,,") + "2026-02-27,manual,yelp,,false,visits,4,,\n"
    loaded(tmp_path, again)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        assert con.execute("SELECT * FROM kpi_running ORDER BY ALL").fetchall() == reference_kpi_running(con)
        assert con.execute("SELECT min(observed_on) FROM kpi_running WHERE account_id = 'yelp'").fetchone() == (
            __import__("datetime").date(2026, 2, 27),
        )
    finally:
        con.close()


def test_importing_the_same_file_again_puts_back_what_another_file_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same file again skips its second read only while every row it wrote is still as it wrote it:
    after another file changed one of its values, or a row of it was deleted, it is upserted again."""
    text = H + "".join(
        f"2026-03-0{d},manual,{a},,false,{m},{d * 3 + len(a)},,\n"
        for d in (1, 2, 3)
        for a in ("newsletter", "yelp")
        for m in ("followers", "visits")
    )
    first, other = tmp_path / "first.csv", tmp_path / "other.csv"
    first.write_text(text, encoding="utf-8")
    other.write_text(H + "2026-03-02,manual,yelp,,false,visits,99,,\n", encoding="utf-8")
    db = tmp_path / "wh.duckdb"

    def state() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        con = duckdb.connect(str(db), read_only=True)
        try:
            rows = con.execute("SELECT account_id, metric, observed_on, value FROM observations ORDER BY ALL")
            return rows.fetchall(), con.execute("SELECT * FROM kpi_daily ORDER BY ALL").fetchall()
        finally:
            con.close()

    assert import_csv(db, first, now=NOW).written == 12
    wanted = state()
    assert import_csv(db, other, now=NOW).written == 1
    assert state() != wanted
    assert import_csv(db, first, now=NOW).written == 1
    assert state() == wanted
    con = duckdb.connect(str(db))
    try:
        con.execute("DELETE FROM observations WHERE account_id = 'newsletter' AND observed_on = '2026-03-03'")
    finally:
        con.close()
    assert import_csv(db, first, now=NOW).written == 2
    assert state()[0] == wanted[0]
    typed = import_rules._typed_sql
    reads: list[str] = []
    monkeypatch.setattr(imports, "_typed_sql", lambda *a: reads.append("typed") or typed(*a))
    assert import_csv(db, first, now=NOW).written == 0
    assert reads == []  # unchanged since: the second read of the file was skipped
    assert state()[0] == wanted[0]
