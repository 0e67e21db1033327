"""Every value a user types is bounded and validated once (socialkpi/validation.py): a bad one is exit 2 and one
line naming the key, never a traceback; every key of socialkpi.toml is known, a typo says the closest one; a
collect never writes a day after the business's today.  Each case runs as a real ``socialkpi`` process."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.world import TOKEN
from socialkpi.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
TZ = "Europe/Paris"

BASE = f"""
[business]
name = "Corner Bakery"
timezone = "{TZ}"

[warehouse]
path = "wh/socialkpi.duckdb"

[[accounts]]
platform = "facebook"
id = "104512345678901"
name = "Corner Bakery"
"""


def today() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(TZ)).date()


def socialkpi(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``socialkpi ARGS`` as its own process in ``cwd``, importing this source tree."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "socialkpi.cli", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def refused(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 2, one line on standard error containing each of ``expected``, no traceback; the line."""
    err = done.stderr.strip()
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert len(err.splitlines()) == 1, err
    for text in expected:
        assert text in err, err
    return err


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "socialkpi.toml").write_text(BASE, encoding="utf-8")
    (tmp_path / ".env").write_text(
        f"SOCIALKPI_FACEBOOK_TOKEN={TOKEN}\nSOCIALKPI_FACEBOOK_BASE_URL=http://127.0.0.1:9\n", encoding="utf-8"
    )
    return tmp_path


def no_warehouse(project: Path) -> None:
    assert not (project / "wh/socialkpi.duckdb").exists(), "nothing may be written"


# -- item 7: bounded numbers, one line naming the key ------------------------------------------------------


CONFIG_CASES = {
    "history_days": ("[collect]\nhistory_days = 800000\n", ["collect"], ["collect.history_days", "10000"]),
    "lookback_days": (
        "[collect.lookback_days]\nfacebook = 100000000\n",
        ["collect"],
        ["collect.lookback_days.facebook", "366"],
    ),
    "concurrency": ("[collect.concurrency]\nfacebook = 5000\n", ["collect"], ["collect.concurrency.facebook"]),
    "hourly_rate inf, report": (
        "[costs]\nhourly_rate = inf\n",
        ["report", "--period", "last-month", "--out", "r.html"],
        ["costs.hourly_rate", "finite"],
    ),
    "hourly_rate inf, dashboard": ("[costs]\nhourly_rate = inf\n", ["dashboard"], ["costs.hourly_rate"]),
    "hourly_rate nan": ("[costs]\nhourly_rate = nan\n", ["collect"], ["costs.hourly_rate"]),
    "hourly_rate huge": ("[costs]\nhourly_rate = 1e300\n", ["collect"], ["costs.hourly_rate", "1,000,000,000"]),
    "tool cost": ("[costs]\ntool_cost_per_month = -inf\n", ["collect"], ["costs.tool_cost_per_month"]),
    "ad spend": (
        "[costs.ad_spend_per_month]\nfacebook = inf\n",
        ["collect"],
        ["costs.ad_spend_per_month.facebook"],
    ),
    "weekly hours": ("[costs]\nweekly_hours = inf\n", ["collect"], ["costs.weekly_hours", "168"]),
    "value": ("[value]\nper_social_visit = 1e400\n", ["collect"], ["value.per_social_visit"]),
    "mail port": ('[mail]\nhost = "smtp.example.com"\nfrom = "o@example.com"\nport = 70000\n', ["collect"],
                  ["mail.port", "65535"]),
    "mail port, report": (
        '[mail]\nhost = "smtp.example.com"\nfrom = "o@example.com"\nport = 0\n',
        ["report", "--period", "last-week", "--out", "r.html", "--mail-to", "o@example.com"],
        ["mail.port"],
    ),
    "failed_runs": ("[alerts]\nfailed_runs = 1000\n", ["collect"], ["alerts.failed_runs", "100"]),
    "token_days": ("[alerts]\ntoken_days = 0\n", ["alert", "--test"], ["alerts.token_days"]),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_an_unbounded_number_in_socialkpi_toml_is_exit_2_naming_the_key(project: Path, case: str) -> None:
    extra, args, expected = CONFIG_CASES[case]
    (project / "socialkpi.toml").write_text(BASE + extra, encoding="utf-8")
    refused(socialkpi(project, *args), *expected)
    no_warehouse(project)
    assert not (project / "r.html").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["dashboard", "--port", "99999"], ["--port", "65535"]),
        (["dashboard", "--port", "-1"], ["--port", "65535"]),
        (["demo", "--port", "70000"], ["--port", "65535"]),
        (["connect", "facebook", "--port", "99999"], ["--port", "65535"]),
        (["connect", "facebook", "--timeout", "nan"], ["--timeout"]),
        (["connect", "facebook", "--timeout", "inf"], ["--timeout"]),
        (["init", "--yes", "--hours", "inf"], ["--hours", "168"]),
        (["log-time", "facebook", "nan"], ["nan"]),
    ],
)
def test_an_unbounded_command_line_value_is_exit_2_naming_the_flag(
    project: Path, args: list[str], expected: list[str]
) -> None:
    if args[0] == "init":
        (project / "socialkpi.toml").unlink()
    refused(socialkpi(project, *args), *expected)
    no_warehouse(project)
    if args[0] == "init":
        assert not (project / "socialkpi.toml").exists()


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://[::1]:99999/", "http://host:port/", "https://", "http://user@/x", "ftp://x"]
)
def test_a_malformed_base_url_is_exit_2_naming_the_variable(project: Path, url: str) -> None:
    done = socialkpi(project, "collect", env={"SOCIALKPI_FACEBOOK_BASE_URL": url})
    refused(done, "SOCIALKPI_FACEBOOK_BASE_URL")
    no_warehouse(project)


