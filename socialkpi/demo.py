"""``socialkpi demo``: the real collectors, through the built-in sandbox, into a demo warehouse.

No credentials and no network: the sandbox listens on a free loopback port, every platform's
``SOCIALKPI_<PLATFORM>_BASE_URL`` points at it, and the bakery of
:mod:`socialkpi.sandbox.world` gets a year of history on the first run (later runs only top
the warehouse up, as cron would).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from socialkpi.sandbox import world
from socialkpi.sandbox.world import DEMO_ACCOUNTS, DEMO_BUSINESS, TOKEN
from socialkpi.settings import Settings, settings_from_dict

log = logging.getLogger("socialkpi.demo")

DEMO_HISTORY_DAYS = 365
REPLAY_EVERY_DAYS = 14  # a past cron run every two weeks gives the follower curves their shape
REPLAY_DAILY_DAYS = 28  # and, for the accounts with "now" numbers only (competitors, and platforms with no
# history such as X or Bluesky), one every day of the last four weeks (the dashboard's default window), as
# cron would have left them: the backfill cannot give them, so Data health showed them missing on 26 of 28 days


def demo_settings(db_path: str | Path, sandbox_url: str, *, history_days: int = DEMO_HISTORY_DAYS) -> Settings:
    """Settings for the demo business with every platform pointed at the sandbox."""
    env: dict[str, str] = {}
    for platform in {a.platform for a in DEMO_ACCOUNTS}:
        prefix = f"SOCIALKPI_{platform.upper()}_"
        env[prefix + "BASE_URL"] = sandbox_url
        env[prefix + "TOKEN"] = TOKEN
    env["SOCIALKPI_DB"] = str(Path(db_path).absolute())
    config = {
        "business": dict(DEMO_BUSINESS),
        "collect": {"history_days": history_days},
        # the owner's six hours a week and $26 a month of tools (docs/roi.md), plus a little ad spend
        "costs": {
            "currency": "EUR",
            "hourly_rate": 25,
            "tool_cost_per_month": 26,
            "hours_per_week": {
                "instagram": 1.5,
                "facebook": 1.5,
                "tiktok": 1,
                "linkedin": 0.5,
                "pinterest": 0.5,
                "youtube": 0.5,
                "x": 0.25,
                "google_business": 0.25,
            },
            "ad_spend_per_month": {"facebook": 40, "instagram": 30},
        },
        "accounts": [
            {"platform": a.platform, "id": a.id, "name": a.name, "competitor": a.competitor} for a in DEMO_ACCOUNTS
        ],
    }
    return settings_from_dict(config, env=env, base=Path.cwd())


def _world_clock(moment: datetime | None) -> None:
    """The clock of a sandbox in this process (:class:`socialkpi.sandbox.Sandbox`)."""
    world.set_clock(None if moment is None else (lambda: moment))


def replay_past_runs(
    settings: Settings,
    *,
    runs: int,
    every_days: int,
    today: datetime,
    daily_days: int = 0,
    set_clock: Callable[[datetime | None], None] = _world_clock,
) -> None:
    """Record what a cron run every ``every_days`` days would have stored over the past ``runs`` runs,
    and what it would have stored on each of the last ``daily_days`` days for the accounts whose numbers
    are "now" only (competitors, and platforms without history: ``max_history_days == 0``).

    Most platforms give follower and post counts only as "now", so a new warehouse has a single
    day of them.  For the demo the sandbox's clock is set to each past run day in turn and every
    account is collected "as of" that morning (a one-day range, so the daily series are not
    fetched again), through the same collectors and runner as a real cron run.  ``set_clock`` sets the
    sandbox's clock (default: a sandbox in this process; :class:`SandboxProcess`'s for one of its own).
    """
    from collectors import PLATFORMS
    from socialkpi.credentials import credentials_for
    from socialkpi.lock import RunLock
    from socialkpi.runner import run_collect
    from warehouse.db import holding

    accounts = list(settings.accounts)
    credentials = {(a.platform, a.id): credentials_for(a, settings.env) for a in accounts}
    local_today = today.astimezone(settings.timezone).date()
    try:
        # the file stays open between the runs: no open and checkpoint for each of their ~200 writes
        with RunLock(settings.db_path), holding(settings.db_path):
            full = {local_today - timedelta(days=every_days * k) for k in range(1, runs + 1)}
            daily = {local_today - timedelta(days=k) for k in range(1, daily_days + 1)}
            now_only = [a for a in accounts if a.competitor or PLATFORMS[a.platform].max_history_days == 0]
            for day in sorted(full | daily):
                moment = datetime.combine(day, time(6, 15), tzinfo=settings.timezone).astimezone(UTC)
                set_clock(moment)
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
        set_clock(None)


def build_demo(db_path: str | Path, *, history_days: int = DEMO_HISTORY_DAYS) -> int:
    """Start the sandbox, collect every demo account into ``db_path``; the collect exit status.

    On a new demo warehouse, first replay a cron run every two weeks of the history and every day of
    the last four weeks (the "now"-only numbers), then backfill the daily series of the whole
    history; later runs only top it up.  The sandbox runs in a process of its own
    (:mod:`socialkpi.sandbox.process`): its work does not wait for this process's GIL, nor the
    collectors' for its.
    """
    from socialkpi.runner import collect
    from socialkpi.sandbox.process import SandboxProcess

    fresh = not Path(db_path).exists()
    with SandboxProcess() as sandbox:
        settings = demo_settings(db_path, sandbox.url, history_days=history_days)
        log.info("sandbox on %s; building %s", sandbox.url, settings.db_path)
        if not fresh:
            return collect(settings, command="demo")
        now = datetime.now(UTC)
        replay_past_runs(
            settings,
            runs=history_days // REPLAY_EVERY_DAYS,
            every_days=REPLAY_EVERY_DAYS,
            today=now,
            daily_days=min(REPLAY_DAILY_DAYS, history_days),
            set_clock=sandbox.set_clock,
        )
        since = now.astimezone(settings.timezone).date() - timedelta(days=history_days)
        return collect(settings, since=since, command="demo")
