"""ROI: costs with valid_from, logged time over estimates, value assumptions, ROI per platform.

Every expected number is worked out by hand in the comment next to it.  The base period is the
two ISO weeks 2026-03-02 (Mon) .. 2026-03-15 (Sun): 14 days of March (31 days).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest

from collectors.observation import Account, Observation
from socialkpi import timelog
from socialkpi.settings import CostSettings, Settings, ValueSettings, roi_config, settings_from_dict
from socialkpi.validation import ConfigError
from warehouse import roi, roi_inputs
from warehouse.db import reading, writing
from warehouse.load import AccountOutcome, write_account_batch
from warehouse.schema import MIGRATIONS, SCHEMA_VERSION, current_version

START, END = date(2026, 3, 2), date(2026, 3, 15)  # Monday .. Sunday, 14 days
WEEK2 = date(2026, 3, 9)  # Monday of the second week
AT = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)

FB = Account("facebook", "111", "Corner Bakery")
IG = Account("instagram", "17841", "Corner Bakery IG")
X = Account("x", "cornerbakery", "Corner Bakery X")
RIVAL = Account("facebook", "999", "Rival Bakery", competitor=True)
WEB = Account("ga4", "333", "bakery.example")


def days(first: date = START, last: date = END) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def obs(account: Account, metric: str, day: date, value: float) -> Observation:
    return Observation(account.platform, account.id, metric, day, value, metric, AT)


def load(db: Path, account: Account, rows: Iterable[Observation]) -> None:
    with writing(db) as con:
        write_account_batch(con, AccountOutcome("run-1", account, "ok", AT, AT), list(rows))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Facebook: 1000 impressions and 2 followers_gained a day; the website: 5 visits a day from
    facebook and 1 from instagram; instagram: followers only; a competitor with huge numbers."""
    path = tmp_path / "w.duckdb"
    load(
        path,
        FB,
        [obs(FB, "impressions", d, 1000) for d in days()] + [obs(FB, "followers_gained", d, 2) for d in days()],
    )
    load(path, IG, [obs(IG, "followers", date(2026, 3, 1), 400), obs(IG, "followers", date(2026, 3, 15), 410)])
    load(path, RIVAL, [obs(RIVAL, "impressions", d, 99999) for d in days()])
    load(
        path,
        WEB,
        [obs(WEB, "visits_from_facebook", d, 5) for d in days()]
        + [obs(WEB, "visits_from_instagram", d, 1) for d in days()]
        + [obs(WEB, "social_visits", d, 6) for d in days()],
    )
    roi_inputs.set_costs(path, valid_from=date(2026, 1, 1), hourly_rate=25, hours_per_week={"facebook": 3})
    return path


def row(frame: pd.DataFrame, platform: str) -> dict[str, object]:
    found = frame[frame["platform"] == platform]
    assert len(found) == 1, frame
    return dict(found.iloc[0])


# ---------------------------------------------------------------------------------------------
# Costs
# ---------------------------------------------------------------------------------------------


def test_weekly_estimate_at_an_hourly_rate_and_the_figures(db: Path) -> None:
    frame = roi.roi_table(db, START, END)
    assert list(frame.columns) == list(roi.ROI_COLUMNS)
    assert list(frame["platform"]) == ["facebook", "instagram", "all"]  # not ga4, not the competitor
    fb = row(frame, "facebook")
    assert fb["hours"] == 6.0  # 3 h/week x 2 weeks
    assert fb["hours_source"] == "estimate"
    assert fb["labour_cost"] == 150.0  # 3/7 h a day x 14 days x 25
    assert fb["total_cost"] == 150.0
    assert fb["new_followers"] == 28  # 2 followers_gained x 14 days
    assert fb["impressions"] == 14_000  # 1000 x 14, the competitor's 99999s left out
    assert fb["social_visits"] == 70  # visits_from_facebook: 5 x 14
    assert fb["cost_per_new_follower"] == 5.3571  # 150 / 28
    assert fb["cost_per_1000_impressions"] == 10.7143  # 150 / 14000 x 1000
    assert fb["cost_per_social_visit"] == 2.1429  # 150 / 70
    assert fb["estimated_value"] == 133.0  # 70 x 0.50 + 28 x 1.00 + 14 x 5.00 = 35 + 28 + 70 (defaults)
    assert fb["roi_pct"] == -11.3  # (133 - 150) / 150 x 100 = -11.33


