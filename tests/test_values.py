"""The shared payload helpers of issue 11: one count reader (collectors.values.Counts), one check of what an
answer declares (collectors.values.expect), one optional-endpoint mechanism (collectors.optional), and that
every collector uses them rather than a copy of its own."""

from __future__ import annotations

import importlib
import inspect
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors import PLATFORMS
from collectors.context import Collected
from collectors.errors import (
    AuthError,
    BadRequest,
    CollectorError,
    PayloadError,
    PermissionDenied,
    RateLimited,
    ServerError,
    Verdict,
)
from collectors.http import Client
from collectors.observation import Observation
from collectors.optional import optional
from collectors.values import Counts, expect
from socialkpi.sandbox import Sandbox
from tests.conftest import COLLECTED_AT, FAST

ROOT = Path(__file__).resolve().parent.parent
BOTH = Counts("p", text=True)
NUMBERS = Counts("p")
TEXT_ONLY = Counts("p", text=True, numbers=False)


# -- Counts ---------------------------------------------------------------------------------------------
@given(st.integers(min_value=0, max_value=10**18))
def test_any_count_reads_back_as_a_number_a_whole_float_or_its_digits(n: int) -> None:
    assert BOTH(n, "n") == n and BOTH(str(n), "n") == n and BOTH(f"{n}.0", "n") == n
    assert type(BOTH(str(n), "n")) is int
    if n < 2**53:  # a float holds it exactly
        assert NUMBERS(float(n), "n") == n and type(NUMBERS(float(n), "n")) is int


@given(st.text(max_size=12).filter(lambda s: not re.fullmatch(r"[0-9]+(\.0+)?", s)))
def test_text_that_is_not_plain_digits_is_refused(text: str) -> None:
    with pytest.raises(PayloadError, match="not a count"):
        BOTH(text, "views")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (True, "a boolean"),
        (False, "a boolean"),
        (-1, "negative"),
        (-1.0, "negative"),
        (12.5, "not a whole number"),
        (math.nan, "not finite"),
        (math.inf, "not finite"),
        (-math.inf, "not finite"),
        ("-3", "negative"),
        ("1e5", "not plain decimal digits"),
        ("12.5", "not plain decimal digits"),
        ("+12", "not plain decimal digits"),
        (" 12", "not plain decimal digits"),
        ("1,234", "not plain decimal digits"),
        ("1_000", "not plain decimal digits"),
        ("0x1F", "not plain decimal digits"),
        ("NaN", "not plain decimal digits"),
        ("", "not plain decimal digits"),
        ("١٢", "not plain decimal digits"),  # Arabic-Indic digits: str.isdigit() says yes
        (None, "a NoneType"),
        ([1], "a list"),
        ({"value": 1}, "a dict"),
    ],
)
def test_what_is_no_count_is_refused_naming_the_field_and_why(value: Any, why: str) -> None:
    with pytest.raises(PayloadError) as caught:
        BOTH(value, "stats/visits views on 2023-12-22")
    assert str(caught.value).startswith("p: stats/visits views on 2023-12-22 is ")
    assert str(caught.value).endswith(f", not a count ({why})")
    assert caught.value.platform == "p" and caught.value.kind == "payload"


def test_text_is_read_only_where_the_platform_sends_it() -> None:
    with pytest.raises(PayloadError, match="text where the platform sends numbers"):
        NUMBERS("12", "followers_count")
    with pytest.raises(PayloadError, match="a JSON number where the platform sends text"):
        TEXT_ONLY(12, "value")
    assert TEXT_ONLY("12", "value") == 12


@pytest.mark.parametrize(("value", "read"), [("412.5", 412.5), (412.5, 412.5), ("412", 412), (412.0, 412)])
def test_a_declared_fraction_is_read_when_whole_is_false(value: Any, read: float) -> None:
    got = BOTH(value, "screenPageViews (TYPE_FLOAT)", whole=False)
    assert got == read and type(got) is type(read)


@pytest.mark.parametrize("value", ["1.5e3", "nan", "inf", "-1.5", -1.5, math.nan, "4.", ".5"])
def test_a_fraction_still_refuses_exponents_nan_and_negatives(value: Any) -> None:
    with pytest.raises(PayloadError, match="not a count"):
        BOTH(value, "x", whole=False)


def test_json_nan_and_infinity_are_refused_after_python_reads_them() -> None:
    for literal in ("NaN", "Infinity", "-Infinity", "1e999"):
        with pytest.raises(PayloadError, match="not finite|negative"):
            NUMBERS(json.loads(literal), "views")


# -- expect ----------------------------------------------------------------------------------------------
def test_expect_refuses_a_declaration_other_than_asked_and_ignores_an_absent_one() -> None:
    expect("day", "day", field="period", what="stats/referrers", platform="wordpress")
    expect(None, "day", field="period", what="stats/referrers", platform="wordpress")  # not declared
    with pytest.raises(PayloadError) as caught:
        expect("month", "day", field="period", what="stats/referrers", platform="wordpress")
    assert str(caught.value) == (
        "wordpress: stats/referrers answered period 'month', but period 'day' was asked; its numbers would be "
        "dated wrongly, so none is stored"
    )


