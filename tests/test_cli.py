"""The socialkpi command end to end: real sandbox server, real DuckDB file, the contract's exit codes."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from collectors.tokens import StoredToken, TokenStore
from socialkpi.cli import main
from socialkpi.lock import RunLock
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN

CONFIG = """
[business]
name = "Corner Bakery"
timezone = "Europe/Paris"

[warehouse]
path = "wh/socialkpi.duckdb"

[collect]
history_days = 10

[[accounts]]
platform = "facebook"
id = "104512345678901"
name = "Corner Bakery"

[[accounts]]
platform = "facebook"
id = "104512345678902"
name = "Corner Bakery Croix-Rousse"
{extra}

[[accounts]]
platform = "facebook"
id = "209876543210987"
name = "Rival Patisserie"
competitor = true

[[accounts]]
platform = "ga4"
id = "312345678"
name = "cornerbakery.fr"
"""

FB_OWN = {
    "followers",
    "impressions",
    "reach",
    "engagements",
    "profile_views",
    "followers_gained",
    "followers_lost",
}
GA4 = {"page_views", "visits", "visitors", "social_visits", "social_page_views"} | {
    f"visits_from_{n}" for n in ("facebook", "instagram", "linkedin", "other", "pinterest", "x", "youtube")
}


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with socialkpi.toml and .env pointing every platform at the sandbox."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SOCIALKPI_"):
            monkeypatch.delenv(name)
    (tmp_path / "socialkpi.toml").write_text(CONFIG.format(extra=""), encoding="utf-8")
    (tmp_path / ".env").write_text(
        "\n".join(
            [
                f"SOCIALKPI_FACEBOOK_TOKEN={TOKEN}",
                f"SOCIALKPI_FACEBOOK_BASE_URL={sandbox.url}",
                f"SOCIALKPI_GA4_TOKEN={TOKEN}",
                f"SOCIALKPI_GA4_BASE_URL={sandbox.url}",
            ]
        ),
        encoding="utf-8",
    )
    return tmp_path


def db_rows(project: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(project / "wh/socialkpi.duckdb"), read_only=True)
    try:
        return con.execute(
            "SELECT platform, account_id, metric, observed_on, value, source_metric, collected_at "
            "FROM observations ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()


def metrics_by_account(project: Path) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for platform, account, metric, *_ in db_rows(project):
        out.setdefault((str(platform), str(account)), set()).add(str(metric))
    return out


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    commands = ("collect", "export", "dashboard", "demo", "status", "doctor", "import-csv", "log-time", "report")
    for command in (*commands, "init", "connect", "backup", "restore", "alert"):
        assert command in out


def test_collect_writes_the_metrics_and_a_second_run_changes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["collect"]) == 0
    first = db_rows(project)
    found = metrics_by_account(project)
    assert found[("facebook", "104512345678901")] == FB_OWN
    assert found[("facebook", "104512345678902")] == FB_OWN
    assert found[("facebook", "209876543210987")] == {"followers"}  # competitor: public numbers only
    assert found[("ga4", "312345678")] == GA4
    days = {row[3] for row in first if row[0] == "ga4"}
    assert len(days) == 10  # history_days on an empty warehouse
    summary = capsys.readouterr().out
    assert "4 account(s) ok, 0 failed" in summary

    assert main(["collect"]) == 0
    assert db_rows(project) == first  # not even collected_at moved
    assert "0 row(s) written" in capsys.readouterr().out


def test_a_failing_account_fails_alone_with_exit_1(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = CONFIG.format(extra='token_env = "FB_SHOP2_TOKEN"')
    (project / "socialkpi.toml").write_text(config, encoding="utf-8")
    os.environ["FB_SHOP2_TOKEN"] = EXPIRED_TOKEN
    try:
        assert main(["collect"]) == 1
    finally:
        del os.environ["FB_SHOP2_TOKEN"]
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if "failed:" in line]
    assert len(failed) == 1
    assert "facebook/104512345678902" in failed[0]
    assert "FB_SHOP2_TOKEN" in failed[0]  # says which variable to fix
    assert EXPIRED_TOKEN not in err
    found = metrics_by_account(project)
    assert ("facebook", "104512345678902") not in found  # nothing partial
    assert found[("facebook", "104512345678901")] == FB_OWN
    assert found[("ga4", "312345678")] == GA4

    assert main(["status"]) == 0
    status = capsys.readouterr().out
    assert "FAILED" in status and "104512345678902" in status


def test_collect_and_status_warn_of_a_refresh_token_about_to_end(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The token file as an earlier collect left it: LinkedIn's 365-day refresh token ends in 5 days
    (https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens: it does not slide),
    X's token renews itself."""
    assert main(["collect"]) == 0  # makes the warehouse
    capsys.readouterr()
    now = time.time()
    store = TokenStore.beside(project / "wh/socialkpi.duckdb")
    store.put(
        "linkedin",
        "oauth2:SOCIALKPI_LINKEDIN_TOKEN",
        StoredToken("AQ-secret-a", "AQ-secret-r", now + 86400, now + 5 * 86400),
    )
    store.put("x", "oauth2:SOCIALKPI_X_TOKEN", StoredToken("x-secret-a", "x-secret-r", now - 60))
    store.note_env_token("linkedin", "oauth2:SOCIALKPI_LINKEDIN_TOKEN", "AQ-secret-env", 60, now=now - 10 * 86400)
    assert main(["collect"]) == 0  # a warning does not fail the run
    out, err = capsys.readouterr()
    warnings = [line for line in err.splitlines() if line.startswith("socialkpi: warning:")]
    assert len(warnings) == 1 and "linkedin" in warnings[0] and "the refresh token expires on" in warnings[0]
    assert "authorize the app again" in warnings[0]
    assert "4 account(s) ok" in out.splitlines()[-1]  # the summary stays the last line
    assert main(["status"]) == 0
    status = capsys.readouterr().out
    assert "Stored tokens" in status and "refresh token until" in status
    assert "access token from .env, first used" in status  # 50 days left: listed, not warned
    assert "WARNING: linkedin" in status
    lines = {line.split()[0]: line for line in status.splitlines() if "access token" in line and "WARNING" not in line}
    assert "renewed with its refresh token" in lines["x"]
    for text in (err, out, status):
        assert not any(secret in text for secret in ("AQ-secret", "x-secret"))