def test_a_malformed_token_url_is_exit_2_naming_the_variable(project: Path) -> None:
    done = socialkpi(project, "collect", env={"SOCIALKPI_FACEBOOK_TOKEN_URL": "http://[::1"})
    refused(done, "SOCIALKPI_FACEBOOK_TOKEN_URL")


def test_an_import_cell_over_the_csv_limit_is_exit_2_with_its_line(project: Path) -> None:
    big = project / "big.csv"
    big.write_text(
        "date,account_id,metric,value,source_metric\n"
        "2026-01-01,newsletter,subscribers,1,\n"
        f"2026-01-02,newsletter,subscribers,2,{'x' * 140_000}\n",
        encoding="utf-8",
    )
    done = socialkpi(project, "import-csv", str(big))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "line 3" in done.stderr and "131,072" in done.stderr
    no_warehouse(project)


# -- item 8: every key known, a typo names the closest one --------------------------------------------------


TYPOS = {
    "business.timezon": (BASE.replace("timezone =", "timezon ="), "did you mean timezone?"),
    "business.nmae": (BASE.replace('name = "Corner Bakery"\n', 'nmae = "Corner Bakery"\n', 1), "did you mean name?"),
    "account": (BASE.replace("[[accounts]]", "[[account]]"), "did you mean accounts?"),
    "warehouse.pth": (BASE.replace("path =", "pth ="), "did you mean path?"),
    "collect.history_day": (BASE + "[collect]\nhistory_day = 30\n", "did you mean history_days?"),
    "collect.lookback": (BASE + "[collect.lookback]\nfacebook = 3\n", "did you mean lookback_days?"),
    "collect.lookback_days.facebok": (BASE + "[collect.lookback_days]\nfacebok = 3\n", "did you mean facebook?"),
    "collect.concurrency.instagarm": (BASE + "[collect.concurrency]\ninstagarm = 1\n", "did you mean instagram?"),
    "costs.hourly_rat": (BASE + "[costs]\nhourly_rat = 25\n", "did you mean hourly_rate?"),
    "costs.hours_per_weak": (BASE + "[costs.hours_per_weak]\nfacebook = 2\n", "did you mean hours_per_week?"),
    "costs.hours_per_week.facebok": (BASE + "[costs.hours_per_week]\nfacebok = 2\n", "did you mean facebook?"),
    "costs.ad_spend_per_month.pinterst": (
        BASE + "[costs.ad_spend_per_month]\npinterst = 2\n",
        "did you mean pinterest?",
    ),
    "value.per_social_visits": (BASE + "[value]\nper_social_visits = 1\n", "did you mean per_social_visit?"),
    "accounts[1].competiter": (BASE + "competiter = true\n", "did you mean competitor?"),
    "accounts[1].token_evn": (BASE + 'token_evn = "FB2"\n', "did you mean token_env?"),
    "busines": (BASE.replace("[business]", "[busines]"), "did you mean business?"),
    "timezone": (f'timezone = "{TZ}"\n' + BASE.replace(f'timezone = "{TZ}"\n', ""), "[business]"),
    "business.history_days": (BASE.replace("[warehouse]", "history_days = 30\n[warehouse]"), "[collect]"),
    "business.extra": (BASE + "[business.extra]\nx = 1\n", "unknown key"),
}


