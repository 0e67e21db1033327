"""The dashboard of an agency's install (issue 15 §1): a picker when there are several businesses, the
overview across them first, and each business's own pages when one is picked; under Streamlit's AppTest
on seeded warehouses (tests/seed.py), with the expected values worked out by hand."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from socialkpi import workspaces
from tests import seed
from warehouse import overview

APP = str(Path(__file__).resolve().parents[1] / "dashboard.py")


def workspace(install: Path, name: str, business: str, *, warehouse: str = "data/socialkpi.duckdb") -> Path:
    folder = install / "workspaces" / name
    folder.mkdir(parents=True)
    (folder / "socialkpi.toml").write_text(
        f'[business]\nname = "{business}"\ntimezone = "Europe/Paris"\n\n[warehouse]\npath = "{warehouse}"\n',
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three workspaces: ``bakery`` (the base seed: 222 failing), ``studio`` (the full seed), ``new``
    (never collected); the install has no warehouse of its own."""
    for name in list(os.environ):
        if name.startswith("SOCIALKPI_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    seed.build_warehouse(workspace(tmp_path, "bakery", "Corner Bakery") / "data" / "socialkpi.duckdb")
    seed.build_warehouse(workspace(tmp_path, "studio", "Yoga Studio", warehouse="wh.duckdb") / "wh.duckdb", full=True)
    workspace(tmp_path, "new", "New Client")
    return tmp_path


def run_app(monkeypatch: pytest.MonkeyPatch, install: Path) -> AppTest:
    monkeypatch.setenv("SOCIALKPI_DB", str(install / "data" / "socialkpi.duckdb"))
    monkeypatch.setenv("SOCIALKPI_WORKSPACES", str(install / "workspaces"))
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_business_summary_by_hand(tmp_path: Path) -> None:
    db = seed.build_warehouse(tmp_path / "seed.duckdb")
    s = overview.business_summary(db)
    audience, previous, _, _ = seed.CARDS_28D["audience"]
    assert (s.audience, s.audience_previous, s.followers_gained) == (audience, previous, 80)
    assert s.growth_pct == pytest.approx(80 / 1593 * 100)
    assert (s.window_start, s.window_end) == (seed.SPLIT, seed.END)
    assert s.last_collection == seed.COLLECTED_AT  # run-1, the newest ok run (run-2 was partial)
    assert s.last_run_status == "partial"
    assert s.accounts == 4 and s.failing == ("facebook/222",)
    duckdb.connect(str(db)).close()  # nothing holds the file once read


def test_the_overview_frame_keeps_every_business(install: Path) -> None:
    choices = workspaces.dashboard_choices(install / "workspaces", install / "data" / "socialkpi.duckdb")
    assert [(c.label, c.business) for c in choices] == [
        ("bakery", "Corner Bakery"), ("new", "New Client"), ("studio", "Yoga Studio"),
    ]  # fmt: skip
    (install / "workspaces" / "new" / "socialkpi.toml").write_text("[business\n", encoding="utf-8")
    frame = workspaces.overview(workspaces.dashboard_choices(install / "workspaces"))
    assert list(frame.columns) == list(overview.OVERVIEW_COLUMNS)
    rows = {r.workspace: r for r in frame.itertuples(index=False)}
    assert rows["bakery"].audience == 1673 and rows["bakery"].failing == "facebook/222"
    assert rows["studio"].audience == seed.FULL_CARDS_28D["audience"][0]
    assert rows["new"].problem.startswith("its configuration cannot be read")
    assert pd.isna(rows["new"].audience) and rows["new"].accounts == 0
    (install / "workspaces" / "new" / "socialkpi.toml").write_text('[business]\nname = "New"\n', encoding="utf-8")
    frame = workspaces.overview(workspaces.dashboard_choices(install / "workspaces"))
    assert frame.loc[frame["workspace"] == "new", "problem"].item() == "no data yet: run socialkpi collect in it"


def test_the_picker_opens_on_the_overview(monkeypatch: pytest.MonkeyPatch, install: Path) -> None:
    at = run_app(monkeypatch, install)
    picker = at.sidebar.selectbox[0]
    assert picker.label == "Business"
    assert picker.options == ["All businesses (overview)", "bakery", "new", "studio"]
    assert at.title[0].value == "All businesses"
    table = at.dataframe[0].value
    assert list(table["workspace"]) == ["bakery", "new", "studio"]
    assert list(table["audience"].fillna(-1)) == [1673, -1, seed.FULL_CARDS_28D["audience"][0]]
    assert list(table["failing_accounts"]) == [1, 0, 1]
    assert [w.value for w in at.warning] == [
        "bakery: 1 account(s) failing: facebook/222", "studio: 1 account(s) failing: facebook/222",
    ]  # fmt: skip
    assert [i.value for i in at.info] == ["new: no data yet: run socialkpi collect in it"]
    assert [b.label for b in at.get("download_button")] == ["Download CSV"]  # type: ignore[attr-defined]
    assert not at.metric  # no business's pages under the overview


def test_picking_a_business_shows_its_own_pages(monkeypatch: pytest.MonkeyPatch, install: Path) -> None:
    at = run_app(monkeypatch, install)
    at.sidebar.selectbox[0].set_value("bakery").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Overview"
    assert {m.label: m.value for m in at.metric}["Audience (followers)"] == "1,673"
    at.sidebar.selectbox[0].set_value("studio").run()
    assert {m.label: m.value for m in at.metric}["Audience (followers)"] == seed.FULL_CARDS_28D["audience"][3]
    at.sidebar.selectbox[0].set_value("new").run()
    assert not at.exception
    assert "No data yet" in at.info[0].value


def test_one_business_alone_needs_no_picker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    seed.build_warehouse(workspace(tmp_path, "solo", "Solo") / "data" / "socialkpi.duckdb")
    at = run_app(monkeypatch, tmp_path)
    assert not at.sidebar.selectbox
    assert at.title[0].value == "Overview"
    assert {m.label: m.value for m in at.metric}["Audience (followers)"] == "1,673"


def test_the_install_s_own_warehouse_is_one_more_choice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    workspace(tmp_path, "client", "Client")
    seed.build_warehouse(tmp_path / "data" / "socialkpi.duckdb")
    at = run_app(monkeypatch, tmp_path)
    assert at.sidebar.selectbox[0].options == ["All businesses (overview)", "client", "(this folder)"]
    at.sidebar.selectbox[0].set_value("(this folder)").run()
    assert {m.label: m.value for m in at.metric}["Audience (followers)"] == "1,673"


def test_socialkpi_dashboard_offers_the_workspaces_of_its_folder_only(install: Path) -> None:
    env = {"SOCIALKPI_WORKSPACES": "/elsewhere"}
    workspaces.offer_to_dashboard(env)
    assert env == {"SOCIALKPI_WORKSPACES": str(install / "workspaces")}
    with workspaces.inside(install / "workspaces" / "bakery"):  # socialkpi --workspace bakery dashboard
        workspaces.offer_to_dashboard(env)
    assert env == {}