# -- optional --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[Sandbox]:
    with Sandbox(parts=("tests.http_part",)) as sb:
        yield sb


def classify(status: int, headers: Any, body: Any) -> Verdict | None:
    """A platform's classifier in small: 404 unknown_method is an unsupported method (code), 400 a bad request."""
    if status == 404:
        return Verdict("bad_request", "Unknown method", code="unknown_method")
    if status == 400:
        return Verdict("bad_request", "Invalid parameter", code="invalid_parameter")
    return None


def row(n: int) -> Observation:
    return Observation("p", "a", "social_visits", COLLECTED_AT.date(), n, "views[referrers: social]", COLLECTED_AT)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(404, "not supported"), (403, "permission")],
)
def test_an_optional_endpoint_refused_is_noted_asked_no_more_and_its_rows_dropped(
    server: Sandbox, status: int, kind: str
) -> None:
    out = Collected()
    endpoint = optional(out, "stats/referrers", metrics="social_visits", unsupported={"unknown_method"})
    with Client("p", policy=FAST, classify=classify) as client:
        first = endpoint.fetch(lambda: client.get_json(f"{server.url}/json"))
        assert first is not None
        endpoint.keep([row(3)])  # an earlier chunk
        assert endpoint.fetch(lambda: client.get_json(f"{server.url}/status/{status}")) is None
        assert endpoint.fetch(lambda: client.get_json(f"{server.url}/json")) is None  # not asked again
        assert client.requests_made == 2
    assert endpoint.rows() == []  # nothing partial: the earlier chunk's row is dropped too
    [(source, note)] = out.skipped
    assert source == "stats/referrers" and note.startswith(f"stats/referrers refused ({kind}): ")
    assert note.endswith("; social_visits not collected")


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/status/503", ServerError),
        ("/status/429", RateLimited),
        ("/status/401", AuthError),
        ("/status/400", BadRequest),  # a bad request that is no unsupported method: our bug, loud
        ("/malformed", PayloadError),
    ],
)
def test_anything_else_still_fails_the_account(server: Sandbox, path: str, error: type[CollectorError]) -> None:
    out = Collected()
    endpoint = optional(out, "stats/referrers", unsupported={"unknown_method"})
    with Client("p", policy=FAST, classify=classify, sleep=lambda s: None) as client, pytest.raises(error):
        endpoint.fetch(lambda: client.get_json(f"{server.url}{path}"))
    assert out.skipped == [] and not endpoint.refused


def test_a_permission_can_be_tolerated_only_for_given_codes_or_not_at_all() -> None:
    some = optional(Collected(), "reports.query", permission={"service_disabled"})
    assert some.tolerates(PermissionDenied("p: off", code="service_disabled"))
    assert not some.tolerates(PermissionDenied("p: scope", code="forbidden"))
    none = optional(Collected(), "statistics", permission=False, unsupported={"not_found"})
    assert not none.tolerates(PermissionDenied("p: not an admin"))
    assert none.tolerates(BadRequest("p: gone", code="not_found"))


def test_keys_of_the_note_can_be_the_metrics() -> None:
    out = Collected()
    endpoint = optional(out, "user_account/analytics", skip=["IMPRESSION", "ENGAGEMENT"])
    endpoint.refuse(PermissionDenied("pinterest: Not authorized", platform="pinterest"))
    endpoint.refuse(PermissionDenied("pinterest: again", platform="pinterest"))  # noted once
    assert [s for s, _ in out.skipped] == ["IMPRESSION", "ENGAGEMENT"]
    assert out.skipped[0][1] == "user_account/analytics refused (permission): Not authorized"


# -- every collector uses the shared helpers -------------------------------------------------------------
TOKEN_PARSERS = {"parse_refresh", "parse_debug_token"}  # token lifetimes, not counts


def test_every_collector_reads_its_counts_with_the_shared_reader_and_keeps_no_copy() -> None:
    for platform in PLATFORMS.values():
        module = importlib.import_module(platform.module)
        readers = [v for v in vars(module).values() if isinstance(v, Counts)]
        assert readers and all(r.platform == platform.id for r in readers), platform.id
        parsers = [f for name, f in vars(module).items() if name.startswith("parse_") and name not in TOKEN_PARSERS]
        assert parsers, platform.id
        for parser in parsers:
            body = inspect.getsource(parser)
            # the hand-rolled checks the parsers had before (isinstance(v, int | float), str.isdigit(), int(...))
            assert not re.search(r"isinstance\([^)]*\bint\b", body), f"{platform.id}.{parser.__name__}"
            assert ".isdigit()" not in body and " int(raw)" not in body, f"{platform.id}.{parser.__name__}"
