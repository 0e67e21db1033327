"""ROI: what social media costs you (your hours, tools, ads) against an estimated value.

Every number comes from :func:`warehouse.roi.roi_table` (docs/roi.md defines them); this page
only formats them and puts the formula beside each one.  The page reads like every other page
(short read-only connections, cached 60 s); its three forms write through :mod:`warehouse.roi_inputs`,
which opens the warehouse read-write for that one write and closes it, then the caches are cleared.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from collectors import PLATFORMS
from socialkpi.pages import common
from warehouse import roi, roi_inputs
from warehouse.access import WarehouseMissing
from warehouse.db import WarehouseError
from warehouse.formatting import fmt_count, fmt_money, missing

FLASH = "roi-flash"


@st.cache_data(ttl=60, show_spinner=False)
def load_roi(db_path: str, start: date, end: date, platforms: tuple[str, ...] | None) -> pd.DataFrame:
    return roi.roi_table(db_path, start, end, None if platforms is None else list(platforms))


@st.cache_data(ttl=60, show_spinner=False)
def load_costs(db_path: str, on: date) -> roi_inputs.Costs:
    return roi_inputs.current_costs(db_path, on)


@st.cache_data(ttl=60, show_spinner=False)
def load_assumptions(db_path: str, on: date) -> roi_inputs.Assumptions:
    return roi_inputs.current_assumptions(db_path, on)


@st.cache_data(ttl=60, show_spinner=False)
def load_time(db_path: str, start: date, end: date, platforms: tuple[str, ...] | None) -> pd.DataFrame:
    return roi_inputs.time_entries(db_path, start, end, None if platforms is None else list(platforms))


def _clear() -> None:
    for loader in (load_roi, load_costs, load_assumptions, load_time):
        loader.clear()


def render(ctx: common.PageContext) -> None:
    common.header(
        "ROI",
        ctx,
        "What your social media costs (your hours, tools and ads) against an estimated value of the "
        "visits, followers and impressions it brought. The values are assumptions: set your own below.",
    )
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(flash)
    try:
        frame = load_roi(*ctx.key)
        on = roi_inputs.today()
        costs = load_costs(ctx.db_path, on)
        assumptions = load_assumptions(ctx.db_path, on)
    except WarehouseMissing as exc:
        common.empty(str(exc))
        return
    except WarehouseError as exc:
        st.error(f"The warehouse cannot be read: {exc}")
        return
    currency = costs.currency
    _cards(frame, currency, assumptions)
    _table(frame, ctx, currency)
    platforms = [p for p in frame["platform"] if p != roi_inputs.TOTAL]
    _costs_form(ctx, costs, platforms)
    _assumptions_form(ctx, assumptions)
    _time_form(ctx, platforms)


def _cards(frame: pd.DataFrame, currency: str, assumptions: roi_inputs.Assumptions) -> None:
    total = frame[frame["platform"] == roi_inputs.TOTAL].iloc[0]
    v = assumptions.values
    value_formula = (
        f"social visits × {v['per_social_visit']:g} + new followers × {v['per_new_follower']:g} "
        f"+ impressions / 1000 × {v['per_1000_impressions']:g}"
    )
    roi_shown = "—" if missing(total["roi_pct"]) else f"{total['roi_pct']:+.1f} %"
    cards = [
        ("Total cost", fmt_money(total["total_cost"], currency), "labour + tools + ads", _cost_help(total, currency)),
        (
            "Cost per new follower",
            fmt_money(total["cost_per_new_follower"], currency),
            "total cost / new followers",
            f"{fmt_count(total['new_followers'])} new followers"
            " (gains, or follower growth where no gains are reported).",
        ),
        (
            "Cost per 1,000 impressions",
            fmt_money(total["cost_per_1000_impressions"], currency),
            "total cost / impressions × 1000",
            f"{fmt_count(total['impressions'])} impressions; only the cost of platforms that report impressions.",
        ),
        (
            "Cost per visit from social",
            fmt_money(total["cost_per_social_visit"], currency),
            "total cost / visits from social",
            f"{fmt_count(total['social_visits'])} website visits from your platforms (visits_from_<platform>).",
        ),
        ("Estimated value", fmt_money(total["estimated_value"], currency), value_formula, "Assumed values, see below."),
        ("ROI", roi_shown, "(value − cost) / cost × 100", "Empty when there is no cost or no value."),
    ]
    for row in (cards[:3], cards[3:]):  # two rows of three: a money figure fits a card on a laptop
        for column, (label, shown, formula, detail) in zip(st.columns(len(row)), row, strict=True):
            column.metric(label, shown, help=f"{label} = {formula}. {detail}")
            column.caption(f"= {formula}")


def _cost_help(total: pd.Series, currency: str) -> str:
    return (
        f"{total['hours']:.1f} h ({total['hours_source']}) → labour {fmt_money(total['labour_cost'], currency)}; "
        f"tools {fmt_money(total['tool_cost'], currency)}; ads {fmt_money(total['ad_spend'], currency)}. "
        "Hours: logged time in weeks where you logged any, else hours per week / 7 a day."
    )


def _table(frame: pd.DataFrame, ctx: common.PageContext, currency: str) -> None:
    st.subheader(f"Per platform ({currency})")
    columns = {
        "hours": common.number("hours", "%.2f"),
        "hours_source": st.column_config.TextColumn("hours from", help="logged, estimate (hours per week) or mixed"),
        "labour_cost": common.number("labour", "%.2f"),
        "tool_cost": common.number("tools (share)", "%.2f"),
        "ad_spend": common.number("ads", "%.2f"),
        "total_cost": common.number("total cost", "%.2f"),
        "new_followers": common.number("new followers"),
        "impressions": common.number("impressions"),
        "social_visits": common.number("visits from social"),
        "cost_per_new_follower": common.number("cost / new follower", "%.2f"),
        "cost_per_1000_impressions": common.number("cost / 1,000 impressions", "%.2f"),
        "cost_per_social_visit": common.number("cost / social visit", "%.2f"),
        "estimated_value": common.number("estimated value", "%.2f"),
        "roi_pct": common.number("ROI %", "%+.1f%%"),
    }
    common.table(frame, "roi", ctx, columns=columns)
    st.caption(
        "Formulas: "
        + "; ".join(f"**{name}** = {text}" for name, text in roi.FORMULAS.items())
        + ". The *all* row sums the platforms; its cost per X uses the cost of the platforms that report X. "
        "Empty: not reported, or a division by zero. See docs/roi.md."
    )


def _write(what: str, action: Any) -> None:
    """Run one write (it opens the warehouse read-write and closes it), then refresh the page."""
    try:
        written = action()
    except ValueError as exc:
        st.error(f"{what}: {exc}")
        return
    except WarehouseError as exc:
        st.error(f"{what} could not be saved: {exc}")
        return
    _clear()
    st.session_state[FLASH] = f"{what}: saved ({written} value(s) changed)."
    st.rerun()


def _costs_form(ctx: common.PageContext, costs: roi_inputs.Costs, platforms: list[str]) -> None:
    st.subheader("Your costs")
    shown = sorted(set(platforms) | set(costs.hours_per_week) | set(costs.ad_spend_per_month))
    with st.form("roi-costs"):
        top = st.columns(4)
        currency = top[0].text_input("Currency", value=costs.currency, key="cost-currency")
        rate = top[1].number_input(
            "Your hourly rate", min_value=0.0, value=costs.hourly_rate, step=1.0, key="cost-hourly_rate"
        )
        tool = top[2].number_input(
            "Tools per month", min_value=0.0, value=costs.tool_cost_per_month, step=1.0, key="cost-tool_cost_per_month"
        )
        since = top[3].date_input("Valid from", value=roi_inputs.today(), key="cost-valid_from", help=_VALID_FROM_HELP)
        hours: dict[str, float] = {}
        ads: dict[str, float] = {}
        for platform in shown:
            left, right = st.columns(2)
            hours[platform] = left.number_input(
                f"{platform}: hours per week (estimate)",
                min_value=0.0,
                max_value=168.0,
                value=costs.hours_per_week.get(platform, 0.0),
                step=0.5,
                key=f"cost-hours-{platform}",
            )
            ads[platform] = right.number_input(
                f"{platform}: ad spend per month",
                min_value=0.0,
                value=costs.ad_spend_per_month.get(platform, 0.0),
                step=5.0,
                key=f"cost-ads-{platform}",
            )
        submitted = st.form_submit_button("Save costs")
    st.caption("Defaults: 0 for every cost. socialkpi.toml `[costs]` sets them too (applied when the file changes).")
    if submitted:
        _write(
            "Costs",
            lambda: roi_inputs.set_costs(
                ctx.db_path,
                valid_from=since,
                currency=currency,
                hourly_rate=rate,
                tool_cost_per_month=tool,
                hours_per_week=hours,
                ad_spend_per_month=ads,
            ),
        )


_VALID_FROM_HELP = (
    "The first day the new values hold. Days before it keep the values they had, so past periods keep their costs."
)


def _assumptions_form(ctx: common.PageContext, assumptions: roi_inputs.Assumptions) -> None:
    st.subheader("What a result is worth to you (assumptions)")
    with st.form("roi-value"):
        columns = st.columns(len(roi_inputs.ASSUMPTION_DEFAULTS) + 1)
        values = {}
        for column, item in zip(columns, roi_inputs.ASSUMPTION_DEFAULTS, strict=False):
            default = assumptions.defaults[item]
            state = "default" if assumptions.is_default(item) else f"set, since {assumptions.valid_from[item]}"
            values[item] = column.number_input(
                roi_inputs.ASSUMPTION_LABELS[item],
                min_value=0.0,
                value=assumptions.values[item],
                step=0.1,
                key=f"value-{item}",
                help=f"Default {default:g} {assumptions.currency} (docs/roi.md says where it comes from).",
            )
            column.caption(f"default {default:g} · now {state}")
        since = columns[-1].date_input(
            "Valid from", value=roi_inputs.today(), key="value-valid_from", help=_VALID_FROM_HELP
        )
        submitted = st.form_submit_button("Save assumptions")
    if submitted:
        _write("Assumptions", lambda: roi_inputs.set_assumptions(ctx.db_path, valid_from=since, **values))


def _time_form(ctx: common.PageContext, platforms: list[str]) -> None:
    st.subheader("Log time actually spent")
    choices = platforms + sorted(p for p in PLATFORMS if p not in platforms and p not in roi.NOT_SOCIAL)
    with st.form("roi-time"):
        a, b, c, d = st.columns(4)
        platform = a.selectbox("Platform", choices, key="time-platform")
        hours = b.number_input("Hours", min_value=0.25, max_value=24.0, value=1.0, step=0.25, key="time-hours")
        day = c.date_input("Day", value=roi_inputs.today(), key="time-day")
        note = d.text_input("Note", key="time-note")
        submitted = st.form_submit_button("Log time")
    st.caption(
        "Time logged in a week (Monday to Sunday) replaces that platform's hours-per-week estimate for the whole "
        "week, so log every day you worked on it. Same as `socialkpi log-time PLATFORM HOURS --date D`."
    )
    if submitted and platform:
        _write("Time", lambda: (roi_inputs.log_time(ctx.db_path, platform, hours, day, note), 1)[1])
    entries = load_time(*ctx.key)
    if not entries.empty:
        common.table(entries, "time-log", ctx, label="Download the time log (CSV)")
