"""The workspace picker and the overview across workspaces (an agency's install: docs/agencies.md).

Started at an install whose ``workspaces/`` holds businesses, ``socialkpi dashboard`` passes that
folder in ``SOCIALKPI_WORKSPACES``.  With two or more to choose from (the workspaces, and the install's
own warehouse when it has one), the sidebar gets a picker whose first entry is the overview: one row
per business from :func:`warehouse.overview.overview_frame`, each business's warehouse opened
read-only per query as every page does.  With one, the dashboard shows it as it always did.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from socialkpi import workspaces
from socialkpi.pages import common
from warehouse import export

ALL = "All businesses (overview)"
WINDOW_DAYS = 28


@st.cache_data(ttl=60, show_spinner=False)
def load_choices(folder: str, own_db: str) -> list[workspaces.Choice]:
    return workspaces.dashboard_choices(folder, own_db)


@st.cache_data(ttl=60, show_spinner=False)
def load_overview(choices: tuple[workspaces.Choice, ...]) -> pd.DataFrame:
    return workspaces.overview(choices, days=WINDOW_DAYS)


def pick(folder: str, own_db: str) -> str:
    """The warehouse to show: the one picked in the sidebar (the overview, picked, is shown here and the
    script stops), the only business there is, or ``own_db`` when ``folder`` holds none."""
    choices = load_choices(folder, own_db)
    if not choices:
        return own_db
    if len(choices) == 1:
        chosen = choices[0]
    else:
        by_label = {c.label: c for c in choices}
        with st.sidebar:
            label = st.selectbox("Business", [ALL, *by_label], key="workspace", help="The workspaces of this install.")
        if label == ALL:
            render(choices)
            st.stop()
        chosen = by_label[str(label)]
    if chosen.db_path is None:
        st.title(chosen.label)
        st.error(f"Workspace {chosen.label}: {chosen.problem}")
        st.stop()
    return chosen.db_path


def render(choices: Sequence[workspaces.Choice]) -> None:
    st.title("All businesses")
    st.caption(
        f"One row per workspace. Audience: followers of its own accounts over its last {WINDOW_DAYS} days that "
        f"have data (to the newest day shown), compared with the {WINDOW_DAYS} days before; last collection: "
        "the end of its newest successful run (UTC); failing: the accounts whose last run failed."
    )
    frame = load_overview(tuple(choices))
    for row in frame.itertuples(index=False):
        if row.problem:
            st.info(f"{row.workspace}: {row.problem}")
        elif row.failing_accounts:
            st.warning(f"{row.workspace}: {row.failing_accounts} account(s) failing: {row.failing}")
    st.dataframe(
        frame,
        hide_index=True,
        column_config={
            "audience": common.number("audience (followers)"),
            "audience_previous": common.number("previous (followers)"),
            "followers_gained": common.number("gained (followers)"),
            "growth_pct": st.column_config.NumberColumn("growth (%)", format="%+.1f%%"),
            "window_start": st.column_config.DateColumn("from"),
            "window_end": st.column_config.DateColumn("to"),
            "last_collection": st.column_config.DatetimeColumn("last collection (UTC)", format="YYYY-MM-DD HH:mm"),
            "last_run": st.column_config.DatetimeColumn("last run (UTC)", format="YYYY-MM-DD HH:mm"),
        },
    )
    st.download_button(
        "Download CSV",
        data=export.frame_csv(frame),
        file_name="socialkpi-workspaces.csv",
        mime="text/csv",
        key="csv-workspaces",
    )
