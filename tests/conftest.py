"""Shared fixtures: the real sandbox server, a fast retry policy, contexts, temp warehouses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors import PLATFORMS, load_classifier
from collectors.context import CollectContext, Credentials
from collectors.http import Client, RetryPolicy
from collectors.observation import Account, Observation
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.world import TOKEN

# Near-zero backoff so retries really run but tests stay fast; Retry-After capped at 50 ms.
FAST = RetryPolicy(attempts=4, backoff=0.001, max_backoff=0.005, max_retry_after=0.05, timeout=(2.0, 5.0))

# A fixed collection moment used by collector tests (UTC, aware).
COLLECTED_AT = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
def _sandbox_server() -> Iterator[Sandbox]:
    """One sandbox (every platform part) for the whole run; tests get it cleared (:func:`sandbox`)."""
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def sandbox(_sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox with no scripted replies and no recorded requests, before and after the test."""
    _sandbox_server.clear()
    yield _sandbox_server
    _sandbox_server.clear()


FIXTURES = Path(__file__).parent / "fixtures"


def fixture(platform: str, name: str) -> Any:
    """A recorded, scrubbed payload, ``tests/fixtures/<platform>/<name>``: a new object on every call."""
    return json.loads((FIXTURES / platform / name).read_text(encoding="utf-8"))


def days(since: date, until: date) -> list[date]:
    """Every day of ``since..until``, both included."""
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def by_key(rows: list[Observation]) -> dict[tuple[str, date], float]:
    """``{(metric, day): value}`` of one account's rows, checking there is one row per key."""
    keyed = {(o.metric, o.observed_on): o.value for o in rows}
    assert len(keyed) == len(rows), "one row per (metric, day)"
    return keyed


@pytest.fixture
def fast_policy() -> RetryPolicy:
    return FAST


def make_client(platform: str, classify=None) -> Client:  # type: ignore[no-untyped-def]
    """A client with the fast policy and, as the runner gives it, the platform's registered classifier
    (``classify`` replaces it)."""
    if classify is None and platform in PLATFORMS:
        classify = load_classifier(platform)
    return Client(platform, policy=FAST, classify=classify)


def make_ctx(
    platform: str,
    account_id: str,
    base_url: str | None,
    *,
    token: str | None = TOKEN,
    name: str = "Test account",
    competitor: bool = False,
    collected_at: datetime = COLLECTED_AT,
    tz: str = "Europe/Paris",
    token_env: str | None = None,
    **creds: str,
) -> CollectContext:
    return CollectContext(
        account=Account(platform=platform, id=account_id, name=name, competitor=competitor),
        credentials=Credentials(
            token=token, base_url=base_url, token_env=token_env or f"SOCIALKPI_{platform.upper()}_TOKEN", **creds
        ),
        collected_at=collected_at,
        business_tz=ZoneInfo(tz),
    )


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``socialkpi.cli.main`` configures the root logger (as a command should); undo it per test."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _restore_secrets() -> Iterator[None]:
    """Secrets registered by one test (``collectors.redaction.register_secret``, a process-wide set) are
    forgotten after it, so a word one test used as a token is not redacted from the next test's text."""
    from collectors import redaction

    with redaction._SECRETS_LOCK:
        before = set(redaction._SECRETS)
    yield
    with redaction._SECRETS_LOCK:
        redaction._SECRETS.intersection_update(before)
