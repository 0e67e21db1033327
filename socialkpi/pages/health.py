"""Data health: last successful run per account, failures, missing days, token expiry, skipped metrics."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from socialkpi.pages import common
from warehouse import queries

STATUS_COLORS = {
    queries.COVERAGE_STORED: "#4c9a6a",
    queries.COVERAGE_MISSING: "#d9534f",
    queries.COVERAGE_BEFORE: "#e6e6e6",
}


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
    grid = ctx.load.coverage(ctx.db_path, ctx.start, ctx.end)
    if grid.empty:
        common.empty("No accounts yet.")
    else:
        grid = grid.assign(account=grid["account_name"] + " (" + grid["platform"] + ")")
        chart = (
            alt.Chart(grid)
            .mark_rect()
            .encode(
                x=alt.X("date:T", title=None),
                y=alt.Y("account:N", title=None),
                color=alt.Color(
                    "status:N",
                    scale=alt.Scale(domain=list(STATUS_COLORS), range=list(STATUS_COLORS.values())),
                    legend=alt.Legend(orient="bottom", title=None),
                ),
                tooltip=["account", alt.Tooltip("date:T"), "status"],
            )
            .properties(height=28 * grid["account"].nunique() + 40)
        )
        st.altair_chart(chart, width="stretch")
        missing = ctx.load.missing(ctx.db_path, ctx.start, ctx.end)
        common.table(
            missing,
            "missing-days",
            ctx,
            columns={
                "days_missing": common.number("days missing"),
                "first_missing": st.column_config.DateColumn("first missing", format="YYYY-MM-DD"),
                "last_missing": st.column_config.DateColumn("last missing", format="YYYY-MM-DD"),
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
        st.caption("Where the last collect took each account's credential from; `socialkpi connect PLATFORM` "
                   "renews a connection (variables in .env win over the token store).")

    st.subheader("Access tokens")
    tokens = ctx.load.tokens(ctx.db_path)
    if tokens.empty:
        st.caption("No refreshed tokens stored beside the warehouse (tokens come from .env only).")
    else:
        for warning in queries.token_warnings(tokens.itertuples(index=False)):
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
        [(b.day, b.platform, b.metric, b.label) for b in queries.METRIC_BREAKS],
        columns=["date", "platform", "metric", "change"],
    )
    common.table(breaks, "metric-breaks", ctx, label="Download metric changes CSV")