def test_followers_from_levels_when_no_gains_are_reported(db: Path) -> None:
    ig = row(roi.roi_table(db, START, END), "instagram")
    assert ig["new_followers"] == 10  # 410 on 03-15 minus 400 on 03-01 (the last value before START)
    assert ig["social_visits"] == 14  # 1 x 14
    assert ig["estimated_value"] == 17.0  # 14 x 0.50 + 10 x 1.00; no impressions reported
    assert pd.isna(ig["impressions"]) and pd.isna(ig["cost_per_1000_impressions"])
    # no cost at all: every cost per X is 0 / X = 0, and ROI has no denominator
    assert ig["total_cost"] == 0 and ig["cost_per_new_follower"] == 0
    assert pd.isna(ig["roi_pct"])


def test_a_drop_in_followers_is_not_negative_new_followers(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    load(db, X, [obs(X, "followers", date(2026, 3, 1), 500), obs(X, "followers", date(2026, 3, 10), 490)])
    x = row(roi.roi_table(db, START, END), "x")
    assert x["new_followers"] == 0


def test_logged_time_replaces_the_estimate_for_its_week(db: Path) -> None:
    roi_inputs.log_time(db, "facebook", 2, date(2026, 3, 4), "posts")
    roi_inputs.log_time(db, "facebook", 1.5, date(2026, 3, 5), "")
    fb = row(roi.roi_table(db, START, END), "facebook")
    assert fb["hours"] == 6.5  # week 1: logged 2 + 1.5; week 2: estimate 3
    assert fb["labour_cost"] == 162.5  # 6.5 x 25
    assert fb["hours_source"] == "mixed"
    roi_inputs.log_time(db, "facebook", 1, WEEK2, "")
    fb = row(roi.roi_table(db, START, END), "facebook")
    assert (fb["hours"], fb["hours_source"]) == (4.5, "logged")  # 3.5 + 1: the 3 h/week estimate is gone


def test_a_logged_week_counts_only_the_logged_days_inside_the_period(db: Path) -> None:
    roi_inputs.log_time(db, "facebook", 1, date(2026, 3, 2), "")  # Monday, before the period starts
    fb = row(roi.roi_table(db, date(2026, 3, 4), date(2026, 3, 10)), "facebook")
    # 03-04..03-08 are in the logged week with nothing logged on them: 0 h; 03-09, 03-10: 2 x 3/7 h
    assert fb["hours"] == round(6 / 7, 2)
    assert fb["labour_cost"] == round(6 / 7 * 25, 2)  # 21.43
    assert fb["hours_source"] == "mixed"


def test_a_cost_changed_mid_period_splits_it_and_past_periods_keep_theirs(db: Path) -> None:
    roi_inputs.set_costs(db, valid_from=WEEK2, hourly_rate=40)
    assert row(roi.roi_table(db, START, END), "facebook")["labour_cost"] == 195.0  # 3 x 25 + 3 x 40
    assert row(roi.roi_table(db, START, WEEK2 - timedelta(days=1)), "facebook")["labour_cost"] == 75.0
    # hours changed on a Friday: 03-13..03-15 at 7 h/week (1 h a day), the 11 days before at 3/7 h
    roi_inputs.set_costs(db, valid_from=date(2026, 3, 13), hours_per_week={"facebook": 7})
    fb = row(roi.roi_table(db, START, END), "facebook")
    assert fb["hours"] == round(11 * 3 / 7 + 3, 2)  # 7.71
    assert fb["labour_cost"] == round(7 * 3 / 7 * 25 + 4 * 3 / 7 * 40 + 3 * 1 * 40, 2)  # 75 + 68.57 + 120


def test_the_oldest_value_also_covers_the_days_before_it(db: Path) -> None:
    fb = row(roi.roi_table(db, date(2025, 12, 1), date(2025, 12, 7)), "facebook")
    assert fb["labour_cost"] == 75.0  # 3 h x 25, although the first value is from 2026-01-01


def test_tool_cost_is_shared_and_ad_spend_is_per_platform(db: Path) -> None:
    roi_inputs.set_costs(db, valid_from=date(2026, 1, 1), tool_cost_per_month=31, ad_spend_per_month={"facebook": 62})
    frame = roi.roi_table(db, START, END)
    fb, ig, total = row(frame, "facebook"), row(frame, "instagram"), row(frame, "all")
    assert total["tool_cost"] == 14.0  # 31 / 31 days x 14 days
    assert fb["tool_cost"] == ig["tool_cost"] == 7.0  # split over the two ROI platforms
    assert fb["ad_spend"] == 28.0  # 62 / 31 x 14
    assert fb["total_cost"] == 185.0  # 150 + 7 + 28
    assert total["total_cost"] == 192.0  # 185 + 7
    # a full calendar month costs exactly the monthly amount, whatever its length
    february = row(roi.roi_table(db, date(2026, 2, 1), date(2026, 2, 28)), "all")
    assert february["tool_cost"] == 31.0
    # the platform filter selects rows: the total sums the rows shown
    only_fb = roi.roi_table(db, START, END, ["facebook", "ga4"])
    assert list(only_fb["platform"]) == ["facebook", "all"]
    assert row(only_fb, "all")["total_cost"] == 185.0


def test_the_total_row(db: Path) -> None:
    roi_inputs.set_costs(db, valid_from=date(2026, 1, 1), hours_per_week={"instagram": 1.75})  # 0.25 h a day
    total = row(roi.roi_table(db, START, END), "all")
    assert total["hours"] == 9.5  # 6 + 3.5
    assert total["total_cost"] == 237.5  # 150 + 3.5 x 25
    assert total["new_followers"] == 38  # 28 + 10
    assert total["social_visits"] == 84  # 70 + 14
    assert total["impressions"] == 14_000
    # cost per 1000 impressions: only facebook reports impressions, so only its cost counts
    assert total["cost_per_1000_impressions"] == 10.7143  # 150 / 14000 x 1000
    assert total["cost_per_social_visit"] == round(237.5 / 84, 4)  # 2.8274
    assert total["estimated_value"] == 150.0  # 133 + 17
    assert total["roi_pct"] == -36.8  # (150 - 237.5) / 237.5 x 100 = -36.84


def test_division_by_zero_is_missing_not_infinite(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    load(db, FB, [obs(FB, "impressions", d, 0) for d in days()])
    roi_inputs.set_costs(db, valid_from=START, hourly_rate=10, hours_per_week={"facebook": 7})
    fb = row(roi.roi_table(db, START, END), "facebook")
    assert fb["total_cost"] == 140.0 and fb["impressions"] == 0
    assert pd.isna(fb["cost_per_1000_impressions"])  # 140 / 0
    assert pd.isna(fb["cost_per_new_follower"]) and pd.isna(fb["cost_per_social_visit"])  # not reported
    assert fb["estimated_value"] == 0 and fb["roi_pct"] == -100.0
    frame = roi.roi_table(db, START, END)
    assert not frame.select_dtypes("number").isin([math.inf, -math.inf]).any().any()


def test_changed_value_assumptions_apply_from_their_day(db: Path) -> None:
    roi_inputs.set_assumptions(db, valid_from=WEEK2, per_1000_impressions=8)
    fb = row(roi.roi_table(db, START, END), "facebook")
    assert fb["estimated_value"] == 35 + 28 + 14 * 8  # 175: the only stored value reaches back to all days
    roi_inputs.set_assumptions(db, valid_from=date(2026, 1, 1), per_1000_impressions=5)
    fb = row(roi.roi_table(db, START, END), "facebook")
    assert fb["estimated_value"] == 35 + 28 + 7 * 5 + 7 * 8  # 154: week 2's impressions at 8 per 1000
    assumptions = roi_inputs.current_assumptions(db, on=WEEK2)
    assert assumptions.values["per_1000_impressions"] == 8
    assert assumptions.defaults["per_1000_impressions"] == 5.0
    assert not assumptions.is_default("per_1000_impressions") and assumptions.is_default("per_social_visit")
    assert roi_inputs.current_assumptions(db, on=START).values["per_1000_impressions"] == 5


def test_current_costs_and_unchanged_values_are_not_stored_again(db: Path) -> None:
    costs = roi_inputs.current_costs(db, on=END)
    assert (costs.hourly_rate, costs.hours_per_week, costs.currency) == (25, {"facebook": 3}, "USD")
    assert costs.valid_from["hourly_rate"] == date(2026, 1, 1)
    assert roi_inputs.set_costs(db, valid_from=END, hourly_rate=25, hours_per_week={"facebook": 3}) == 0
    assert roi_inputs.set_costs(db, valid_from=END, currency="EUR", hours_per_week={"facebook": 4}) == 2
    assert roi_inputs.current_costs(db, on=END).hours_per_week == {"facebook": 4}
    assert roi_inputs.current_costs(db, on=START).hours_per_week == {"facebook": 3}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hourly_rate": -1}, "hourly_rate"),
        ({"hourly_rate": float("nan")}, "hourly_rate"),
        ({"hours_per_week": {"facebook": 169}}, "168"),
        ({"hours_per_week": {"all": 1}}, "not a platform"),
        ({"currency": ""}, "currency"),
    ],
)
def test_bad_costs_are_refused(db: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        roi_inputs.set_costs(db, valid_from=END, **kwargs)  # type: ignore[arg-type]


def test_log_time_refuses_impossible_hours(db: Path) -> None:
    for hours in (0, -1, 25, float("nan")):
        with pytest.raises(ValueError, match="hours"):
            roi_inputs.log_time(db, "facebook", hours, START, "")
    entries = roi_inputs.time_entries(db, START, END)
    assert entries.empty


def test_no_warehouse_and_a_warehouse_without_costs(tmp_path: Path) -> None:
    missing = tmp_path / "none.duckdb"
    assert roi_inputs.current_costs(missing).hourly_rate == 0
    assert roi_inputs.current_assumptions(missing).values == roi_inputs.ASSUMPTION_DEFAULTS
    db = tmp_path / "w.duckdb"
    load(db, FB, [obs(FB, "impressions", d, 1000) for d in days()])
    fb = row(roi.roi_table(db, START, END), "facebook")
    assert fb["total_cost"] == 0 and fb["estimated_value"] == 70.0 and pd.isna(fb["roi_pct"])


# ---------------------------------------------------------------------------------------------
# Migration 2
# ---------------------------------------------------------------------------------------------


def test_a_version_1_file_upgrades_to_2_keeping_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(db))
    con.execute(MIGRATIONS[0][1])
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute(
        "INSERT INTO observations VALUES ('facebook', '111', 'impressions', DATE '2026-03-02', 1000, 'v', "
        "TIMESTAMP '2026-03-03 06:00:00', 'run-0')"
    )
    con.close()
    # read-only before the upgrade: no cost tables yet, the ROI still reads (zero cost, default values)
    fb = row(roi.roi_table(db, START, END), "facebook")
    assert fb["impressions"] == 1000 and fb["total_cost"] == 0 and fb["estimated_value"] == 5.0
    with reading(db) as c:
        assert current_version(c) == 1
    # the first write migrates
    roi_inputs.set_costs(db, valid_from=START, hourly_rate=25, hours_per_week={"facebook": 7})
    with reading(db) as c:
        assert current_version(c) == SCHEMA_VERSION >= 2  # migrations after 2 (aggregates) run too
        assert c.execute("SELECT platform, value, run_id FROM observations").fetchall() == [
            ("facebook", 1000.0, "run-0")
        ]
    assert row(roi.roi_table(db, START, END), "facebook")["labour_cost"] == 350.0  # 14 h x 25


