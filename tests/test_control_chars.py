"""Issue 11 item 9: text a platform sends (an error message, a skipped metric's reason, an account's name)
never reaches a terminal, a log line, the warehouse or socialkpi.toml with its control characters raw.

Every one of them is shown as an escape (``\\x1b``, ``\\r``, ``\\n``): one platform's reply cannot clear the
screen, ring the bell, move the cursor or start a forged log line.  Real processes against the sandbox.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from collectors.errors import AuthError
from collectors.redaction import RedactingFilter, escape_controls, redact
from socialkpi.connect.flow import Terminal
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox.world import TOKEN

EVIL = "\x1b[2J\x07fake\r\n2026-01-01T00:00:00 INFO forged"
# more of them: C1's CSI and NEL, DEL, a tab, NUL, backspace
EVIL_MORE = EVIL + "\x9b31m\x85\x7f\t\x00\x08end"
ESCAPED = "\\x1b[2J\\x07fake\\r\\n2026-01-01T00:00:00 INFO forged"

# C0 (a newline only between lines), DEL and C1: what a terminal or a log reader acts on
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")

OWN_FAILING = "104512345678901"
OWN_SKIPPING = "104512345678902"

CONFIG = f"""
[business]
name = "Corner Bakery"
timezone = "Europe/Paris"

[warehouse]
path = "wh/socialkpi.duckdb"

[collect]
history_days = 5

[[accounts]]
platform = "facebook"
id = "{OWN_FAILING}"
name = "Corner Bakery"

[[accounts]]
platform = "facebook"
id = "{OWN_SKIPPING}"
name = "Corner Bakery Croix-Rousse"
"""


def clean_lines(text: str) -> list[str]:
    """``text``'s lines, after checking it holds no raw control character at all (but the newlines)."""
    assert not RAW_CONTROL.findall(text), RAW_CONTROL.findall(text)
    return text.split("\n")


def process_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    return {**env, **extra}


