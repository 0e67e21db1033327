"""socialkpi dashboard: a thin Streamlit script over warehouse.queries and warehouse.export.

Run with ``socialkpi dashboard`` (or ``streamlit run dashboard.py``); the warehouse path comes
from ``SOCIALKPI_DB`` (default ``data/socialkpi.duckdb``).  No SQL, KPI arithmetic or HTTP here:
every number comes from :mod:`warehouse.queries`, the CSV from :mod:`warehouse.export`.  Loaders
are cached for 60 s by their arguments and open a short read-only connection each, so a running
``socialkpi collect`` can always write (style.md §11).
"""

from __future__ import annotations

import io
import os
from datetime import date, timedelta

import pandas as pd
import streamlit as st

from warehouse import export, queries
from warehouse.db import WarehouseError

st.set_page_config(page_title="socialkpi", page_icon=":bar_chart:", layout="wide")

DB_PATH = os.environ.get("SOCIALKPI_DB", "data/socialkpi.duckdb")
DEFAULT_DAYS = 28
TREND_METRICS = ("impressions", "reach", "engagements", "page_views", "social_visits")


@st.cache_data(ttl=60, show_spinner=False)
def load_bounds(db_path: str) -> queries.DateBounds | None:
    return queries.date_bounds(db_path)


@st.cache_data(ttl=60, show_spinner=False)
def load_platforms(db_path: str) -> list[str]:
    return queries.platforms(db_path)


@st.cache_data(ttl=60, show_spinner=False)
def load_freshness(db_path: str) -> queries.Freshness:
    return queries.freshness(db_path)


@st.cache_data(ttl=60, show_spinner=False)
def load_cards(db_path: str, start: date, end: date, platforms: tuple[str, ...]) -> list[queries.Kpi]:
    return queries.kpi_cards(db_path, start, end, list(platforms))


@st.cache_data(ttl=60, show_spinner=False)
def load_series(db_path: str, start: date, end: date, platforms: tuple[str, ...]) -> pd.DataFrame:
    return queries.daily_series(db_path, start, end, TREND_METRICS, list(platforms))


@st.cache_data(ttl=60, show_spinner=False)
def load_snapshot(db_path: str, start: date, end: date, period: queries.Period) -> pd.DataFrame:
    return queries.kpi_snapshot(db_path, start, end, period)


@st.cache_data(ttl=60, show_spinner=False)
def load_kpis_csv(db_path: str, start: date, end: date, period: queries.Period) -> bytes:
    buffer = io.BytesIO()
    export.write_kpis_csv(db_path, buffer, since=start, until=end, period=period)
    return buffer.getvalue()


def number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


st.title("socialkpi")

try:
    bounds = load_bounds(DB_PATH)
except queries.WarehouseMissing:
    bounds = None
except WarehouseError as exc:
    st.error(f"The warehouse cannot be read: {exc}")
    st.stop()

if bounds is None:
    st.info(
        f"No data yet in `{DB_PATH}`. To start, run `make demo` for sample data, "
        "or `socialkpi collect` after filling socialkpi.toml."
    )
    st.stop()

# --- sidebar filters -------------------------------------------------------------------------
default_start = max(bounds.first, bounds.last - timedelta(days=DEFAULT_DAYS - 1))
with st.sidebar:
    st.header("Filters")
    picked = st.date_input(
        "Date range",
        value=(default_start, bounds.last),
        min_value=bounds.first,
        max_value=bounds.last,
        help=f"Defaults to the last {DEFAULT_DAYS} days that have data.",
    )
    all_platforms = load_platforms(DB_PATH)
    chosen = st.multiselect("Platforms", all_platforms, default=all_platforms)
    period = st.radio("Snapshot period", ("month", "week"), horizontal=True)

if not isinstance(picked, tuple) or len(picked) != 2:
    st.info("Pick the end of the date range in the sidebar.")
    st.stop()
start, end = picked
if not chosen:
    st.warning("Pick at least one platform in the sidebar.")
    st.stop()
selected = tuple(chosen)

# --- freshness -------------------------------------------------------------------------------
fresh = load_freshness(DB_PATH)
last = f"{fresh.last_success_at:%Y-%m-%d %H:%M} UTC" if fresh.last_success_at else "never"
failing = fresh.failing
st.caption(
    f"Last successful collection: {last} · newest day {bounds.last:%Y-%m-%d} · "
    f"{len(failing)} account{'s' if len(failing) != 1 else ''} failing"
)
if len(failing):
    with st.expander(f"{len(failing)} failing account(s): what went wrong"):
        st.dataframe(
            failing[["platform", "account_id", "account_name", "error_kind", "reason", "last_ok_at"]],
            hide_index=True,
        )

# --- KPI cards -------------------------------------------------------------------------------
cards = load_cards(DB_PATH, start, end, selected)
st.subheader(f"{start:%d %b %Y} – {end:%d %b %Y}")
for column, kpi in zip(st.columns(len(cards)), cards, strict=True):
    column.metric(
        f"{kpi.label} ({kpi.unit})",
        number(kpi.value),
        delta=None if kpi.change_pct is None else f"{kpi.change_pct:+.1f}%",
        help=(
            f"{kpi.help} Previous period {kpi.previous_start:%d %b} – {kpi.previous_end:%d %b %Y}: "
            f"{number(kpi.previous)}."
        ),
    )

# --- trend -----------------------------------------------------------------------------------
st.subheader("Daily trend (own accounts)")
series = load_series(DB_PATH, start, end, selected)
if series.empty:
    st.info("No daily values for this selection.")
else:
    st.line_chart(series, x="date", y="value", color="metric")

# --- snapshot table and CSV --------------------------------------------------------------------
st.subheader(f"KPI snapshot per {period} (all platforms and accounts)")
snapshot = load_snapshot(DB_PATH, start, end, period)
if snapshot.empty:
    st.info("No KPIs for this date range.")
else:
    st.dataframe(
        snapshot,
        hide_index=True,
        column_config={
            "period_start": st.column_config.DateColumn("period_start"),
            "period_end": st.column_config.DateColumn("period_end"),
            "engagement_rate": st.column_config.NumberColumn("engagement_rate", format="percent"),
            "social_share_of_visits": st.column_config.NumberColumn("social_share_of_visits", format="percent"),
        },
    )
st.download_button(
    "Download KPIs CSV",
    data=load_kpis_csv(DB_PATH, start, end, period),
    file_name=f"socialkpi-kpis-{period}-{start:%Y%m%d}-{end:%Y%m%d}.csv",
    mime="text/csv",
)
st.caption("Definitions of every KPI and CSV column: docs/kpis.md.")
