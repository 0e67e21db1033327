"""KPI queries against a real seeded DuckDB file, with values worked out by hand (tests/seed.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from tests import seed
from tests.seed import END, SPLIT
from warehouse import competitors, formatting, health, kpi_cards, kpis, queries, query_parts, website
from warehouse.access import WarehouseMissing, page_reads
from warehouse.db import WarehouseError
from warehouse.snapshot import SNAPSHOT_COLUMNS, TOTAL_NAME
from warehouse.tokens import token_rows, token_warnings


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed.build_warehouse(tmp_path_factory.mktemp("wh") / "seed.duckdb")


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed.build_warehouse(tmp_path_factory.mktemp("wh") / "full.duckdb", full=True)


def cards(db: Path, start: date, end: date, platforms: list[str] | None = None) -> dict[str, kpis.Kpi]:
    return {k.key: k for k in kpi_cards.kpi_cards(db, start, end, platforms)}


def test_bounds_platforms_accounts(db: Path) -> None:
    assert queries.date_bounds(db) == queries.DateBounds(seed.START, END)
    assert queries.platforms(db) == ["facebook", "ga4"]
    acc = queries.accounts(db)
    assert list(acc["account_id"]) == ["111", "222", "999", "333"]
    assert list(acc["competitor"]) == [False, False, True, False]
    assert acc.loc[acc["account_id"] == "222", "newest_day"].iloc[0].date() == seed.B_END


def test_previous_period_has_the_same_length() -> None:
    assert kpis.previous_period(SPLIT, END) == (date(2026, 1, 14), date(2026, 2, 10))
    assert kpis.previous_period(END, END) == (date(2026, 3, 9), date(2026, 3, 9))


def test_kpi_cards_default_window_by_hand(db: Path) -> None:
    got = cards(db, SPLIT, END)
    assert list(got) == [
        "audience", "impressions", "reach", "engagements", "engagement_rate", "profile_views", "link_clicks",
        "page_views", "visits", "social_visits", "social_share",
    ]  # fmt: skip
    for key, (value, previous, _, _) in seed.CARDS_28D.items():
        assert got[key].value == pytest.approx(value), key
        assert got[key].previous == pytest.approx(previous), key
        assert got[key].change_pct == pytest.approx((value - previous) / previous * 100), key
    assert got["audience"].previous_start == date(2026, 1, 14)
    assert got["audience"].previous_end == date(2026, 2, 10)


def test_audience_is_last_value_per_account_and_excludes_competitors(db: Path) -> None:
    # 222 stops on 03-08: its last value in the window (614) counts, not a missing 03-10.
    # The competitor's 5590 followers never count.
    one_day = cards(db, END, END)["audience"]
    assert one_day.value == 1059  # only 111 has a value on 03-10
    assert one_day.previous == 1058  # 03-09: 222 has no value that day either
    assert cards(db, seed.B_END, END)["audience"].value == 1059 + 614  # 222's 03-08 value counts
    assert cards(db, SPLIT, END)["audience"].value == 1059 + 614


def test_reach_is_an_average_of_days_never_a_sum(db: Path) -> None:
    reach = cards(db, SPLIT, END)["reach"]
    # 111 alternates 30/50 (average 40), 222 is 26 from SPLIT: 66 people per day.
    assert reach.value == 66
    assert reach.value != 28 * 40 + 26 * 26  # the sum over days would be 1796
    # A single odd-indexed day (i = 59 on END): 50 + nothing from 222 (no data on 03-10).
    assert cards(db, END, END)["reach"].value == 50


def test_platform_filter(db: Path) -> None:
    only_ga4 = cards(db, SPLIT, END, ["ga4"])
    assert only_ga4["audience"].value is None
    assert only_ga4["impressions"].value is None
    assert only_ga4["page_views"].value == 9240
    nothing = cards(db, SPLIT, END, [])
    assert all(k.value is None and k.change_pct is None for k in nothing.values())


def test_change_pct_edge_cases() -> None:
    assert kpis.change_pct(110, 100) == pytest.approx(10)
    assert kpis.change_pct(90, 100) == pytest.approx(-10)
    assert kpis.change_pct(5, 0) is None
    assert kpis.change_pct(None, 100) is None
    assert kpis.change_pct(100, None) is None


def test_no_previous_data_gives_no_change(db: Path) -> None:
    first = cards(db, seed.START, date(2026, 1, 11))["impressions"]
    assert first.value == 2 * (100 + 40)
    assert first.previous is None and first.change_pct is None


def test_end_before_start_is_refused(db: Path) -> None:
    with pytest.raises(ValueError, match="before"):
        kpi_cards.kpi_cards(db, END, SPLIT)


def test_daily_series(db: Path) -> None:
    df = queries.daily_series(db, seed.B_END, END, ["impressions", "reach", "followers"])
    rows = {(r.date.date(), r.metric): r.value for r in df.itertuples()}
    assert rows == {
        (date(2026, 3, 8), "followers"): 1057 + 614,  # competitor excluded
        (date(2026, 3, 8), "impressions"): 150 + 40,
        (date(2026, 3, 8), "reach"): 50 + 26,  # i = 57, odd
        (date(2026, 3, 9), "followers"): 1058,  # 222 has no data after 03-08
        (date(2026, 3, 9), "impressions"): 150,
        (date(2026, 3, 9), "reach"): 30,
        (date(2026, 3, 10), "followers"): 1059,
        (date(2026, 3, 10), "impressions"): 150,
        (date(2026, 3, 10), "reach"): 50,
    }
    assert list(df.columns) == ["date", "metric", "value"]
    assert queries.daily_series(db, END, END, ["impressions"], ["ga4"]).empty


def test_freshness(db: Path) -> None:
    fresh = health.freshness(db)
    assert fresh.last_success_at == seed.COLLECTED_AT  # run-2 was partial
    assert fresh.last_run_at == seed.RUN2_START and fresh.last_run_status == "partial"
    assert fresh.n_failing == 1
    failing = fresh.failing.iloc[0]
    assert (failing["platform"], failing["account_id"]) == ("facebook", "222")
    assert failing["reason"] == seed.FAILED_REASON
    assert failing["last_ok_at"].to_pydatetime() == seed.COLLECTED_AT
    assert failing["newest_day"].date() == seed.B_END
    ok = fresh.accounts.set_index("account_id").loc["111"]
    assert ok["last_status"] == "ok" and ok["last_ok_at"].to_pydatetime() == seed.RUN2_END


def test_snapshot_month_by_hand(db: Path) -> None:
    snap = queries.kpi_snapshot(db, date(2026, 3, 1), END, period="month")
    assert tuple(snap.columns) == SNAPSHOT_COLUMNS
    assert list(zip(snap["platform"], snap["account_id"], strict=True)) == [
        ("facebook", "111"), ("facebook", "222"), ("facebook", "999"), ("ga4", "333"), ("all", "all"),
    ]  # fmt: skip
    assert set(snap["period"]) == {"2026-03"}
    assert snap["period_start"].iloc[0].date() == date(2026, 3, 1)
    assert snap["period_end"].iloc[0].date() == END  # clipped to until
    rows = snap.set_index("account_id")
    a, b, c, total = rows.loc["111"], rows.loc["222"], rows.loc["999"], rows.loc["all"]
    assert (a["followers"], a["followers_change"]) == (1059, 1059 - 1049)  # vs 02-28
    assert (b["followers"], b["followers_change"]) == (614, 614 - 598)
    assert (a["impressions"], a["reach_avg_daily"], a["engagement_rate"]) == (1500, 40.0, round(100 / 1500, 4))
    assert c["competitor"] and c["followers"] == 5590 and c["followers_change"] == 100
    assert total["account_name"] == TOTAL_NAME and not total["competitor"]
    assert total["followers"] == 1059 + 614  # competitor excluded
    assert total["followers_change"] == 10 + 16
    assert total["impressions"] == 1500 + 320
    assert total["reach_avg_daily"] == 40 + 26
    assert total["engagement_rate"] == round(140 / 1820, 4)
    assert total["page_views"] == 3300 and total["visits"] == 1000 and total["visitors_avg_daily"] == 80
    assert total["social_visits"] == 250 and total["social_share_of_visits"] == 0.25


def test_snapshot_defaults_to_all_data_and_first_change_is_empty(db: Path) -> None:
    snap = queries.kpi_snapshot(db)
    assert list(dict.fromkeys(snap["period"])) == ["2026-01", "2026-02", "2026-03"]
    jan = snap[snap["period"] == "2026-01"].set_index("account_id")
    assert jan.loc["111", "period_start"].date() == seed.START
    assert jan["followers_change"].isna().all()  # nothing stored before January
    feb = snap[snap["period"] == "2026-02"].set_index("account_id")
    assert feb.loc["111", "followers_change"] == 1049 - 1021


def test_snapshot_week_looks_back_before_since(db: Path) -> None:
    snap = queries.kpi_snapshot(db, date(2026, 3, 1), END, period="week")
    assert list(dict.fromkeys(snap["period"])) == ["2026-W09", "2026-W10", "2026-W11"]
    w09 = snap[snap["period"] == "2026-W09"].set_index("account_id")
    # W09 is 02-23..03-01, clipped to 03-01; the change is against W08's last value (02-22, i=43).
    assert w09.loc["111", "followers_change"] == 1050 - 1043
    assert w09.loc["111", "impressions"] == 150  # only 03-01 counts, not the days before since
    assert w09.loc["111", "period_start"].date() == date(2026, 3, 1)


def test_snapshot_rejects_other_periods(db: Path) -> None:
    with pytest.raises(ValueError, match="month"):
        queries.kpi_snapshot(db, period="year")  # type: ignore[arg-type]


def test_missing_and_empty_warehouse(tmp_path: Path) -> None:
    missing = tmp_path / "nope.duckdb"
    with pytest.raises(WarehouseMissing, match="make demo"):
        queries.date_bounds(missing)
    assert issubclass(WarehouseMissing, WarehouseError)
    assert not missing.exists()  # reading never creates the file

    blank = tmp_path / "blank.duckdb"
    duckdb.connect(str(blank)).close()
    with pytest.raises(WarehouseMissing, match="empty"):
        queries.platforms(blank)

    empty = seed.build_empty_warehouse(tmp_path / "empty.duckdb")
    assert queries.date_bounds(empty) is None
    assert queries.platforms(empty) == []
    assert queries.accounts(empty).empty
    assert all(k.value is None for k in kpi_cards.kpi_cards(empty, SPLIT, END))
    assert queries.daily_series(empty, SPLIT, END, ["reach"]).empty
    assert tuple(queries.kpi_snapshot(empty).columns) == SNAPSHOT_COLUMNS
    assert queries.kpi_snapshot(empty).empty
    fresh = health.freshness(empty)
    assert fresh.last_success_at is None and fresh.n_failing == 0


def test_queries_leave_no_lock(db: Path) -> None:
    kpi_cards.kpi_cards(db, SPLIT, END)
    health.freshness(db)
    con = duckdb.connect(str(db))  # read-write: would fail if a query kept the file open
    con.close()


# ---------------------------------------------------------------------------------------------
# The full seed (instagram, x, linkedin, competitors, visits per network): values by hand
# ---------------------------------------------------------------------------------------------


def test_full_cards_by_hand(full: Path) -> None:
    got = cards(full, SPLIT, END)
    assert list(got) == list(seed.FULL_CARDS_28D)
    for key, (value, previous, delta, shown) in seed.FULL_CARDS_28D.items():
        assert got[key].value == pytest.approx(value), key
        assert got[key].previous == pytest.approx(previous), key
        assert (got[key].delta, got[key].shown) == (delta, shown), key
    assert got["engagement_rate"].title == "Engagement rate (% of impressions)"
    assert got["social_share"].group == got["page_views"].group == "website"


def test_engagement_rate_uses_accounts_reporting_both(full: Path) -> None:
    # x has neither engagements nor impressions; facebook alone on 03-10: 10 / 150 (222 has no data).
    assert cards(full, END, END, ["facebook", "x"])["engagement_rate"].value == pytest.approx(10 / 150)
    # The ga4 site has no engagements at all: no rate rather than 0.
    assert cards(full, END, END, ["ga4"])["engagement_rate"].value is None


def test_platform_kpis_by_hand(full: Path) -> None:
    df = queries.platform_kpis(full, SPLIT, END)
    assert tuple(df.columns) == queries.PLATFORM_COLUMNS
    assert list(df["platform"]) == ["facebook", "instagram", "linkedin", "x", "all"]  # ga4 has none
    rows = df.set_index("platform")
    fb, ig, li, x, total = (rows.loc[p] for p in ("facebook", "instagram", "linkedin", "x", "all"))
    assert (fb["followers"], fb["followers_previous"], fb["net_growth"]) == (1059 + 614, 1031 + 562, 80)
    assert fb["growth_pct"] == pytest.approx(80 / 1593 * 100)
    assert (fb["impressions"], fb["reach_avg_daily"], fb["engagements"]) == (5240, 66, 410)
    assert fb["engagement_rate"] == pytest.approx(410 / 5240)
    assert (fb["profile_views"], fb["link_clicks"]) == (112, 56)
    assert (ig["followers"], ig["net_growth"], ig["impressions"], ig["reach_avg_daily"]) == (2177, 84, 5600, 80)
    assert ig["engagement_rate"] == pytest.approx(0.06)
    assert (li["followers"], li["net_growth"], li["engagements"], li["link_clicks"]) == (359, 28, 84, 28)
    assert li["engagement_rate"] == pytest.approx(0.05) and pd.isna(li["reach_avg_daily"])
    assert (x["followers"], x["followers_previous"]) == (859, 831) and pd.isna(x["impressions"])
    assert (total["followers"], total["followers_previous"], total["net_growth"]) == (5068, 4848, 220)
    assert total["growth_pct"] == pytest.approx(220 / 4848 * 100)
    assert (total["impressions"], total["reach_avg_daily"], total["engagements"]) == (12520, 146, 830)
    assert total["engagement_rate"] == pytest.approx(830 / 12520)
    # the total row agrees with the cards
    by_key = cards(full, SPLIT, END)
    assert total["followers"] == by_key["audience"].value and total["impressions"] == by_key["impressions"].value


def test_competitor_comparison_by_hand(full: Path) -> None:
    df = competitors.competitor_comparison(full, SPLIT, END)
    assert tuple(df.columns) == competitors.COMPETITOR_COLUMNS
    keys = list(zip(df["platform"], df["account_id"], strict=True))
    assert keys == [
        ("facebook", "222"), ("facebook", "111"), ("facebook", "999"),  # own by name, then competitors
        ("instagram", "ig1"), ("instagram", "ig_rival"),
        ("linkedin", "li1"), ("linkedin", "li_rival"),
        ("x", "corner_x"), ("x", "rival_x"),
    ]  # fmt: skip
    rows = df.set_index("account_id")
    rival = rows.loc["999"]
    assert rival["competitor"] and (rival["followers"], rival["followers_previous"]) == (5590, 5310)
    assert rival["growth_pct"] == pytest.approx(280 / 5310 * 100) and pd.isna(rival["posts_published"])
    ig, ig_rival = rows.loc["ig1"], rows.loc["ig_rival"]
    assert (ig["followers"], ig["followers_change"]) == (2177, 84)
    assert (ig["posts_published"], ig["posts_per_week"]) == (129 - 115, 3.5)
    assert (ig_rival["followers"], ig_rival["posts_published"], ig_rival["posts_per_week"]) == (6708, 28, 7.0)
    assert ig_rival["growth_pct"] == pytest.approx(336 / 6372 * 100)
    x_rival = rows.loc["rival_x"]  # flat followers; two days missing do not change the last values
    assert (x_rival["growth_pct"], x_rival["posts_published"], x_rival["posts_per_week"]) == (0, 56, 14.0)
    assert rows.loc["li_rival", "growth_pct"] == pytest.approx(84 / 993 * 100)
    # only platforms with a competitor are compared: the base seed has one on facebook only
    assert set(competitors.competitor_comparison(base_path(full), SPLIT, END)["platform"]) == {"facebook"}
    assert competitors.competitor_comparison(full, SPLIT, END, ["ga4"]).empty


def base_path(full: Path) -> Path:
    path = full.with_name("base.duckdb")
    if not path.exists():
        seed.build_warehouse(path)
    return path


def test_share_of_voice_by_hand(full: Path) -> None:
    df = competitors.share_of_voice(full, SPLIT, END)
    assert list(df["platform"]) == ["facebook", "instagram", "linkedin", "x"]
    rows = df.set_index("platform")
    assert (rows.loc["facebook", "own_followers"], rows.loc["facebook", "competitor_followers"]) == (1673, 5590)
    assert rows.loc["facebook", "share_of_voice"] == pytest.approx(1673 / (1673 + 5590))
    assert rows.loc["facebook", "share_of_voice_previous"] == pytest.approx(1593 / (1593 + 5310))
    assert rows.loc["instagram", "share_of_voice"] == pytest.approx(2177 / (2177 + 6708))
    assert rows.loc["linkedin", "share_of_voice"] == pytest.approx(0.25)  # 359 / (359 + 1077)
    assert rows.loc["x", "share_of_voice"] == pytest.approx(859 / (859 + 1200))
    only_x = competitors.share_of_voice(full, SPLIT, END, ["x", "ga4"])
    assert list(only_x["platform"]) == ["x"]


def test_visits_by_network_by_hand(full: Path) -> None:
    df = website.visits_by_network(full, SPLIT, END)
    assert list(df["network"]) == ["facebook", "instagram", "x"]
    rows = df.set_index("network")
    assert list(rows["visits"]) == [28 * 12, 28 * 10, 28 * 3]
    assert list(rows["visits_previous"]) == [28 * 10, 28 * 8, 28 * 2]
    assert list(rows["change_pct"]) == pytest.approx([20.0, 25.0, 50.0])
    assert list(rows["share_of_social"]) == pytest.approx([0.48, 0.40, 0.12])  # of 700 social visits
    assert rows["visits"].sum() == seed.FULL_CARDS_28D["social_visits"][0]
    assert website.visits_by_network(full, SPLIT, END, ["facebook"]).empty


def test_daily_by_platform_and_account(full: Path) -> None:
    df = queries.daily_by_platform(full, END, END, "followers")
    assert dict(zip(df["platform"], df["value"], strict=True)) == {
        "facebook": 1059, "instagram": 2177, "linkedin": 359, "x": 859,
    }  # fmt: skip
    gap = queries.daily_by_account(full, date(2026, 2, 20), date(2026, 2, 20), "followers", ["x"])
    assert list(gap["account"]) == ["Corner Bakery (x)"]  # rival_x stored nothing that day
    end = queries.daily_by_account(full, END, END, "followers", ["x"])
    assert dict(zip(end["account"], end["value"], strict=True)) == {
        "Corner Bakery (x)": 859, "Rival Bakery (x) · competitor": 1200,
    }  # fmt: skip


def test_missing_days_and_coverage(full: Path) -> None:
    missing = health.missing_days(full, SPLIT, END).set_index("account_id")
    # 222 (facebook) ends 03-08: 03-09 is missing; 03-10, the newest stored day, is not yet available
    # (Facebook's Page Insights end yesterday); rival_x, a competitor (numbers as of "now"), misses its gap
    assert missing["days_missing"].to_dict() == {
        "111": 0, "222": 1, "333": 0, "999": 0, "corner_x": 0, "ig1": 0, "ig_rival": 0, "li1": 0,
        "li_rival": 0, "rival_x": 2,
    }  # fmt: skip
    assert missing["days_not_yet_available"].to_dict() == dict.fromkeys(missing.index, 0) | {"222": 1}
    assert missing.loc["222", "first_missing"].date() == date(2026, 3, 9)
    assert missing.loc["222", "last_missing"].date() == date(2026, 3, 9)
    assert missing.loc["rival_x", "last_missing"].date() == date(2026, 2, 21)
    grid = health.coverage(full, date(2026, 1, 8), date(2026, 1, 11))
    assert len(grid) == 10 * 4
    first = grid[grid["account_id"] == "111"]
    assert list(first["status"]) == [health.COVERAGE_BEFORE] * 2 + [health.COVERAGE_STORED] * 2


@pytest.fixture(scope="module")
def lagging(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed.build_health_warehouse(tmp_path_factory.mktemp("wh") / "health.duckdb")


def _summary(table: pd.DataFrame) -> dict[str, tuple[int, date | None, date | None, int]]:
    def day(value: Any) -> date | None:
        return None if pd.isna(value) else pd.Timestamp(value).date()

    return {
        r.account_id: (int(r.days_missing), day(r.first_missing), day(r.last_missing), int(r.days_not_yet_available))
        for r in table.itertuples()
    }


def test_days_a_source_cannot_have_yet_are_not_yet_available(lagging: Path) -> None:
    """Issue 11 item 18: web analytics end yesterday, YouTube Analytics three days back; a competitor's
    "now" numbers and a day before the delay are missing (tests/seed.py HEALTH_*)."""
    report = health.coverage_report(lagging, seed.HEALTH_START, seed.HEALTH_END)
    assert report.as_of == seed.HEALTH_END  # the newest stored day: the day of the latest collect
    assert _summary(report.accounts) == seed.HEALTH_EXPECTED
    status = report.days.set_index(["account_id", report.days["date"].dt.date])["status"]
    assert status[(seed.HW.id, END)] == health.COVERAGE_NOT_YET
    assert [status[(seed.HY.id, END - timedelta(days=n))] for n in (3, 2, 1, 0)] == [
        health.COVERAGE_STORED, health.COVERAGE_NOT_YET, health.COVERAGE_NOT_YET, health.COVERAGE_STORED,
    ]  # fmt: skip
    assert status[(seed.HI.id, END)] == health.COVERAGE_MISSING
    # the table is the calendar counted: one query for both
    counted = report.days.groupby("account_id")["status"].value_counts().unstack(fill_value=0)
    table = report.accounts.set_index("account_id")
    assert counted[health.COVERAGE_MISSING].to_dict() == table["days_missing"].to_dict()
    assert counted[health.COVERAGE_NOT_YET].to_dict() == table["days_not_yet_available"].to_dict()
    pd.testing.assert_frame_equal(health.missing_days(lagging, seed.HEALTH_START, END), report.accounts)
    pd.testing.assert_frame_equal(health.coverage(lagging, seed.HEALTH_START, END), report.days)
    # counted from two days later, the web analytics day is overdue, and so are YouTube's 03-08 and 03-09
    later = _summary(health.missing_days(lagging, seed.HEALTH_START, END, as_of=END + timedelta(days=2)))
    assert later[seed.HW.id] == (1, END, END, 0)
    assert later[seed.HY.id] == (2, date(2026, 3, 8), date(2026, 3, 9), 0)
    # a window reaching past the newest day: those days have not happened, never missing
    ahead = _summary(health.missing_days(lagging, END, END + timedelta(days=3)))
    assert ahead[seed.HX.id] == (0, None, None, 3)


def test_every_platform_documents_its_delay() -> None:
    """Days with nothing stored after ``today - delay_days`` are not yet available (collectors/__init__.py):
    0 for the platforms that only give "now" numbers, at least 1 for a daily series (the runner asks up to
    yesterday)."""
    from collectors import PLATFORMS

    for platform in PLATFORMS.values():
        assert platform.delay_days == 0 if platform.max_history_days == 0 else platform.delay_days >= 1, platform.id
    delays = {p: PLATFORMS[p].delay_days for p in ("ga4", "plausible", "matomo", "umami", "wordpress")}
    assert delays == dict.fromkeys(delays, 1)
    assert (PLATFORMS["instagram"].delay_days, PLATFORMS["youtube"].delay_days, PLATFORMS["pinterest"].delay_days) == (
        2, 3, 3,
    )  # fmt: skip


def test_skipped_metrics_and_token_expiry(full: Path) -> None:
    notes = health.skipped_metrics(full)
    assert notes[["platform", "account_id", "account_name", "source_metric", "note"]].values.tolist() == [
        ["instagram", "ig1", "Corner Bakery", *seed.NOTE]
    ]
    assert notes["noted_at"].iloc[0].to_pydatetime() == seed.COLLECTED_AT
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    tokens = health.token_expiry(full, tokens_of(full), now=now)
    assert list(tokens["platform"]) == ["linkedin", "x"]
    li, x = tokens.iloc[0], tokens.iloc[1]
    assert li["expires_at"].to_pydatetime() == seed.TOKEN_EXPIRES and li["days_left"] == 22.0
    assert li["account_name"] == "Corner Bakery" and not li["refreshable"]
    assert pd.isna(x["expires_at"]) and x["refreshable"]
    text = tokens.to_csv()
    assert seed.TOKEN_SECRET not in text and seed.REFRESH_SECRET not in text
    assert health.token_expiry(base_path(full), tokens_of(base_path(full)), now=now).empty  # no token file


def tokens_of(db: Path) -> Path:
    """The token store beside the warehouse ``db``, as socialkpi keeps it."""
    return db.with_name(db.name + ".tokens.json")


def _token_file(db: Path, entries: dict[str, dict[str, object]]) -> None:
    path = tokens_of(db)
    path.write_text(json.dumps(entries), encoding="utf-8")


def test_token_warnings_for_tokens_socialkpi_cannot_renew(tmp_path: Path) -> None:
    db = seed.build_warehouse(tmp_path / "w.duckdb")
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    day = 86400
    at = now.timestamp()
    _token_file(
        db,
        {
            # an access token alone, 10 days left: warned
            "linkedin/li1": {"access_token": "a1", "refresh_token": None, "expires_at": at + 10 * day},
            # renewable, its refresh token ends in 5 days (LinkedIn's 365 days are up): warned
            "linkedin/li2": {
                "access_token": "a2",
                "refresh_token": "r2",
                "expires_at": at - day,
                "refresh_expires_at": at + 5 * day,
            },
            # renewable, the refresh token's end is far: quiet, though the access token expired yesterday
            "pinterest/pin1": {
                "access_token": "a3",
                "refresh_token": "r3",
                "expires_at": at - day,
                "refresh_expires_at": at + 50 * day,
            },
            # renewable, the platform never said when the refresh token ends (X): quiet
            "x/corner_x": {"access_token": "a4", "refresh_token": "r4", "expires_at": at - day},
            # an access token alone with 30 days left: quiet; one with no known expiry: quiet
            "threads/t1": {"access_token": "a5", "refresh_token": None, "expires_at": at + 30 * day},
            # Threads renews its token with itself while valid: 5 days left means the renewals failed: warned
            "threads/t2": {"access_token": "a8", "refresh_token": None, "expires_at": at + 5 * day},
            "youtube/y1": {"access_token": "a6"},
            # a .env token first used 50 days ago, of a platform whose tokens last 60 days: ends within 10 days
            "linkedin/oauth2:SOCIALKPI_LINKEDIN_TOKEN@env": {
                "fingerprint": "0123456789abcdef",
                "first_used_at": at - 50 * day,
                "lifetime_days": 60,
                "expires_at": at + 10 * day,
                "estimated": True,
            },
            # an access token alone that expired 2 days ago: warned, as expired
            "tiktok/tt1": {"access_token": "a7", "refresh_token": None, "expires_at": at - 2 * day},
        },
    )
    tokens = health.token_expiry(db, tokens_of(db), now=now)
    li2 = tokens.set_index("account_id").loc["li2"]
    assert li2["refresh_days_left"] == 5.0 and li2["refresh_expires_at"].to_pydatetime() == datetime(
        2026, 3, 15, 12, 0, tzinfo=UTC
    )
    assert pd.isna(tokens.set_index("account_id").loc["li1", "refresh_expires_at"])  # no refresh token, no end
    warnings = token_warnings(token_rows(db, tokens_of(db), now=now))
    assert token_warnings(tokens.itertuples(index=False)) == warnings  # the dashboard's frame: the same
    assert [(w.platform, w.account_id) for w in warnings] == [  # sorted by platform/account
        ("linkedin", "li1"),
        ("linkedin", "li2"),
        ("linkedin", "oauth2:SOCIALKPI_LINKEDIN_TOKEN"),
        ("threads", "t2"),
        ("tiktok", "tt1"),
    ]
    by_account = {w.account_id: w.message for w in warnings}
    assert "the access token expires on 2026-03-20 and no refresh token is stored" in by_account["li1"]
    assert "the refresh token expires on 2026-03-15; after that socialkpi cannot renew" in by_account["li2"]
    assert "the access token expired on 2026-03-08" in by_account["tt1"]
    assert "expires on 2026-03-15 although socialkpi collect renews it" in by_account["t2"]
    assert "no refresh token" not in by_account["t2"]
    assert by_account["oauth2:SOCIALKPI_LINKEDIN_TOKEN"] == (
        "linkedin · the token in .env (SOCIALKPI_LINKEDIN_TOKEN): the access token socialkpi first used on "
        "2026-01-19 ends by 2026-03-20 at the latest (linkedin access tokens last 60 days): "
        "authorize the app again and update .env."
    )
    for w in warnings:
        assert not any(secret in w.message for secret in ("a1", "a2", "r2", "a7", "a8"))
    assert token_warnings(token_rows(db, tokens_of(db), now=now), warn_days=3) == [warnings[4]]  # only the expired one


def test_metric_breaks_window_and_filters() -> None:
    both = kpis.metric_breaks(date(2025, 1, 1), date(2025, 12, 31))
    assert [(b.platform, b.day) for b in both] == [
        ("instagram", date(2025, 4, 21)), ("facebook", date(2025, 11, 15)),
    ]  # fmt: skip
    assert [b.platform for b in kpis.metric_breaks(date(2025, 1, 1), date(2025, 12, 31), ["facebook"])] == [
        "facebook"
    ]
    assert kpis.metric_breaks(date(2025, 4, 21), date(2025, 4, 21), metrics=["reach"]) == []
    assert kpis.metric_breaks(SPLIT, END) == []


def test_kpi_formatting() -> None:
    assert formatting.format_value(None) == "—"
    assert formatting.format_value(1234.4) == "1,234"
    assert formatting.format_value(0.0663, ratio=True) == "6.63%"


# ---------------------------------------------------------------------------------------------
# The aggregates (schema 3 and 4): every fast answer equals the plain answer from `observations`
# and `run_accounts`
# ---------------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from collectors.observation import Account, Observation  # noqa: E402
from warehouse.db import writing  # noqa: E402
from warehouse.load import AccountOutcome, upsert_observations, write_account_batch  # noqa: E402

_AT = datetime(2026, 3, 20, 6, tzinfo=UTC)
_ACCOUNTS = [Account("facebook", "1", "One"), Account("facebook", "2", "Rival", competitor=True),
             Account("ga4", "3", "Site"), Account("linkedin", "4", "Four")]  # fmt: skip
_METRICS = ["followers", "impressions", "reach", "engagements", "visits", "social_visits", "visitors", "posts",
            "followers_gained", "visits_from_facebook", "profile_views", "link_clicks", "video_views"]  # fmt: skip

_obs = st.builds(
    lambda acc, metric, day, value: Observation(acc.platform, acc.id, metric, date(2026, 1, 20) + day, value, "s", _AT),
    st.sampled_from(_ACCOUNTS),
    st.sampled_from(_METRICS),
    st.builds(lambda n: __import__("datetime").timedelta(days=n), st.integers(0, 60)),
    st.integers(0, 50).map(float),
)


def _answers(db: Path, start: date, end: date, plats: list[str] | None) -> list[object]:
    from warehouse import roi

    fresh = health.freshness(db)
    series = queries.daily_series(db, start, end, ("impressions", "reach", "followers"), plats)
    coverage = health.coverage_report(db, start, end)
    return [
        queries.date_bounds(db),
        queries.platforms(db),
        [(k.key, k.value, k.previous) for k in kpi_cards.kpi_cards(db, start, end, plats)],
        series.to_dict("records"),
        queries.kpi_snapshot(db, start, end, "month").to_dict("records"),
        queries.kpi_snapshot(db, start, end, "week").to_dict("records"),
        fresh.accounts.to_dict("records"),
        # every page's other numbers (bench.dashboard measures them at agency scale)
        queries.platform_kpis(db, start, end, plats).to_dict("records"),
        *(queries.daily_by_platform(db, start, end, m, plats).to_dict("records") for m in ("followers", "posts")),
        *(queries.daily_by_account(db, start, end, m, plats).to_dict("records") for m in ("followers", "posts")),
        queries.daily_by_account(db, start, end, "video_views", plats).to_dict("records"),
        competitors.competitor_comparison(db, start, end, plats).to_dict("records"),
        competitors.share_of_voice(db, start, end, plats).to_dict("records"),
        website.network_reach_and_visits(db, start, end, plats).to_dict("records"),
        roi.roi_table(db, start, end, plats).to_dict("records"),
        (coverage.as_of, coverage.days.to_dict("records"), coverage.accounts.to_dict("records"), coverage.delays),
    ]


def _same(a: object, b: object) -> bool:
    """Equal, with floats compared to 1e-9 (sums may add in another order) and NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return (a != a and b != b) or a == pytest.approx(b, rel=1e-9, abs=1e-9)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b) or (a is pd.NaT and b is pd.NaT)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(st.lists(_obs, min_size=1, max_size=40), min_size=1, max_size=3),
    window=st.tuples(st.integers(0, 60), st.integers(0, 30)),
    plats=st.sampled_from([None, ["facebook"], ["ga4", "linkedin"]]),
    flip=st.booleans(),
)
def test_fast_answers_equal_the_raw_answers(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    batches: list[list[Observation]],
    window: tuple[int, int],
    plats: list[str] | None,
    flip: bool,
) -> None:
    import warehouse.access

    db = tmp_path_factory.mktemp("agg") / "wh.duckdb"
    with writing(db) as con:
        for n, batch in enumerate(batches):  # loads, re-loads (values change between batches)
            for acc in _ACCOUNTS:
                mine = [r for r in batch if r.account_id == acc.id]
                if mine:
                    write_account_batch(con, AccountOutcome(f"r{n}", acc, "ok", _AT, _AT), mine)
        upsert_observations(con, batches[0], "again")  # the first batch once more, in bulk
        late = _AT + __import__("datetime").timedelta(hours=1)  # a later run in which the site failed
        write_account_batch(
            con, AccountOutcome("late", _ACCOUNTS[2], "failed", late, late, error_kind="server", reason="HTTP 503"), []
        )
        if flip:  # a competitor flag changes after the data was loaded
            con.execute("UPDATE accounts SET competitor = NOT competitor WHERE account_id = '2'")
    start = date(2026, 1, 20) + __import__("datetime").timedelta(days=window[0])
    end = start + __import__("datetime").timedelta(days=window[1])
    fast = _answers(db, start, end, plats)
    with monkeypatch.context() as m:
        m.setattr(warehouse.access, "AGGREGATES_VERSION", 10**6)
        m.setattr(warehouse.access, "RUNS_VERSION", 10**6)
        m.setattr(warehouse.access, "LEVELS_VERSION", 10**6)
        m.setattr(warehouse.access, "RUNNING_VERSION", 10**6)
        raw = _answers(db, start, end, plats)
    with monkeypatch.context() as m:  # a file at schema 3 to 6 read as it is: kpi_daily without its new columns
        m.setattr(warehouse.access, "LEVELS_VERSION", 10**6)
        m.setattr(warehouse.access, "RUNNING_VERSION", 10**6)
        between = _answers(db, start, end, plats)
    with monkeypatch.context() as m:  # a file at schema 7 read as it is: no kpi_running
        m.setattr(warehouse.access, "RUNNING_VERSION", 10**6)
        seven = _answers(db, start, end, plats)
    for got, want in zip(between, raw, strict=True):
        assert _same(got, want), (got, want)
    for got, want in zip(seven, raw, strict=True):
        assert _same(got, want), (got, want)
    for got, want in zip(fast, raw, strict=True):
        assert _same(got, want), (got, want)


