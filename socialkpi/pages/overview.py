"""Overview: the headline KPI cards, the daily trend and the KPI snapshot with its CSV."""

from __future__ import annotations

import streamlit as st

from socialkpi.pages import common
from warehouse import export, kpis
from warehouse.tokens import token_warnings

TREND_METRICS = ("impressions", "reach", "engagements", "page_views", "social_visits")


def render(ctx: common.PageContext) -> None:
    common.header("Overview", ctx, "Own accounts only; competitors are on their own page.")

    fresh = ctx.load.freshness(ctx.db_path)
    last = f"{fresh.last_success_at:%Y-%m-%d %H:%M} UTC" if fresh.last_success_at else "never"
    failing = fresh.failing
    tokens = token_warnings(ctx.load.tokens(ctx.db_path).itertuples(index=False))
    renew = f" · {len(tokens)} token{'s' if len(tokens) != 1 else ''} to renew soon" if tokens else ""
    st.caption(
        f"Last successful collection: {last} · "
        f"{len(failing)} account{'s' if len(failing) != 1 else ''} failing{renew} (see Data health)"
    )

    cards = ctx.load.cards(*ctx.key)
    st.subheader("Social")
    common.kpi_row([k for k in cards if k.group == "social"])
    st.subheader("Website")
    common.kpi_row([k for k in cards if k.group == "website"])

    st.subheader("Daily trend (own accounts, per day)")
    series = ctx.load.series(*ctx.key, TREND_METRICS)
    if series.empty:
        common.empty("No daily values for this selection: widen the dates or pick more platforms.")
    else:
        breaks = kpis.metric_breaks(ctx.start, ctx.end, ctx.platforms, TREND_METRICS)
        common.line_chart(series, color="metric", y_title="count per day", breaks=breaks)

    period = st.radio("Snapshot period", ("month", "week"), horizontal=True)
    st.subheader(f"KPI snapshot per {period} (all platforms and accounts)")
    snapshot = ctx.load.snapshot(ctx.db_path, ctx.start, ctx.end, period)
    if snapshot.empty:
        common.empty("No KPIs for this date range.")
    else:
        st.dataframe(
            snapshot,
            hide_index=True,
            column_config={
                "period_start": st.column_config.DateColumn("period_start"),
                "period_end": st.column_config.DateColumn("period_end"),
                "engagement_rate": common.percent("engagement_rate"),
                "social_share_of_visits": common.percent("social_share_of_visits"),
            },
        )
    st.download_button(
        "Download KPIs CSV",
        data=lambda: export.kpis_frame_csv(snapshot),  # built on click, from the snapshot shown (common.table)
        file_name=f"socialkpi-kpis-{period}-{ctx.start:%Y%m%d}-{ctx.end:%Y%m%d}.csv",
        mime="text/csv",
        key="csv-kpis",
    )
    st.caption("Definitions of every KPI and CSV column: docs/kpis.md.")
