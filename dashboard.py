"""socialkpi dashboard: a thin Streamlit script over warehouse.queries, one st.Page per topic.

Run with ``socialkpi dashboard`` (or ``streamlit run dashboard.py``); the warehouse path comes
from ``SOCIALKPI_DB`` (default ``data/socialkpi.duckdb``).  No SQL, KPI arithmetic or HTTP here
or in the pages (:mod:`socialkpi.pages`): every number comes from :mod:`warehouse.queries`
through loaders cached for 60 s that share one short read-only attachment per rerun, so a running
``socialkpi collect`` can always write (README, "Guarantees": dashboard and cron at once).

When ``SOCIALKPI_DASHBOARD_PASSWORD`` is set, nothing is shown before that password is typed.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from datetime import timedelta

import streamlit as st

from collectors.tokens import TokenFileError, TokenStore
from socialkpi.pages import agency, common, competitors, health, overview, platforms, roi, website
from warehouse.access import WarehouseMissing, page_reads
from warehouse.db import WarehouseError
from warehouse.lake_config import Lake

st.set_page_config(page_title="socialkpi", page_icon=":bar_chart:", layout="wide")

DB_PATH = os.environ.get("SOCIALKPI_DB", "data/socialkpi.duckdb")
DEFAULT_DAYS = 28

# --- password (README, "Guarantees": the dashboard's password) -----------------------------
PASSWORD = os.environ.get("SOCIALKPI_DASHBOARD_PASSWORD", "")
if PASSWORD and not st.session_state.get("signed_in"):
    prompt = st.empty()
    with prompt.container():
        typed = st.text_input("Password", type="password", help="Set by SOCIALKPI_DASHBOARD_PASSWORD.")
        if typed:
            st.error("Wrong password.")
    if not typed or not hmac.compare_digest(typed.encode("utf-8"), PASSWORD.encode("utf-8")):
        st.stop()
    st.session_state["signed_in"] = True
    prompt.empty()

# --- an agency's install: the workspace picker and the overview across them (socialkpi.pages.agency) ---
if os.environ.get("SOCIALKPI_WORKSPACES"):
    DB_PATH = agency.pick(os.environ["SOCIALKPI_WORKSPACES"], DB_PATH)

# The lake of [warehouse] url, when `socialkpi dashboard` was given one (DB_PATH then only places the token store).
WAREHOUSE: str | Lake = DB_PATH
if os.environ.get("SOCIALKPI_LAKE_URL") and not os.environ.get("SOCIALKPI_WORKSPACES"):
    WAREHOUSE = Lake(os.environ["SOCIALKPI_LAKE_URL"], os.environ.get("SOCIALKPI_LAKE_DATA_PATH", ""))

# Every read of this rerun shares one read-only attachment of the file, let go when the rerun ends
# (warehouse.access.page_reads): a page makes 4-8 reads, and attaching a large file costs ~8 ms each.
with page_reads(WAREHOUSE):
    # --- warehouse and empty state ---------------------------------------------------------------
    try:
        bounds = common.load_bounds(WAREHOUSE)
    except WarehouseMissing:
        bounds = None
    except WarehouseError as exc:
        st.error(f"The warehouse cannot be read: {exc}")
        st.stop()

    if bounds is None:
        st.title("socialkpi")
        st.info(
            f"No data yet in `{WAREHOUSE}`. To start, run `make demo` for sample data, "
            "or `socialkpi collect` after filling socialkpi.toml."
        )
        st.stop()

    # --- the token store beside the warehouse: never read through a link (its pages show expiry dates) ---
    try:
        TokenStore.beside(DB_PATH).check()
    except TokenFileError as exc:
        st.error(str(exc))
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
        all_platforms = common.load_platforms(WAREHOUSE)
        chosen = st.multiselect("Platforms", all_platforms, default=all_platforms)

    if not isinstance(picked, tuple) or len(picked) != 2:
        st.info("Pick the end of the date range in the sidebar.")
        st.stop()
    if not chosen:
        st.warning("Pick at least one platform in the sidebar.")
        st.stop()
    ctx = common.PageContext(WAREHOUSE, picked[0], picked[1], list(chosen))

    # --- pages -----------------------------------------------------------------------------------
    def page(render: Callable[[common.PageContext], None]) -> Callable[[], None]:
        return lambda: render(ctx)

    navigation = st.navigation(
        [
            st.Page(
                page(overview.render), title="Overview", url_path="overview", icon=":material/dashboard:", default=True
            ),
            st.Page(page(platforms.render), title="Platforms", url_path="platforms", icon=":material/apps:"),
            st.Page(page(competitors.render), title="Competitors", url_path="competitors", icon=":material/groups:"),
            st.Page(page(website.render), title="Website", url_path="website", icon=":material/language:"),
            st.Page(page(roi.render), title="ROI", url_path="roi", icon=":material/payments:"),
            st.Page(page(health.render), title="Data health", url_path="health", icon=":material/monitor_heart:"),
        ]
    )
    navigation.run()
