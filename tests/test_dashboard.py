"""dashboard.py under Streamlit's AppTest (no server, no browser) on a seeded warehouse."""

from __future__ import annotations

import io
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests import seed
from warehouse import export, queries

APP = str(Path(__file__).resolve().parents[1] / "dashboard.py")
LABELS = {
    "audience": "Audience (followers)",
    "impressions": "Impressions (times shown)",
    "reach": "Reach (avg people/day)",
    "page_views": "Website page views (views)",
    "social_visits": "Visits from social (sessions)",
}


def run_app(monkeypatch: pytest.MonkeyPatch, db: Path) -> AppTest:
    monkeypatch.setenv("SOCIALKPI_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    return at


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return seed.build_warehouse(tmp_path / "seed.duckdb")


def test_dashboard_shows_hand_computed_kpis(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    at = run_app(monkeypatch, db)
    assert not at.exception, [e.value for e in at.exception]
    shown = {m.label: (m.value, m.delta) for m in at.metric}
    assert shown == {LABELS[key]: (value, delta) for key, (_, _, delta, value) in seed.CARDS_28D.items()}
    assert at.get("vega_lite_chart") or at.get("arrow_vega_lite_chart")
    buttons = at.get("download_button")
    assert [b.label for b in buttons] == ["Download KPIs CSV"]  # type: ignore[attr-defined]
    assert any("1 account failing" in c.value for c in at.caption)
    assert any("2026-03-10 06:30 UTC" in c.value for c in at.caption)
    # The app holds no lock once it has run: a read-write connection succeeds.
    duckdb.connect(str(db)).close()


def test_dashboard_filters(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    at = run_app(monkeypatch, db)
    at.sidebar.multiselect[0].set_value(["ga4"]).run()
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    assert shown[LABELS["audience"]] == "—"
    assert shown[LABELS["page_views"]] == "9,240"
    at.sidebar.date_input[0].set_value((seed.END, seed.END)).run()
    assert {m.label: m.value for m in at.metric}[LABELS["page_views"]] == "330"
    at.sidebar.multiselect[0].set_value([]).run()
    assert not at.exception
    assert not at.metric and "at least one platform" in at.warning[0].value


def test_snapshot_table_and_csv_agree(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    at = run_app(monkeypatch, db)
    expected = io.BytesIO()
    export.write_kpis_csv(db, expected, since=seed.SPLIT, until=seed.END, period="month")
    snapshot_rows = len(queries.kpi_snapshot(db, seed.SPLIT, seed.END))
    assert expected.getvalue().count(b"\n") == snapshot_rows + 1
    assert len(at.dataframe) >= 1
    assert any(len(df.value) == snapshot_rows for df in at.dataframe)


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_empty_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "socialkpi.duckdb"
    if kind == "empty":
        seed.build_empty_warehouse(path)
    at = run_app(monkeypatch, path)
    assert not at.exception
    assert not at.metric
    message = at.info[0].value
    assert "make demo" in message and "socialkpi collect" in message
    assert path.exists() == (kind == "empty")  # the app never creates a warehouse


def test_foreign_file_is_an_error_not_a_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    at = run_app(monkeypatch, path)
    assert not at.exception
    assert "not a socialkpi warehouse" in at.error[0].value
