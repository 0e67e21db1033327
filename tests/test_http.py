"""The HTTP layer (collectors.http, .errors, .redaction, .paging) against a real local server: retries,
Retry-After, classification, redaction, paging.

Nothing here patches ``requests``: every request crosses a socket to the sandbox (tests/http_part.py
plus scripted faults), so the session, the timeouts and the retry loop really run.  The FAST policy
keeps backoff near zero; a test that needs a long server-requested wait injects ``sleep`` and
records it instead of sleeping.
"""

from __future__ import annotations

import email.utils
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from collectors.errors import (
    AuthError,
    BadRequest,
    CollectorError,
    PayloadError,
    PermissionDenied,
    RateLimited,
    ServerError,
    Verdict,
    parse_retry_after,
)
from collectors.http import Client, RetryPolicy
from collectors.paging import paginate_cursor, paginate_next_url, paginate_offset
from collectors.redaction import RedactingFilter, redact, register_secret, sanitize_url
from socialkpi.sandbox import Reply, Sandbox
from tests.conftest import FAST
from tests.http_part import FRESH_TOKEN

# A server-requested wait this policy accepts (with a recording sleep, never a real one).
PATIENT = replace(FAST, max_retry_after=120.0)
# A read timeout far below the slow routes' delays.
TINY_TIMEOUT = replace(FAST, timeout=(2.0, 0.2))


@pytest.fixture(scope="module")
def server() -> Iterator[Sandbox]:
    # one server for the module: stopping one waits out serve_forever's 0.5 s poll
    with Sandbox(parts=("tests.http_part",)) as sandbox:
        yield sandbox


@pytest.fixture
def sb(server: Sandbox) -> Iterator[Sandbox]:
    server.clear()  # no scripted reply or recorded request leaks from one test into the next
    yield server
    server.clear()


@pytest.fixture
def client() -> Iterator[Client]:
    with Client("test", policy=FAST) as c:
        yield c


class RecordingSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def http_date(offset_seconds: float) -> str:
    return email.utils.formatdate(time.time() + offset_seconds, usegmt=True)


# ---------------------------------------------------------------------------------------------
# Plain success, headers, timeouts
# ---------------------------------------------------------------------------------------------


def test_get_json_returns_the_body_and_sends_user_agent(sb: Sandbox, client: Client) -> None:
    body = client.get_json(f"{sb.url}/json", params={"a": "1"})
    assert body["ok"] is True and body["query"] == {"a": ["1"]}
    assert client.requests_made == 1 and client.waits == []
    sent = sb.requests_to(r"^/json$")[0]
    assert str(sent.header("User-Agent")).startswith("socialkpi/")
    assert sent.header("Accept") == "application/json"


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c, url: c.get_json(url), id="get_json"),
        pytest.param(lambda c, url: c.post_json(url, json_body={"x": 1}), id="post_json"),
        pytest.param(lambda c, url: next(paginate_next_url(c, url, next_url=lambda p: None)), id="paginate"),
    ],
)
def test_every_request_uses_the_policy_timeout(sb: Sandbox, call: Callable[[Client, str], Any]) -> None:
    with (
        Client("test", policy=replace(TINY_TIMEOUT, attempts=1)) as c,
        pytest.raises(ServerError, match="timed out") as info,
    ):
        call(c, f"{sb.url}/slow?sleep=1.0")
    # /slow answers after 1 s: without the 0.2 s read timeout the call would have succeeded
    assert info.value.kind == "server" and c.requests_made == 1


def test_a_timeout_is_retried(sb: Sandbox) -> None:
    with Client("test", policy=TINY_TIMEOUT) as c:
        body = c.get_json(f"{sb.url}/slow-once/{uuid.uuid4().hex}", params={"sleep": "1.0"})
    assert body == {"ok": True, "first": False}
    assert c.requests_made == 2 and len(c.waits) == 1


