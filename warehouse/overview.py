"""The agency overview: one row per business (workspace), from that business's own warehouse.

Each number is the one the business's own dashboard shows, from the same functions of
:mod:`warehouse.queries` (each opening its own short read-only connection, so a running collect
can always write):

- ``audience`` (followers): the Overview page's Audience card over the last ``days`` days that
  have data (the dashboard's default window, ending on the newest stored day);
- ``audience_previous``: the same card over the ``days`` days before; ``followers_gained`` is the
  difference and ``growth_pct`` the change in % (``None`` without a non-zero previous value);
- ``last_collection`` (UTC): the end of the newest run whose status is ``ok``; ``last_run`` and
  ``last_run_status``: the newest run, whatever its status;
- ``accounts``: the accounts the warehouse knows (own and competitors); ``failing_accounts``: those whose
  latest run failed, and ``failing`` lists them as
  ``platform/account_id``;
- ``problem``: why a business has no numbers (no warehouse yet, a configuration or a file that
  cannot be read); its numbers are then empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from warehouse import health, kpi_cards, kpis, queries
from warehouse.access import DbPath, WarehouseMissing
from warehouse.db import WarehouseError

OVERVIEW_COLUMNS = (
    "workspace",
    "business",
    "audience",
    "followers_gained",
    "growth_pct",
    "last_collection",
    "failing_accounts",
    "failing",
    "last_run",
    "last_run_status",
    "accounts",
    "audience_previous",
    "window_start",
    "window_end",
    "problem",
)


@dataclass(frozen=True)
class BusinessSummary:
    """One business's row of the overview (see the module docstring)."""

    audience: float | None
    audience_previous: float | None
    window_start: date | None
    window_end: date | None
    last_collection: datetime | None
    last_run: datetime | None
    last_run_status: str | None
    accounts: int
    failing: tuple[str, ...]

    @property
    def followers_gained(self) -> float | None:
        if self.audience is None or self.audience_previous is None:
            return None
        return self.audience - self.audience_previous

    @property
    def growth_pct(self) -> float | None:
        return kpis.change_pct(self.audience, self.audience_previous)


def business_summary(db_path: DbPath, *, days: int = 28) -> BusinessSummary:
    """The overview row of the warehouse at ``db_path``; raises :class:`~warehouse.access.WarehouseMissing`
    when there is none yet (or another :class:`~warehouse.db.WarehouseError` when it cannot be read)."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    fresh = health.freshness(db_path)
    bounds = queries.date_bounds(db_path)
    audience = previous = None
    start = end = None
    if bounds is not None:
        end = bounds.last
        start = max(bounds.first, end - timedelta(days=days - 1))
        card = next(k for k in kpi_cards.kpi_cards(db_path, start, end) if k.key == "audience")
        audience, previous = card.value, card.previous
    failing = fresh.failing
    return BusinessSummary(
        audience=audience,
        audience_previous=previous,
        window_start=start,
        window_end=end,
        last_collection=fresh.last_success_at,
        last_run=fresh.last_run_at,
        last_run_status=fresh.last_run_status,
        accounts=len(fresh.accounts),
        failing=tuple(f"{p}/{a}" for p, a in zip(failing["platform"], failing["account_id"], strict=True)),
    )


def overview_frame(businesses: Sequence[tuple[str, str, str | None, str | None]], *, days: int = 28) -> pd.DataFrame:
    """The overview table: one row per ``(workspace, business name, db_path, problem)`` in the given order,
    with :data:`OVERVIEW_COLUMNS`.  A ``problem`` given, a missing ``db_path`` or a warehouse that cannot be
    read gives a row with that reason in ``problem`` and no numbers: one business never hides the others."""
    rows = []
    for workspace, business, db_path, problem in businesses:
        row: dict[str, object] = dict.fromkeys(OVERVIEW_COLUMNS)
        row.update(workspace=workspace, business=business, accounts=0, failing_accounts=0, failing="")
        if problem is None and db_path is None:
            problem = "no warehouse configured"
        if problem is None and db_path is not None:
            try:
                s = business_summary(db_path, days=days)
            except WarehouseMissing:
                problem = "no data yet: run socialkpi collect in it"
            except WarehouseError as exc:
                problem = f"the warehouse cannot be read: {exc}"
            else:
                row.update(
                    audience=s.audience,
                    audience_previous=s.audience_previous,
                    followers_gained=s.followers_gained,
                    growth_pct=s.growth_pct,
                    window_start=s.window_start,
                    window_end=s.window_end,
                    last_collection=s.last_collection,
                    last_run=s.last_run,
                    last_run_status=s.last_run_status,
                    accounts=s.accounts,
                    failing_accounts=len(s.failing),
                    failing=", ".join(s.failing),
                )
        row["problem"] = problem or ""
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))
    for column in ("audience", "audience_previous", "followers_gained", "growth_pct"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ("last_collection", "last_run"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["accounts"] = frame["accounts"].astype("int64")
    frame["failing_accounts"] = frame["failing_accounts"].astype("int64")
    return frame
