"""What Meta's APIs share (Facebook Pages, Instagram, Threads): the error envelope, the throttling
hints, the Pacific reporting day, and asking insights metrics when one invalid metric fails the call.

Docs: https://developers.facebook.com/docs/graph-api/guides/error-handling (the
``{"error": {code, error_subcode, message}}`` envelope, whose HTTP status is not reliable),
https://developers.facebook.com/docs/graph-api/overview/rate-limiting/ (``X-Business-Use-Case-Usage`` /
``X-App-Usage``), https://developers.facebook.com/docs/graph-api/reference/page/insights/ (one invalid
metric fails the whole request) and https://developers.facebook.com/documentation/threads/overview (Threads
uses the same envelope).

Helpers, not a classifier: each collector's ``classify`` still decides what a code means on its platform
(the code sets and advice differ); :func:`read_error` only reads the envelope.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from collectors.context import Collected
from collectors.errors import BadRequest, CollectorError, PayloadError, header, parse_retry_after

PACIFIC = ZoneInfo("America/Los_Angeles")  # Meta's reporting day
USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-App-Usage")


# -- the error envelope -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetaError:
    """Meta's ``error`` object: ``code``, ``error_subcode``, the message, and ``detail`` for a Verdict."""

    code: int | None
    subcode: int | None
    message: str
    detail: str  # "message (code C, subcode S)"
    raw: Mapping[str, Any]


def read_error(status: int, body: Any) -> MetaError | None:
    """The envelope of ``body``, or None when there is none (an empty 500, a proxy page)."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return None
    code, sub = _int(err.get("code")), _int(err.get("error_subcode"))
    message = str(err.get("message") or f"HTTP {status}")
    detail = f"{message} (code {code}{f', subcode {sub}' if sub else ''})"
    return MetaError(code, sub, message, detail, err)


def regain_minutes(headers: Mapping[str, str], name: str) -> list[float]:
    """Every ``estimated_time_to_regain_access`` (minutes) in usage header ``name`` (top level or per entry)."""
    try:
        usage = json.loads(header(headers, name) or "null")
    except ValueError:
        return []
    if not isinstance(usage, dict):
        return []
    minutes: list[float] = []
    entries = [e for v in usage.values() if isinstance(v, list) for e in v]
    for entry in [usage, *entries]:
        wait = entry.get("estimated_time_to_regain_access") if isinstance(entry, dict) else None
        if isinstance(wait, int | float) and not isinstance(wait, bool):
            minutes.append(float(wait))
    return minutes


def throttle_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait: the longest ``estimated_time_to_regain_access`` of both usage headers, else
    ``Retry-After``.  0 minutes is no hint: the client backs off on its own schedule."""
    minutes = [m for name in USAGE_HEADERS for m in regain_minutes(headers, name)]
    if minutes and max(minutes) > 0:
        return max(minutes) * 60.0
    return parse_retry_after(header(headers, "Retry-After"))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# -- days ---------------------------------------------------------------------------------------------


def pacific_day(end_time: str, *, platform: str = "") -> date:
    """The day a Meta daily value describes: ``end_time`` read in Los Angeles, minus one day.

    Converting first matters: across a DST change, subtracting 24 h from the UTC instant first
    would land on 23:00 of the day before.
    """
    try:
        moment = datetime.strptime(end_time, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        prefix = f"{platform}: " if platform else ""
        raise PayloadError(f"{prefix}unexpected end_time {end_time[:40]!r}", platform=platform) from None
    return moment.astimezone(PACIFIC).date() - timedelta(days=1)


def pacific_bounds(day: date) -> tuple[int, int]:
    """Unix seconds of 00:00 on ``day`` and on the next day in Los Angeles (23, 24 or 25 hours apart)."""
    start = datetime.combine(day, time(0), PACIFIC)
    end = datetime.combine(day + timedelta(days=1), time(0), PACIFIC)
    return int(start.timestamp()), int(end.timestamp())


def last_complete_pacific_day(moment: datetime) -> date:
    """The newest Pacific day that has ended at ``moment``."""
    return moment.astimezone(PACIFIC).date() - timedelta(days=1)


# -- asking metrics -----------------------------------------------------------------------------------


def _invalid_metric(exc: CollectorError, batch: Sequence[str]) -> bool:
    return exc.code == "invalid_metric"


def ask_metrics(
    fetch: Callable[[list[str]], Any],
    metrics: Sequence[str],
    refused: set[str],
    out: Collected,
    *,
    api: str,
    errors: tuple[type[CollectorError], ...] = (BadRequest,),
    tolerated: Callable[[CollectorError, Sequence[str]], bool] = _invalid_metric,
) -> Iterator[tuple[list[str], Any]]:
    """``(batch, payload)`` for the metrics not yet refused, all in one call while Meta accepts them.

    One invalid metric fails the whole request (https://developers.facebook.com/docs/graph-api/reference/page/insights/):
    a ``tolerated`` refusal of a batch is retried one metric at a time; a metric refused alone is added to
    ``refused`` (not asked again this run) and recorded in ``out.skipped`` as "refused by the <api>"; any
    other error is raised.
    """
    batch0 = [m for m in metrics if m not in refused]
    tries = [batch0] if batch0 else []
    while tries:
        batch = tries.pop(0)
        try:
            payload = fetch(batch)
        except errors as exc:
            if not tolerated(exc, batch):
                raise
            if len(batch) > 1:
                tries = [[m] for m in batch] + tries
                continue
            refused.add(batch[0])
            out.skipped.append((batch[0], f"refused by the {api}: {exc.message}"))
            continue
        yield batch, payload
