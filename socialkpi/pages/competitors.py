"""Competitors: followers side by side, growth, share of voice and posting cadence."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from socialkpi.pages import common
from warehouse import competitors
from warehouse.formatting import fmt_fraction, format_pp


def pick_accounts(comparison: pd.DataFrame) -> tuple[tuple[str, str], ...]:
    """More accounts than one chart can tell apart (:data:`warehouse.competitors.CHART_ACCOUNTS`): the chart
    starts with those with the most followers at the end of the window, and a picker sets the others."""
    label = {
        (row.platform, row.account_id): f"{row.account_name} ({row.platform})"
        + (" · competitor" if row.competitor else "")
        for row in comparison.itertuples(index=False)
    }
    biggest = comparison.sort_values("followers", ascending=False, kind="stable", na_position="last")
    top = list(zip(biggest["platform"], biggest["account_id"], strict=True))[: competitors.CHART_ACCOUNTS]
    st.caption(f"{len(comparison):,} accounts: the chart starts with the {len(top)} with the most followers.")
    picked = st.multiselect("Accounts in the chart", list(label), default=top, format_func=lambda key: label[key])
    return tuple(picked)


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
                else format_pp(row.share_of_voice - row.share_of_voice_previous),
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
    if len(comparison) > competitors.CHART_ACCOUNTS:
        frame = ctx.load.by_account(*ctx.key, "followers", pick_accounts(comparison))
    else:
        frame = ctx.load.by_account(*ctx.key, "followers")
    frame = frame[frame["platform"].isin(set(comparison["platform"]))]
    if frame.empty:
        common.empty("No follower counts stored in this window.")
    else:
        common.line_chart(frame, color="account", y_title="followers")
