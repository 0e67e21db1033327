"""One CSV writer (``warehouse.export.write_csv``) for both exports and every dashboard download: the
contract's neutralisation (a text cell starting with =, +, -, @, tab or CR gets a leading ') and quoting (a
cell holding a CR or an LF anywhere is quoted), so ``"Shop\\r=cmd|' /C calc'!A0"`` can never become a row
of its own starting with a formula.  Checked on arbitrary text (hypothesis), read back with the csv module
and with :func:`strict_rows`, a reader that ends a row at any CR or LF outside quotes."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.observation import Account, Observation
from tests import seed
from warehouse import export, queries
from warehouse.db import writing
from warehouse.load import AccountOutcome, write_account_batch
from warehouse.snapshot import SNAPSHOT_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
EVIL = "Shop\r=cmd|' /C calc'!A0"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
OBSERVATIONS_HEADER = export.OBSERVATIONS_HEADER.split(",")


def neutral(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


_UNQUOTED = re.compile(r"[^,\r\n]*")


def strict_rows(data: bytes) -> list[list[str]]:
    """The rows of ``data`` read as strictly as the least forgiving spreadsheet: a quote opens a field only
    at its start and closes it only before a comma or a line end (``""`` inside is a quote); a CR, an LF or
    a CRLF outside quotes ends the row; no empty line; the file ends with a line end.  Every line that
    begins outside quotes (the file's start and after each row end) must not begin with a formula
    character."""
    text = data.decode("utf-8")
    rows: list[list[str]] = []
    pos, end = 0, len(text)
    while pos < end:
        assert text[pos] not in "=+-@\t\r\n", f"line at {pos} starts with {text[pos]!r}: {text[pos : pos + 30]!r}"
        row: list[str] = []
        while True:
            if pos < end and text[pos] == '"':
                pos += 1
                parts = []
                while True:
                    close = text.find('"', pos)
                    assert close != -1, "a quoted field is never closed"
                    parts.append(text[pos:close])
                    if text.startswith('""', close):
                        parts.append('"')
                        pos = close + 2
                        continue
                    pos = close + 1
                    break
                value = "".join(parts)
                assert pos == end or text[pos] in ",\r\n", f"text after a closing quote at {pos}"
            else:
                found = _UNQUOTED.match(text, pos)
                assert found is not None
                value = found.group()
                assert '"' not in value, f"a quote inside an unquoted field: {value!r}"
                pos = found.end()
            row.append(value)
            if pos < end and text[pos] == ",":
                pos += 1
                continue
            break
        assert pos < end, "the file does not end with a line end"
        pos += 2 if text.startswith("\r\n", pos) else 1
        rows.append(row)
    return rows


def module_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def read_back(data: bytes, columns: int) -> list[list[str]]:
    """Both readers agree, and every row has the header's column count."""
    strict = strict_rows(data)
    assert module_rows(data) == strict
    assert all(len(row) == columns for row in strict), [len(r) for r in strict]
    return strict


# Arbitrary text, with the characters that matter drawn often.
nasty = st.sampled_from(["\r", "\n", "\r\n", '"', ",", "=", "+", "-", "@", "\t", "'", " ", "\x00", "\u2028", EVIL])
any_char = st.characters(blacklist_categories=("Cs",))
cell_text = st.lists(st.one_of(nasty, st.text(alphabet=any_char, max_size=4)), max_size=8).map("".join)


# -- the example of the issue --------------------------------------------------------------------------


def test_a_carriage_return_inside_a_download_cell_is_quoted() -> None:
    data = export.frame_csv(pd.DataFrame({"account_name": [EVIL], "followers": [12]}))
    assert data == b"account_name,followers\n\"Shop\r=cmd|' /C calc'!A0\",12\n"
    assert read_back(data, 2) == [["account_name", "followers"], [EVIL, "12"]]


# -- arbitrary text --------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(cell_text, st.one_of(st.none(), cell_text), cell_text), min_size=0, max_size=6))
def test_any_text_in_a_download_reads_back_neutralised_with_the_headers_column_count(
    rows: list[tuple[str, str | None, str]],
) -> None:
    frame = pd.DataFrame(rows, columns=["platform", "account_name", "note"]).assign(value=1.5)
    data = export.frame_csv(frame)
    got = read_back(data, 4)
    assert got[0] == ["platform", "account_name", "note", "value"]
    want = [[neutral(a), "" if b is None else neutral(b), neutral(c), "1.5"] for a, b, c in rows]
    assert got[1:] == want


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(st.one_of(st.none(), cell_text), min_size=1, max_size=5))
def test_a_one_column_download_has_no_empty_line(values: list[str | None]) -> None:
    got = read_back(export.frame_csv(pd.DataFrame({"reason": values})), 1)
    assert got[1:] == [["" if v is None else neutral(v)] for v in values]


