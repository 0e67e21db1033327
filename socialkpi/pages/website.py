"""Website: page views, visits, visits from social in total and per network."""

from __future__ import annotations

import altair as alt
import streamlit as st

from socialkpi.pages import common

WEB_METRICS = ("page_views", "visits", "social_visits")


def render(ctx: common.PageContext) -> None:
    common.header("Website", ctx, "From GA4, Plausible or Matomo; sessions are visits.")
    cards = [k for k in ctx.load.cards(*ctx.key) if k.group == "website"]
    if all(k.value is None for k in cards):
        common.empty(
            "No website data for this selection: add a ga4, plausible or matomo account to socialkpi.toml "
            "and run `socialkpi collect`."
        )
        return
    common.kpi_row(cards)

    st.subheader("Per day")
    series = ctx.load.series(*ctx.key, WEB_METRICS)
    if not series.empty:
        common.line_chart(series, color="metric", y_title="count per day")

    st.subheader("Visits from each social network (sessions)")
    networks = ctx.load.networks(*ctx.key)
    if networks.empty:
        common.empty("Your web analytics gave no per-network visits (visits_from_<network>) for this window.")
        return
    chart = (
        alt.Chart(networks)
        .mark_bar()
        .encode(
            x=alt.X("visits:Q", title="visits (sessions)"),
            y=alt.Y("network:N", sort="-x", title=None),
            tooltip=["network", alt.Tooltip("visits:Q", format=",.0f"), alt.Tooltip("share_of_social:Q", format=".1%")],
        )
        .properties(height=40 + 28 * len(networks))
    )
    st.altair_chart(chart, width="stretch")
    st.caption("Each network's audience (your own accounts there) beside the visits it sent to your websites.")
    common.table(
        ctx.load.network_reach(*ctx.key),
        "visits-by-network",
        ctx,
        columns={
            "visits": common.number("visits (sessions)"),
            "visits_previous": common.number("visits (previous period)"),
            "change_pct": common.number("change %", "%+.1f%%"),
            "share_of_social": common.percent("share of social visits"),
            "followers": common.number("followers there"),
            "impressions": common.number("impressions there"),
            "reach_avg_daily": common.number("reach there (avg people/day)", "%.0f"),
            "visits_per_1000_impressions": common.number("visits per 1,000 impressions", "%.1f"),
        },
    )
