"""The plumbing collectors share (collectors.common, collectors.errors.header, Client.use_token) and the
registry's references to each platform's functions."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Iterator
from datetime import date

import pytest

from collectors import PLATFORMS, load_check, load_classifier, load_collector
from collectors.common import chunks, each_day, token_env
from collectors.context import CollectContext, Credentials
from collectors.errors import header
from collectors.http import Client
from collectors.redaction import redact
from socialkpi.sandbox import Sandbox
from tests.conftest import FAST, make_ctx


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(parts=("tests.http_part",)) as sandbox:
        yield sandbox


# -- collectors.common ---------------------------------------------------------------------------------


def test_each_day_gives_both_ends_and_nothing_for_an_empty_range() -> None:
    assert list(each_day(date(2026, 2, 27), date(2026, 3, 2))) == [
        date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 2),
    ]  # fmt: skip
    assert list(each_day(date(2026, 3, 2), date(2026, 3, 2))) == [date(2026, 3, 2)]
    assert list(each_day(date(2026, 3, 2), date(2026, 3, 1))) == []


def test_chunks_cover_the_range_in_windows_of_at_most_size_days() -> None:
    got = list(chunks(date(2026, 1, 1), date(2026, 4, 30), 90))
    assert got == [(date(2026, 1, 1), date(2026, 3, 31)), (date(2026, 4, 1), date(2026, 4, 30))]
    first, third = date(2026, 1, 1), date(2026, 1, 3)
    assert list(chunks(first, third, 1)) == [(first, first), (date(2026, 1, 2), date(2026, 1, 2)), (third, third)]
    assert list(chunks(date(2026, 1, 2), date(2026, 1, 1), 30)) == []


def test_token_env_names_the_variable_read_else_the_platforms_default() -> None:
    assert token_env(make_ctx("pinterest", "shop", None, token_env="SOCIALKPI_PINTEREST_TOKEN_SHOP")) == (
        "SOCIALKPI_PINTEREST_TOKEN_SHOP"
    )
    ctx = make_ctx("google_business", "123456", None)
    assert token_env(ctx) == "SOCIALKPI_GOOGLE_BUSINESS_TOKEN"
    bare = CollectContext(ctx.account, Credentials(token="t"), ctx.collected_at, ctx.business_tz)
    assert bare.credentials.token_env == ""  # as socialkpi connect builds it
    assert token_env(bare) == "SOCIALKPI_GOOGLE_BUSINESS_TOKEN"


# -- collectors.errors.header, collectors.http.Client.use_token ---------------------------------------


def test_header_is_found_whatever_the_case_of_either_name() -> None:
    headers = {"X-Rate-Limit-Reset": "1700000000", "retry-after": "5"}
    assert header(headers, "x-rate-limit-reset") == "1700000000"
    assert header(headers, "Retry-After") == "5"
    assert header(headers, "RateLimit-Reset") is None


def test_use_token_sends_the_header_and_redacts_the_token(sb: Sandbox) -> None:
    token = "use-token-test-secret-0001"
    with Client("test", policy=FAST) as client:
        client.use_token(token)
        assert client.get_json(sb.url + "/json")["authorization"] == f"Bearer {token}"
        client.use_token("use-token-test-key-0002", header="X-Api-Key", prefix="")
        client.get_json(sb.url + "/json")
    assert sb.requests[-1].header("X-Api-Key") == "use-token-test-key-0002"
    assert sb.requests[-1].header("Authorization") is None
    assert redact(f"sent {token} and use-token-test-key-0002") == "sent *** and ***"


# -- the registry ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_the_registry_names_the_platforms_own_functions(platform: str) -> None:
    spec = PLATFORMS[platform]
    collect, classify, check = load_collector(platform), load_classifier(platform), load_check(platform)
    assert spec.module == f"collectors.{platform}"
    assert collect.__module__ == classify.__module__ == check.__module__ == spec.module  # type: ignore[union-attr]
    assert list(inspect.signature(collect).parameters) == ["client", "ctx", "since", "until"]
    assert list(inspect.signature(check).parameters) == ["client", "ctx"]  # type: ignore[arg-type]
    assert list(inspect.signature(classify).parameters) == ["status", "headers", "body"]  # type: ignore[arg-type]


def test_importing_the_registry_imports_no_collector_and_no_requests() -> None:
    code = "import sys, collectors; print(sorted(m for m in sys.modules if m.startswith(('requests', 'collectors.'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