def assert_free_for_a_writer(db: Path) -> None:
    """In this process too nothing holds the file any more: a writer opens it, sees every account, and
    takes a write (undone: the module's warehouse stays as the other tests expect it)."""
    with writing(db) as con:
        accounts = con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT platform, account_id FROM observations)"
        ).fetchone()
        assert con.execute("SELECT count(*) FROM account_days").fetchone() == accounts != (0,)
        con.begin()
        con.execute("DELETE FROM account_days")
        assert con.execute("SELECT count(*) FROM account_days").fetchone() == (0,)
        con.rollback()


def test_concurrent_reads_share_one_attachment_and_leave_the_file_free(db: Path) -> None:
    """Reads attach the file read-only to one in-memory instance (warehouse.access) and detach it
    when the last concurrent reader is done: the same answers, and a writer gets in afterwards."""
    from concurrent.futures import ThreadPoolExecutor

    import warehouse.access

    def read(_: int) -> list[tuple[str, float | None]]:
        return [(k.key, k.value) for k in kpi_cards.kpi_cards(db, SPLIT, END)]

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(read, range(16)))
    assert all(a == answers[0] for a in answers)
    assert warehouse.access._attached == {}
    assert_free_for_a_writer(db)


def test_page_reads_attach_the_file_once_and_let_it_go_at_the_end(db: Path) -> None:
    """Inside ``page_reads`` (one dashboard rerun) the reads share the attachment the first one made,
    give the same answers as outside, and the file is free for a writer when the block ends; a block
    with no read attaches nothing, and a nested block changes nothing."""
    import warehouse.access

    outside = [(k.key, k.value) for k in kpi_cards.kpi_cards(db, SPLIT, END)], queries.date_bounds(db)
    with page_reads(db):
        assert warehouse.access._attached == {}  # nothing is attached before the first read
        first = queries.date_bounds(db)
        ((alias, readers),) = warehouse.access._attached.values()
        assert readers == 1  # held by the block, no query running
        with page_reads(db):
            inside = [(k.key, k.value) for k in kpi_cards.kpi_cards(db, SPLIT, END)], queries.date_bounds(db)
        assert list(warehouse.access._attached.values()) == [[alias, 1]]  # the same attachment all along
    assert inside == outside and first == outside[1]
    assert warehouse.access._attached == {}
    assert_free_for_a_writer(db)
    with page_reads(db):
        pass
    assert warehouse.access._attached == {}


