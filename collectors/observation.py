"""The one row type every collector returns, and the account it is about.

An :class:`Observation` is one value of one canonical metric (see docs/metrics.md) for one
account on one day.  Collectors return them; the warehouse stores them in the long
``observations`` table keyed ``(platform, account_id, metric, observed_on)``.  What a collector
is given and hands back around them is in :mod:`collectors.context`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Observation:
    platform: str
    account_id: str
    metric: str
    observed_on: date
    value: float
    source_metric: str
    collected_at: datetime  # UTC, timezone-aware

    def key(self) -> tuple[str, str, str, date]:
        return (self.platform, self.account_id, self.metric, self.observed_on)


@dataclass(frozen=True, slots=True)
class Account:
    """One configured account (a ``[[accounts]]`` entry of socialkpi.toml)."""

    platform: str
    id: str
    name: str
    competitor: bool = False
    token_env: str | None = None