# ---------------------------------------------------------------------------------------------
# Throttling and Retry-After
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", ["0", "0.02", "0.05"])
def test_429_with_retry_after_seconds_then_200(sb: Sandbox, client: Client, retry_after: str) -> None:
    sb.script(r"^/json$", Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": retry_after}))
    assert client.get_json(f"{sb.url}/json")["ok"] is True
    assert client.waits == [float(retry_after)]
    assert client.waits[0] <= FAST.max_retry_after
    assert len(sb.requests_to(r"^/json$")) == 2


def test_retry_after_within_the_cap_is_honoured_not_replaced_by_backoff(sb: Sandbox) -> None:
    sleep = RecordingSleep()
    sb.script(r"^/json$", Reply(429, {}, {"Retry-After": "30"}))
    with Client("test", policy=PATIENT, sleep=sleep) as c:
        assert c.get_json(f"{sb.url}/json")["ok"] is True
    assert c.waits == [30.0] and sleep.calls == [30.0]


@pytest.mark.parametrize(
    ("offset", "low", "high"),
    [
        pytest.param(30, 28.0, 31.0, id="future"),
        pytest.param(-60, 0.0, 0.0, id="past-means-now"),
    ],
)
def test_retry_after_as_http_date(sb: Sandbox, offset: float, low: float, high: float) -> None:
    sleep = RecordingSleep()
    sb.script(r"^/json$", Reply(429, {}, {"Retry-After": http_date(offset)}))
    with Client("test", policy=PATIENT, sleep=sleep) as c:
        assert c.get_json(f"{sb.url}/json")["ok"] is True
    assert len(c.waits) == 1 and low <= c.waits[0] <= high
    assert sleep.calls == c.waits


@pytest.mark.parametrize(
    "header",
    [pytest.param(lambda: "3600", id="seconds"), pytest.param(lambda: http_date(3600), id="http-date")],
)
def test_retry_after_beyond_the_cap_fails_at_once(sb: Sandbox, header: Callable[[], str]) -> None:
    sleep = RecordingSleep()
    sb.script(r"^/json$", Reply(429, {"error": {"message": "quota"}}, {"Retry-After": header()}))
    with Client("test", policy=FAST, sleep=sleep) as c, pytest.raises(RateLimited) as info:
        c.get_json(f"{sb.url}/json")
    assert sleep.calls == [] and c.waits == [] and c.requests_made == 1
    exc = info.value
    assert exc.status == 429 and exc.reset_at is not None
    expected = datetime.now(UTC) + timedelta(seconds=3600)
    assert abs((exc.reset_at - expected).total_seconds()) < 5
    assert "resets at" in str(exc)


def test_429_every_time_ends_in_rate_limited(sb: Sandbox, client: Client) -> None:
    sb.script(r"^/json$", *[Reply(429, {}, {"Retry-After": "0"})] * FAST.attempts)
    with pytest.raises(RateLimited):
        client.get_json(f"{sb.url}/json")
    assert client.requests_made == FAST.attempts and len(client.waits) == FAST.attempts - 1


# ---------------------------------------------------------------------------------------------
# Server errors and network faults
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_then_200_is_retried(sb: Sandbox, client: Client, status: int) -> None:
    sb.script(r"^/json$", Reply(status, {"error": {"message": "try later"}}))
    assert client.get_json(f"{sb.url}/json")["ok"] is True
    assert len(sb.requests_to(r"^/json$")) == 2
    assert len(client.waits) == 1 and 0 < client.waits[0] <= FAST.max_backoff


def test_500_until_attempts_are_exhausted_raises_server_error(sb: Sandbox, client: Client) -> None:
    with pytest.raises(ServerError) as info:
        client.get_json(f"{sb.url}/status/500")
    assert info.value.status == 500 and "refused" in str(info.value)
    assert len(sb.requests_to(r"^/status/500$")) == FAST.attempts
    assert len(client.waits) == FAST.attempts - 1
    # exponential backoff with jitter, capped by max_backoff
    assert all(0 < w <= FAST.max_backoff for w in client.waits)


def test_backoff_doubles_then_caps() -> None:
    policy = RetryPolicy(attempts=6, backoff=1.0, max_backoff=4.0)
    c = Client("test", policy=policy, sleep=RecordingSleep())
    for attempt in range(1, 6):
        c._wait(attempt, None, "test")
    caps = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(cap / 2 <= w <= cap for w, cap in zip(c.waits, caps, strict=True))
    c.close()


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Reply.drop(), id="dropped"),
        pytest.param(Reply.truncated({"data": list(range(200))}), id="truncated"),
    ],
)
def test_a_network_fault_then_200_is_retried(sb: Sandbox, client: Client, fault: Reply) -> None:
    sb.script(r"^/json$", fault)
    assert client.get_json(f"{sb.url}/json")["ok"] is True
    assert len(sb.requests_to(r"^/json$")) == 2 and len(client.waits) == 1


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        pytest.param(Reply.drop, "connection", id="dropped"),
        pytest.param(lambda: Reply.truncated({"data": list(range(200))}), "mid-body", id="truncated"),
    ],
)
def test_a_network_fault_every_time_ends_in_server_error(
    sb: Sandbox, client: Client, fault: Callable[[], Reply], reason: str
) -> None:
    sb.script(r"^/json$", *[fault() for _ in range(FAST.attempts)])
    with pytest.raises(ServerError, match=reason) as info:
        client.get_json(f"{sb.url}/json")
    assert info.value.status is None
    assert len(sb.requests_to(r"^/json$")) == FAST.attempts


