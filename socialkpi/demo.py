"""``socialkpi demo``: the real collectors, through the built-in sandbox, into a demo warehouse.

No credentials and no network: the sandbox listens on a free loopback port, every platform's
``SOCIALKPI_<PLATFORM>_BASE_URL`` points at it, and the bakery of
:mod:`socialkpi.sandbox.world` gets a year of history on the first run (later runs only top
the warehouse up, as cron would).
"""

from __future__ import annotations

import logging
from pathlib import Path

from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.world import DEMO_ACCOUNTS, DEMO_BUSINESS, TOKEN
from socialkpi.settings import Settings, settings_from_dict

log = logging.getLogger("socialkpi.demo")

DEMO_HISTORY_DAYS = 365


def demo_settings(
    db_path: str | Path, sandbox_url: str, *, history_days: int = DEMO_HISTORY_DAYS
) -> Settings:
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
        "accounts": [
            {"platform": a.platform, "id": a.id, "name": a.name, "competitor": a.competitor}
            for a in DEMO_ACCOUNTS
        ],
    }
    return settings_from_dict(config, env=env, base=Path.cwd())


def build_demo(db_path: str | Path, *, history_days: int = DEMO_HISTORY_DAYS) -> int:
    """Start the sandbox, collect every demo account into ``db_path``; the collect exit status."""
    from socialkpi.cli import collect_with

    with Sandbox() as sandbox:
        settings = demo_settings(db_path, sandbox.url, history_days=history_days)
        log.info("sandbox on %s; building %s", sandbox.url, settings.db_path)
        return collect_with(settings, command="demo")
