"""Data health: last successful run per account, failures, missing days, token expiry, skipped metrics."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from socialkpi.pages import common
from warehouse import health, kpis
from warehouse.tokens import token_warnings

STATUS_COLORS = {
    health.COVERAGE_STORED: "#4c9a6a",
    health.COVERAGE_MISSING: "#d9534f",
    health.COVERAGE_NOT_YET: "#9ec5e8",
    health.COVERAGE_BEFORE: "#e6e6e6",
}


def calendar(report: health.Coverage) -> None:
    """One cell per account and day of ``report.days``, coloured by its status; one row per account, in the
    order of the table under it (``report.accounts``)."""
    rows = report.days.drop_duplicates(["platform", "account_id"])["account"].tolist()
    chart = (
        alt.Chart(report.days)
        .mark_rect()
        .encode(
            # one band per day (a bare "date:T" drew every cell across the whole window, the last one on
            # top).  Streamlit hands Vega the warehouse's days as local midnights: a local time unit labels
            # each day as itself in any browser time zone (a UTC one shows the day before east of Greenwich)
            x=alt.X(
                "date:O",
                timeUnit="yearmonthdate",
                title=None,
                axis=alt.Axis(format="%d %b", labelAngle=0, labelOverlap="greedy"),
            ),
            y=alt.Y("account:N", title=None, sort=rows, axis=alt.Axis(labelLimit=320)),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=list(STATUS_COLORS), range=list(STATUS_COLORS.values())),
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=["account", alt.Tooltip("date:T", timeUnit="yearmonthdate", title="day"), "status"],
        )
        .properties(height=28 * len(rows) + 40)
    )
    st.altair_chart(chart, width="stretch")


def pick_calendar(ctx: common.PageContext, report: health.Coverage) -> health.Coverage:
    """Many accounts (more than :data:`common.CALENDAR_ACCOUNTS`): the calendar starts with the accounts
    missing the most days, and a picker puts any others in it; the table under it lists every account."""
    accounts = report.accounts
    label = {
        (row.platform, row.account_id): f"{row.account_name} ({row.platform})"
        + (" · competitor" if row.competitor else "")
        for row in accounts.itertuples(index=False)
    }
    shown = list(
        report.days.drop_duplicates(["platform", "account_id"])[["platform", "account_id"]].itertuples(
            index=False, name=None
        )
    )
    missing = int((accounts["days_missing"] > 0).sum())
    if missing:
        st.warning(
            f"{missing:,} of {len(accounts):,} accounts miss days in this window. The calendar shows "
            f"the {len(shown)} missing the most; pick other accounts below. The table lists every account."
        )
    else:
        st.success(f"None of the {len(accounts):,} accounts misses a day in this window: pick some to see their days.")
    picked = st.multiselect("Accounts in the calendar", list(label), default=shown, format_func=lambda key: label[key])
    if picked == shown:
        return report
    return ctx.load.coverage(ctx.db_path, ctx.start, ctx.end, tuple(picked))


def not_yet_caption(report: health.Coverage) -> str:
    """What "not yet available" means on this warehouse: counted back from which day, by how many days."""
    by_delay: dict[int, list[str]] = {}
    for platform, days in report.delays.items():
        by_delay.setdefault(days, []).append(platform)
    delays = "; ".join(
        f"{', '.join(names)}: {days} day{'s' if days > 1 else ''}" for days, names in sorted(by_delay.items())
    )
    return (
        f"**Not yet available**: nothing stored on a day its source cannot have yet, after "
        f"{report.as_of:%d %b %Y} (the newest day stored: the day of the latest collect) minus the "
        f"platform's delay{f' ({delays})' if delays else ''}; the next collects fill it. "
        "**Missing**: nothing stored on a day the platform already has: overdue."
    )


def render(ctx: common.PageContext) -> None:
    common.header("Data health", ctx, "Is every account collected, and what needs attention?")
    fresh = ctx.load.freshness(ctx.db_path)
    last = f"{fresh.last_success_at:%Y-%m-%d %H:%M} UTC" if fresh.last_success_at else "never"
    st.caption(f"Last fully successful `socialkpi collect`: {last}.")

    failing = fresh.failing
    if len(failing):
        st.error(f"{len(failing)} account(s) failed in their latest run.")
        common.table(
            failing[["platform", "account_id", "account_name", "error_kind", "reason", "last_ok_at"]],
            "failures",
            ctx,
            label="Download failures CSV",
        )
    else:
        st.success("Every account's latest collection succeeded.")

    st.subheader("Per account")
    common.table(
        fresh.accounts[
            ["platform", "account_id", "account_name", "competitor", "newest_day", "last_ok_at", "last_status"]
        ],
        "accounts",
        ctx,
        columns={
            "newest_day": st.column_config.DateColumn("newest day", format="YYYY-MM-DD"),
            "last_ok_at": st.column_config.DatetimeColumn("last success (UTC)", format="YYYY-MM-DD HH:mm"),
            "last_status": "last status",
        },
        label="Download accounts CSV",
    )

    st.subheader("Days with nothing stored")
    report = ctx.load.coverage(ctx.db_path, ctx.start, ctx.end)
    if len(report.accounts) > common.CALENDAR_ACCOUNTS:
        report = pick_calendar(ctx, report)
    if report.accounts.empty:
        common.empty("No accounts yet.")
    else:
        if not report.days.empty:
            calendar(report)
        st.caption(not_yet_caption(report))
        common.table(
            report.accounts,
            "missing-days",
            ctx,
            columns={
                "days_missing": common.number("days missing"),
                "first_missing": st.column_config.DateColumn("first missing", format="YYYY-MM-DD"),
                "last_missing": st.column_config.DateColumn("last missing", format="YYYY-MM-DD"),
                "days_not_yet_available": common.number("days not yet available"),
            },
            label="Download missing days CSV",
        )

    st.subheader("Credentials")
    creds = ctx.load.credentials(ctx.db_path)
    if creds.empty:
        st.caption("No account collected yet.")
    else:
        common.table(
            creds.drop(columns=["source"]),
            "credentials",
            ctx,
            columns={
                "platform": "platform",
                "account_id": "account",
                "account_name": "name",
                "comes_from": "comes from",
                "ends": "ends",
                "renew": "to renew it",
            },
            label="Download credentials CSV",
        )
        st.caption(
            "Where the last collect took each account's credential from; `socialkpi connect PLATFORM` "
            "renews a connection (variables in .env win over the token store)."
        )

    st.subheader("Access tokens")
    tokens = ctx.load.tokens(ctx.db_path)
    if tokens.empty:
        st.caption("No refreshed tokens stored beside the warehouse (tokens come from .env only).")
    else:
        for warning in token_warnings(tokens.itertuples(index=False)):
            st.warning(warning.message)
        common.table(
            tokens,
            "tokens",
            ctx,
            columns={
                "expires_at": st.column_config.DatetimeColumn("access token expires (UTC)", format="YYYY-MM-DD HH:mm"),
                "days_left": common.number("days left", "%.1f"),
                "refresh_expires_at": st.column_config.DatetimeColumn("refresh token expires", format="YYYY-MM-DD"),
                "refresh_days_left": common.number("refresh token days left", "%.1f"),
                "refreshable": st.column_config.CheckboxColumn("has a refresh token"),
                "self_renewing": st.column_config.CheckboxColumn("renews itself while valid"),
                "first_used_at": st.column_config.DatetimeColumn(
                    "first used (a .env token: it expires by then + its lifetime)", format="YYYY-MM-DD"
                ),
            },
            label="Download token expiry CSV",
        )
        st.caption("Only expiry dates are read; the tokens themselves are never shown.")

    st.subheader("Metrics skipped (refused or retired by the platform)")
    skipped = ctx.load.skipped(ctx.db_path)
    if skipped.empty:
        st.caption("None.")
    else:
        common.table(skipped, "skipped-metrics", ctx, label="Download skipped metrics CSV")

    st.subheader("Metric changes annotated on the charts")
    breaks = pd.DataFrame(
        [(b.day, b.platform, b.metric, b.label) for b in kpis.METRIC_BREAKS],
        columns=["date", "platform", "metric", "change"],
    )
    common.table(breaks, "metric-breaks", ctx, label="Download metric changes CSV")