def socialkpi(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command as a process; its output the bytes as written, decoded (no newline translation)."""
    done = subprocess.run(
        [sys.executable, "-m", "socialkpi.cli", *args], cwd=cwd, env=env, capture_output=True, timeout=120
    )
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> Path:
    (tmp_path / "socialkpi.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / ".env").write_text(
        f"SOCIALKPI_FACEBOOK_TOKEN={TOKEN}\nSOCIALKPI_FACEBOOK_BASE_URL={sandbox.url}\n", encoding="utf-8"
    )
    return tmp_path


def test_an_error_message_with_control_characters_is_escaped_in_collect_status_logs_and_the_warehouse(
    project: Path, sandbox: Sandbox
) -> None:
    # one Page's token refused with a message full of control characters; the other Page's first insights
    # metric refused alone ("not a valid insights metric") with the same: a skipped metric with a reason
    sandbox.script(
        rf"^/v\d+\.\d+/{OWN_FAILING}$",
        Reply(400, {"error": {"message": EVIL_MORE, "type": "OAuthException", "code": 190}}),
    )
    invalid = {"error": {"message": f"(#100) The value must be a valid insights metric {EVIL_MORE}", "code": 100}}
    sandbox.script(  # its metric groups are asked at once: the first one's (page_media_view's), then that metric alone
        rf"^/v\d+\.\d+/{OWN_SKIPPING}/insights$",
        Reply(400, invalid),
        Reply(400, invalid),
        when=lambda r: "page_media_view" in r.query["metric"][0].split(","),
    )
    env = process_env({})

    done = socialkpi(["collect"], project, env)
    assert done.returncode == 1, done.stderr
    out, err = clean_lines(done.stdout), clean_lines(done.stderr)
    forged = [line for line in out + err if "forged" in line]
    assert forged, done.stderr
    for line in forged:  # the forged text stays on the real line, escaped
        assert ESCAPED in line
        assert f"facebook/{OWN_FAILING}" in line or "skipped" in line, line
    assert any(line.startswith(f"socialkpi: error: failed: facebook/{OWN_FAILING}: ") for line in forged)
    assert any(" ERROR " in line for line in forged) and any(
        " WARNING " in line and "skipped" in line for line in forged
    )
    assert not any(line.startswith("2026-01-01T00:00:00 INFO forged") for line in out + err)
    assert "\\x9b31m\\x85\\x7f\\t\\x00\\x08end" in done.stderr

    con = duckdb.connect(str(project / "wh/socialkpi.duckdb"), read_only=True)
    try:
        reasons = [r for (r,) in con.execute("SELECT reason FROM run_accounts WHERE reason IS NOT NULL").fetchall()]
        notes = [n for (n,) in con.execute("SELECT note FROM metric_notes").fetchall()]
    finally:
        con.close()
    assert len(reasons) == 1 and len(notes) == 1
    for stored in (*reasons, *notes):
        assert ESCAPED in stored and not RAW_CONTROL.search(stored) and "\n" not in stored

    status = socialkpi(["status"], project, env)
    assert status.returncode == 0, status.stderr
    lines = clean_lines(status.stdout) + clean_lines(status.stderr)
    forged = [line for line in lines if "forged" in line]
    assert len(forged) == 2
    assert any(OWN_FAILING in line and "FAILED" in line for line in forged)
    assert any(f"facebook/{OWN_SKIPPING}" in line for line in forged)
    assert all(ESCAPED in line for line in forged)


def test_status_escapes_a_reason_stored_raw_before(project: Path, sandbox: Sandbox) -> None:
    """A warehouse written by an earlier version may hold raw reasons: status escapes them as it prints."""
    env = process_env({})
    assert socialkpi(["collect"], project, env).returncode == 0
    con = duckdb.connect(str(project / "wh/socialkpi.duckdb"))
    try:
        reason = f"facebook/{OWN_FAILING}: {EVIL}"
        con.execute("UPDATE run_accounts SET status = 'failed', reason = ? WHERE account_id = ?", [reason, OWN_FAILING])
        con.execute(
            "UPDATE account_runs SET last_status = 'failed', last_reason = ? WHERE account_id = ?",
            [reason, OWN_FAILING],
        )
        con.execute(
            "INSERT INTO metric_notes VALUES ('facebook', ?, ?, ?, 'r', now())", [OWN_SKIPPING, f"m{EVIL}", EVIL]
        )
    finally:
        con.close()
    status = socialkpi(["status"], project, env)
    assert status.returncode == 0, status.stderr
    forged = [line for line in clean_lines(status.stdout) if "forged" in line]
    assert len(forged) == 2 and all(ESCAPED in line for line in forged)


def test_a_skipped_metric_named_and_explained_by_the_platform_is_escaped(tmp_path: Path, sandbox: Sandbox) -> None:
    """Pinterest's ``data_status`` names a skipped entry and reaches no CollectorError: the runner escapes it."""
    (tmp_path / "socialkpi.toml").write_text(
        CONFIG.split("[[accounts]]")[0] + '[[accounts]]\nplatform = "pinterest"\nid = "cornerbakerylyon"\n',
        encoding="utf-8",
    )
    env = process_env({"SOCIALKPI_PINTEREST_TOKEN": TOKEN, "SOCIALKPI_PINTEREST_BASE_URL": sandbox.url})
    day = datetime.now(UTC).date() - timedelta(days=5)
    metrics = {"IMPRESSION": 1, "ENGAGEMENT": 1, "PIN_CLICK": 1, "OUTBOUND_CLICK": 1, "SAVE": 1, "SAVE_RATE": 1}
    answer = {
        "all": {
            "daily_metrics": [{"date": day.isoformat(), "data_status": EVIL, "metrics": {}}],
            "summary_metrics": metrics,
        }
    }
    sandbox.script(r"^/v5/user_account/analytics$", Reply(200, answer))
    done = socialkpi(["collect", "--since", day.isoformat(), "--until", day.isoformat()], tmp_path, env)
    assert done.returncode == 0, done.stderr
    forged = [line for line in clean_lines(done.stdout) + clean_lines(done.stderr) if "forged" in line]
    assert len(forged) == 1 and ESCAPED in forged[0] and "skipped data_status:" in forged[0]
    con = duckdb.connect(str(tmp_path / "wh/socialkpi.duckdb"), read_only=True)
    try:
        (metric,) = con.execute("SELECT source_metric FROM metric_notes").fetchone() or ("",)
    finally:
        con.close()
    assert metric == f"data_status:{ESCAPED}"
    status = socialkpi(["status"], tmp_path, env)
    forged = [line for line in clean_lines(status.stdout) if "forged" in line]
    assert len(forged) == 1 and ESCAPED in forged[0]


# -- the one function every path goes through ------------------------------------------------------------


def test_escape_controls_shows_every_control_character_as_an_escape() -> None:
    assert escape_controls(EVIL) == ESCAPED
    assert (
        escape_controls("\t\x00\x08\x0b\x0c\x7f\x80\x85\x9b\x9f") == "\\t\\x00\\x08\\x0b\\x0c\\x7f\\x80\\x85\\x9b\\x9f"
    )
    text = "Boulangerie Ça va, 日本語, emoji 🥐, a \\x1b already escaped, \u00a0 and \u00ff"
    assert escape_controls(text) == text  # printable text (any script) is left alone
    assert escape_controls(escape_controls(EVIL_MORE)) == escape_controls(EVIL_MORE)  # safe to apply twice
    for code in range(0x110000):
        char = chr(code)
        if RAW_CONTROL.match(char) or char == "\n":
            assert not RAW_CONTROL.search(escape_controls(char)) and "\n" not in escape_controls(char)


def test_collector_errors_redact_and_the_log_filter_escape_control_characters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert redact(EVIL) == ESCAPED
    exc = AuthError(f"facebook: {EVIL}", platform="facebook")
    assert str(exc) == exc.message == f"facebook: {ESCAPED}"
    assert exc.with_message(f"{EVIL}; again").message == f"{ESCAPED}; again"
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RedactingFilter())
    logging.getLogger("socialkpi.test").warning("%s: skipped %s: %s", "facebook/1", "m\x1b", EVIL)
    logging.getLogger("socialkpi.test").error(EVIL)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [f"facebook/1: skipped m\\x1b: {ESCAPED}", ESCAPED]
    assert not RAW_CONTROL.search(caplog.text)


