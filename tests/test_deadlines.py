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
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

import collectors.http as http
from collectors.errors import ServerError
from collectors.http import Client, RetryPolicy
from collectors.observation import Account
from socialkpi.cli import main
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox.server import Stream
from socialkpi.sandbox.world import TOKEN
from tests.conftest import FAST
from warehouse.db import writing
from warehouse.load import AccountOutcome, start_run, write_account_batch

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


# -- (c) the deadline of a whole collect ----------------------------------------------------------

FB_A, FB_B, GA = "104512345678901", "104512345678902", "312345678"


def config(*, deadline: str = "", concurrency: str = "") -> str:
    lines = [
        "[business]",
        'name = "Corner Bakery"',
        'timezone = "Europe/Paris"',
        "[warehouse]",
        'path = "wh/socialkpi.duckdb"',
        "[collect]",
        "history_days = 5",
        deadline,
        concurrency,
    ]
    for platform, account_id in (("facebook", FB_A), ("facebook", FB_B), ("ga4", GA)):
        lines += ["[[accounts]]", f'platform = "{platform}"', f'id = "{account_id}"']
    return "\n".join(lines) + "\n"


def env_for(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    for platform in ("facebook", "ga4"):
        env[f"SOCIALKPI_{platform.upper()}_TOKEN"] = TOKEN
        env[f"SOCIALKPI_{platform.upper()}_BASE_URL"] = url
    return env


def collect(workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "socialkpi.cli", "collect"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # a safety net for a hang, far beyond the deadline under test
    )


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(db))  # read-write: replays the WAL a killed process left
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_collect_past_its_deadline_records_what_is_unfinished_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "socialkpi.toml").write_text(
        config(deadline="deadline_minutes = 1", concurrency="[collect.concurrency]\nfacebook = 1"), encoding="utf-8"
    )
    with Sandbox() as sandbox:
        # the server: a byte every 2 s (a 30 s read timeout never trips), here for over half an hour
        sandbox.script(r"^/v\d+\.\d+/1045123456789\d+", Reply.trickle({"data": [], "pad": "x" * 1000}, every=2.0))
        done = collect(tmp_path, env_for(sandbox.url))
        streams = list(sandbox.streams)
    assert done.returncode == 1, done.stderr
    assert "1 account(s) ok, 2 failed" in done.stdout
    failed = [line for line in done.stderr.splitlines() if line.startswith("socialkpi: error: failed:")]
    assert len(failed) == 2, done.stderr
    label = "deadline reached: the collect deadline ([collect] deadline_minutes = 1) passed"
    # the account whose request was trickling: cut in flight (the request's own deadline, 120 s, is later)
    assert any(f"facebook/{FB_A}: {label} during a request to" in line for line in failed), failed
    assert any(f"facebook/{FB_B}: {label} before it started" in line for line in failed), failed  # never begun
    assert streams and not any(s.finished for s in streams)  # the process ended while the server still trickled
    db = tmp_path / "wh/socialkpi.duckdb"
    assert query(db, "SELECT status, accounts_ok, accounts_failed FROM runs") == [("partial", 1, 2)]
    assert query(
        db, "SELECT platform, account_id, status, error_kind, rows_written > 0 FROM run_accounts ORDER BY 1, 2"
    ) == [
        ("facebook", FB_A, "failed", "deadline", False),
        ("facebook", FB_B, "failed", "deadline", False),
        ("ga4", GA, "ok", None, True),
    ]
    assert query(db, "SELECT DISTINCT platform FROM observations") == [("ga4",)]  # nothing partial