def test_page_reads_let_the_file_go_when_the_page_fails(db: Path) -> None:
    """A rerun that stops half-way (st.stop(), an error) still lets the file go."""
    import warehouse.access

    with pytest.raises(RuntimeError), page_reads(db):
        queries.date_bounds(db)
        raise RuntimeError("the page stopped")
    assert warehouse.access._attached == {}
    assert_free_for_a_writer(db)


@pytest.mark.parametrize("running", [True, False])
def test_coverage_calendar_of_many_accounts_holds_those_missing_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, running: bool
) -> None:
    """``most``: above that many accounts, the calendar's days are those of the accounts missing the most
    days (none missing: none); ``calendar``: exactly those accounts; the table always lists every account,
    and every day shown is the day of the whole calendar.  The same on a file without kpi_running."""
    import warehouse.access
    from tests import seed

    db = seed.build_many_warehouse(tmp_path / "many.duckdb")
    if not running:
        monkeypatch.setattr(warehouse.access, "RUNNING_VERSION", 10**6)
    start, end = seed.MANY_START, seed.MANY_END
    every = health.coverage_report(db, start, end)
    assert len(every.days) == 40 * 10 and len(every.accounts) == 40

    def held(report: health.Coverage) -> list[str]:
        return list(report.days["account_id"].drop_duplicates())

    def rows_of(report: health.Coverage) -> list[dict[str, object]]:
        return every.days[every.days["account_id"].isin(held(report))].to_dict("records")

    for most, accounts in ((30, ["p03", "p07", "p11"]), (2, ["p03", "p07"]), (40, None)):
        report = health.coverage_report(db, start, end, most=most)
        assert held(report) == (accounts or held(every))
        assert report.days.to_dict("records") == rows_of(report)
        assert report.accounts.equals(every.accounts) and report.delays == every.delays
    picked = health.coverage_report(db, start, end, calendar=[("facebook", "p20"), ("facebook", "p07")], most=30)
    assert held(picked) == ["p07", "p20"] and picked.days.to_dict("records") == rows_of(picked)
    assert health.coverage_report(db, start, end, calendar=[]).days.empty
    none_missing = health.coverage_report(db, date(2026, 4, 9), end, most=30)  # p11's gap is 04-08
    assert none_missing.days.empty and int(none_missing.accounts["days_missing"].sum()) == 0


