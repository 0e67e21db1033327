"""One resilience suite for every registered platform: the runner collects the sandbox's accounts into a real
DuckDB file, and each test checks what the warehouse holds, what the run records say and what the sandbox saw.

Parametrized over :data:`collectors.PLATFORMS`, so a new platform is covered by being registered: it needs the
sandbox to serve it (a part in ``socialkpi/sandbox/``, its accounts in ``world.DEMO_ACCOUNTS``) and one entry in
``tests/platforms.py``; until then every test here fails for it, saying what to add.  Each platform's own file
keeps its parsers and its quirks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors import PLATFORMS
from collectors.http import RedactingFilter
from collectors.observation import Account, Credentials
from socialkpi.demo import demo_settings
from socialkpi.runner import AccountResult, run_collect
from socialkpi.sandbox import Reply, Sandbox, world
from socialkpi.sandbox.oauth import CLIENT_SECRET
from socialkpi.settings import Settings, credentials_for
from tests.conftest import FAST
from tests.platforms import SERVING, Serving
from warehouse.db import holding, writing

IDS = sorted(PLATFORMS)
# The moment of every collect: the sandbox's clock is set to it too, so each run sees the same answers.
MOMENT = datetime(2026, 3, 10, 5, 30, tzinfo=UTC)  # 06:30 in Paris, the demo business's time zone
TODAY = date(2026, 3, 10)
SINCE = TODAY - timedelta(days=10)  # the runner clamps it for the platforms with less history
SECRETS = (world.TOKEN, world.EXPIRED_TOKEN, CLIENT_SECRET)


def serving(platform: str) -> Serving:
    entry = SERVING.get(platform)
    if entry is None:
        pytest.fail(
            f"{platform} is registered in collectors.PLATFORMS but the shared platform suite cannot serve it: add "
            f"SERVING[{platform!r}] = Serving(data=..., near=..., far=..., docs=...) to tests/platforms.py "
            "(the endpoint to script faults on and the platform's throttled answers)"
        )
    return entry


def demo_account(platform: str, *, competitor: bool = False) -> Account:
    for acc in world.DEMO_ACCOUNTS:
        if acc.platform == platform and acc.competitor == competitor:
            return Account(platform=platform, id=acc.id, name=acc.name, competitor=competitor)
    kind = "a competitor" if competitor else "an own account"
    pytest.fail(
        f"{platform}: the sandbox has no {kind} of it: add a DemoAccount({platform!r}, ...) to "
        "socialkpi/sandbox/world.DEMO_ACCOUNTS (and a part answering for it to socialkpi/sandbox/server.PARTS)"
    )


@dataclass
class Run:
    result: AccountResult
    rows: list[tuple[Any, ...]]  # the account's observations in the warehouse after the run
    record: tuple[Any, ...]  # its run_accounts row: status, error_kind, reason, rows_written, requests


class Harness:
    """The sandbox and one warehouse file in tmp_path; :meth:`collect` runs the runner for one account.

    The file is held open for the test (``warehouse.db.holding``, as the demo's replays do), so a run does not
    pay the file's open, checks and checkpoint each time; rows are read back on the same database instance.
    """

    def __init__(self, sandbox: Sandbox, db: Path, platform: str) -> None:
        self.sandbox = sandbox
        self.platform = platform
        self.serving = serving(platform)
        self.settings: Settings = demo_settings(db, sandbox.url)
        self.db = self.settings.db_path

    def account(self, *, competitor: bool = False) -> Account:
        return demo_account(self.platform, competitor=competitor)

    def credentials(self, account: Account, **change: Any) -> Credentials:
        creds = credentials_for(account, self.settings.env)
        return replace(creds, **change) if change else creds

    def collect(self, account: Account | None = None, creds: Credentials | None = None) -> Run:
        account = account or self.account()
        creds = creds or self.credentials(account)
        summary = run_collect(
            self.settings, [account], {(account.platform, account.id): creds}, since=SINCE, policy=FAST, now=MOMENT
        )
        [result] = summary.results
        with writing(self.db) as con:
            rows = con.execute(
                "SELECT metric, observed_on, value, source_metric, collected_at FROM observations "
                "WHERE platform = ? AND account_id = ? ORDER BY metric, observed_on",
                [account.platform, account.id],
            ).fetchall()
            record = con.execute(
                "SELECT status, error_kind, reason, rows_written, requests FROM run_accounts "
                "WHERE run_id = ? AND platform = ? AND account_id = ?",
                [summary.run_id, account.platform, account.id],
            ).fetchone()
        assert record is not None, "every account of a run has its run record"
        return Run(result, rows, record)

    def dump(self) -> str:
        """Every cell of every table of the warehouse, as text."""
        with writing(self.db) as con:
            tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
            return "\n".join(repr(con.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)  # noqa: S608

    def asked(self) -> int:
        return len(self.sandbox.requests_to(self.serving.data))


@dataclass(frozen=True)
class Baseline:
    rows: list[tuple[Any, ...]]
    asked: int  # requests to the platform's ``data`` endpoint


_BASELINES: dict[str, Baseline] = {}


@pytest.fixture
def clock() -> Iterator[None]:
    world.set_clock(lambda: MOMENT)
    yield
    world.set_clock(None)


@pytest.fixture(params=IDS)
def h(request: pytest.FixtureRequest, sandbox: Sandbox, tmp_path: Path, clock: None) -> Iterator[Harness]:
    harness = Harness(sandbox, tmp_path / "socialkpi.duckdb", request.param)
    with holding(harness.db):
        yield harness


@pytest.fixture
def baseline(h: Harness, tmp_path: Path) -> Baseline:
    """The own account's rows after a clean run into a warehouse of their own (the same in every test: the
    sandbox's clock and the collect's moment are fixed), and how often that run asked the ``data`` endpoint."""
    if h.platform not in _BASELINES:
        other = Harness(h.sandbox, tmp_path / "clean.duckdb", h.platform)
        with holding(other.db):
            rows = ok(other.collect())
        _BASELINES[h.platform] = Baseline(rows, other.asked())
        h.sandbox.clear()
    return _BASELINES[h.platform]


def ok(run: Run) -> list[tuple[Any, ...]]:
    assert run.result.status == "ok", run.result.reason
    assert run.record[:3] == ("ok", None, None)
    return run.rows


def failed(run: Run, kind: str) -> str:
    """The reason of a run that failed with ``kind`` and wrote nothing for the account."""
    r = run.result
    assert (r.status, run.record[0], run.record[1]) == ("failed", "failed", kind), r.reason
    assert run.rows == [] and r.rows == 0 and run.record[3] == 0, "a failed account writes no rows"
    assert run.record[2] == r.reason and r.reason.startswith(f"{r.account.platform}/{r.account.id}: ")
    return r.reason


# -- the table covers the registry ---------------------------------------------------------------------


def test_every_registered_platform_is_served() -> None:
    missing = sorted(set(PLATFORMS) - set(SERVING))
    assert not missing, (
        f"registered in collectors.PLATFORMS but not in tests/platforms.py SERVING: {missing}; add one Serving "
        "each (the endpoint to script faults on, the platform's throttled answers)"
    )
    stale = sorted(set(SERVING) - set(PLATFORMS))
    assert not stale, f"tests/platforms.py SERVING names platforms no longer registered: {stale}"


@pytest.mark.parametrize("platform", IDS)
def test_the_sandbox_has_the_accounts_the_platform_supports(platform: str) -> None:
    serving(platform)
    assert demo_account(platform).platform == platform
    if not PLATFORMS[platform].competitor_support:
        assert demo_account(platform, competitor=True).competitor


# -- a clean run, and a second one ---------------------------------------------------------------------


def test_a_run_writes_the_accounts_rows_and_counts_what_the_sandbox_saw(h: Harness, baseline: Baseline) -> None:
    first = h.collect()
    rows = ok(first)
    assert rows == baseline.rows, "the same rows in every fresh warehouse"
    assert rows, "an own account gives rows"
    assert {r[4].replace(tzinfo=UTC) for r in rows} == {MOMENT}
    assert all(r[1] <= TODAY for r in rows), "nothing dated after today"
    assert first.result.rows == len(rows) == first.record[3]
    assert h.asked() >= 1, f"the collect asked {h.serving.data}"
    assert first.result.requests == first.record[4] == len(h.sandbox.requests), "the run counts every request"


def test_a_competitor_gives_rows_where_the_platform_supports_it(h: Harness) -> None:
    if PLATFORMS[h.platform].competitor_support:
        pytest.skip(f"{h.platform}: {PLATFORMS[h.platform].competitor_support}")
    rival = h.account(competitor=True)
    rows = ok(h.collect(rival))
    assert rows
    assert {r[1] for r in rows} == {TODAY}, "a competitor's numbers are 'now' only, dated today"


def test_a_second_run_gives_the_same_rows_and_changes_none(h: Harness, baseline: Baseline) -> None:
    assert ok(h.collect()) == baseline.rows
    again = h.collect()
    assert ok(again) == baseline.rows
    assert again.result.rows == 0, "the upsert on the natural key changes nothing the second time"


# -- server faults -------------------------------------------------------------------------------------


def test_transient_faults_are_retried_and_the_rows_are_whole(h: Harness, baseline: Baseline) -> None:
    h.sandbox.script(h.serving.data, Reply(503, "<html>Service Unavailable</html>"), Reply.drop())
    assert ok(h.collect()) == baseline.rows
    assert h.asked() == baseline.asked + 2, "each fault was retried once"


def test_a_lasting_server_error_fails_the_account_and_writes_nothing(h: Harness) -> None:
    h.sandbox.script(h.serving.data, *[Reply(503, "<html>Service Unavailable</html>")] * FAST.attempts)
    reason = failed(h.collect(), "server")
    assert "503" in reason
    assert h.asked() == FAST.attempts, "tried as often as the policy says, then given up"


# -- throttling ----------------------------------------------------------------------------------------


def test_a_throttle_with_a_near_reset_is_waited_out(h: Harness, baseline: Baseline) -> None:
    if h.serving.near is None:
        pytest.skip(f"{h.platform} never signals a wait this short: {h.serving.near_covered_by} waits one out")
    h.sandbox.script(h.serving.data, h.serving.near())
    assert ok(h.collect()) == baseline.rows
    assert h.asked() == baseline.asked + 1, "asked again once the wait was over"


RESETS = re.compile(r"resets at (\d{4}-\d\d-\d\d \d\d:\d\d) UTC")


def test_a_throttle_with_a_far_reset_fails_at_once_with_the_reset_time(h: Harness) -> None:
    reply, reset = h.serving.far()
    h.sandbox.script(h.serving.data, reply)
    reason = failed(h.collect(), "throttled")
    assert h.asked() == 1, "not retried, not slept through"
    said = RESETS.search(reason)
    assert said, f"the reason gives the reset time: {reason}"
    at = datetime.strptime(said.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert abs((at - reset).total_seconds()) <= 120, f"reset at {at}, the platform said {reset}"


# -- malformed answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "says"),
    [(Reply.raw('{"data": [{"value": 12'), "not valid JSON"), (Reply(200, ["not", "the", "shape"]), "")],
    ids=["truncated-json", "wrong-shape"],
)
def test_a_malformed_answer_fails_the_account_as_a_payload_error(h: Harness, reply: Reply, says: str) -> None:
    h.sandbox.script(h.serving.data, reply)
    reason = failed(h.collect(), "payload")
    assert says in reason
    assert h.asked() == 1, "a malformed answer is not asked again"


# -- credentials, and no secret in any output ------------------------------------------------------------


def test_no_token_fails_before_any_request(h: Harness) -> None:
    if not PLATFORMS[h.platform].needs_token:
        pytest.skip(f"{h.platform} needs no token")
    account = h.account()
    creds = h.credentials(account, token=None, refresh_token=None, google_credentials=None)
    reason = failed(h.collect(account, creds), "auth")
    assert creds.token_env in reason, "the reason names the variable to set"
    assert h.sandbox.requests == []


def test_a_refused_token_fails_with_the_variable_and_not_the_token(h: Harness) -> None:
    if not h.serving.sends_token:
        pytest.skip(f"{h.platform}: the collector never sends a token")
    account = h.account()
    creds = h.credentials(account, token=world.EXPIRED_TOKEN)
    reason = failed(h.collect(account, creds), "auth")
    assert creds.token_env in reason or f"SOCIALKPI_{h.platform.upper()}_" in reason
    assert world.EXPIRED_TOKEN not in reason


def test_no_secret_reaches_a_log_the_warehouse_or_a_url(
    h: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The runner registers every credential for redaction; without that safety net here, a collector that put a
    # token into an error, a note or a URL would show it.  The log passes the filter the CLI's handler has.
    monkeypatch.setattr("socialkpi.runner.register_secret", lambda secret: None)
    caplog.handler.addFilter(RedactingFilter())
    caplog.set_level(logging.DEBUG)
    account = h.account()
    reasons = [h.collect().result.reason]
    h.sandbox.script(h.serving.data, Reply(503, "<html>Service Unavailable</html>"), Reply.drop())
    reasons.append(h.collect().result.reason)
    h.sandbox.script(h.serving.data, *[Reply(500, {"error": {"message": "boom"}})] * FAST.attempts)
    reasons.append(h.collect().result.reason)
    h.sandbox.script(h.serving.data, Reply.raw('{"data": [{"value": 12'))
    reasons.append(h.collect().result.reason)
    h.sandbox.script(h.serving.data, h.serving.far()[0])
    reasons.append(h.collect().result.reason)
    reasons.append(h.collect(account, h.credentials(account, token=world.EXPIRED_TOKEN)).result.reason)
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    exempt = re.compile(h.serving.token_in_url) if h.serving.token_in_url else None
    urls = "\n".join(f"{r.path}?{r.raw_query}" for r in h.sandbox.requests if not (exempt and exempt.search(r.path)))
    assert h.sandbox.requests, "the runs asked the sandbox"
    for secret in SECRETS:
        for where, text in [("a reason", "\n".join(reasons)), ("the log", logged), ("the warehouse", h.dump())]:
            assert secret not in text, f"{secret!r} in {where}"
        assert secret not in urls, f"{secret!r} in a URL: tokens travel in a header or a POST body"
