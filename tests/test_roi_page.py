"""The ROI page through Streamlit's AppTest, against a warehouse seeded through warehouse.load.

Hand values (two ISO weeks 2026-03-02 .. 2026-03-15, default value assumptions):
facebook 3 h/week at 25/h -> 6 h, 150 cost; 1000 impressions and 2 followers_gained a day ->
14,000 impressions, 28 new followers; the website's visits_from_facebook 5 a day -> 70 visits.
Cost per follower 150 / 28 = 5.36; per 1,000 impressions 150 / 14 = 10.71; per visit 150 / 70 = 2.14;
value 70 x 0.50 + 28 x 1.00 + 14 x 5.00 = 133; ROI (133 - 150) / 150 = -11.3 %.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from collectors.observation import Account, Observation
from warehouse import roi_inputs
from warehouse.db import writing
from warehouse.load import AccountOutcome, write_account_batch

START, END = date(2026, 3, 2), date(2026, 3, 15)
AT = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)
FB = Account("facebook", "111", "Corner Bakery")
WEB = Account("ga4", "333", "bakery.example")

SCRIPT = """
from datetime import date

from socialkpi.pages import roi
from socialkpi.pages.common import PageContext

roi.render(PageContext(db_path={db!r}, start=date(2026, 3, 2), end=date(2026, 3, 15), platforms=None))
"""


def seed(db: Path) -> None:
    days = [START + timedelta(days=i) for i in range(14)]

    def obs(account: Account, metric: str, day: date, value: float) -> Observation:
        return Observation(account.platform, account.id, metric, day, value, metric, AT)

    with writing(db) as con:
        fb_rows = [obs(FB, "impressions", d, 1000) for d in days] + [obs(FB, "followers_gained", d, 2) for d in days]
        write_account_batch(con, AccountOutcome("run-1", FB, "ok", AT, AT), fb_rows)
        web_rows = [obs(WEB, "visits_from_facebook", d, 5) for d in days]
        write_account_batch(con, AccountOutcome("run-1", WEB, "ok", AT, AT), web_rows)
    roi_inputs.set_costs(db, valid_from=date(2026, 1, 1), hourly_rate=25, hours_per_week={"facebook": 3})


def app(tmp_path: Path, db: Path) -> AppTest:
    script = tmp_path / "roi_app.py"
    script.write_text(SCRIPT.format(db=str(db)), encoding="utf-8")
    at = AppTest.from_file(str(script), default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    seed(path)
    return path


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_figures_are_the_hand_values_with_their_formulas(tmp_path: Path, db: Path) -> None:
    at = app(tmp_path, db)
    assert metrics(at) == {
        "Total cost": "150.00 USD",
        "Cost per new follower": "5.36 USD",
        "Cost per 1,000 impressions": "10.71 USD",
        "Cost per visit from social": "2.14 USD",
        "Estimated value": "133.00 USD",
        "ROI": "-11.3 %",
    }
    captions = [c.value for c in at.caption]
    assert "= total cost / new followers" in captions
    assert "= (value − cost) / cost × 100" in captions
    assert "= social visits × 0.5 + new followers × 1 + impressions / 1000 × 5" in captions
    table = at.dataframe[0].value
    assert list(table["platform"]) == ["facebook", "all"]
    assert table.loc[0, "total_cost"] == 150.0 and table.loc[0, "roi_pct"] == -11.3
    # the defaults are shown next to the assumptions
    assert any(c.value.startswith("default 0.5 · now default") for c in at.caption)


def test_the_costs_form_writes_a_new_cost_valid_from_today(tmp_path: Path, db: Path) -> None:
    at = app(tmp_path, db)
    assert at.number_input(key="cost-hourly_rate").value == 25.0
    at.number_input(key="cost-hourly_rate").set_value(30.0)
    at.number_input(key="cost-hours-facebook").set_value(4.0)
    at.button[0].click()  # "Save costs"
    at.run()
    assert not at.exception, at.exception
    costs = roi_inputs.current_costs(db)
    assert (costs.hourly_rate, costs.hours_per_week) == (30.0, {"facebook": 4.0})
    assert costs.valid_from["hourly_rate"] == roi_inputs.today()
    assert costs.valid_from["hours_per_week.facebook"] == roi_inputs.today()
    assert any("Costs: saved (2 value(s) changed)" in s.value for s in at.success)
    assert metrics(at)["Total cost"] == "150.00 USD"  # March 2026 keeps the costs it had


def test_the_assumptions_and_time_forms_write(tmp_path: Path, db: Path) -> None:
    at = app(tmp_path, db)
    at.number_input(key="value-per_1000_impressions").set_value(8.0)
    at.button[1].click()  # "Save assumptions"
    at.run()
    assert not at.exception, at.exception
    assumptions = roi_inputs.current_assumptions(db)
    assert assumptions.values["per_1000_impressions"] == 8.0
    assert assumptions.valid_from["per_1000_impressions"] == roi_inputs.today()
    # the only stored value reaches back: 70 x 0.5 + 28 + 14 x 8 = 175
    assert metrics(at)["Estimated value"] == "175.00 USD"

    at.selectbox(key="time-platform").set_value("facebook")
    at.number_input(key="time-hours").set_value(2.0)
    at.date_input(key="time-day").set_value(date(2026, 3, 4))
    at.text_input(key="time-note").input("stories")
    at.button[2].click()  # "Log time"
    at.run()
    assert not at.exception, at.exception
    # week 1 now logged (2 h), week 2 the estimate (3 h): 5 h x 25 = 125
    assert metrics(at)["Total cost"] == "125.00 USD"
    entries = roi_inputs.time_entries(db, START, END)
    assert entries[["platform", "hours", "note"]].values.tolist() == [["facebook", 2.0, "stories"]]


def test_without_a_warehouse_the_page_says_how_to_start(tmp_path: Path) -> None:
    at = app(tmp_path, tmp_path / "missing.duckdb")
    assert "no warehouse at" in at.info[0].value