# -- account names a platform returns: shown by connect and written to socialkpi.toml ---------------------


PROFILE = r"^/xrpc/app\.bsky\.actor\.getProfile$"


def evil_profile(handle: str) -> Reply:
    return Reply(
        200,
        {
            "did": "did:plc:sandboxevil",
            "handle": f"{handle}{EVIL}",
            "displayName": f"Corner {EVIL_MORE}",
            "followersCount": 12,
            "postsCount": 3,
        },
    )


@pytest.mark.parametrize("how", ["asked", "select", "competitor"])
def test_connect_escapes_the_account_names_it_shows_and_writes(tmp_path: Path, sandbox: Sandbox, how: str) -> None:
    env = process_env({"SOCIALKPI_BLUESKY_BASE_URL": sandbox.url})
    assert (
        socialkpi(["init", "--yes", "--name", "Corner Bakery", "--timezone", "Europe/Paris"], tmp_path, env).returncode
        == 0
    )
    handle = "rival.bsky.social" if how == "competitor" else "cornerbakery.bsky.social"
    sandbox.script(PROFILE, evil_profile(handle))
    args = {"asked": [], "select": ["--select", handle], "competitor": ["--competitor", handle]}[how]
    done = subprocess.run(
        [sys.executable, "-m", "socialkpi.cli", "connect", "bluesky", *args],
        cwd=tmp_path,
        env=env,
        input=f"{handle}\n".encode(),
        capture_output=True,
        timeout=120,
    )
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, err
    lines = clean_lines(out) + clean_lines(err)
    forged = [line for line in lines if "forged" in line]
    assert forged and not any(line.startswith("2026-01-01T00:00:00 INFO forged") for line in lines)
    assert all(ESCAPED in line and handle in line for line in forged), forged
    assert any(line.startswith("added   bluesky") for line in forged)
    text = (tmp_path / "socialkpi.toml").read_text(encoding="utf-8")
    clean_lines(text)
    (account,) = tomllib.loads(text)["accounts"]
    assert account["id"] == handle
    assert account["name"] == f"Corner {escape_controls(EVIL_MORE)}"
    assert not RAW_CONTROL.search(account["name"]) and "\n" not in account["name"]
    # and what collect then prints and stores of that name is just as clean
    assert "forged" in account["name"]


def test_connect_terminal_says_one_escaped_line() -> None:
    """Flows say what a platform answered before any Found exists (Mastodon's name, WordPress's site name):
    whatever ``Terminal.say`` is given, it writes one line, escaped."""
    err = io.StringIO()
    Terminal(stdin=io.StringIO(), stdout=io.StringIO(), stderr=err).say(f"Found mastodon x: {EVIL}")
    assert err.getvalue() == f"Found mastodon x: {ESCAPED}\n"