# ---------------------------------------------------------------------------------------------
# socialkpi.toml [costs] and [value], and sync_config
# ---------------------------------------------------------------------------------------------

GOOD = {
    "business": {"timezone": "Europe/Paris"},
    "costs": {
        "currency": "EUR",
        "hourly_rate": 25,
        "tool_cost_per_month": 26.5,
        "hours_per_week": {"facebook": 3, "instagram": 1.5},
        "ad_spend_per_month": {"facebook": 50},
    },
    "value": {"per_social_visit": 0.4, "per_1000_impressions": 6},
}


def settings(data: dict[str, object], tmp_path: Path) -> Settings:
    return settings_from_dict(data, env={"SOCIALKPI_DB": str(tmp_path / "w.duckdb")}, base=tmp_path)


def test_costs_and_value_tables_are_read(tmp_path: Path) -> None:
    s = settings(GOOD, tmp_path)
    assert s.costs == CostSettings(
        currency="EUR",
        hourly_rate=25.0,
        tool_cost_per_month=26.5,
        hours_per_week={"facebook": 3.0, "instagram": 1.5},
        ad_spend_per_month={"facebook": 50.0},
    )
    assert s.value == ValueSettings(per_social_visit=0.4, per_new_follower=None, per_1000_impressions=6.0)
    assert settings({}, tmp_path).costs is None and settings({}, tmp_path).value is None


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"costs": {"hourly_rate": "25"}}, "costs.hourly_rate"),
        ({"costs": {"hourly_rate": -3}}, "costs.hourly_rate"),
        ({"costs": {"hourly_rate": True}}, "costs.hourly_rate"),
        ({"costs": {"tool_cost": 26}}, "costs.tool_cost"),
        ({"costs": {"currency": 978}}, "costs.currency"),
        ({"costs": {"hours_per_week": {"myspace": 2}}}, "costs.hours_per_week.myspace"),
        ({"costs": {"hours_per_week": {"facebook": 200}}}, "costs.hours_per_week.facebook"),
        ({"costs": {"hours_per_week": 3}}, "costs.hours_per_week"),
        ({"costs": {"ad_spend_per_month": {"facebook": "lots"}}}, "costs.ad_spend_per_month.facebook"),
        ({"costs": 5}, "[costs]"),
        ({"value": {"per_visit": 1}}, "value.per_visit"),
        ({"value": {"per_new_follower": -1}}, "value.per_new_follower"),
    ],
)
def test_config_mistakes_name_the_key(tmp_path: Path, data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(data, tmp_path)
    assert info.value.key == key


def test_sync_config_applies_the_file_once_and_keeps_dashboard_edits(tmp_path: Path) -> None:
    s = settings(GOOD, tmp_path)
    db = s.db_path
    assert roi_inputs.sync_config(db, roi_config(s), on=START) == 8  # currency, rate, tool, 2 hours, 1 ad, 2 values
    assert roi_inputs.sync_config(db, roi_config(s), on=END) == 0  # nothing changed
    costs = roi_inputs.current_costs(db, on=END)
    assert (costs.currency, costs.hourly_rate, costs.valid_from["hourly_rate"]) == ("EUR", 25, START)
    assert roi_inputs.current_assumptions(db, on=END).values == {
        "per_social_visit": 0.4,
        "per_new_follower": 1.0,  # not in the file: the default
        "per_1000_impressions": 6.0,
    }
    roi_inputs.set_costs(db, valid_from=WEEK2, hourly_rate=30)  # edited in the dashboard
    assert roi_inputs.sync_config(db, roi_config(s), on=END) == 0  # an unchanged file does not undo it
    assert roi_inputs.current_costs(db, on=END).hourly_rate == 30
    edited = {**GOOD, "costs": {**GOOD["costs"], "hourly_rate": 35}}  # type: ignore[dict-item]
    assert roi_inputs.sync_config(db, roi_config(settings(edited, tmp_path)), on=END) == 1  # the file changed: it wins
    costs = roi_inputs.current_costs(db, on=END)
    assert (costs.hourly_rate, costs.valid_from["hourly_rate"]) == (35, END)
    assert roi_inputs.current_costs(db, on=WEEK2).hourly_rate == 30  # the past keeps its value


def test_sync_without_costs_or_value_touches_nothing(tmp_path: Path) -> None:
    s = settings({}, tmp_path)
    assert roi_inputs.sync_config(s.db_path, roi_config(s), s.timezone) == 0
    assert not s.db_path.exists()


def test_sync_uses_today_in_the_business_time_zone(tmp_path: Path) -> None:
    s = settings(GOOD, tmp_path)
    roi_inputs.sync_config(s.db_path, roi_config(s), s.timezone)
    paris_today = datetime.now(ZoneInfo("Europe/Paris")).date()
    assert roi_inputs.current_costs(s.db_path).valid_from["hourly_rate"] == paris_today


# ---------------------------------------------------------------------------------------------
# socialkpi log-time
# ---------------------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="socialkpi")
    timelog.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_log_time_command(db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(db.parent)
    monkeypatch.setenv("SOCIALKPI_DB", str(db))
    monkeypatch.delenv("SOCIALKPI_CONFIG", raising=False)
    args = parse(["log-time", "facebook", "1:30", "--date", "2026-03-04", "--note", "reels"])
    assert (args.command, args.hours, args.date) == ("log-time", 1.5, date(2026, 3, 4))
    assert timelog.run(args) == 0
    assert "logged 1.5 h on facebook for 2026-03-04" in capsys.readouterr().out
    assert timelog.run(parse(["log-time", "facebook", "2,5", "--date", "2026-03-05"])) == 0
    entries = roi_inputs.time_entries(db, START, END)
    assert entries[["platform", "hours", "note"]].values.tolist() == [["facebook", 2.5, ""], ["facebook", 1.5, "reels"]]
    fb = row(roi.roi_table(db, START, END), "facebook")
    assert fb["hours"] == 7.0  # week 1 logged: 1.5 + 2.5; week 2: the 3 h estimate


def test_log_time_command_mistakes(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(db.parent)
    monkeypatch.setenv("SOCIALKPI_DB", str(db))
    assert timelog.run(parse(["log-time", "myspace", "1"])) == 2
    assert capsys.readouterr().err.startswith("socialkpi: error: PLATFORM: unknown platform 'myspace'")
    for bad in (["log-time", "facebook", "30"], ["log-time", "facebook", "1", "--date", "2026-02-30"]):
        with pytest.raises(SystemExit) as info:
            parse(bad)
        assert info.value.code == 2
    assert roi_inputs.time_entries(db, START, END).empty


def test_log_time_defaults_to_today(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(db.parent)
    monkeypatch.setenv("SOCIALKPI_DB", str(db))
    assert timelog.run(parse(["log-time", "instagram", "0.5"])) == 0
    today = roi_inputs.today()
    assert roi_inputs.time_entries(db, today, today)["hours"].tolist() == [0.5]
