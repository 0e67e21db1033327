"""dashboard.py under Streamlit's AppTest (no server, no browser): every page on a seeded warehouse,
with the expected values worked out by hand (tests/seed.py)."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests import seed
from warehouse import competitors, export, health, queries

APP = str(Path(__file__).resolve().parents[1] / "dashboard.py")
LABELS = {
    "audience": "Audience (followers)",
    "impressions": "Impressions (times shown)",
    "reach": "Reach (avg people/day)",
    "engagements": "Engagements (interactions)",
    "engagement_rate": "Engagement rate (% of impressions)",
    "profile_views": "Profile views (views)",
    "link_clicks": "Link clicks (clicks)",
    "page_views": "Website page views (views)",
    "visits": "Website visits (sessions)",
    "social_visits": "Visits from social (sessions)",
    "social_share": "Social share of visits (% of visits)",
}


def run_app(monkeypatch: pytest.MonkeyPatch, db: Path, password: str | None = None) -> AppTest:
    monkeypatch.setenv("SOCIALKPI_DB", str(db))
    if password is None:
        monkeypatch.delenv("SOCIALKPI_DASHBOARD_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("SOCIALKPI_DASHBOARD_PASSWORD", password)
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    return at


def open_page(at: AppTest, url_path: str) -> AppTest:
    """Switch to an st.Page built from a callable.

    AppTest.switch_page() only knows file pages; a callable page's script hash is the hash of its
    url_path (streamlit/navigation/page.py), which is what a browser's /<url_path> selects.
    """
    from streamlit.util import calc_hash

    at._page_hash = calc_hash(url_path)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.get("download_button")]  # type: ignore[attr-defined]


def metrics(at: AppTest) -> dict[str, tuple[str, str | None]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def line_charts(at: AppTest) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """Each line chart of the page: its line layer's encoding and the rows it draws, in page order."""
    import pyarrow as pa

    out = []
    for chart in at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart"):
        proto: Any = chart.proto
        spec = json.loads(proto.spec)
        [line] = [layer for layer in spec.get("layer", [spec]) if layer["mark"]["type"] == "line"]
        [dataset] = proto.datasets  # the seeds have no metric break: the line's data only
        out.append((line["encoding"], pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()))
    return out


def drawn(encoding: dict[str, Any], rows: pd.DataFrame, color: str) -> dict[tuple[date, str], float]:
    """``{(day, line): value}`` of a chart with time on x, the value on y and one line per ``color``."""
    assert (encoding["x"]["field"], encoding["x"]["type"]) == ("date", "temporal")
    assert (encoding["y"]["field"], encoding["y"]["type"]) == ("value", "quantitative")
    assert (encoding["color"]["field"], encoding["color"]["type"]) == (color, "nominal")
    got = {(pd.Timestamp(r.date).date(), getattr(r, color)): float(r.value) for r in rows.itertuples()}
    assert len(got) == len(rows), "one point per day and line"
    return got


def stored(db: Path, sql: str, *params: Any) -> dict[tuple[date, str], float]:
    """The warehouse's own numbers, straight from its observations: ``sql`` gives (day, line, value)."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {(day, line): float(value) for day, line, value in con.execute(sql, list(params)).fetchall()}


OWN_SUM = """
    SELECT o.observed_on, o.{line}, sum(o.value) FROM observations o
    LEFT JOIN accounts a USING (platform, account_id)
    WHERE NOT coalesce(a.competitor, false) AND o.observed_on BETWEEN ? AND ? AND {where}
    GROUP BY ALL
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return seed.build_warehouse(tmp_path / "seed.duckdb")


@pytest.fixture
def full(tmp_path: Path) -> Path:
    return seed.build_warehouse(tmp_path / "full.duckdb", full=True)


