"""``socialkpi export --format xlsx``: a real workbook, read back with openpyxl, cell by cell against the CSV.

Every cell of both tables is compared with the same cell of the CSV export (the contract's format):
dates are dates, numbers numbers, booleans booleans, text text (never a formula, with Excel's quote
prefix where the CSV neutralises), an empty CSV field an empty cell.  The sheets are checked as a
French or German Excel reads them: a frozen header row, widths, no formula anywhere in the XML.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from collectors.observation import Account, Observation
from tests import seed
from warehouse import export, export_xlsx
from warehouse.db import writing
from warehouse.load import AccountOutcome, write_account_batch

ROOT = Path(__file__).resolve().parents[1]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ODD = Account("manual", "=HYPERLINK(\"http://x\")", "Café =1+1 «Zürich» ü", competitor=True)
AT = datetime(2026, 3, 10, 6, 30, 15, 250000, tzinfo=UTC)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = seed.build_warehouse(tmp_path_factory.mktemp("wh") / "seed.duckdb", full=True)
    rows = [
        Observation("manual", ODD.id, "followers", date(2026, 3, 1), 412, "-subscribers", AT),
        Observation("manual", ODD.id, "engagement_rate", date(2026, 3, 1), 0.0667, "@rate", AT),
        Observation("manual", ODD.id, "visits", date(2026, 3, 2), 123456789012, "+visits\t", AT),
    ]
    with writing(path) as con:
        write_account_batch(con, AccountOutcome("run-x", ODD, "ok", AT, AT), rows)
    return path


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def neutralised(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


def assert_cell_equals_csv(cell: Any, field: str, column: export_xlsx.Column) -> None:
    """The typed cell ``cell`` holds what the CSV field ``field`` says, with the type it names."""
    where = f"{column.name} {cell.coordinate}: {cell.value!r} vs CSV {field!r}"
    if field == "" and column.kind != "text":
        assert cell.value is None, where
        return
    if column.kind == "date":
        assert cell.data_type == "d" and cell.is_date, where
        assert cell.value == datetime.fromisoformat(field), where  # midnight of that day
    elif column.kind == "moment":
        assert cell.data_type == "d" and cell.is_date, where
        expected = datetime.fromisoformat(field.removesuffix("Z"))
        assert abs((cell.value - expected).total_seconds()) < 0.001, where  # Excel keeps milliseconds
    elif column.kind == "bool":
        assert cell.data_type == "b" and cell.value is (field == "true"), where
    elif column.kind in ("count", "number", "fraction"):
        assert cell.data_type == "n" and isinstance(cell.value, int | float), where
        assert float(cell.value) == float(field), where
    else:
        assert cell.data_type == "s" and isinstance(cell.value, str), where
        assert neutralised(cell.value) == field, where  # the CSV's ' prefix is Excel's quote prefix here
        assert cell.quotePrefix == cell.value.startswith(FORMULA_START), where


def compare(xlsx: Path, csv_text: str, columns: tuple[export_xlsx.Column, ...], sheet: str) -> int:
    rows = csv_rows(csv_text)
    workbook = openpyxl.load_workbook(xlsx)
    assert workbook.sheetnames == [sheet]
    ws = workbook[sheet]
    got = list(ws.iter_rows())
    assert [c.value for c in got[0]] == rows[0] == [c.name for c in columns]
    assert len(got) == len(rows)
    for cells, fields in zip(got[1:], rows[1:], strict=True):
        for cell, field, column in zip(cells, fields, columns, strict=True):
            assert_cell_equals_csv(cell, field, column)
    return len(rows) - 1


def test_observations_round_trip_every_cell_against_the_csv(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "observations.xlsx"
    count = export_xlsx.write_observations_xlsx(db, out)
    csv_text = io.StringIO()
    export.write_observations_csv(db, csv_text)
    assert compare(out, csv_text.getvalue(), export_xlsx.OBSERVATION_COLUMNS, "observations") == count > 2000
    ws = openpyxl.load_workbook(out)["observations"]
    odd = [r for r in ws.iter_rows(values_only=True) if r[1] == "manual"]
    assert odd[0][2] == ODD.id and odd[0][3] == ODD.name  # the accents and the formula text, as they are
    assert {r[6] for r in odd} == {412, 0.0667, 123456789012}


@pytest.mark.parametrize("period", ["month", "week"])
def test_kpis_round_trip_every_cell_against_the_csv(db: Path, tmp_path: Path, period: str) -> None:
    out = tmp_path / "kpis.xlsx"
    since, until = date(2026, 1, 20), date(2026, 3, 5)
    count = export_xlsx.write_kpis_xlsx(db, out, since=since, until=until, period=period)  # type: ignore[arg-type]
    csv_text = io.StringIO()
    export.write_kpis_csv(db, csv_text, since=since, until=until, period=period)  # type: ignore[arg-type]
    assert compare(out, csv_text.getvalue(), export_xlsx.KPI_COLUMNS, "kpis") == count > 10
    ws = openpyxl.load_workbook(out)["kpis"]
    header = [c.value for c in ws[1]]
    rate = ws.cell(row=2, column=header.index("engagement_rate") + 1)
    followers = ws.cell(row=2, column=header.index("followers") + 1)
    assert rate.number_format == "0.00%" and followers.number_format == "#,##0"


def test_the_sheet_reads_right_anywhere_frozen_header_widths_and_no_formula(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "observations.xlsx"
    export_xlsx.write_observations_xlsx(db, out)
    ws = openpyxl.load_workbook(out)["observations"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:I{ws.max_row}"
    assert all(c.font.b for c in ws[1])
    widths = {letter: ws.column_dimensions[letter].width for letter in "ABCDEFGHI"}
    assert 12 <= widths["A"] < 16  # a date
    assert widths["D"] >= len(ODD.name)  # account_name: the longest name fits
    assert widths["I"] >= 19  # 2026-03-10 06:30:15
    assert all(8 <= w <= export_xlsx.MAX_WIDTH + 1 for w in widths.values())
    dates = {ws.cell(row=r, column=1).number_format for r in range(2, 50)}
    assert dates == {"mm-dd-yy"}  # built-in format 14: each reader's own short date (10.03.2026 in Berlin)
    with zipfile.ZipFile(out) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
        strings = z.read("xl/sharedStrings.xml").decode("utf-8") if "xl/sharedStrings.xml" in z.namelist() else ""
        styles = z.read("xl/styles.xml").decode("utf-8")
    assert "<f>" not in sheet and "<f " not in sheet  # not one formula
    assert 'quotePrefix="1"' in styles
    assert "Café =1+1" in sheet + strings  # UTF-8 inside the workbook: no "CafÃ©"


def test_a_long_export_goes_on_in_a_second_sheet_with_its_header(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_xlsx, "SHEET_ROWS", 1000)
    out = tmp_path / "observations.xlsx"
    count = export_xlsx.write_observations_xlsx(db, out)
    workbook = openpyxl.load_workbook(out)
    sheets = workbook.sheetnames
    assert sheets[:2] == ["observations", "observations (2)"] and len(sheets) == -(-count // 999)
    rows = []
    for name in sheets:
        values = list(workbook[name].iter_rows(values_only=True))
        assert values[0] == tuple(c.name for c in export_xlsx.OBSERVATION_COLUMNS)
        assert len(values) <= 1000 and workbook[name].freeze_panes == "A2"
        rows += values[1:]
    csv_text = io.StringIO()
    export.write_observations_csv(db, csv_text)
    assert len(rows) == count == len(csv_rows(csv_text.getvalue())) - 1
    assert [(r[0].date().isoformat(), r[1], neutralised(r[2]), r[5]) for r in rows] == [
        (f[0], f[1], f[2], f[5]) for f in csv_rows(csv_text.getvalue())[1:]
    ]


def socialkpi(cwd: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    env["SOCIALKPI_DB"] = kw.pop("db")
    if "stdout" not in kw:
        kw["capture_output"] = True
    return subprocess.run([sys.executable, "-m", "socialkpi.cli", *args], cwd=cwd, env=env, timeout=120, **kw)


def test_the_command_writes_the_workbook_and_csv_stays_the_default(db: Path, tmp_path: Path) -> None:
    done = socialkpi(tmp_path, "export", "--table", "kpis", "--format", "xlsx", "--out", "kpis.xlsx", db=str(db))
    assert done.returncode == 0, done.stderr
    assert openpyxl.load_workbook(tmp_path / "kpis.xlsx").sheetnames == ["kpis"]
    piped = socialkpi(tmp_path, "export", "--format", "xlsx", db=str(db))  # standard output is a pipe here
    assert piped.returncode == 0 and piped.stdout.startswith(b"PK\x03\x04"), piped.stderr
    assert openpyxl.load_workbook(io.BytesIO(piped.stdout)).sheetnames == ["observations"]
    default = socialkpi(tmp_path, "export", db=str(db))
    explicit = socialkpi(tmp_path, "export", "--format", "csv", db=str(db))
    assert default.returncode == explicit.returncode == 0
    assert default.stdout == explicit.stdout and default.stdout.startswith(export.OBSERVATIONS_HEADER.encode())


def test_xlsx_to_a_terminal_is_refused_with_one_line(db: Path, tmp_path: Path) -> None:
    import pty

    leader, follower = pty.openpty()
    try:
        done = socialkpi(tmp_path, "export", "--format", "xlsx", db=str(db), stdout=follower, stderr=subprocess.PIPE)
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2
    assert done.stderr.decode().strip().splitlines() == [
        "socialkpi: error: --format xlsx writes a binary workbook: give --out FILE.xlsx (or redirect the output)"
    ]


def test_a_text_longer_than_an_excel_cell_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "long.duckdb"
    long_name = Account("manual", "newsletter", "N" * (export_xlsx.CELL_CHARS + 1))
    with writing(path) as con:
        write_account_batch(
            con,
            AccountOutcome("r", long_name, "ok", AT, AT),
            [Observation("manual", "newsletter", "followers", date(2026, 3, 1), 1, "", AT)],
        )
    (tmp_path / "out.xlsx").write_bytes(b"old")
    done = socialkpi(tmp_path, "export", "--format", "xlsx", "--out", "out.xlsx", db=str(path))
    assert done.returncode == 2
    [line] = done.stderr.decode().splitlines()
    assert "32,768 characters is more than an Excel cell holds (32,767)" in line and "export it as CSV" in line
    assert (tmp_path / "out.xlsx").read_bytes() == b"old"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]  # no temp left
