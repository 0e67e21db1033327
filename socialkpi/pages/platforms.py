"""Platforms: audience and content KPIs per platform, with followers and impressions over time."""

from __future__ import annotations

import streamlit as st

from socialkpi.pages import common
from warehouse.formatting import format_value
from warehouse.kpis import metric_breaks


def render(ctx: common.PageContext) -> None:
    common.header("Platforms", ctx, "Own accounts per platform; growth is against the previous period.")
    kpis = ctx.load.platform_kpis(*ctx.key)
    if kpis.empty:
        common.empty("No social platform has data for this selection: run `socialkpi collect`.")
        return

    st.subheader("Audience per platform (followers)")
    rows = kpis[(kpis["platform"] != "all") & kpis["followers"].notna()]
    common.metric_grid(
        [
            (
                f"{row.platform} (followers)",
                format_value(None if row.followers != row.followers else row.followers),
                None if row.growth_pct != row.growth_pct else f"{round(row.growth_pct, 1) + 0.0:+.1f}%",
                f"Last value in the period, summed over your accounts on {row.platform}; the change is "
                f"against the previous period of the same length"
                + ("." if row.net_growth != row.net_growth else f" (net {row.net_growth:+,.0f} followers)."),
            )
            for row in rows.itertuples()
        ]
    )

    st.subheader("KPIs per platform")
    common.table(
        kpis,
        "platforms",
        ctx,
        columns={
            "followers": common.number("followers"),
            "followers_previous": common.number("followers (previous period)"),
            "net_growth": common.number("net growth (followers)"),
            "growth_pct": common.number("growth %", "%.1f%%"),
            "impressions": common.number("impressions (times shown)"),
            "reach_avg_daily": common.number("reach (avg people/day)", "%.0f"),
            "engagements": common.number("engagements"),
            "engagement_rate": common.percent("engagement rate (of impressions)"),
            "profile_views": common.number("profile views"),
            "link_clicks": common.number("link clicks"),
        },
    )

    for metric, title in (("followers", "Followers per platform"), ("impressions", "Impressions per platform")):
        st.subheader(title)
        frame = ctx.load.by_platform(*ctx.key, metric)
        if frame.empty:
            common.empty(f"No {metric} stored for this selection.")
            continue
        breaks = metric_breaks(ctx.start, ctx.end, ctx.platforms, [metric])
        common.line_chart(frame, color="platform", y_title=f"{metric} per day", breaks=breaks)