def test_overview_shows_hand_computed_kpis(monkeypatch: pytest.MonkeyPatch, full: Path) -> None:
    at = run_app(monkeypatch, full)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Overview"
    want = {LABELS[key]: (shown, delta) for key, (_, _, delta, shown) in seed.FULL_CARDS_28D.items()}
    assert metrics(at) == want
    assert [s.value for s in at.subheader][:2] == ["Social", "Website"]
    # the daily trend: per day and metric, the sum over the own accounts of what the warehouse stores
    from socialkpi.pages.overview import TREND_METRICS

    [(encoding, rows)] = line_charts(at)
    trend = OWN_SUM.format(line="metric", where="list_contains(?::VARCHAR[], o.metric)")
    want = stored(full, trend, seed.SPLIT, seed.END, list(TREND_METRICS))
    assert drawn(encoding, rows, "metric") == want and len(want) == 28 * len(TREND_METRICS)
    assert buttons(at) == ["Download KPIs CSV"]
    assert any("1 account failing · 1 token to renew soon" in c.value for c in at.caption)  # seed's LinkedIn token
    assert any("2026-03-10 06:30 UTC" in c.value for c in at.caption)
    assert any("11 Feb 2026 – 10 Mar 2026 (28 days)" in c.value for c in at.caption)
    # The app holds no lock once it has run: a read-write connection succeeds.
    duckdb.connect(str(full)).close()


