"""``socialkpi demo`` builds the warehouse the plain sequence of runs it stands for would build.

The demo replays past cron runs (one every two weeks, and every day of the last weeks for the
"now"-only accounts) and then backfills the history.  However it is made fast, the warehouse it
leaves must be the one these runs leave when made one after the other, each through
``run_collect`` on its own connections, as the demo first did: the same observations (values,
sources, the run that wrote them, their ``collected_at``), run records, accounts, notes and
aggregates.  bench/demo.py's :func:`warehouse_digest` compares them, leaving out only what is
the wall clock of the build (and which of two accounts sharing a token renewal made it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from bench.demo import warehouse_digest

HISTORY_DAYS = 15  # one replay two weeks back, and every day of the last fifteen for the "now"-only accounts


def _plain_demo(db_path: Path, history_days: int) -> None:
    """The demo as the sequence of runs it stands for (socialkpi/demo.py before it was made fast)."""
    from collectors import PLATFORMS
    from socialkpi.credentials import credentials_for
    from socialkpi.demo import REPLAY_DAILY_DAYS, REPLAY_EVERY_DAYS, demo_settings
    from socialkpi.lock import RunLock
    from socialkpi.runner import collect, run_collect
    from socialkpi.sandbox import Sandbox, world

    with Sandbox() as sandbox:
        settings = demo_settings(db_path, sandbox.url, history_days=history_days)
        now = datetime.now(UTC)
        accounts = list(settings.accounts)
        credentials = {(a.platform, a.id): credentials_for(a, settings.env) for a in accounts}
        local_today = now.astimezone(settings.timezone).date()
        runs, daily_days = history_days // REPLAY_EVERY_DAYS, min(REPLAY_DAILY_DAYS, history_days)
        try:
            with RunLock(settings.db_path):
                full = {local_today - timedelta(days=REPLAY_EVERY_DAYS * k) for k in range(1, runs + 1)}
                daily = {local_today - timedelta(days=k) for k in range(1, daily_days + 1)}
                now_only = [a for a in accounts if a.competitor or PLATFORMS[a.platform].max_history_days == 0]
                for day in sorted(full | daily):
                    moment = datetime.combine(day, time(6, 15), tzinfo=settings.timezone).astimezone(UTC)
                    world.set_clock(lambda m=moment: m)  # type: ignore[misc]
                    yesterday = day - timedelta(days=1)
                    run_collect(
                        settings,
                        accounts if day in full else now_only,
                        credentials,
                        since=yesterday,
                        until=yesterday,
                        now=moment,
                        command="demo-history",
                    )
        finally:
            world.set_clock(None)
        since = local_today - timedelta(days=history_days)
        assert collect(settings, since=since, command="demo") == 0


def _business_today() -> date:
    from zoneinfo import ZoneInfo

    from socialkpi.sandbox.world import DEMO_BUSINESS

    return datetime.now(ZoneInfo(DEMO_BUSINESS["timezone"])).date()


def test_the_demo_builds_what_its_runs_one_after_the_other_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from socialkpi.demo import build_demo

    monkeypatch.chdir(tmp_path)
    started_on = _business_today()
    (tmp_path / "plain").mkdir()
    (tmp_path / "demo").mkdir()
    _plain_demo(tmp_path / "plain" / "demo.duckdb", HISTORY_DAYS)
    assert build_demo(tmp_path / "demo" / "demo.duckdb", history_days=HISTORY_DAYS) == 0
    if _business_today() != started_on:
        pytest.skip("the business day changed during the test: the two builds asked different days")
    plain = warehouse_digest(tmp_path / "plain" / "demo.duckdb")
    fast = warehouse_digest(tmp_path / "demo" / "demo.duckdb")
    assert plain["observations"].split()[0] != "0"
    assert plain["runs"].startswith(f"{HISTORY_DAYS + 1} rows")  # every replayed day, and the backfill
    assert fast == plain