def test_an_unreadable_token_file_does_not_fail_collect(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "wh").mkdir()
    (project / "wh/socialkpi.duckdb.tokens.json").write_text("{not json", encoding="utf-8")
    assert main(["collect"]) == 0
    assert "socialkpi: warning:" not in capsys.readouterr().err


def test_a_second_collect_exits_75_while_the_lock_is_held(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with RunLock(project / "wh/socialkpi.duckdb"):
        assert main(["collect"]) == 75
    assert "another socialkpi collect" in capsys.readouterr().err
    assert not (project / "wh/socialkpi.duckdb").exists()  # nothing was done


def test_lock_held_by_another_process(project: Path) -> None:
    db = project / "wh/socialkpi.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from pathlib import Path\nimport time\nfrom socialkpi.lock import RunLock\n"
            f"with RunLock(Path({str(db)!r})):\n    print('held', flush=True)\n    time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        done = subprocess.run(
            [sys.executable, "-m", "socialkpi.cli", "collect"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 75, done.stderr
    finally:
        holder.kill()
        holder.wait()
    # the killed holder's lock is gone with it: the next run takes over
    assert main(["collect", "--platform", "ga4"]) == 0


@pytest.mark.parametrize(
    ("args", "config", "expected"),
    [
        (["collect"], CONFIG.format(extra="").replace('"ga4"', '"myspace"'), "accounts[4].platform"),
        (["collect", "--since", "2026-13-01"], None, "YYYY-MM-DD"),
        (["collect", "--since", "2026-03-10", "--until", "2026-03-01"], None, "after --until"),
        (["collect", "--platform", "friendster"], None, "unknown platform"),
        (["collect", "--account", "999"], None, "no account with id"),
        (["export", "--table", "nope"], None, "invalid choice"),
    ],
)
def test_usage_and_config_mistakes_exit_2_with_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], config: str | None, expected: str
) -> None:
    if config is not None:
        (project / "socialkpi.toml").write_text(config, encoding="utf-8")
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert expected in err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_missing_token_exits_2_naming_the_variable(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / ".env").write_text("", encoding="utf-8")
    assert main(["collect"]) == 2
    err = capsys.readouterr().err
    assert "SOCIALKPI_FACEBOOK_TOKEN" in err and ".env" in err


def test_export_observations_matches_the_warehouse(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["collect"]) == 0
    capsys.readouterr()
    out = project / "obs.csv"
    assert main(["export", "--table", "observations", "--out", str(out)]) == 0
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        "date",
        "platform",
        "account_id",
        "account_name",
        "competitor",
        "metric",
        "value",
        "source_metric",
        "collected_at",
    ]
    assert len(rows) - 1 == len(db_rows(project))
    assert main(["export", "--table", "kpis"]) == 0
    kpis = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert len(kpis) > 1


def test_export_without_a_warehouse_says_how_to_start(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export"]) == 2
    assert "socialkpi collect" in capsys.readouterr().err


def test_demo_builds_every_demo_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from socialkpi.sandbox.world import DEMO_ACCOUNTS

    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--no-dashboard", "--db", str(tmp_path / "demo.duckdb")]) == 0
    con = duckdb.connect(str(tmp_path / "demo.duckdb"), read_only=True)
    try:
        have = set(con.execute("SELECT DISTINCT platform, account_id FROM observations").fetchall())
        span = con.execute(
            "SELECT max(observed_on) - min(observed_on) FROM observations WHERE platform = 'ga4'"
        ).fetchone()
    finally:
        con.close()
    assert {(a.platform, a.id) for a in DEMO_ACCOUNTS} <= have
    assert span is not None and span[0] >= 300  # about a year of history
    # accounts with "now" numbers only (competitors, X, Bluesky, ...) have every day of the last four
    # weeks, as a daily cron would have left them, not a replay every two weeks
    from collectors import PLATFORMS
    from socialkpi.demo import REPLAY_DAILY_DAYS
    from socialkpi.sandbox.world import DEMO_BUSINESS
    from warehouse.health import missing_days

    today = datetime.now(ZoneInfo(DEMO_BUSINESS["timezone"])).date()
    gaps = missing_days(tmp_path / "demo.duckdb", today - timedelta(days=REPLAY_DAILY_DAYS), today - timedelta(days=1))
    now_only = {
        (a.platform, a.id) for a in DEMO_ACCOUNTS if a.competitor or PLATFORMS[a.platform].max_history_days == 0
    }
    assert len(now_only) >= 10
    by_account = {(r.platform, r.account_id): r.days_missing for r in gaps.itertuples()}
    assert {k: by_account[k] for k in now_only} == dict.fromkeys(now_only, 0)
