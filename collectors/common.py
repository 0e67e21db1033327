"""Small helpers the collectors share that are not HTTP (those are in :mod:`collectors.http` and its neighbours).

* :func:`each_day` walks the days of a range, :func:`chunks` cuts a range into the windows an API takes
  at once (Facebook's 90 days, Google Business Profile's 180 ...).
* :func:`token_env` names the variable an account's token comes from, for the advice in error messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collectors.context import CollectContext


def each_day(since: date, until: date) -> Iterator[date]:
    """Every day of ``since..until``, both included (none when ``until`` is before ``since``)."""
    for n in range((until - since).days + 1):
        yield since + timedelta(days=n)


def chunks(since: date, until: date, size: int) -> Iterator[tuple[date, date]]:
    """Inclusive day ranges of at most ``size`` days covering ``since..until``, oldest first."""
    start = since
    while start <= until:
        end = min(until, start + timedelta(days=size - 1))
        yield start, end
        start = end + timedelta(days=1)


def token_env(ctx: CollectContext) -> str:
    """The variable the account's token comes from: the one :func:`socialkpi.credentials.credentials_for` read
    (``SOCIALKPI_<PLATFORM>_TOKEN``, or the account's ``token_env``), else ``SOCIALKPI_<PLATFORM>_TOKEN``
    (a context built without it, as ``socialkpi connect`` does to check a token)."""
    return ctx.credentials.token_env or f"SOCIALKPI_{ctx.account.platform.upper()}_TOKEN"
