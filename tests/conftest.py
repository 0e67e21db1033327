"""Shared fixtures: the real sandbox server, a fast retry policy, contexts, temp warehouses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.http import Client, RetryPolicy
from collectors.observation import Account, CollectContext, Credentials
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.world import TOKEN

# Near-zero backoff so retries really run but tests stay fast; Retry-After capped at 50 ms.
FAST = RetryPolicy(attempts=4, backoff=0.001, max_backoff=0.005, max_retry_after=0.05, timeout=(2.0, 5.0))

# A fixed collection moment used by collector tests (UTC, aware).
COLLECTED_AT = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def fast_policy() -> RetryPolicy:
    return FAST


def make_client(platform: str, classify=None) -> Client:  # type: ignore[no-untyped-def]
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