@pytest.mark.parametrize("key", sorted(TYPOS))
def test_an_unknown_key_anywhere_is_exit_2_with_the_closest_known_one(project: Path, key: str) -> None:
    text, hint = TYPOS[key]
    (project / "socialkpi.toml").write_text(text, encoding="utf-8")
    line = refused(socialkpi(project, "collect"), f"error: {key}: ", hint)
    assert "unknown" in line
    no_warehouse(project)


def test_every_table_of_the_schema_is_checked(tmp_path: Path) -> None:
    """Each table of KNOWN_KEYS refuses an unknown key (so a table added to the schema is covered at once)."""
    from socialkpi.validation import KNOWN_KEYS, ConfigError

    for table in KNOWN_KEYS:
        if table == "accounts":
            text = BASE + "zzz_not_a_key = 1\n"
            where = "accounts[1].zzz_not_a_key"
        elif f"[{table}]\n" in BASE:
            text = BASE.replace(f"[{table}]\n", f"[{table}]\nzzz_not_a_key = 1\n")
            where = f"{table}.zzz_not_a_key"
        else:
            text = BASE + f"\n[{table}]\nzzz_not_a_key = 1\n"
            where = f"{table}.zzz_not_a_key"
        (tmp_path / "socialkpi.toml").write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_settings(cwd=tmp_path, environ={})
        assert info.value.key == where, table


def test_the_file_socialkpi_init_writes_loads(tmp_path: Path) -> None:
    done = socialkpi(tmp_path, "init", "--yes", "--hours", "6")
    assert done.returncode == 0, done.stderr
    settings = load_settings(cwd=tmp_path, environ={})
    assert settings.costs is not None and settings.costs.hourly_rate == 25


def test_the_example_configuration_loads() -> None:
    settings = load_settings(str(ROOT / "examples/socialkpi.toml"), cwd=ROOT, environ={})
    assert settings.accounts


# -- item 5: never a day after today (nor before 2004) ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["collect", "--since", "0001-01-01"], ["--since", "2004-01-01"]),
        (["collect", "--since", "2003-12-31"], ["--since", "2004-01-01"]),
        (["collect", "--until", "1999-01-01"], ["--until", "2004-01-01"]),
        (["collect", "--since", "9999-12-30"], ["--since", "after today"]),
        (["collect", "--since", "9999-12-30", "--until", "9999-12-31"], ["--since", "after today"]),
        (["log-time", "facebook", "1", "--date", "0001-01-01"], ["--date", "2004-01-01"]),
        (["log-time", "facebook", "1", "--date", "9999-12-31"], ["--date", "after tomorrow"]),
    ],
)
def test_a_day_out_of_range_is_exit_2_naming_the_flag(project: Path, args: list[str], expected: list[str]) -> None:
    refused(socialkpi(project, *args), *expected)
    no_warehouse(project)


def test_a_since_after_today_is_refused_whatever_the_until(project: Path) -> None:
    tomorrow = (today() + timedelta(days=1)).isoformat()
    refused(socialkpi(project, "collect", "--since", tomorrow), "--since", "after today", today().isoformat())