@pytest.mark.parametrize("raw", [False, True])
def test_daily_by_account_of_some_accounts_is_their_rows_of_every_account(
    db: Path, monkeypatch: pytest.MonkeyPatch, raw: bool
) -> None:
    """``accounts`` keeps only those accounts' rows, in the same order, from kpi_daily or the observations."""
    import warehouse.access

    if raw:
        monkeypatch.setattr(warehouse.access, "AGGREGATES_VERSION", 10**6)
    metric = "followers"
    every = queries.daily_by_account(db, SPLIT, END, metric)
    keys = sorted(set(zip(every["platform"], every["account_id"], strict=True)))
    assert len(keys) > 2
    some = keys[::2]
    picked = queries.daily_by_account(db, SPLIT, END, metric, None, some)
    wanted = every[[k in set(some) for k in zip(every["platform"], every["account_id"], strict=True)]]
    assert picked.to_dict("records") == wanted.to_dict("records") != []
    assert queries.daily_by_account(db, SPLIT, END, metric, None, []).empty


def test_network_reach_beside_the_visits_it_sends(tmp_path: Path) -> None:
    """Hand-computed: facebook sent 5 + 7 = 12 visits over two days in which its own Page was shown
    1,000 + 1,000 times (12 / 2,000 x 1,000 = 6.0 visits per 1,000 impressions), reached 100 and
    300 people (average 200 a day) and ended at 60 followers; X sent 3 visits and reports no
    impressions, so its ratio is empty rather than infinite."""
    from datetime import UTC, date, datetime

    from collectors.observation import Account, Observation
    from warehouse.db import writing
    from warehouse.load import AccountOutcome, write_account_batch
    from warehouse.website import network_reach_and_visits

    db = tmp_path / "wh.duckdb"
    now = datetime(2026, 3, 10, tzinfo=UTC)
    d1, d2 = date(2026, 3, 1), date(2026, 3, 2)

    def obs(platform: str, account: str, metric: str, day: date, value: float) -> Observation:
        return Observation(platform, account, metric, day, value, metric, now)

    fb = Account("facebook", "1001", "Shop")
    web = Account("ga4", "2002", "site")
    with writing(db) as con:
        write_account_batch(
            con,
            AccountOutcome("r1", fb, "ok", now, now),
            [
                obs("facebook", "1001", "impressions", d1, 1000),
                obs("facebook", "1001", "impressions", d2, 1000),
                obs("facebook", "1001", "reach", d1, 100),
                obs("facebook", "1001", "reach", d2, 300),
                obs("facebook", "1001", "followers", d1, 50),
                obs("facebook", "1001", "followers", d2, 60),
            ],
        )
        write_account_batch(
            con,
            AccountOutcome("r1", web, "ok", now, now),
            [
                obs("ga4", "2002", "visits_from_facebook", d1, 5),
                obs("ga4", "2002", "visits_from_facebook", d2, 7),
                obs("ga4", "2002", "visits_from_x", d2, 3),
            ],
        )
    frame = network_reach_and_visits(db, d1, d2).set_index("network")
    assert frame.loc["facebook", "visits"] == 12
    assert frame.loc["facebook", "impressions"] == 2000
    assert frame.loc["facebook", "reach_avg_daily"] == 200
    assert frame.loc["facebook", "followers"] == 60
    assert frame.loc["facebook", "visits_per_1000_impressions"] == pytest.approx(6.0)
    assert frame.loc["x", "visits"] == 3
    assert frame.loc["x", "visits_per_1000_impressions"] != frame.loc["x", "visits_per_1000_impressions"]  # NaN


