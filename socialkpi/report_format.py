"""How the report and its e-mail show a value: the ``fmt_*`` formatters ("—" for a missing value) and the
columns of their platform and competitor tables.  :mod:`socialkpi.report` (the HTML file) and
:mod:`socialkpi.report_mail` (the e-mail) both use them."""

from __future__ import annotations

from collections.abc import Callable


def _missing(value: object) -> bool:
    import pandas as pd

    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


def fmt_number(value: object) -> str:
    if _missing(value):
        return "—"
    number = float(value)  # type: ignore[arg-type]
    return f"{number:,.0f}" if number == int(number) or abs(number) >= 100 else f"{number:,.2f}"


def fmt_fraction(value: object) -> str:
    return "—" if _missing(value) else f"{float(value) * 100:.1f}%"  # type: ignore[arg-type]


def fmt_pct(value: object) -> str:
    return "—" if _missing(value) else f"{float(value):+.1f}%"  # type: ignore[arg-type]


def fmt_day(value: object) -> str:
    if _missing(value):
        return "—"
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)


def fmt_moment(value: object) -> str:
    if _missing(value):
        return "—"
    return value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else str(value)


def fmt_plain(value: object) -> str:
    if _missing(value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


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