@pytest.fixture
def live(project: Path, sandbox: Sandbox) -> Path:
    (project / ".env").write_text(
        f"SOCIALKPI_FACEBOOK_TOKEN={TOKEN}\nSOCIALKPI_FACEBOOK_BASE_URL={sandbox.url}\n", encoding="utf-8"
    )
    return project


def stored_days(project: Path) -> set[date]:
    con = duckdb.connect(str(project / "wh/socialkpi.duckdb"), read_only=True)
    try:
        return {row[0] for row in con.execute("SELECT DISTINCT observed_on FROM observations").fetchall()}
    finally:
        con.close()


def test_an_until_in_the_future_is_clamped_to_today_with_a_note(live: Path) -> None:
    day = today()
    since, until = day - timedelta(days=3), day + timedelta(days=20)
    done = socialkpi(live, "collect", "--quiet", "--since", since.isoformat(), "--until", until.isoformat())
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "--until" in line]
    assert len(notes) == 1 and until.isoformat() in notes[0] and day.isoformat() in notes[0], done.stderr
    assert notes[0].startswith("socialkpi: note:")
    days = stored_days(live)
    assert days and max(days) <= day
    assert min(days) == since


def test_a_since_of_today_fetches_today(live: Path) -> None:
    done = socialkpi(live, "collect", "--since", today().isoformat())
    assert done.returncode == 0, done.stderr
    assert stored_days(live) == {today()}


def test_the_runner_drops_what_a_collector_dates_after_today(
    live: Path, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """The last guard: whatever range a caller asks for, nothing dated after today reaches the warehouse."""
    from socialkpi.credentials import credentials_for
    from socialkpi.runner import run_collect

    settings = load_settings(cwd=live, environ={})
    account = settings.accounts[0]
    creds = {(account.platform, account.id): credentials_for(account, settings.env)}
    day = today()
    with caplog.at_level(logging.WARNING, logger="socialkpi.collect"):
        summary = run_collect(
            settings, [account], creds, since=day - timedelta(days=2), until=day + timedelta(days=5)
        )
    assert summary.exit_code == 0 and summary.rows > 0
    assert max(stored_days(live)) == day
    notes = [r.getMessage() for r in caplog.records if "after today" in r.getMessage()]
    assert len(notes) == 1 and "facebook/104512345678901" in notes[0], [r.getMessage() for r in caplog.records]


def test_import_refuses_days_after_tomorrow_and_before_2004(project: Path) -> None:
    after = today() + timedelta(days=2)
    src = project / "far.csv"
    src.write_text(
        "date,account_id,metric,value\n"
        f"{(today() + timedelta(days=1)).isoformat()},newsletter,subscribers,1\n"
        f"{after.isoformat()},newsletter,subscribers,2\n"
        "9999-12-31,newsletter,subscribers,3\n"
        "0001-01-01,newsletter,subscribers,4\n"
        "2003-12-31,newsletter,subscribers,5\n"
        "2004-01-01,newsletter,subscribers,6\n",
        encoding="utf-8",
    )
    done = socialkpi(project, "import-csv", str(src))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line.strip() for line in done.stderr.splitlines()[1:]]
    assert [line.split(":")[0] for line in lines] == ["line 3", "line 4", "line 5", "line 6"], done.stderr
    assert "after tomorrow" in lines[0] and "before 2004-01-01" in lines[2]
    no_warehouse(project)


def test_the_runner_guard_keeps_now_levels_dated_today(live: Path) -> None:
    """"now"-only numbers (followers) are dated today: the guard keeps them."""
    done = socialkpi(live, "collect")
    assert done.returncode == 0, done.stderr
    con = duckdb.connect(str(live / "wh/socialkpi.duckdb"), read_only=True)
    try:
        followers = con.execute("SELECT max(observed_on) FROM observations WHERE metric = 'followers'").fetchone()
    finally:
        con.close()
    assert followers is not None and followers[0] == today()