def test_frames_through_arrow_equal_duckdb_df() -> None:
    """query_parts._frame (the per-account-and-day frames of Data health and Competitors) gives what
    ``.df()`` gives: dtypes, values, NULLs (NaN, NaT, None), empty frames."""
    import duckdb

    sql = """
        SELECT 'p' || (i % 3) AS platform, CASE WHEN i % 4 = 0 THEN NULL ELSE 'a' || i END AS name,
               i % 2 = 0 AS flag, CASE WHEN i % 5 = 0 THEN NULL ELSE i % 2 = 0 END AS maybe_flag,
               DATE '2026-01-01' + i::INTEGER AS day,
               CASE WHEN i % 3 = 0 THEN NULL ELSE DATE '2026-01-01' + i::INTEGER END AS maybe_day,
               TIMESTAMP '2026-01-01 06:00:00' + INTERVAL (i) HOUR AS at,
               CASE WHEN i % 6 = 0 THEN NULL ELSE i * 1.5 END AS value, i AS n, 'Café · ' || i AS text
        FROM range(?) t(i)
    """
    con = duckdb.connect()
    con.execute("SELECT 1").fetchone()  # a result left open before it
    for rows in (0, 1, 2, 50):
        pd.testing.assert_frame_equal(query_parts._frame(con, sql, [rows]), con.execute(sql, [rows]).df())


def test_the_page_frames_read_through_arrow_equal_duckdb_df(db: Path) -> None:
    """The statements read through query_parts._frame, on a real warehouse: as ``.df()`` reads them."""
    from collectors import PLATFORMS
    from warehouse.access import open_warehouse

    ids = list(PLATFORMS)
    coverage = [ids, [PLATFORMS[i].delay_days for i in ids], SPLIT, END, SPLIT, END, END]
    with open_warehouse(db) as (con, _):
        for sql, params in (
            (health._COVERAGE_SQL, coverage),
            (health._COVERAGE_DAILY_SQL, coverage),
        ):
            got = query_parts._frame(con, sql, params)
            assert len(got) > 0
            pd.testing.assert_frame_equal(got, con.execute(sql, params).df())
    frame = queries.daily_by_account(db, SPLIT, END, "followers")
    assert len(frame) > 0 and str(frame["date"].dtype) == "datetime64[us]" and frame["competitor"].dtype == bool
