"""Competitors: followers side by side, growth, share of voice and posting cadence."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from socialkpi.pages import common
from warehouse import queries
from warehouse.formatting import fmt_fraction


def render(ctx: common.PageContext) -> None:
    common.header("Competitors", ctx, "Public numbers of the competitor accounts in socialkpi.toml next to yours.")
    comparison = ctx.load.competitors(*ctx.key)
    if comparison.empty:
        common.empty(
            "No competitor to compare with: add an `[[accounts]]` entry with `competitor = true` to "
            "socialkpi.toml (Instagram, Threads, X, LinkedIn, YouTube, Bluesky and Mastodon work), then "
            "run `socialkpi collect`."
        )
        return

    st.subheader("Share of voice (your followers / all followers, per platform)")
    share = ctx.load.share_of_voice(*ctx.key)
    common.metric_grid(
        [
            (
                row.platform,
                fmt_fraction(row.share_of_voice),
                None
                if pd.isna(row.share_of_voice) or pd.isna(row.share_of_voice_previous)
                else queries.format_pp(row.share_of_voice - row.share_of_voice_previous),
                f"Your {row.own_followers:,.0f} followers against competitors' {row.competitor_followers:,.0f}; "
                "the change is in percentage points vs the previous period.",
            )
            for row in share.itertuples()
        ]
    )

    st.subheader("Side by side")
    common.table(
        comparison,
        "competitors",
        ctx,
        columns={
            "followers": common.number("followers"),
            "followers_previous": common.number("followers (previous period)"),
            "followers_change": common.number("change (followers)"),
            "growth_pct": common.number("growth %", "%.1f%%"),
            "posts_published": common.number("posts published"),
            "posts_per_week": common.number("posts per week", "%.1f"),
        },
    )
    common.table(share, "share-of-voice", ctx, columns={
        "share_of_voice": common.percent("share of voice"),
        "share_of_voice_previous": common.percent("share of voice (previous period)"),
    }, label="Download share of voice CSV")  # fmt: skip

    st.subheader("Followers over time")
    frame = ctx.load.by_account(*ctx.key, "followers")
    frame = frame[frame["platform"].isin(set(comparison["platform"]))]
    if frame.empty:
        common.empty("No follower counts stored in this window.")
    else:
        common.line_chart(frame, color="account", y_title="followers")