def test_overview_on_the_base_seed(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    at = run_app(monkeypatch, db)
    assert not any("to renew" in c.value for c in at.caption)  # no token file, no token warning
    shown = metrics(at)
    for key, (_, _, delta, value) in seed.CARDS_28D.items():
        assert shown[LABELS[key]] == (value, delta), key
    # 111 and 222 only: 28 * 10 + 26 * 5 = 410 vs 28 * 15 = 420; no website visits share without visits change
    assert shown[LABELS["engagements"]] == ("410", "-2.4%")
    assert shown[LABELS["engagement_rate"]][0] == f"{410 / 5240 * 100:.2f}%"


def test_filters(monkeypatch: pytest.MonkeyPatch, full: Path) -> None:
    at = run_app(monkeypatch, full)
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
    assert any(len(df.value) == snapshot_rows for df in at.dataframe)
    at.radio[0].set_value("week").run()
    assert not at.exception
    assert any(s.value == "KPI snapshot per week (all platforms and accounts)" for s in at.subheader)


def test_platforms_page(monkeypatch: pytest.MonkeyPatch, full: Path) -> None:
    at = open_page(run_app(monkeypatch, full), "platforms")
    assert at.title[0].value == "Platforms"
    # followers last value vs the previous 28 days: facebook 1673 vs 1593, instagram 2177 vs 2093,
    # linkedin 359 vs 331, x 859 vs 831
    assert metrics(at) == {
        "facebook (followers)": ("1,673", "+5.0%"),
        "instagram (followers)": ("2,177", "+4.0%"),
        "linkedin (followers)": ("359", "+8.5%"),
        "x (followers)": ("859", "+3.4%"),
    }
    table = at.dataframe[0].value.set_index("platform")
    assert list(table.index) == ["facebook", "instagram", "linkedin", "x", "all"]
    assert table.loc["all", "impressions"] == 12520 and table.loc["all", "net_growth"] == 220
    assert table.loc["instagram", "engagement_rate"] == pytest.approx(336 / 5600)
    assert buttons(at) == ["Download CSV"]
    # followers, then impressions, per day and platform: summed over the platform's own accounts
    charts = line_charts(at)
    assert len(charts) == 2
    for (encoding, rows), metric in zip(charts, ("followers", "impressions"), strict=True):
        want = stored(full, OWN_SUM.format(line="platform", where="o.metric = ?"), seed.SPLIT, seed.END, metric)
        assert drawn(encoding, rows, "platform") == want and want, metric


def test_competitors_page(monkeypatch: pytest.MonkeyPatch, full: Path) -> None:
    at = open_page(run_app(monkeypatch, full), "competitors")
    assert at.title[0].value == "Competitors"
    assert metrics(at) == {
        "facebook": ("23.0%", "-0.04 pp"),  # 1673/7263 vs 1593/6903
        "instagram": ("24.5%", "-0.22 pp"),  # 2177/8885 vs 2093/8465
        "linkedin": ("25.0%", "+0.00 pp"),  # 359/1436 vs 331/1324
        "x": ("41.7%", "+0.80 pp"),  # 859/2059 vs 831/2031
    }
    side = at.dataframe[0].value.set_index("account_id")
    assert side.loc["ig_rival", "posts_per_week"] == 7.0 and side.loc["ig1", "posts_per_week"] == 3.5
    assert side.loc["rival_x", "posts_published"] == 56 and side.loc["999", "followers"] == 5590
    assert buttons(at) == ["Download CSV", "Download share of voice CSV"]
    # followers over time: one line per account, own and competitors, of the platforms compared above
    [(encoding, rows)] = line_charts(at)
    by_account = """
        SELECT o.observed_on, a.name || ' (' || o.platform || ')' || CASE WHEN a.competitor THEN ' · competitor'
               ELSE '' END, o.value
        FROM observations o JOIN accounts a USING (platform, account_id)
        WHERE o.metric = 'followers' AND o.observed_on BETWEEN ? AND ? AND list_contains(?::VARCHAR[], o.platform)
    """
    want = stored(full, by_account, seed.SPLIT, seed.END, ["facebook", "instagram", "linkedin", "x"])
    assert drawn(encoding, rows, "account") == want
    competitor = {line.endswith(" · competitor") for _, line in want}
    assert competitor == {True, False}, "own accounts and competitors, side by side"


def test_competitors_page_without_competitors(monkeypatch: pytest.MonkeyPatch, full: Path) -> None:
    at = open_page(run_app(monkeypatch, full), "competitors")
    at.sidebar.multiselect[0].set_value(["ga4"]).run()
    assert not at.exception and not at.metric
    assert "competitor = true" in at.info[0].value


def test_website_page(monkeypatch: pytest.MonkeyPatch, full: Path) -> None:
    at = open_page(run_app(monkeypatch, full), "website")
    assert at.title[0].value == "Website"
    assert metrics(at) == {
        LABELS["page_views"]: ("9,240", "+10.0%"),
        LABELS["visits"]: ("2,800", "+0.0%"),
        LABELS["social_visits"]: ("700", "+25.0%"),
        LABELS["social_share"]: ("25.00%", "+5.00 pp"),
    }
    networks = at.dataframe[0].value
    assert list(networks["network"]) == ["facebook", "instagram", "x"]
    assert list(networks["visits"]) == [28 * 12, 28 * 10, 28 * 3]
    assert buttons(at) == ["Download CSV"]
    at.sidebar.multiselect[0].set_value(["facebook"]).run()
    assert not at.exception and "No website data" in at.info[0].value


def test_roi_page(monkeypatch: pytest.MonkeyPatch, full: Path) -> None:
    at = open_page(run_app(monkeypatch, full), "roi")
    assert at.title[0].value == "ROI"


def test_data_health_page(monkeypatch: pytest.MonkeyPatch, full: Path) -> None:
    at = open_page(run_app(monkeypatch, full), "health")
    assert at.title[0].value == "Data health"
    assert "1 account(s) failed" in at.error[0].value
    frames = [df.value for df in at.dataframe]
    failures = frames[0]
    assert list(failures["reason"]) == [seed.FAILED_REASON]
    missing = next(f for f in frames if "days_missing" in f.columns).set_index("account_id")
    assert missing.loc["222", "days_missing"] == 1 and missing.loc["rival_x", "days_missing"] == 2
    assert missing["days_missing"].sum() == 3
    assert missing.loc["222", "days_not_yet_available"] == 1  # 03-10: Page Insights end yesterday
    tokens = next(f for f in frames if "expires_at" in f.columns)
    assert list(tokens["platform"]) == ["linkedin", "x"]
    assert any("linkedin · Corner Bakery: the access token" in w.value for w in at.warning)
    creds = next(f for f in frames if "comes_from" in f.columns).set_index("account_id")
    assert creds.loc["corner_x", "comes_from"] == "token store (socialkpi connect)"
    assert creds.loc["corner_x", "ends"] == "renewed by collect"
    assert creds.loc["corner_x", "renew"] == "socialkpi connect x"
    assert creds.loc["li1", "comes_from"] == ".env / environment: SOCIALKPI_LINKEDIN_TOKEN"
    assert creds.loc["li1", "ends"] == f"{seed.TOKEN_EXPIRES:%Y-%m-%d}"
    renew = "update SOCIALKPI_LINKEDIN_TOKEN in .env, or socialkpi connect linkedin"
    assert creds.loc["li1", "renew"].startswith(renew)
    assert creds.loc["ig1", "comes_from"] == "not recorded yet (run collect)"
    skipped = next(f for f in frames if "source_metric" in f.columns)
    assert list(skipped["source_metric"]) == ["website_clicks"]
    for frame in frames:
        text = frame.to_csv()
        assert seed.TOKEN_SECRET not in text and seed.REFRESH_SECRET not in text
    assert seed.TOKEN_SECRET not in str(at._tree)
    assert "Download missing days CSV" in buttons(at) and "Download token expiry CSV" in buttons(at)
    assert "Download credentials CSV" in buttons(at)
    # the calendar: each account's missing cells are the days the table counts (its colours and order:
    # test_data_health_calendar_draws_the_table)
    spec, cells = chart_data(at)
    assert spec["encoding"]["color"]["field"] == "status"
    gaps = cells[cells["status"] == health.COVERAGE_MISSING].groupby("account_id").size()
    assert gaps.to_dict() == {a: n for a, n in missing["days_missing"].items() if n}


def chart_data(at: AppTest) -> tuple[dict[str, Any], pd.DataFrame]:
    """The Vega-Lite spec of the page's one chart and the rows it draws (the Arrow dataset Streamlit sends)."""
    import pyarrow as pa

    (chart,) = at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    proto: Any = chart.proto
    (dataset,) = proto.datasets
    return json.loads(proto.spec), pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()


def test_data_health_calendar_draws_the_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Issue 11 item 18: the calendar's cells and the missing-days table come from one query; days a source
    cannot have yet (web analytics end yesterday, YouTube Analytics three days back) are "not yet available"
    in both, never missing (tests/seed.py HEALTH_*)."""
    db = seed.build_health_warehouse(tmp_path / "health.duckdb")
    at = open_page(run_app(monkeypatch, db), "health")
    spec, cells = chart_data(at)
    table = next(df.value for df in at.dataframe if "days_missing" in df.value.columns)
    assert list(table.columns[-4:]) == ["days_missing", "first_missing", "last_missing", "days_not_yet_available"]

    def day(value: Any) -> date | None:
        return None if pd.isna(value) else pd.Timestamp(value).date()

    shown = {
        r.account_id: (int(r.days_missing), day(r.first_missing), day(r.last_missing), int(r.days_not_yet_available))
        for r in table.itertuples()
    }
    assert shown == seed.HEALTH_EXPECTED
    # every account's row of cells, counted, is its row of the table
    assert len(cells) == len(seed.HEALTH_ACCOUNTS) * 28
    for account_id, (n_missing, first, last, n_later) in shown.items():
        own = cells[cells["account_id"] == account_id]
        missing = own[own["status"] == health.COVERAGE_MISSING]["date"].dt.date
        assert len(missing) == n_missing and (min(missing, default=None), max(missing, default=None)) == (first, last)
        assert (own["status"] == health.COVERAGE_NOT_YET).sum() == n_later, account_id
        assert own["date"].dt.date.tolist() == list(seed.days(seed.HEALTH_START, seed.HEALTH_END))
    # each status has its own colour, and the rows are the table's accounts in the table's order
    assert spec["encoding"]["color"]["scale"]["domain"] == list(health.COVERAGE_STATUSES)
    assert len(set(spec["encoding"]["color"]["scale"]["range"])) == len(health.COVERAGE_STATUSES)
    labels = cells.drop_duplicates("account_id").set_index("account_id")["account"]
    assert spec["encoding"]["y"]["sort"] == [labels[a] for a in table["account_id"]]
    # one band per day on x (a bare temporal x drew every cell the whole width), in the browser's time zone
    assert (spec["encoding"]["x"]["type"], spec["encoding"]["x"]["timeUnit"]) == ("ordinal", "yearmonthdate")
    (caption,) = [c.value for c in at.caption if "Not yet available" in c.value]
    assert f"after {seed.HEALTH_END:%d %b %Y}" in caption
    assert "(facebook, ga4: 1 day; youtube: 3 days)" in caption  # the registry's delays of the own accounts


def test_data_health_with_many_accounts_starts_the_calendar_with_those_missing_days(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """More accounts than the calendar shows at once (40 > CALENDAR_ACCOUNTS): it holds the three that
    miss days, a picker adds any other, and the table under it still lists every account."""
    from socialkpi.pages import common

    assert len(seed.MANY_ACCOUNTS) > common.CALENDAR_ACCOUNTS
    db = seed.build_many_warehouse(tmp_path / "many.duckdb")
    monkeypatch.setenv("SOCIALKPI_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.sidebar.date_input[0].set_value((seed.MANY_START, seed.MANY_END)).run()
    at = open_page(at, "health")
    table = next(df.value for df in at.dataframe if "days_missing" in df.value.columns).set_index("account_id")
    assert len(table) == 40
    assert {a: int(n) for a, n in table["days_missing"].items() if n} == {a: len(g) for a, g in seed.MANY_GAPS.items()}
    assert any("3 of 40 accounts miss days" in w.value for w in at.warning)
    _, cells = chart_data(at)
    assert sorted(set(cells["account_id"])) == ["p03", "p07", "p11"]
    assert len(cells) == 3 * 10
    missing = cells[cells["status"] == health.COVERAGE_MISSING]
    assert {a: len(g) for a, g in missing.groupby("account_id")} == {a: len(g) for a, g in seed.MANY_GAPS.items()}
    (picker,) = [m for m in at.multiselect if m.label == "Accounts in the calendar"]
    picker.select(("facebook", "p20")).run()
    _, cells = chart_data(at)
    assert sorted(set(cells["account_id"])) == ["p03", "p07", "p11", "p20"]
    assert set(cells[cells["account_id"] == "p20"]["status"]) == {health.COVERAGE_STORED}
    assert len(next(df.value for df in at.dataframe if "days_missing" in df.value.columns)) == 40


def test_data_health_with_few_accounts_has_no_picker(monkeypatch: pytest.MonkeyPatch, full: Path) -> None:
    at = open_page(run_app(monkeypatch, full), "health")
    assert [m.label for m in at.multiselect] == ["Platforms"]  # the sidebar's only: no calendar picker


def test_competitors_with_many_accounts_chart_those_with_the_most_followers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """More accounts than one chart tells apart (40 > CHART_ACCOUNTS): the followers chart starts with the
    ten with the most followers, a picker adds others, and the table still lists every account."""
    assert len(seed.MANY_ACCOUNTS) > competitors.CHART_ACCOUNTS == 10
    db = seed.build_many_warehouse(tmp_path / "many.duckdb")
    monkeypatch.setenv("SOCIALKPI_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.sidebar.date_input[0].set_value((seed.MANY_START, seed.MANY_END)).run()
    at = open_page(at, "competitors")
    assert len(at.dataframe[0].value) == 40
    _, lines = chart_data(at)
    assert sorted(set(lines["account_id"])) == [f"p{n}" for n in range(30, 40)]
    assert len(lines) == 10 * 10
    (picker,) = [m for m in at.multiselect if m.label == "Accounts in the chart"]
    picker.select(("facebook", "p03")).run()
    _, lines = chart_data(at)
    assert sorted(set(lines["account_id"])) == ["p03", *(f"p{n}" for n in range(30, 40))]
    assert lines[lines["account_id"] == "p03"]["value"].tolist() == [130.0 + i for i in (0, 1, 2, 5, 6, 7, 8, 9)]


def test_password_wrong_shows_only_the_prompt(monkeypatch: pytest.MonkeyPatch, full: Path) -> None:
    at = run_app(monkeypatch, full, password="s3cret-pass")
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Password"]
    assert not at.metric and not at.title and not at.sidebar.multiselect
    at.text_input[0].input("wrong").run()
    assert not at.exception
    assert not at.metric and not at.title and not at.dataframe
    assert at.error[0].value == "Wrong password."


def test_password_right_shows_the_overview(monkeypatch: pytest.MonkeyPatch, full: Path) -> None:
    at = run_app(monkeypatch, full, password="s3cret-pass")
    at.text_input[0].input("s3cret-pass").run()
    assert not at.exception
    assert at.title[0].value == "Overview"
    assert metrics(at)[LABELS["audience"]] == ("5,068", "+4.5%")
    assert not at.text_input  # the prompt is gone
    at.run()  # stays signed in on the next rerun
    assert metrics(at)[LABELS["audience"]] == ("5,068", "+4.5%")


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
