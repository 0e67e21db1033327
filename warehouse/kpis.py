"""The KPI catalogue: the headline cards (:data:`KPI_DEFS`, one :class:`KpiDef` each), a card's values
(:class:`Kpi`), the previous period a change is measured against, and the days a platform changed a
metric's meaning (:data:`METRIC_BREAKS`).

No SQL and no pandas: the cards' SQL is :mod:`warehouse.kpi_cards`; the report's HTML and the pages read
these types (each KPI is defined in docs/kpis.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from warehouse.formatting import format_pp, format_value


@dataclass(frozen=True, slots=True)
class KpiDef:
    key: str
    metric: str  # for a ratio: the numerator
    label: str
    unit: str
    how: Literal["last", "sum", "avg_daily", "ratio"]
    help: str
    group: Literal["social", "website"] = "social"
    denominator: str | None = None  # ratios only


KPI_DEFS: tuple[KpiDef, ...] = (
    KpiDef(
        "audience",
        "followers",
        "Audience",
        "followers",
        "last",
        "Followers of your own accounts: the last value in the period per account, summed across "
        "accounts. Competitors are excluded.",
    ),
    KpiDef(
        "impressions",
        "impressions",
        "Impressions",
        "times shown",
        "sum",
        "Times your content was shown, summed over the days and accounts of the period.",
    ),
    KpiDef(
        "reach",
        "reach",
        "Reach",
        "avg people/day",
        "avg_daily",
        "Reach is a distinct count, so it is never summed over days: the average daily reach of "
        "each account over the period, summed across accounts.",
    ),
    KpiDef(
        "engagements",
        "engagements",
        "Engagements",
        "interactions",
        "sum",
        "Reactions, comments, shares, saves (and clicks where the platform counts them), summed over "
        "the days and accounts of the period.",
    ),
    KpiDef(
        "engagement_rate",
        "engagements",
        "Engagement rate",
        "% of impressions",
        "ratio",
        "Engagements / impressions over the period, from the accounts that report both. The change "
        "is in percentage points (pp).",
        denominator="impressions",
    ),
    KpiDef(
        "profile_views",
        "profile_views",
        "Profile views",
        "views",
        "sum",
        "Visits to your profiles or pages on the platforms, summed over days and accounts.",
    ),
    KpiDef(
        "link_clicks",
        "link_clicks",
        "Link clicks",
        "clicks",
        "sum",
        "Clicks from the platforms to your website or on a call-to-action, summed over days and accounts.",
    ),
    KpiDef(
        "page_views",
        "page_views",
        "Website page views",
        "views",
        "sum",
        "Website page views summed over the days and sites of the period.",
        group="website",
    ),
    KpiDef(
        "visits",
        "visits",
        "Website visits",
        "sessions",
        "sum",
        "Website sessions summed over the days and sites of the period.",
        group="website",
    ),
    KpiDef(
        "social_visits",
        "social_visits",
        "Visits from social",
        "sessions",
        "sum",
        "Website sessions whose source is a social network, summed over the days and sites of the period.",
        group="website",
    ),
    KpiDef(
        "social_share",
        "social_visits",
        "Social share of visits",
        "% of visits",
        "ratio",
        "Visits from social / all visits over the period, from the sites that report both. The change "
        "is in percentage points (pp).",
        group="website",
        denominator="visits",
    ),
)


@dataclass(frozen=True, slots=True)
class Kpi:
    """One KPI card: the value for ``[start, end]`` and for the previous period of the same length.

    A ratio (``how == "ratio"``) is a fraction (0.25 = 25 %); its change is shown in percentage
    points, every other change as a relative change in %.
    """

    key: str
    label: str
    unit: str
    help: str
    value: float | None
    previous: float | None
    change_pct: float | None  # (value - previous) / previous * 100; None without a non-zero previous
    start: date
    end: date
    previous_start: date
    previous_end: date
    how: str = "sum"
    group: str = "social"

    @property
    def title(self) -> str:
        """The card's label with its unit: ``Audience (followers)``."""
        return f"{self.label} ({self.unit})"

    @property
    def shown(self) -> str:
        """The value as the dashboard and the report print it: ``1,673``, ``6.63%`` or ``—``."""
        return format_value(self.value, ratio=self.how == "ratio")

    @property
    def previous_shown(self) -> str:
        return format_value(self.previous, ratio=self.how == "ratio")

    @property
    def delta(self) -> str | None:
        """``+5.0%`` (relative change) or ``+5.00 pp`` for a ratio; None when there is no change to show."""
        if self.how == "ratio":
            if self.value is None or self.previous is None:
                return None
            return format_pp(self.value - self.previous)
        return None if self.change_pct is None else f"{round(self.change_pct, 1) + 0.0:+.1f}%"


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same number of days that ends the day before ``start``."""
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def change_pct(value: float | None, previous: float | None) -> float | None:
    """Percentage change from ``previous`` to ``value``; None when either is missing or previous is 0."""
    if value is None or previous is None or previous == 0:
        return None
    return (value - previous) / abs(previous) * 100.0


# ---------------------------------------------------------------------------------------------
# Metric breaks: where a platform retired or renamed a metric (charts and the report annotate them)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricBreak:
    """A day from which a platform's number behind a canonical metric changed meaning."""

    platform: str
    metric: str
    day: date
    label: str


METRIC_BREAKS: tuple[MetricBreak, ...] = (
    MetricBreak("instagram", "impressions", date(2025, 4, 21), "Instagram: impressions became views"),
    MetricBreak("facebook", "impressions", date(2025, 11, 15), "Facebook: impressions became media views"),
)


def metric_breaks(
    start: date,
    end: date,
    platforms: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> list[MetricBreak]:
    """The :data:`METRIC_BREAKS` inside ``[start, end]`` for these platforms and metrics (None: all)."""
    return [
        b
        for b in METRIC_BREAKS
        if start <= b.day <= end
        and (platforms is None or b.platform in platforms)
        and (metrics is None or b.metric in metrics)
    ]
