"""KPI queries against a real seeded DuckDB file, with values worked out by hand (tests/seed.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests import seed
from tests.seed import END, SPLIT
from warehouse import queries
from warehouse.db import WarehouseError


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed.build_warehouse(tmp_path_factory.mktemp("wh") / "seed.duckdb")


def cards(db: Path, start: date, end: date, platforms: list[str] | None = None) -> dict[str, queries.Kpi]:
    return {k.key: k for k in queries.kpi_cards(db, start, end, platforms)}


def test_bounds_platforms_accounts(db: Path) -> None:
    assert queries.date_bounds(db) == queries.DateBounds(seed.START, END)
    assert queries.platforms(db) == ["facebook", "ga4"]
    acc = queries.accounts(db)
    assert list(acc["account_id"]) == ["111", "222", "999", "333"]
    assert list(acc["competitor"]) == [False, False, True, False]
    assert acc.loc[acc["account_id"] == "222", "newest_day"].iloc[0].date() == seed.B_END


def test_previous_period_has_the_same_length() -> None:
    assert queries.previous_period(SPLIT, END) == (date(2026, 1, 14), date(2026, 2, 10))
    assert queries.previous_period(END, END) == (date(2026, 3, 9), date(2026, 3, 9))


def test_kpi_cards_default_window_by_hand(db: Path) -> None:
    got = cards(db, SPLIT, END)
    assert list(got) == ["audience", "impressions", "reach", "page_views", "social_visits"]
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
    assert queries.change_pct(110, 100) == pytest.approx(10)
    assert queries.change_pct(90, 100) == pytest.approx(-10)
    assert queries.change_pct(5, 0) is None
    assert queries.change_pct(None, 100) is None
    assert queries.change_pct(100, None) is None


def test_no_previous_data_gives_no_change(db: Path) -> None:
    first = cards(db, seed.START, date(2026, 1, 11))["impressions"]
    assert first.value == 2 * (100 + 40)
    assert first.previous is None and first.change_pct is None


def test_end_before_start_is_refused(db: Path) -> None:
    with pytest.raises(ValueError, match="before"):
        queries.kpi_cards(db, END, SPLIT)


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
    fresh = queries.freshness(db)
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
    assert tuple(snap.columns) == queries.SNAPSHOT_COLUMNS
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
    assert total["account_name"] == queries.TOTAL_NAME and not total["competitor"]
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
    with pytest.raises(queries.WarehouseMissing, match="make demo"):
        queries.date_bounds(missing)
    assert issubclass(queries.WarehouseMissing, WarehouseError)
    assert not missing.exists()  # reading never creates the file

    blank = tmp_path / "blank.duckdb"
    duckdb.connect(str(blank)).close()
    with pytest.raises(queries.WarehouseMissing, match="empty"):
        queries.platforms(blank)

    empty = seed.build_empty_warehouse(tmp_path / "empty.duckdb")
    assert queries.date_bounds(empty) is None
    assert queries.platforms(empty) == []
    assert queries.accounts(empty).empty
    assert all(k.value is None for k in queries.kpi_cards(empty, SPLIT, END))
    assert queries.daily_series(empty, SPLIT, END, ["reach"]).empty
    assert tuple(queries.kpi_snapshot(empty).columns) == queries.SNAPSHOT_COLUMNS
    assert queries.kpi_snapshot(empty).empty
    fresh = queries.freshness(empty)
    assert fresh.last_success_at is None and fresh.n_failing == 0


def test_queries_leave_no_lock(db: Path) -> None:
    queries.kpi_cards(db, SPLIT, END)
    queries.freshness(db)
    con = duckdb.connect(str(db))  # read-write: would fail if a query kept the file open
    con.close()
