"""What every dashboard page shares: the page context, the cached loaders and a few widgets.

The page contract
-----------------
``dashboard.py`` reads the sidebar filters once and calls ``<page module>.render(ctx)`` with a
:class:`PageContext` (``socialkpi.pages.roi.render`` receives the same object):

- ``ctx.db_path: str``: the warehouse file (``SOCIALKPI_DB``); open it only read-only and
  briefly, through :mod:`warehouse.queries` (never cache a connection);
- ``ctx.start: date``, ``ctx.end: date``: the chosen window, both days included;
- ``ctx.platforms: list[str] | None``: the platform ids picked in the sidebar (``None``: all);
- ``ctx.load``: the cached loaders below (``st.cache_data(ttl=60)``, keyed by ``db_path`` and
  hashable arguments; ``ctx.key`` gives ``(db_path, start, end, platforms tuple)``).

A page shows numbers from :mod:`warehouse.queries` only (no SQL, no KPI arithmetic, no HTTP),
a CSV download under every table (:func:`table`), units in titles, and an empty state
(:func:`empty`) when there is nothing to show.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from collectors.tokens import TokenStore
from warehouse import competitors, export, health, kpi_cards, kpis, queries, website
from warehouse.access import Period
from warehouse.lake_config import Lake

Key = tuple[str, date, date, tuple[str, ...] | None]


# ---------------------------------------------------------------------------------------------
# Cached loaders: each opens and closes its own read-only connection (README, "Guarantees")
# ---------------------------------------------------------------------------------------------


@st.cache_data(ttl=60, show_spinner=False)
def load_bounds(db_path: str) -> queries.DateBounds | None:
    return queries.date_bounds(db_path)


@st.cache_data(ttl=60, show_spinner=False)
def load_platforms(db_path: str) -> list[str]:
    return queries.platforms(db_path)


@st.cache_data(ttl=60, show_spinner=False)
def load_freshness(db_path: str) -> health.Freshness:
    return health.freshness(db_path)


@st.cache_data(ttl=60, show_spinner=False)
def load_cards(db_path: str, start: date, end: date, platforms: tuple[str, ...] | None) -> list[kpis.Kpi]:
    return kpi_cards.kpi_cards(db_path, start, end, platforms)


@st.cache_data(ttl=60, show_spinner=False)
def load_series(
    db_path: str, start: date, end: date, platforms: tuple[str, ...] | None, metrics: tuple[str, ...]
) -> pd.DataFrame:
    return queries.daily_series(db_path, start, end, metrics, platforms)


@st.cache_data(ttl=60, show_spinner=False)
def load_by_platform(
    db_path: str, start: date, end: date, platforms: tuple[str, ...] | None, metric: str
) -> pd.DataFrame:
    return queries.daily_by_platform(db_path, start, end, metric, platforms)


@st.cache_data(ttl=60, show_spinner=False)
def load_by_account(
    db_path: str,
    start: date,
    end: date,
    platforms: tuple[str, ...] | None,
    metric: str,
    accounts: tuple[tuple[str, str], ...] | None = None,
) -> pd.DataFrame:
    return queries.daily_by_account(db_path, start, end, metric, platforms, accounts)


@st.cache_data(ttl=60, show_spinner=False)
def load_platform_kpis(db_path: str, start: date, end: date, platforms: tuple[str, ...] | None) -> pd.DataFrame:
    return queries.platform_kpis(db_path, start, end, platforms)


@st.cache_data(ttl=60, show_spinner=False)
def load_competitors(db_path: str, start: date, end: date, platforms: tuple[str, ...] | None) -> pd.DataFrame:
    return competitors.competitor_comparison(db_path, start, end, platforms)


@st.cache_data(ttl=60, show_spinner=False)
def load_share_of_voice(db_path: str, start: date, end: date, platforms: tuple[str, ...] | None) -> pd.DataFrame:
    return competitors.share_of_voice(db_path, start, end, platforms)


@st.cache_data(ttl=60, show_spinner=False)
def load_networks(db_path: str, start: date, end: date, platforms: tuple[str, ...] | None) -> pd.DataFrame:
    return website.visits_by_network(db_path, start, end, platforms)


@st.cache_data(ttl=60, show_spinner=False)
def load_network_reach(db_path: str, start: date, end: date, platforms: tuple[str, ...] | None) -> pd.DataFrame:
    return website.network_reach_and_visits(db_path, start, end, platforms)


@st.cache_data(ttl=60, show_spinner=False)
def load_snapshot(db_path: str, start: date, end: date, period: Period) -> pd.DataFrame:
    return queries.kpi_snapshot(db_path, start, end, period)


@st.cache_data(ttl=60, show_spinner=False)
def load_kpis_csv(db_path: str, start: date, end: date, period: Period) -> bytes:
    """The kpis CSV of the snapshot :func:`load_snapshot` already fetched (the same bytes as
    ``socialkpi export kpis``, without querying the warehouse a second time)."""
    return export.kpis_frame_csv(load_snapshot(db_path, start, end, period))


CALENDAR_ACCOUNTS = health.CALENDAR_ACCOUNTS  # above this many accounts, the calendar shows those missing days


@st.cache_data(ttl=60, show_spinner=False)
def load_coverage(
    db_path: str, start: date, end: date, calendar: tuple[tuple[str, str], ...] | None = None
) -> health.Coverage:
    """The Data health calendar and its missing-days table (:func:`health.coverage_report`): every
    account's days up to :data:`CALENDAR_ACCOUNTS` accounts, else those with the most days missing, or
    the accounts of ``calendar``."""
    return health.coverage_report(db_path, start, end, calendar=calendar, most=CALENDAR_ACCOUNTS)


@st.cache_data(ttl=60, show_spinner=False)
def load_skipped(db_path: str) -> pd.DataFrame:
    return health.skipped_metrics(db_path)


def _token_file(db_path: Any) -> Any:
    """The token store of the warehouse: beside the file; for the lake beside the file path the dashboard
    was given (``SOCIALKPI_DB``: the [warehouse] path, where the collect keeps it too)."""
    if isinstance(db_path, Lake):
        return TokenStore.beside(os.environ.get("SOCIALKPI_DB", "data/socialkpi.duckdb")).path
    return TokenStore.beside(db_path).path


@st.cache_data(ttl=60, show_spinner=False)
def load_tokens(db_path: str) -> pd.DataFrame:
    return health.token_expiry(db_path, _token_file(db_path))


@st.cache_data(ttl=60, show_spinner=False)
def load_credentials(db_path: str) -> pd.DataFrame:
    return health.credentials(db_path, _token_file(db_path))


@dataclass(frozen=True)
class Loaders:
    """The cached loaders, grouped so a page reaches them as ``ctx.load.<name>``."""

    bounds: Callable[..., Any] = load_bounds
    platforms: Callable[..., Any] = load_platforms
    freshness: Callable[..., Any] = load_freshness
    cards: Callable[..., Any] = load_cards
    series: Callable[..., Any] = load_series
    by_platform: Callable[..., Any] = load_by_platform
    by_account: Callable[..., Any] = load_by_account
    platform_kpis: Callable[..., Any] = load_platform_kpis
    competitors: Callable[..., Any] = load_competitors
    share_of_voice: Callable[..., Any] = load_share_of_voice
    networks: Callable[..., Any] = load_networks
    network_reach: Callable[..., Any] = load_network_reach
    snapshot: Callable[..., Any] = load_snapshot
    kpis_csv: Callable[..., Any] = load_kpis_csv
    coverage: Callable[..., Any] = load_coverage
    skipped: Callable[..., Any] = load_skipped
    tokens: Callable[..., Any] = load_tokens
    credentials: Callable[..., Any] = load_credentials


@dataclass(frozen=True)
class PageContext:
    """What ``render(ctx)`` gets: see the module docstring."""

    db_path: str
    start: date
    end: date
    platforms: list[str] | None = None
    load: Loaders = field(default_factory=Loaders)

    @property
    def platform_key(self) -> tuple[str, ...] | None:
        """The platform filter as a hashable cache argument."""
        return None if self.platforms is None else tuple(self.platforms)

    @property
    def key(self) -> Key:
        """``(db_path, start, end, platforms)``: the first arguments of most loaders."""
        return (self.db_path, self.start, self.end, self.platform_key)

    @property
    def window(self) -> str:
        prev_start, prev_end = kpis.previous_period(self.start, self.end)
        days = (self.end - self.start).days + 1
        return (
            f"{self.start:%d %b %Y} – {self.end:%d %b %Y} ({days} days), "
            f"compared with {prev_start:%d %b} – {prev_end:%d %b %Y}"
        )


# ---------------------------------------------------------------------------------------------
# Widgets
# ---------------------------------------------------------------------------------------------


def header(title: str, ctx: PageContext, what: str) -> None:
    """Page title and a caption with the window and what the page shows."""
    st.title(title)
    st.caption(f"{ctx.window}. {what}")


def empty(message: str) -> None:
    """The empty state of a section: say what is missing and how to get it."""
    st.info(message)


CARDS_PER_ROW = 4


def kpi_row(cards: Sequence[kpis.Kpi]) -> None:
    """One ``st.metric`` per card (label with unit, value, change vs the previous period), at most
    :data:`CARDS_PER_ROW` to a row so the labels stay readable on a laptop."""
    for first in range(0, len(cards), CARDS_PER_ROW):
        _card_row(cards[first : first + CARDS_PER_ROW])


def _card_row(cards: Sequence[kpis.Kpi]) -> None:
    metric_grid(
        [
            (
                kpi.title,
                kpi.shown,
                kpi.delta,
                f"{kpi.help} Previous period {kpi.previous_start:%d %b} – {kpi.previous_end:%d %b %Y}: "
                f"{kpi.previous_shown}.",
            )
            for kpi in cards
        ]
    )


def metric_grid(items: Sequence[tuple[str, str, str | None, str]]) -> None:
    """``st.metric`` for (label, value, delta, help) items, :data:`CARDS_PER_ROW` to a row."""
    for first in range(0, len(items), CARDS_PER_ROW):
        row = items[first : first + CARDS_PER_ROW]
        for column, (label, value, delta, help_text) in zip(st.columns(CARDS_PER_ROW), row, strict=False):
            column.metric(label, value, delta=delta, help=help_text)


def table(
    frame: pd.DataFrame,
    name: str,
    ctx: PageContext,
    *,
    columns: dict[str, Any] | None = None,
    label: str = "Download CSV",
) -> None:
    """A table and, right under it, its CSV (:func:`warehouse.export.frame_csv`), built when the button
    is clicked (a page of 5,000 accounts has several 5,000-row tables: ~25 ms each on every rerun)."""
    st.dataframe(frame, hide_index=True, column_config=columns or {})
    st.download_button(
        label,
        data=lambda: export.frame_csv(frame),
        file_name=f"socialkpi-{name}-{ctx.start:%Y%m%d}-{ctx.end:%Y%m%d}.csv",
        mime="text/csv",
        key=f"csv-{name}",
    )


def percent(label: str) -> Any:
    """A column shown as a percentage of a fraction (0.25 -> 25.00%)."""
    return st.column_config.NumberColumn(label, format="percent")


def number(label: str, fmt: str = "localized") -> Any:
    return st.column_config.NumberColumn(label, format=fmt)


def line_chart(
    frame: pd.DataFrame,
    *,
    color: str,
    y_title: str,
    breaks: Sequence[kpis.MetricBreak] = (),
    height: int = 320,
) -> None:
    """Daily lines (``date``, ``value``, one line per ``color``), with a dashed rule and a label on
    every :data:`warehouse.kpis.METRIC_BREAKS` day inside the window (:func:`socialkpi.charts.line_chart`,
    which the e-mailed report draws as PNG too)."""
    from socialkpi import charts

    chart = charts.line_chart(frame, color=color, y_title=y_title, breaks=breaks, height=height)
    st.altair_chart(chart, width="stretch")
    for b in breaks:
        st.caption(f"┊ {b.day:%d %b %Y}: {b.label} (values before and after are not comparable).")
