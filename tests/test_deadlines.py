"""Nothing hangs: the deadline of a request, the size cap of a body, the deadline of a collect, and a run
that died is never left "running" (issue 11, item 6).

Every server here is the real sandbox on 127.0.0.1: ``Reply.trickle`` sends a byte every ``every`` seconds
(a read timeout never trips on it), ``Reply.huge`` streams a JSON document of any size as fast as the client
reads.  Nothing asserts on elapsed time: each test proves its point by the outcome (the error names the
deadline or the cap; the server was still trickling, or had not sent the whole body, when the call or the
process ended).
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

import collectors.http as http
from collectors.http import Client, RetryPolicy, ServerError
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox.server import Stream
from tests.conftest import FAST

SLOW_BODY = {"data": "x" * 200}  # 200+ bytes: at a byte every 0.2 s, some 40 s to send
CAP = 2**20


def policy(**changes: float) -> RetryPolicy:
    """FAST with ``changes`` (made per test, so that each test fails alone where a field is missing)."""
    return replace(FAST, **changes)


@pytest.fixture(scope="module")
def server() -> Iterator[Sandbox]:
    with Sandbox(parts=("tests.http_part",)) as sandbox:
        yield sandbox


@pytest.fixture
def sb(server: Sandbox) -> Iterator[Sandbox]:
    server.clear()
    yield server
    server.clear()


class RecordingSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def ended(stream: Stream) -> Stream:
    """``stream`` once the server is done with it (the client hung up, or all was sent)."""
    for _ in range(200):
        if stream.ended:
            break
        time.sleep(0.05)
    return stream


# -- (a) the deadline of one request --------------------------------------------------------------


@pytest.mark.parametrize("whole", [False, True], ids=["body trickled", "status line and headers trickled too"])
def test_a_trickling_server_ends_at_the_request_deadline_and_is_not_retried(sb: Sandbox, whole: bool) -> None:
    sb.script(r"^/json$", Reply.trickle(SLOW_BODY, every=0.2, whole=whole))
    with (
        Client("test", policy=policy(request_deadline=1.0)) as c,
        pytest.raises(ServerError, match=r"^test: request deadline reached: no complete response within 1 s") as info,
    ):
        c.get_json(f"{sb.url}/json")
    assert info.value.code == "deadline" and info.value.kind == "server" and info.value.platform == "test"
    assert f"({sb.url}/json)" in str(info.value)  # names the URL
    [stream] = sb.streams
    assert not stream.finished  # the call ended while the server was still trickling (a read timeout never trips)
    assert c.requests_made == 1 and c.waits == []  # not retried: another try would take another deadline


def test_a_request_that_ends_in_time_is_not_cut_later_on_its_kept_alive_connection(sb: Sandbox) -> None:
    with Client("test", policy=policy(request_deadline=1.0)) as c:
        assert c.get_json(f"{sb.url}/json")["ok"] is True
        time.sleep(1.5)  # past the first request's deadline: its watch must be over, not cut the reused socket
        assert c.get_json(f"{sb.url}/json")["ok"] is True
    assert c.requests_made == 2 and c.waits == []  # no dropped connection retried


def test_the_clients_deadline_cuts_a_request_in_flight_and_starts_none_after(sb: Sandbox) -> None:
    sb.script(r"^/json$", Reply.trickle(SLOW_BODY, every=0.2))
    label = "the collect deadline (test)"
    with Client("test", policy=FAST, deadline=time.monotonic() + 2.0, deadline_label=label) as c:
        with pytest.raises(ServerError, match=r"^test: deadline reached: the collect deadline \(test\) passed during"):
            c.get_json(f"{sb.url}/json")
        with pytest.raises(ServerError, match=r"passed before a request to") as later:
            c.get_json(f"{sb.url}/json")
    assert later.value.code == "deadline" and c.deadline_hit
    assert not sb.streams[0].finished
    assert c.requests_made == 1 and len(sb.requests_to(r"^/json$")) == 1  # the second was never sent


def test_a_retry_wait_that_would_pass_the_clients_deadline_is_not_slept(sb: Sandbox) -> None:
    sb.script(r"^/json$", Reply(503, {"error": {"message": "busy"}}, {"Retry-After": "60"}))
    sleep = RecordingSleep()
    patient = policy(max_retry_after=120.0)  # a 60 s wait is one this policy would sleep through
    with (
        Client("test", policy=patient, sleep=sleep, deadline=time.monotonic() + 30, deadline_label="the end") as c,
        pytest.raises(ServerError, match="deadline reached: the end comes before the next try"),
    ):
        c.get_json(f"{sb.url}/json")
    assert sleep.calls == [] and c.requests_made == 1 and c.deadline_hit


# -- (b) the size cap of a body -------------------------------------------------------------------


def test_a_body_over_the_cap_fails_before_the_server_has_sent_it(sb: Sandbox) -> None:
    size = 512 * 2**20
    sb.script(r"^/json$", Reply.huge(size))  # chunked: no Content-Length to refuse it by
    with (
        Client("test", policy=policy(max_body_bytes=CAP)) as c,
        pytest.raises(ServerError, match=r"^test: the response is larger than 1 MB, the size cap") as info,
    ):
        c.get_json(f"{sb.url}/json")
    assert info.value.code == "too_large" and f"({sb.url}/json)" in str(info.value)
    assert c.requests_made == 1  # not retried: the same URL would send the same again
    stream = ended(sb.streams[0])
    assert not stream.finished and stream.sent < size // 16  # stopped at the cap (plus what the socket buffers)


def test_a_declared_length_over_the_cap_fails_before_the_body_is_read(sb: Sandbox) -> None:
    size = 512 * 2**20
    sb.script(r"^/json$", Reply.huge(size, declared=True))
    with (
        Client("test", policy=policy(max_body_bytes=CAP)) as c,
        pytest.raises(ServerError, match=r"larger than 1 MB, the size cap of one response \(it says it is 512 MB\)"),
    ):
        c.get_json(f"{sb.url}/json")
    stream = ended(sb.streams[0])
    assert not stream.finished and stream.sent < size // 16


@pytest.mark.parametrize(("size", "fits"), [(CAP, True), (CAP + 1, False)])
def test_the_cap_is_inclusive(sb: Sandbox, size: int, fits: bool) -> None:
    sb.script(r"^/json$", Reply.huge(size))
    with Client("test", policy=policy(max_body_bytes=CAP)) as c:
        if fits:
            assert len(c.get_json(f"{sb.url}/json")["data"]) == size - len('{"data": ""}')
        else:
            with pytest.raises(ServerError, match="size cap"):
                c.get_json(f"{sb.url}/json")


def test_the_cap_counts_the_body_decompressed(sb: Sandbox) -> None:
    document = json.dumps({"data": "x" * (8 * CAP)}).encode()
    packed = gzip.compress(document)
    assert len(packed) < CAP // 16  # small on the wire
    sb.script(r"^/json$", Reply(200, packed, {"Content-Encoding": "gzip"}))
    with Client("test", policy=policy(max_body_bytes=CAP)) as c, pytest.raises(ServerError, match="size cap") as info:
        c.get_json(f"{sb.url}/json")
    assert info.value.code == "too_large"


def test_the_documented_limits_are_the_defaults() -> None:
    default = RetryPolicy()
    doc = http.__doc__ or ""
    assert default.request_deadline == 120.0 and "``RetryPolicy.request_deadline`` (120 s" in doc
    assert default.max_body_bytes == 64 * 2**20 and "``RetryPolicy.max_body_bytes`` (64 MiB" in doc