def _account_db(folder: Path, account: Account, source_metric: str) -> Path:
    path = folder / "h.duckdb"
    moment = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
    rows = [Observation(account.platform, account.id, "impressions", date(2026, 1, 1), 5.0, source_metric, moment)]
    with writing(path) as con:
        write_account_batch(con, AccountOutcome("r", account, "ok", moment, moment), rows)
    return path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=cell_text.filter(bool), account_id=cell_text.filter(bool), source_metric=cell_text.filter(bool))
def test_any_text_in_the_exports_reads_back_neutralised_with_the_headers_column_count(
    name: str, account_id: str, source_metric: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = _account_db(Path(folder), Account("x", account_id, name), source_metric)
        observations, kpis = io.BytesIO(), io.BytesIO()
        export.write_observations_csv(db, observations)
        export.write_kpis_csv(db, kpis)
        snapshot_download = export.kpis_frame_csv(queries.kpi_snapshot(db))
    got = read_back(observations.getvalue(), len(OBSERVATIONS_HEADER))
    assert got[0] == OBSERVATIONS_HEADER
    (row,) = got[1:]
    assert row[2:4] == [neutral(account_id), neutral(name)] and row[7] == neutral(source_metric)
    kpi_rows = read_back(kpis.getvalue(), len(SNAPSHOT_COLUMNS))
    assert kpi_rows[0] == list(SNAPSHOT_COLUMNS)
    names = {r[SNAPSHOT_COLUMNS.index("account_name")] for r in kpi_rows[1:]}
    assert neutral(name) in names
    assert snapshot_download == kpis.getvalue()


# -- every download button of the dashboard ------------------------------------------------------------------


def _evil_warehouse(path: Path) -> Path:
    seed.build_warehouse(path, full=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("UPDATE accounts SET name = ? || name WHERE NOT competitor", [EVIL + " "])
        con.execute("UPDATE accounts SET name = ? || name WHERE competitor", ['=HYPERLINK("x")\n-1+1 '])
        for table, column in (("run_accounts", "reason"), ("account_runs", "last_reason")):  # runs, latest run
            con.execute(f"UPDATE {table} SET {column} = ? || {column} WHERE {column} IS NOT NULL", ["\r@SUM(A1)\r\n"])
        con.execute("UPDATE metric_notes SET note = ?", ["retired\r=1+1"])
    finally:
        con.close()
    return path


def test_every_download_button_of_the_dashboard_is_quoted_and_neutralised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamlit

    from tests.test_dashboard import open_page, run_app

    db = _evil_warehouse(tmp_path / "evil.duckdb")
    downloads: dict[str, bytes] = {}
    real = streamlit.download_button

    def recording(label: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        downloads[label] = data() if callable(data) else data
        return real(label, data, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", recording)
    at = run_app(monkeypatch, db)
    assert not at.exception, [e.value for e in at.exception]
    for page in ("platforms", "competitors", "website", "roi", "health"):
        open_page(at, page)
    assert {"Download KPIs CSV", "Download failures CSV", "Download accounts CSV"} <= set(downloads)
    assert len(downloads) >= 8, sorted(downloads)
    seen = ""
    for label, data in downloads.items():
        assert isinstance(data, bytes), label
        header = strict_rows(data)[0]
        rows = read_back(data, len(header))
        seen += repr(rows)
    for text in (EVIL, "\r@SUM(A1)\r\n", "retired\r=1+1"):
        assert repr(text)[1:-1] in seen, text  # the evil texts did reach the downloads, inside quotes


# -- one writer -------------------------------------------------------------------------------------------------


def test_csv_is_produced_in_one_place() -> None:
    """No second CSV writer anywhere in the code: every CSV goes through ``export.write_csv``."""
    writers = re.compile(r"csv\.writer|csv\.DictWriter|\.to_csv\(|FORMAT\s+csv|FORMAT\s+'csv'", re.IGNORECASE)
    offenders = []
    for folder in ("collectors", "warehouse", "socialkpi"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "warehouse" / "export.py":
                continue
            offenders += [f"{path.relative_to(ROOT)}:{n}" for n, line in enumerate(path.read_text().splitlines(), 1)
                          if writers.search(line)]  # fmt: skip
    assert not writers.search((ROOT / "dashboard.py").read_text())
    assert offenders == []
    source = (ROOT / "warehouse" / "export.py").read_text()
    assert source.count("execute(f\"COPY") == 1 and "csv.writer" not in source
