"""Issue 11, items 14-16, end to end: a real ``socialkpi collect`` process against the sandbox, a real DuckDB file.

* a WordPress.com stats/visits answer with a day's views as 5 on one row and "1" on the next is written whole;
* a referrers answer for a month, where a day was asked, fails the account and writes nothing of it;
* stats/referrers refused with 404 unknown_method leaves the account ok, its views and visitors written and the
  refusal recorded as a skipped metric that ``socialkpi status`` shows; throttling there still fails the account.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox.world import TOKEN
from tests.conftest import fixture

SITE = "cornerbakery.blog"
RANGE = ["--since", "2023-12-20", "--until", "2024-01-02"]  # the days of the recorded answer below


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "socialkpi.toml").write_text(
        "\n".join(
            [
                "[business]",
                'name = "Corner Bakery"',
                'timezone = "Europe/Paris"',
                "[warehouse]",
                'path = "wh/socialkpi.duckdb"',
                "[[accounts]]",
                'platform = "wordpress"',
                f'id = "{SITE}"',
                'name = "Corner Bakery blog"',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return tmp_path


def socialkpi(workdir: Path, sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    env |= {"SOCIALKPI_WORDPRESS_TOKEN": TOKEN, "SOCIALKPI_WORDPRESS_BASE_URL": sandbox.url}
    return subprocess.run(
        [sys.executable, "-m", "socialkpi.cli", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def query(workdir: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(workdir / "wh/socialkpi.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def recorded_visits() -> Any:
    # the WordPress iOS app's recorded /stats/visits answer (tests/test_wordpress.py names its URL)
    return fixture("wordpress", "visits_numbers_as_strings.json")


def test_a_visits_answer_with_numbers_as_strings_is_written_whole(workdir: Path, sandbox: Sandbox) -> None:
    sandbox.script(r"/stats/visits$", Reply(200, recorded_visits()))
    done = socialkpi(workdir, sandbox, "collect", *RANGE)
    assert done.returncode == 0, done.stderr
    views = query(workdir, "SELECT observed_on, value FROM observations WHERE metric = 'page_views' ORDER BY 1")
    assert len(views) == 14 and sum(v for _, v in views) == 24
    assert [v for d, v in views if str(d) in ("2023-12-20", "2023-12-22")] == [5, 1]


def test_referrers_of_a_month_fail_the_account_and_write_nothing(workdir: Path, sandbox: Sandbox) -> None:
    sandbox.script(r"/stats/visits$", Reply(200, recorded_visits()))
    month = {"date": "2024-01-02", "period": "month", "days": {"2023-12-01": {"groups": [], "total_views": 0}}}
    sandbox.script(r"/stats/referrers$", Reply(200, month))
    done = socialkpi(workdir, sandbox, "collect", *RANGE)
    assert done.returncode == 1
    [line] = [x for x in done.stderr.splitlines() if "failed" in x and "wordpress" in x]
    assert "stats/referrers answered period 'month', but period 'day' was asked" in line
    assert query(workdir, "SELECT count(*) FROM observations") == [(0,)]  # nothing partial


def test_a_refused_referrers_endpoint_keeps_the_account_and_records_why(workdir: Path, sandbox: Sandbox) -> None:
    sandbox.script(r"/stats/visits$", Reply(200, recorded_visits()))
    sandbox.script(r"/stats/referrers$", Reply(404, {"error": "unknown_method", "message": "Unknown method"}))
    done = socialkpi(workdir, sandbox, "collect", *RANGE)
    assert done.returncode == 0, done.stderr
    metrics = {m for (m,) in query(workdir, "SELECT DISTINCT metric FROM observations")}
    assert metrics == {"page_views", "visitors"}
    [(source, note)] = query(workdir, "SELECT source_metric, note FROM metric_notes")
    assert source == "stats/referrers" and note.startswith("stats/referrers refused (not supported): Unknown method")
    assert query(workdir, "SELECT status FROM run_accounts") == [("ok",)]
    status = socialkpi(workdir, sandbox, "status")
    assert status.returncode == 0
    assert f"wordpress/{SITE} stats/referrers: stats/referrers refused (not supported)" in status.stdout


def test_a_throttled_referrers_endpoint_still_fails_the_account_so_the_next_run_fills_it(
    workdir: Path, sandbox: Sandbox
) -> None:
    # throttling is transient: not a reason to skip (5xx and timeouts likewise: tests/test_wordpress.py)
    sandbox.script(r"/stats/visits$", Reply(200, recorded_visits()))
    throttled = Reply(429, {"error": "rate_limited", "message": "Too many requests"}, {"Retry-After": "3600"})
    sandbox.script(r"/stats/referrers$", throttled)
    done = socialkpi(workdir, sandbox, "collect", *RANGE)
    assert done.returncode == 1
    assert query(workdir, "SELECT count(*) FROM observations") == [(0,)]
    assert query(workdir, "SELECT count(*) FROM metric_notes") == [(0,)]
