"""One resilience suite for every registered platform: the runner collects the sandbox's accounts into real
DuckDB files, and each test checks what the warehouse holds, what the run records say and what the sandbox saw.

Parametrized over :data:`collectors.PLATFORMS`, so a new platform is covered by being registered: it needs the
sandbox to serve it (a part in ``socialkpi/sandbox/``, its accounts in ``world.DEMO_ACCOUNTS``) and one entry in
``tests/platforms.py``; until then the tests here fail for it, saying what to add.  Each platform's own file
keeps its parsers and its quirks.

Each scenario (a clean run, faults, throttles, malformed answers, missing or refused tokens) is one
``run_collect`` of the accounts of every platform at once, into a warehouse of its own, with the fault scripted
on each platform's own endpoint (the runner isolates accounts: a fault of one platform's endpoint reaches that
platform only); the tests read the outcome of their platform.  The clean run is also made per platform, alone,
to count its requests and to check the endpoints of the table are the platform's own.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from collectors import PLATFORMS
from collectors.context import Credentials
from collectors.observation import Account
from collectors.redaction import RedactingFilter
from socialkpi.collect_writer import AccountResult
from socialkpi.credentials import credentials_for
from socialkpi.demo import demo_settings
from socialkpi.runner import run_collect
from socialkpi.sandbox import Reply, Sandbox, world
from socialkpi.sandbox.oauth import CLIENT_SECRET
from tests.conftest import FAST
from tests.platforms import SERVING, Serving
from warehouse.db import holding, writing

IDS = sorted(PLATFORMS)
ROOT = Path(__file__).resolve().parent.parent
# The moment of every collect; the sandbox's clock is set to it too, so every run sees the same answers.
MOMENT = datetime(2026, 3, 10, 5, 30, tzinfo=UTC)  # 06:30 in Paris, the demo business's time zone
TODAY = date(2026, 3, 10)
SINCE = TODAY - timedelta(days=10)  # the runner clamps it for the platforms with less history
SECRETS = (world.TOKEN, world.EXPIRED_TOKEN, CLIENT_SECRET)
SERVICE_UNAVAILABLE = Reply(503, "<html>Service Unavailable</html>")


def serving(platform: str) -> Serving:
    entry = SERVING.get(platform)
    if entry is None:
        pytest.fail(
            f"{platform} is registered in collectors.PLATFORMS but the shared platform suite cannot serve it: add "
            f"SERVING[{platform!r}] = Serving(data=..., near=..., far=..., docs=...) to tests/platforms.py "
            "(the endpoint to script faults on and the platform's throttled answers)"
        )
    return entry


def applying(applies: Callable[[str], bool]) -> list[str]:
    """The platforms a check applies to, chosen as the tests are collected, so a platform without the feature
    gets no case at all (not a skipped one). A platform missing from SERVING stays in: serving() fails it."""
    return [p for p in IDS if p not in SERVING or applies(p)]


# the checks that apply to some platforms only: the others lack the feature (the reason is in the registry or
# in tests/platforms.py, and test_the_platforms_without_a_near_throttle_name_the_test_that_waits_one_out)
WITH_COMPETITORS = applying(lambda p: not PLATFORMS[p].competitor_support)
WITH_NEAR_THROTTLE = applying(lambda p: SERVING[p].near is not None)
NEEDING_A_TOKEN = applying(lambda p: PLATFORMS[p].needs_token)
SENDING_A_TOKEN = applying(lambda p: SERVING[p].sends_token)


def demo_account(platform: str, *, competitor: bool = False) -> Account | None:
    for acc in world.DEMO_ACCOUNTS:
        if acc.platform == platform and acc.competitor == competitor:
            return Account(platform=platform, id=acc.id, name=acc.name, competitor=competitor)
    return None


def own_account(platform: str) -> Account:
    account = demo_account(platform)
    if account is None:
        pytest.fail(
            f"{platform}: the sandbox has no own account of it: add a DemoAccount({platform!r}, ...) to "
            "socialkpi/sandbox/world.DEMO_ACCOUNTS (and a part answering for it to socialkpi/sandbox/server.PARTS)"
        )
    return account


def served() -> list[str]:
    """The registered platforms the suite can serve (the others fail their tests, saying what is missing)."""
    return [p for p in IDS if p in SERVING and demo_account(p) is not None]


# -- running a scenario -------------------------------------------------------------------------------


@dataclass
class Run:
    result: AccountResult
    rows: list[tuple[Any, ...]]  # the account's observations in the warehouse after the run
    record: tuple[Any, ...]  # its run_accounts row: status, error_kind, reason, rows_written, requests
    asked: int = 0  # requests to the platform's ``data`` endpoint during the run


@dataclass
class Outputs:
    """Everything the scenarios let out: the reasons, the log (through the CLI's filter), the warehouses'
    cells, the URLs the sandbox was asked (the endpoints documented to take a token in the URL left out)."""

    reasons: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    warehouses: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into
        self.addFilter(RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


class Scenarios:
    def __init__(self, sandbox: Sandbox, folder: Path) -> None:
        self.sandbox = sandbox
        self.folder = folder
        self.outputs = Outputs()
        self._cache: dict[str, dict[str, Run]] = {}
        self._n = 0
        self.seen: list[Any] = []  # the requests of the last scenario
        self.seen_alone: dict[str, list[Any]] = {}  # the requests of each platform's collect alone

    def run(
        self,
        platforms: list[str],
        *,
        script: Callable[[str, Serving], list[Reply]] | None = None,
        creds: Callable[[Credentials], Credentials] | None = None,
        competitor: bool = False,
        runs: int = 1,
        alone: bool = False,
    ) -> list[dict[str, Run]]:
        """``runs`` collects of the accounts of ``platforms`` into a new warehouse, each platform's replies of
        ``script`` scripted on its ``data`` endpoint first; the outcome of each run per platform.  ``alone``:
        each account in a collect of its own (one after the other, the sandbox cleared between them; what the
        sandbox saw for each is in :attr:`seen_alone`)."""
        self._n += 1
        settings = demo_settings(self.fresh_warehouse(), self.sandbox.url)
        accounts = [a for p in platforms if (a := demo_account(p, competitor=competitor)) is not None]
        credentials = {}
        for a in accounts:
            c = credentials_for(a, settings.env)
            credentials[(a.platform, a.id)] = creds(c) if creds else c
        self.sandbox.clear()
        for a in accounts:
            if script:
                self.sandbox.script(SERVING[a.platform].data, *script(a.platform, SERVING[a.platform]))
        handler = _Collect(self.outputs.log)
        root = logging.getLogger()
        level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        collects = [[a] for a in accounts] if alone else [accounts] * runs
        done: list[tuple[str, list[AccountResult], dict[str, int]]] = []  # run id, results, data requests
        outcomes: list[dict[str, Run]] = []
        seen: list[Any] = []
        try:
            with holding(settings.db_path):  # open for the scenario's runs, as the demo's replays hold it
                for k, group in enumerate(collects):
                    if alone:
                        self.sandbox.clear()
                    before = {a.platform: len(self.sandbox.requests_to(SERVING[a.platform].data)) for a in group}
                    summary = run_collect(settings, group, credentials, since=SINCE, policy=FAST, now=MOMENT)
                    asked = {p: len(self.sandbox.requests_to(SERVING[p].data)) - n for p, n in before.items()}
                    done.append((summary.run_id, summary.results, asked))
                    if alone:
                        self.seen_alone[group[0].platform] = list(self.sandbox.requests)
                        seen += self.sandbox.requests
                    elif k < len(collects) - 1:  # the warehouse as this run left it, before the next one
                        with writing(settings.db_path) as con:
                            outcomes.append(self._read(con, *done.pop()))
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
        self.seen = seen if alone else list(self.sandbox.requests)
        for r in self.seen:
            if not any(s.token_in_url and re.search(s.token_in_url, r.path) for s in SERVING.values()):
                self.outputs.urls.append(f"{r.path}?{r.raw_query}")
        last: dict[str, Run] = {}
        with duckdb.connect(str(settings.db_path), read_only=True) as con:
            for run_id, results, asked in done:
                last |= self._read(con, run_id, results, asked)
            tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
            self.outputs.warehouses += [repr(con.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables]  # noqa: S608
        self.sandbox.clear()
        return [*outcomes, last]

    def fresh_warehouse(self) -> Path:
        """A new warehouse file: a copy of an empty one made once (its schema is not built again each time)."""
        template = self.folder / "empty.duckdb"
        if not template.exists():
            with writing(template):
                pass
        path = self.folder / f"{self._n}.duckdb"
        shutil.copyfile(template, path)
        return path

    def _read(
        self, db: duckdb.DuckDBPyConnection, run_id: str, results: list[AccountResult], asked: dict[str, int]
    ) -> dict[str, Run]:
        out = {}
        for result in results:
            a = result.account
            rows = db.execute(
                "SELECT metric, observed_on, value, source_metric, collected_at FROM observations "
                "WHERE platform = ? AND account_id = ? ORDER BY metric, observed_on",
                [a.platform, a.id],
            ).fetchall()
            record = db.execute(
                "SELECT status, error_kind, reason, rows_written, requests FROM run_accounts "
                "WHERE run_id = ? AND platform = ? AND account_id = ?",
                [run_id, a.platform, a.id],
            ).fetchone()
            assert record is not None, "every account of a run has its run record"
            out[a.platform] = Run(result, rows, record, asked[a.platform])
            self.outputs.reasons.append(result.reason)
        return out

    def ensure(self, name: str) -> dict[str, Run]:
        if name not in self._cache:
            self._cache[name] = SCENARIOS[name](self)
        return self._cache[name]

    def once(self, name: str, platform: str) -> Run:
        """The outcome for ``platform`` of the scenario ``name`` (:data:`SCENARIOS`), run for every platform on
        first use."""
        serving(platform)
        own_account(platform)
        run = self.ensure(name).get(platform)
        assert run is not None, f"{platform} was not part of the scenario {name!r}"
        return run


@pytest.fixture(scope="module")
def scenarios(_sandbox_server: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenarios]:
    # The runner registers every credential for redaction; without that safety net here, a collector that put
    # a token into an error, a note or a URL would show it (the log still passes the filter the CLI installs).
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("socialkpi.runner.register_secret", lambda secret: None)
        world.set_clock(lambda: MOMENT)
        try:
            yield Scenarios(_sandbox_server, tmp_path_factory.mktemp("platforms"))
        finally:
            world.set_clock(None)
            _sandbox_server.clear()


@dataclass(frozen=True)
class Alone:
    """A clean run of one platform's own account alone: a collect of its own, the sandbox cleared before it (the
    warehouse is shared with the other platforms' accounts, whose rows are their own)."""

    run: Run
    requests: int  # every request the sandbox saw
    paths: frozenset[str]


@pytest.fixture(scope="module")
def alone(scenarios: Scenarios) -> dict[str, Alone]:
    [outcome] = scenarios.run(served(), alone=True)  # one warehouse: each account's rows are its own
    return {
        p: Alone(run, len(scenarios.seen_alone[p]), frozenset(r.path for r in scenarios.seen_alone[p]))
        for p, run in outcome.items()
    }


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
    for secret in SECRETS:
        assert secret not in r.reason
    return r.reason


ALL: Callable[[], list[str]] = served


# -- the scenarios: each one run (or two) of every platform's account at once -----------------------------

_FAR_RESETS: dict[str, datetime] = {}  # the reset each platform's far throttle means


def _second_run(sc: Scenarios) -> dict[str, Run]:
    first, second = sc.run(ALL(), runs=2)
    return second | {f"{p}/first": run for p, run in first.items()}


def _near(sc: Scenarios) -> dict[str, Run]:
    platforms = [p for p in ALL() if SERVING[p].near is not None]
    return sc.run(platforms, script=lambda p, s: [s.near()] if s.near else [])[0]


def _far(sc: Scenarios) -> dict[str, Run]:
    def script(platform: str, entry: Serving) -> list[Reply]:
        reply, _FAR_RESETS[platform] = entry.far()
        return [reply]

    return sc.run(ALL(), script=script)[0]


def _no_token(sc: Scenarios) -> dict[str, Run]:
    platforms = [p for p in ALL() if PLATFORMS[p].needs_token]
    out = sc.run(platforms, creds=lambda c: replace(c, token=None, refresh_token=None, google_credentials=None))[0]
    assert sc.seen == [], f"asked before any token was there: {sorted({r.path for r in sc.seen})}"
    return out


def _refused_token(sc: Scenarios) -> dict[str, Run]:
    platforms = [p for p in ALL() if SERVING[p].sends_token]
    return sc.run(platforms, creds=lambda c: replace(c, token=world.EXPIRED_TOKEN))[0]


SCENARIOS: dict[str, Callable[[Scenarios], dict[str, Run]]] = {
    "second run": _second_run,
    "competitors": lambda sc: sc.run(ALL(), competitor=True)[0],
    "transient": lambda sc: sc.run(ALL(), script=lambda p, s: [SERVICE_UNAVAILABLE, Reply.drop()])[0],
    "lasting": lambda sc: sc.run(ALL(), script=lambda p, s: [SERVICE_UNAVAILABLE] * FAST.attempts * s.at_once)[0],
    "near": _near,
    "far": _far,
    "truncated JSON": lambda sc: sc.run(ALL(), script=lambda p, s: [Reply.raw('{"data": [{"value": 12')])[0],
    "wrong shape": lambda sc: sc.run(ALL(), script=lambda p, s: [Reply(200, ["not", "the", "shape"])])[0],
    "no token": _no_token,
    "refused token": _refused_token,
}


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
    own_account(platform)
    if not PLATFORMS[platform].competitor_support:
        assert demo_account(platform, competitor=True) is not None, (
            f"{platform} supports competitors: add a DemoAccount({platform!r}, ..., competitor=True) to "
            "socialkpi/sandbox/world.DEMO_ACCOUNTS"
        )


# -- a clean run, and a second one ---------------------------------------------------------------------


@pytest.mark.parametrize("platform", IDS)
def test_a_run_writes_the_accounts_rows_and_counts_every_request(platform: str, alone: dict[str, Alone]) -> None:
    serving(platform)
    own_account(platform)
    first = alone[platform]
    rows = ok(first.run)
    assert rows, "an own account gives rows"
    assert {r[4].replace(tzinfo=UTC) for r in rows} == {MOMENT}
    assert all(r[1] <= TODAY for r in rows), "nothing dated after today"
    assert first.run.result.rows == len(rows) == first.run.record[3]
    assert first.run.asked >= 1, f"the collect asked {SERVING[platform].data}"
    assert first.run.result.requests == first.run.record[4] == first.requests, "the run counts every request"


@pytest.mark.parametrize("platform", IDS)
def test_the_endpoint_faults_are_scripted_on_is_the_platforms_own(platform: str, alone: dict[str, Alone]) -> None:
    data = re.compile(serving(platform).data)
    own_account(platform)
    others = sorted({p for other, a in alone.items() if other != platform for p in a.paths if data.search(p)})
    assert not others, f"tests/platforms.py SERVING[{platform!r}].data also matches other platforms' paths: {others}"


@pytest.mark.parametrize("platform", IDS)
def test_a_second_run_gives_the_same_rows_and_changes_none(
    platform: str, scenarios: Scenarios, alone: dict[str, Alone]
) -> None:
    second = scenarios.once("second run", platform)
    first = scenarios._cache["second run"][f"{platform}/first"]
    assert ok(first) == alone[platform].run.rows, "the same rows in a warehouse shared with the other platforms"
    assert ok(second) == alone[platform].run.rows
    assert second.result.rows == second.record[3] == 0, "the upsert on the natural key changes nothing"


@pytest.mark.parametrize("platform", WITH_COMPETITORS)
def test_a_competitor_gives_todays_numbers_where_the_platform_supports_it(platform: str, scenarios: Scenarios) -> None:
    serving(platform)
    run = scenarios.once("competitors", platform)
    assert run.result.account.competitor
    rows = ok(run)
    assert rows and {r[1] for r in rows} == {TODAY}, "a competitor's numbers are 'now' only, dated today"


# -- server faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", IDS)
def test_transient_faults_are_retried_and_the_rows_are_whole(
    platform: str, scenarios: Scenarios, alone: dict[str, Alone]
) -> None:
    run = scenarios.once("transient", platform)
    assert ok(run) == alone[platform].run.rows
    assert run.asked == alone[platform].run.asked + 2, "each fault was retried once"


@pytest.mark.parametrize("platform", IDS)
def test_a_lasting_server_error_fails_the_account_and_writes_nothing(platform: str, scenarios: Scenarios) -> None:
    run = scenarios.once("lasting", platform)
    assert "503" in failed(run, "server")
    at_once = SERVING[platform].at_once
    assert FAST.attempts <= run.asked <= FAST.attempts * at_once, "tried as often as the policy says, then given up"


# -- throttling ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", WITH_NEAR_THROTTLE)
def test_a_throttle_with_a_near_reset_is_waited_out(
    platform: str, scenarios: Scenarios, alone: dict[str, Alone]
) -> None:
    serving(platform)
    run = scenarios.once("near", platform)
    assert ok(run) == alone[platform].run.rows
    assert run.asked == alone[platform].run.asked + 1, "asked again once the wait was over"


@pytest.mark.parametrize("platform", [p for p in IDS if p not in WITH_NEAR_THROTTLE])
def test_the_platforms_without_a_near_throttle_name_the_test_that_waits_one_out(platform: str) -> None:
    path, _, name = serving(platform).near_covered_by.partition("::")
    assert name, f"{platform} has no near throttle: SERVING[{platform!r}].near_covered_by names the test instead"
    source = ROOT / path
    assert source.is_file() and f"def {name}(" in source.read_text(encoding="utf-8"), f"{path}::{name} exists"


RESETS = re.compile(r"resets at (\d{4}-\d\d-\d\d \d\d:\d\d) UTC")


@pytest.mark.parametrize("platform", IDS)
def test_a_throttle_with_a_far_reset_fails_at_once_with_the_reset_time(platform: str, scenarios: Scenarios) -> None:
    run = scenarios.once("far", platform)
    reason = failed(run, "throttled")
    assert 1 <= run.asked <= SERVING[platform].at_once, "not retried, not slept through"
    for words in SERVING[platform].far_says:
        assert words in reason
    said = RESETS.search(reason)
    assert said, f"the reason gives the reset time: {reason}"
    at = datetime.strptime(said.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    reset = _FAR_RESETS[platform]
    # the reason shows the minute the reset falls in (a few seconds pass between the reply and its reading)
    assert -5 <= (reset - at).total_seconds() < 65, f"said {at:%Y-%m-%d %H:%M} UTC, the platform {reset}"


# -- malformed answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", IDS)
@pytest.mark.parametrize(("case", "says"), [("truncated JSON", "not valid JSON"), ("wrong shape", "")])
def test_a_malformed_answer_fails_the_account_as_a_payload_error(
    platform: str, case: str, says: str, scenarios: Scenarios
) -> None:
    run = scenarios.once(case, platform)
    assert says in failed(run, "payload")
    assert 1 <= run.asked <= SERVING[platform].at_once, "a malformed answer is not asked again"


# -- credentials, and no secret in any output ------------------------------------------------------------


@pytest.mark.parametrize("platform", NEEDING_A_TOKEN)
def test_no_token_fails_before_any_request(platform: str, scenarios: Scenarios) -> None:
    serving(platform)
    run = scenarios.once("no token", platform)
    reason = failed(run, "auth")
    for words in (f"SOCIALKPI_{platform.upper()}_TOKEN", *SERVING[platform].no_token_says):
        assert words in reason, "the reason names the variable to set"
    assert run.result.requests == 0


@pytest.mark.parametrize("platform", SENDING_A_TOKEN)
def test_a_refused_token_fails_with_its_variable_and_not_the_token(platform: str, scenarios: Scenarios) -> None:
    serving(platform)
    run = scenarios.once("refused token", platform)
    reason = failed(run, "auth")
    assert f"SOCIALKPI_{platform.upper()}_" in reason, "the reason names the variable to fix"
    for words in SERVING[platform].refused_says:
        assert words in reason
    assert run.asked <= SERVING[platform].at_once, "a refused token is not tried again"


def test_no_secret_reaches_a_reason_the_log_a_warehouse_or_a_url(scenarios: Scenarios) -> None:
    for name in SCENARIOS:  # every scenario, whether the tests above ran or not
        scenarios.ensure(name)
    out = scenarios.outputs
    assert out.reasons and out.log and out.warehouses and out.urls
    for secret in SECRETS:
        for where, texts in [
            ("a reason", out.reasons),
            ("the log", out.log),
            ("a warehouse", out.warehouses),
            ("a URL (tokens travel in a header or a POST body)", out.urls),
        ]:
            leaks = [t for t in texts if secret in t]
            assert not leaks, f"{secret!r} in {where}: {leaks[0][:300]}"