def test_post_without_retry_is_sent_once(sb: Sandbox, client: Client) -> None:
    sb.script(r"^/json$", Reply(503, {}))
    with pytest.raises(ServerError):
        client.post_json(f"{sb.url}/json", json_body={"a": 1}, retry=False)
    assert len(sb.requests_to(r"^/json$")) == 1 and client.waits == []


# ---------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------


def test_malformed_json_is_a_payload_error_and_not_retried(sb: Sandbox, client: Client) -> None:
    with pytest.raises(PayloadError, match="not valid JSON") as info:
        client.get_json(f"{sb.url}/malformed")
    assert info.value.status == 200
    assert client.requests_made == 1 and client.waits == []


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequest),
        (401, AuthError),
        (403, PermissionDenied),
        (404, BadRequest),
        (422, BadRequest),
    ],
)
def test_client_errors_are_classified_and_not_retried(
    sb: Sandbox, client: Client, status: int, error: type[CollectorError]
) -> None:
    with pytest.raises(error) as info:
        client.get_json(f"{sb.url}/status/{status}", params={"say": "because"})
    assert type(info.value) is error
    assert info.value.status == status and info.value.platform == "test"
    assert str(info.value) == "test: refused: because"
    assert client.requests_made == 1 and client.waits == []


def test_refresh_is_called_once_on_401_and_the_request_resent_with_new_headers(sb: Sandbox) -> None:
    token = ["stale-token-000000"]
    calls: list[int] = []

    def refresh() -> bool:
        calls.append(1)
        token[0] = FRESH_TOKEN
        return True

    with Client(
        "test", policy=FAST, auth_headers=lambda: {"Authorization": f"Bearer {token[0]}"}, refresh=refresh
    ) as c:
        assert c.get_json(f"{sb.url}/auth") == {"ok": True}
    assert calls == [1]
    sent = [r.bearer() for r in sb.requests_to(r"^/auth$")]
    assert sent == ["stale-token-000000", FRESH_TOKEN]


@pytest.mark.parametrize(
    ("refresh_result", "new_token", "requests"),
    [
        pytest.param(False, None, 1, id="refresh-declines"),
        pytest.param(True, "still-wrong-token-0", 2, id="refreshed-token-also-refused"),
    ],
)
def test_refresh_is_tried_only_once(sb: Sandbox, refresh_result: bool, new_token: str | None, requests: int) -> None:
    token = ["stale-token-000000"]
    calls: list[int] = []

    def refresh() -> bool:
        calls.append(1)
        if new_token:
            token[0] = new_token
        return refresh_result

    with (
        Client("test", policy=FAST, auth_headers=lambda: {"Authorization": f"Bearer {token[0]}"}, refresh=refresh) as c,
        pytest.raises(AuthError, match="Session has expired"),
    ):
        c.get_json(f"{sb.url}/auth")
    assert calls == [1] and c.requests_made == requests