@pytest.mark.parametrize(
    ("value", "fix"),
    [
        ("0", "0 must be a whole number of 1 or more (at most 1440), e.g. 60"),
        ("-5", "-5 must be a whole number of 1 or more (at most 1440), e.g. 60"),
        ("1441", "1441 is more than 1440, the most it can be (a day: a daily collect must end before the next)"),
        ('"60"', "'60' must be a whole number from 1 to 1440, without quotes, e.g. 60"),
        ("1.5", "1.5 must be a whole number from 1 to 1440, without quotes, e.g. 60"),
        ("true", "True must be a whole number from 1 to 1440, without quotes, e.g. 60"),
    ],
)
def test_a_bad_deadline_is_exit_2_with_one_line_and_nothing_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str, fix: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "socialkpi.toml").write_text(config(deadline=f"deadline_minutes = {value}"), encoding="utf-8")
    for name, setting in env_for("http://127.0.0.1:9").items():
        monkeypatch.setenv(name, setting)
    assert main(["collect"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"socialkpi: error: collect.deadline_minutes: {fix}"]
    assert not (tmp_path / "wh").exists()


@pytest.mark.parametrize(
    ("line", "minutes"), [("", 60), ("deadline_minutes = 1", 1), ("deadline_minutes = 1440", 1440)]
)
def test_the_deadline_defaults_to_an_hour_and_takes_1_to_1440(tmp_path: Path, line: str, minutes: int) -> None:
    from socialkpi.settings import load_settings

    (tmp_path / "socialkpi.toml").write_text(config(deadline=line), encoding="utf-8")
    assert load_settings(cwd=tmp_path, environ={}).deadline_minutes == minutes


# -- (d) a run that died is closed by the next ----------------------------------------------------


def test_a_collect_killed_mid_run_is_closed_as_failed_by_the_next(tmp_path: Path) -> None:
    (tmp_path / "socialkpi.toml").write_text(config(), encoding="utf-8")
    db = tmp_path / "wh/socialkpi.duckdb"
    with Sandbox() as sandbox:
        env = env_for(sandbox.url)
        sandbox.script(r"^/v\d+\.\d+/1045123456789\d+", Reply.trickle({"data": []}, every=2.0))
        proc = subprocess.Popen(
            [sys.executable, "-m", "socialkpi.cli", "collect"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(600):  # until the run is under way: its request is being trickled
                if sandbox.streams or proc.poll() is not None:
                    break
                time.sleep(0.05)
            assert sandbox.streams, "the collect never reached the trickling server"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        [(crashed, status)] = query(db, "SELECT run_id, status FROM runs")
        assert status == "running"  # what kill -9 leaves behind
        again = collect(tmp_path, env)
    assert again.returncode == 0, again.stderr
    runs = dict(query(db, "SELECT run_id, status FROM runs"))
    assert runs.pop(crashed) == "failed" and list(runs.values()) == ["ok"]
    assert query(db, "SELECT count(*) FROM runs WHERE finished_at IS NULL") == [(0,)]
    assert f"run {crashed} never finished (its process was killed or crashed): recorded as failed" in again.stderr


def test_start_run_closes_an_earlier_run_left_running_with_what_it_recorded(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    t0, t1, t2, t3 = (datetime(2026, 3, 10, 6, m, tzinfo=UTC) for m in (0, 1, 2, 30))
    ok = Account(platform="ga4", id=GA, name="site")
    bad = Account(platform="facebook", id=FB_A, name="page")
    with writing(db) as con:
        assert start_run(con, "dead", t0, "collect") == []
        write_account_batch(con, AccountOutcome("dead", ok, "ok", t0, t1, requests=3))
        write_account_batch(con, AccountOutcome("dead", bad, "failed", t0, t2, error_kind="server", requests=2))
        # the process dies here: no finish_run
        assert start_run(con, "next", t3, "collect") == ["dead"]
        rows = con.execute(
            "SELECT run_id, status, finished_at, accounts_ok, accounts_failed, requests FROM runs ORDER BY started_at"
        ).fetchall()
    assert rows == [
        ("dead", "failed", t2.replace(tzinfo=None), 1, 1, 5),  # ends at the last thing it recorded
        ("next", "running", None, 0, 0, 0),
    ]


def test_a_run_that_recorded_nothing_is_closed_at_its_start(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    t0, t1 = datetime(2026, 3, 10, 6, 0, tzinfo=UTC), datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
    with writing(db) as con:
        start_run(con, "dead", t0, "collect")
        assert start_run(con, "next", t1, "collect") == ["dead"]
        rows = con.execute("SELECT run_id, status, finished_at, accounts_ok FROM runs ORDER BY started_at").fetchall()
    assert rows[0] == ("dead", "failed", t0.replace(tzinfo=None), 0)
