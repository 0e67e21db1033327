"""import-csv: every row validated, all or nothing, re-import changes nothing, an export imports back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from socialkpi.cli import main
from warehouse.imports import ImportRejected, import_csv

HEADER = "date,platform,account_id,account_name,competitor,metric,value,source_metric,collected_at\n"
NOW = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)


def rows(db: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT * FROM observations ORDER BY ALL").fetchall()
    finally:
        con.close()


def test_import_then_reimport_changes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "manual.csv"
    src.write_text(
        HEADER
        + "2026-03-01,manual,newsletter,Newsletter,false,followers,412,mailchimp,\n"
        + "2026-03-01,manual,yelp,Yelp,false,followers,58,,\n"
        + "2026-03-02,,said-instagram,Saw you on Instagram,false,visits,3,,\n",
        encoding="utf-8",
    )
    db = tmp_path / "wh.duckdb"
    first = import_csv(db, src, now=NOW)
    assert (first.rows, first.written) == (3, 3)
    before = rows(db)
    assert [(r[1], r[2], r[4]) for r in before] == [
        ("newsletter", "followers", 412.0),
        ("said-instagram", "visits", 3.0),
        ("yelp", "followers", 58.0),
    ]
    assert {r[0] for r in before} == {"manual"}
    second = import_csv(db, src, now=datetime(2026, 4, 1, tzinfo=UTC))
    assert second.written == 0
    assert rows(db) == before


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("2026-02-30,manual,newsletter,N,false,followers,1,,", "not YYYY-MM-DD"),
        ("2026-03-01,facebook,123,N,false,followers,1,,", "platform must be 'manual'"),
        ("2026-03-01,manual,,N,false,followers,1,,", "account_id is empty"),
        ("2026-03-01,manual,newsletter,N,false,Followers!,1,,", "snake_case"),
        ("2026-03-01,manual,newsletter,N,false,followers,lots,,", "not a number"),
        ("2026-03-01,manual,newsletter,N,false,followers,nan,,", "finite"),
        ("2026-03-01,manual,newsletter,N,maybe,followers,1,,", "true or false"),
        ("2026-03-01,manual,newsletter,N,false,followers,1,,2026-03-01 10:00", "time zone"),
        ("2026-03-01,manual,newsletter,N,false,followers,1,,,extra", "more cells"),
    ],
)
def test_a_bad_row_rejects_the_file_with_its_line_and_reason(tmp_path: Path, line: str, reason: str) -> None:
    src = tmp_path / "bad.csv"
    src.write_text(HEADER + "2026-03-01,manual,yelp,Yelp,false,followers,58,,\n" + line + "\n", encoding="utf-8")
    db = tmp_path / "wh.duckdb"
    with pytest.raises(ImportRejected) as info:
        import_csv(db, src, now=NOW)
    assert info.value.errors[0][0] == 3
    assert reason in info.value.errors[0][1]
    assert not db.exists()  # nothing written, not even the good row


def test_every_bad_row_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text(
        HEADER
        + "2026-03-01,manual,a,A,false,followers,x,,\n"
        + "2026-03-01,manual,b,B,false,followers,2,,\n"
        + "2026-13-01,manual,c,C,false,followers,3,,\n"
        + "2026-03-01,manual,b,B,false,followers,4,,\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as info:
        import_csv(tmp_path / "wh.duckdb", src, now=NOW)
    assert [line for line, _ in info.value.errors] == [2, 4, 5]
    assert "same account, metric and date as line 3" in info.value.errors[2][1]


def test_header_and_encoding_errors(tmp_path: Path) -> None:
    bad_header = tmp_path / "h.csv"
    bad_header.write_text("day,followers\n2026-01-01,3\n", encoding="utf-8")
    with pytest.raises(ImportRejected, match="header lacks"):
        import_csv(tmp_path / "wh.duckdb", bad_header, now=NOW)
    latin = tmp_path / "l.csv"
    latin.write_bytes((HEADER + "2026-03-01,manual,caf\xe9,Caf\xe9,false,followers,1,,\n").encode("latin-1"))
    with pytest.raises(ImportRejected, match="UTF-8"):
        import_csv(tmp_path / "wh.duckdb", latin, now=NOW)


def test_an_export_imports_back_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOCIALKPI_DB", str(tmp_path / "wh.duckdb"))
    src = tmp_path / "manual.csv"
    src.write_text(
        HEADER
        + "2026-03-01,manual,newsletter,Café Ünïcödé 東京,false,followers,412,,2026-03-01T08:00:00Z\n"
        + "2026-03-01,manual,=cmd,'=HYPERLINK(1),true,followers,12.5,,2026-03-01T08:00:00Z\n",
        encoding="utf-8",
    )
    assert main(["import-csv", str(src)]) == 0
    exported = tmp_path / "export.csv"
    assert main(["export", "--table", "observations", "--out", str(exported)]) == 0
    text = exported.read_text(encoding="utf-8")
    assert "'=cmd" in text and "'=HYPERLINK(1)" in text  # neutralised in the export
    before = rows(tmp_path / "wh.duckdb")
    assert main(["import-csv", str(exported)]) == 0
    assert "0 new or changed" in capsys.readouterr().out
    assert rows(tmp_path / "wh.duckdb") == before
    again = tmp_path / "again.csv"
    assert main(["export", "--table", "observations", "--out", str(again)]) == 0
    assert again.read_text(encoding="utf-8") == text


def test_cli_rejects_with_exit_2_and_lists_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOCIALKPI_DB", str(tmp_path / "wh.duckdb"))
    src = tmp_path / "bad.csv"
    src.write_text(HEADER + "2026-03-01,manual,yelp,Yelp,false,followers,many,,\n", encoding="utf-8")
    assert main(["import-csv", str(src)]) == 2
    err = capsys.readouterr().err
    assert "line 2: value 'many' is not a number" in err


@pytest.mark.parametrize("what", ["missing", "folder"])
def test_cli_says_once_when_the_file_itself_cannot_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    # a file that is not there, or a folder, is not a bad row: one line naming the file and why, exit 2,
    # and no warehouse created for it
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "wh.duckdb"
    monkeypatch.setenv("SOCIALKPI_DB", str(db))
    target = tmp_path / "exports"
    if what == "folder":
        target.mkdir()
    assert main(["import-csv", str(target)]) == 2
    err = capsys.readouterr().err
    reason = "No such file or directory" if what == "missing" else "Is a directory"
    assert err == f"socialkpi: error: {target}: nothing imported: cannot read the file: {reason}\n"
    assert not db.exists()