def throttle_in_body(status: int, headers: Any, body: Any) -> Verdict | None:
    """A platform classifier: some APIs say "throttled" with a 400 or even a 200."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = str(body["error"].get("message", ""))
        if "throttled" in message:
            return Verdict("throttled", message, code="app_throttled")
        if "expired" in message:
            return Verdict("auth", message, code="token_expired")
        if "metric" in message:
            return Verdict("bad_request", message, code="invalid_metric")
    return None


def test_a_classifier_can_make_a_400_retryable(sb: Sandbox) -> None:
    sb.script(r"^/json$", Reply(400, {"error": {"message": "application request limit reached: throttled"}}))
    with Client("test", policy=FAST, classify=throttle_in_body) as c:
        assert c.get_json(f"{sb.url}/json")["ok"] is True
    assert len(sb.requests_to(r"^/json$")) == 2 and len(c.waits) == 1


@pytest.mark.parametrize(
    ("reply", "error", "code", "requests"),
    [
        pytest.param(
            Reply(400, {"error": {"message": "throttled"}}), RateLimited, "app_throttled", 4, id="400-throttled"
        ),
        pytest.param(
            Reply(200, {"error": {"message": "token expired"}}), AuthError, "token_expired", 1, id="200-expired"
        ),
        pytest.param(
            Reply(400, {"error": {"message": "bad metric"}}), BadRequest, "invalid_metric", 1, id="400-metric"
        ),
        pytest.param(Reply(400, {"error": {"message": "nope"}}), BadRequest, "", 1, id="falls-back-to-status"),
        pytest.param(Reply(503, {"error": {"message": "nope"}}), ServerError, "", 4, id="falls-back-503"),
    ],
)
def test_classifier_verdicts(sb: Sandbox, reply: Reply, error: type[CollectorError], code: str, requests: int) -> None:
    sb.script(r"^/json$", *[reply] * FAST.attempts)
    with Client("test", policy=FAST, classify=throttle_in_body) as c, pytest.raises(error) as info:
        c.get_json(f"{sb.url}/json")
    assert type(info.value) is error and info.value.code == code
    assert c.requests_made == requests


# ---------------------------------------------------------------------------------------------
# Redaction
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://graph.example/v1/me?access_token=TOPSECRET1&fields=id", "fields=id"),
        ("https://api.example/data?key=TOPSECRET1&q=x", "q=x"),
        ("https://api.example/token?client_secret=TOPSECRET1&client_id=abc", "client_id=abc"),
        ("https://api.example/token?Access_Token=TOPSECRET1&page=2", "page=2"),
        ("https://api.example/a?api_key=TOPSECRET1#frag", "/a?"),
        ("https://user:TOPSECRET1@api.example/a?x=1", "x=1"),
    ],
)
def test_sanitize_url_masks_secret_parameters(url: str, kept: str) -> None:
    clean = sanitize_url(url)
    assert "TOPSECRET1" not in clean
    assert kept in clean and "***" in clean


def test_redact_masks_params_bearer_tokens_and_registered_secrets() -> None:
    secret = f"registered-{uuid.uuid4().hex}"
    register_secret(secret)
    text = f"GET /x?access_token=abcdef123 Authorization: Bearer abcdefghijkl and {secret}"
    clean = redact(text)
    assert "abcdef123" not in clean and "abcdefghijkl" not in clean and secret not in clean


def test_short_secrets_are_not_registered() -> None:
    register_secret("abc")  # would redact every "abc" in every message
    register_secret(None)
    assert redact("abc") == "abc"


@pytest.mark.parametrize("cls", [AuthError, PermissionDenied, RateLimited, BadRequest, ServerError, PayloadError])
def test_with_message_keeps_class_and_fields_and_redacts_the_new_message(cls: type[CollectorError]) -> None:
    secret = f"registered-{uuid.uuid4().hex}"
    register_secret(secret)
    reset_at = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    exc = cls(
        "test: refused",
        platform="test",
        status=401,
        url="https://api.example/a?access_token=abcdef123&q=x",
        code="expired",
        reset_at=reset_at,
    )
    new = exc.with_message(f"{exc.message}; not {secret} ?access_token=abcdef123 Bearer abcdefghijkl")
    assert type(new) is cls and new is not exc and new.kind == exc.kind
    assert (new.platform, new.status, new.code, new.reset_at) == ("test", 401, "expired", reset_at)
    assert new.url == exc.url == "https://api.example/a?access_token=***&q=x"  # not sanitized twice over
    assert new.message == "test: refused; not *** ?access_token=*** Bearer ***"
    assert str(new) == new.message and new.args == (new.message,)
    assert exc.message == "test: refused"  # the original is left as it was


def _leaks(secret: str) -> tuple[str, ...]:
    return (secret, quote(secret, safe=""), quote_plus(secret))


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param("status", id="http-500"),
        pytest.param("bad_request", id="http-400"),
        pytest.param("drop", id="dropped"),
        pytest.param("malformed", id="malformed"),
    ],
)
def test_secrets_never_reach_errors_or_logs(
    sb: Sandbox, client: Client, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    secret = f"reg/{uuid.uuid4().hex}+x="  # characters that change when URL-encoded
    url_token = f"urltoken{uuid.uuid4().hex}"
    register_secret(secret)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")  # the CLI quietens it; a user may not
    caplog.handler.addFilter(RedactingFilter())
    params = {"access_token": url_token, "say": secret}
    if fault == "status":
        target = f"{sb.url}/status/500"
    elif fault == "bad_request":
        target = f"{sb.url}/status/400"
    else:
        target = f"{sb.url}/json"
        script = Reply.drop() if fault == "drop" else Reply.raw(f'{{"token": "{secret}", "x": ')
        sb.script(r"^/json$", *[script] * FAST.attempts)
    with pytest.raises(CollectorError) as info:
        client.get_json(f"{target}?access_token={url_token}", params=params)
    exc = info.value
    texts = [str(exc), repr(exc), exc.url, exc.message, *map(str, exc.args)]
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    for text in texts:
        for leak in (*_leaks(secret), url_token):
            assert leak not in text
    assert "access_token=***" in exc.url
    # the log really saw the request (urllib3 logs every URL at DEBUG, we log each retry),
    # so the check is not vacuous
    seen = [r.getMessage() for r in caplog.records]
    assert any(target.rsplit("/", 1)[-1] in m or "retrying" in m for m in seen)
    # the secret did reach the server: redaction is on our side only
    assert sb.requests[0].arg("say") == secret


def test_paging_urls_with_tokens_are_followed_but_not_logged(
    sb: Sandbox, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")  # the CLI quietens it; a user may not
    caplog.handler.addFilter(RedactingFilter())
    pages = list(paginate_next_url(client, f"{sb.url}/paged", next_url=lambda p: p["paging"].get("next")))
    assert [p["data"][0] for p in pages] == ["p1", "p2", "p3"]
    assert sb.requests_to("/paged")[1].arg("access_token") == "paging-secret-token"
    assert "paging-secret-token" not in caplog.text
    assert "access_token=***" in caplog.text


# ---------------------------------------------------------------------------------------------
# Paging
# ---------------------------------------------------------------------------------------------


def _next(page: Any) -> str | None:
    nxt = page["paging"].get("next")
    return str(nxt) if nxt else None


@pytest.mark.parametrize(("pages", "expected"), [(1, ["p1"]), (3, ["p1", "p2", "p3"])])
def test_paginate_next_url_follows_next_links(sb: Sandbox, client: Client, pages: int, expected: list[str]) -> None:
    got = [p["data"][0] for p in paginate_next_url(client, f"{sb.url}/paged", params={"pages": pages}, next_url=_next)]
    assert got == expected and client.requests_made == pages


def test_paginate_next_url_stops_on_a_repeated_link(sb: Sandbox, client: Client) -> None:
    # the last page links to itself, as a stuck API does
    got = [
        p["data"][0]
        for p in paginate_next_url(client, f"{sb.url}/paged", params={"pages": 2, "loop": 1}, next_url=_next)
    ]
    assert got == ["p1", "p2"]
    assert client.requests_made == 2


def test_paginate_next_url_does_not_refetch_the_first_page(sb: Sandbox, client: Client) -> None:
    # page 2 links back to exactly the URL of the first request (url + params)
    first = f"{sb.url}/paged?page=1&pages=2"
    sb.script(
        r"^/paged$",
        Reply(200, {"data": ["p1"], "paging": {"next": f"{sb.url}/paged?page=2&pages=2"}}),
        Reply(200, {"data": ["p2"], "paging": {"next": first}}),
    )
    pages = paginate_next_url(client, f"{sb.url}/paged", params={"page": 1, "pages": 2}, next_url=_next)
    assert [p["data"][0] for p in pages] == ["p1", "p2"]
    assert client.requests_made == 2


def test_paginate_next_url_gives_up_after_max_pages(sb: Sandbox, client: Client) -> None:
    got: list[str] = []
    with pytest.raises(PayloadError, match="more than 2 pages"):
        for page in paginate_next_url(client, f"{sb.url}/paged", params={"pages": 5}, next_url=_next, max_pages=2):
            got.append(page["data"][0])
    assert got == ["p1", "p2"]


@pytest.mark.parametrize(
    ("total", "requests"),
    [(0, 1), (7, 1), (10, 1), (25, 3), (30, 3)],
)
def test_paginate_offset(sb: Sandbox, client: Client, total: int, requests: int) -> None:
    def fetch(offset: int, limit: int) -> Any:
        return client.get_json(f"{sb.url}/offset", params={"offset": offset, "limit": limit, "total": total})

    pages = list(paginate_offset(fetch, total=lambda p: int(p["rowCount"]), limit=10))
    assert [row for page in pages for row in page["rows"]] == list(range(total))
    assert client.requests_made == requests
    assert [r.arg("offset") for r in sb.requests_to("/offset")] == [str(10 * i) for i in range(requests)]


@pytest.mark.parametrize("pages", [1, 3])
def test_paginate_cursor(sb: Sandbox, client: Client, pages: int) -> None:
    def fetch(cursor: str | None) -> Any:
        params: dict[str, Any] = {"pages": pages}
        if cursor:
            params["cursor"] = cursor
        return client.get_json(f"{sb.url}/cursor", params=params)

    got = [item for page in paginate_cursor(fetch, cursor=lambda p: p["next_cursor"]) for item in page["items"]]
    assert got == list(range(pages))
    assert [r.arg("cursor") for r in sb.requests_to("/cursor")] == [None] + [f"c{i}" for i in range(1, pages)]


def test_paginate_cursor_stops_on_a_repeated_cursor(sb: Sandbox, client: Client) -> None:
    sb.script(r"^/cursor$", *[Reply(200, {"items": [1], "next_cursor": "same"})] * 5)
    pages = list(
        paginate_cursor(
            lambda c: client.get_json(f"{sb.url}/cursor", params={"cursor": c} if c else None),
            cursor=lambda p: p["next_cursor"],
            max_pages=50,
        )
    )
    assert len(pages) == 2 and client.requests_made == 2


# ---------------------------------------------------------------------------------------------
# Retry-After parsing
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("5", 5.0),
        (" 7 ", 7.0),
        ("-3", 0.0),
        ("soon", None),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 60.0),  # now = 40
        ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=40.0) == expected
