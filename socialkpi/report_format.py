"""The columns of the report's and its e-mail's platform and competitor tables: each a frame column, its
header and its formatter (:mod:`warehouse.formatting`, as on the dashboard's pages).
:mod:`socialkpi.report` (the HTML file) and :mod:`socialkpi.report_mail` (the e-mail) both use them."""

from __future__ import annotations

from collections.abc import Callable

from warehouse.formatting import fmt_fraction, fmt_number, fmt_pct, fmt_plain

Column = tuple[str, str, Callable[[object], str]]  # (frame column, header, formatter)

PLATFORM_COLUMNS: list[Column] = [
    ("platform", "platform", fmt_plain),
    ("followers", "followers", fmt_number),
    ("net_growth", "net growth", fmt_number),
    ("growth_pct", "growth", fmt_pct),
    ("impressions", "impressions", fmt_number),
    ("reach_avg_daily", "reach (avg/day)", fmt_number),
    ("engagements", "engagements", fmt_number),
    ("engagement_rate", "engagement rate", fmt_fraction),
    ("profile_views", "profile views", fmt_number),
    ("link_clicks", "link clicks", fmt_number),
]
COMPETITOR_COLUMNS: list[Column] = [
    ("platform", "platform", fmt_plain),
    ("account_name", "account", fmt_plain),
    ("competitor", "competitor", fmt_plain),
    ("followers", "followers", fmt_number),
    ("followers_change", "change", fmt_number),
    ("growth_pct", "growth", fmt_pct),
    ("posts_published", "posts", fmt_number),
    ("posts_per_week", "posts/week", fmt_number),
]
