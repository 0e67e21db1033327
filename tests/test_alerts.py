"""Alerts after each collect: real ``socialkpi collect`` processes against the sandbox, a real SMTP server on
127.0.0.1 (aiosmtpd) and a real JSON webhook (apprise's ``json://``) on 127.0.0.1.

* an account failing twice in a row sends exactly one alert to each destination, naming the account, the
  cause and the fixing command; a third run the same day (a new process: the dedup is in the warehouse)
  sends nothing; the collect's exit status is the one it has without alerts;
* a destination that cannot be reached is one warning line, the exit status unchanged, and the next
  collect sends what it could not;
* a token that cannot be renewed and ends within token_days, and a metric refused that was given before,
  are alerted once; ``socialkpi alert --test`` reaches every destination (0), says which did not (1);
* no secret (the SMTP password, the webhook URL's password) in any output or in the warehouse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest

from collectors.observation import Account, Observation
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox.world import TOKEN
from tests.smtp import PASSWORD, SmtpServer, free_port

SHOP = "104512345678901"
BRANCH = "104512345678902"
HOOK_SECRET = "hook-pa55-DO-NOT-SHOW-1919"
BASE = f"""[business]
name = "Corner Bakery"
timezone = "Europe/Paris"
[warehouse]
path = "wh/socialkpi.duckdb"
[[accounts]]
platform = "facebook"
id = "{SHOP}"
name = "Corner Bakery"
[[accounts]]
platform = "facebook"
id = "{BRANCH}"
name = "Corner Bakery Croix-Rousse"
"""
EXPIRED = "Error validating access token: Session has expired"
REFUSED = Reply(401, {"error": {"message": EXPIRED, "type": "OAuthException", "code": 190, "error_subcode": 463}})


class Webhook:
    """A JSON webhook on 127.0.0.1: what apprise's ``json://`` posts, kept in ``posts``."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.auth: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.posts.append(json.loads(body))
                hook.auth.append(self.headers.get("Authorization", ""))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://owner:{HOOK_SECRET}@127.0.0.1:{self.port}/socialkpi"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Webhook]:
    server = Webhook()
    yield server
    server.close()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(security="none") as server:
        yield server


def alerts_toml(smtp_port: int, hook_url: str, extra: str = "") -> str:
    return (
        f'[mail]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\nuser = "owner@example.com"\n'
        f'from = "Corner Bakery <owner@example.com>"\n'
        f'[alerts]\nmail_to = ["owner@example.com"]\nurls = ["{hook_url}"]\n{extra}'
    )


@pytest.fixture
def shop(tmp_path: Path, smtp: SmtpServer, hook: Webhook) -> Path:
    (tmp_path / "socialkpi.toml").write_text(BASE + alerts_toml(smtp.port, hook.url), encoding="utf-8")
    return tmp_path


def collect(shop: Path, sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    env |= {
        "SOCIALKPI_FACEBOOK_TOKEN": TOKEN,
        "SOCIALKPI_FACEBOOK_BASE_URL": sandbox.url,
        "SOCIALKPI_SMTP_PASSWORD": PASSWORD,
    }
    since = (datetime.now(UTC).date() - timedelta(days=3)).isoformat()
    command = ["collect", "--since", since, *args] if not args or args[0] != "alert" else list(args)
    return subprocess.run(
        [sys.executable, "-m", "socialkpi.cli", *command],
        cwd=shop, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def fail_branch(sandbox: Sandbox) -> None:
    sandbox.script(BRANCH, REFUSED)  # the next request about the branch's Page: its token refused


def sent_rows(shop: Path) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(shop / "wh" / "socialkpi.duckdb"), read_only=True)
    try:
        sql = "SELECT condition, destination, platform, account_id FROM alerts_sent ORDER BY ALL"
        return con.execute(sql).fetchall()
    finally:
        con.close()


def no_secret(shop: Path, *outputs: str) -> None:
    for text in outputs:
        assert PASSWORD not in text and HOOK_SECRET not in text
    for path in (shop / "wh").iterdir() if (shop / "wh").exists() else []:
        data = path.read_bytes()
        assert PASSWORD.encode() not in data and HOOK_SECRET.encode() not in data, path


def test_an_account_failing_twice_in_a_row_sends_exactly_one_alert(
    shop: Path, sandbox: Sandbox, smtp: SmtpServer, hook: Webhook
) -> None:
    fail_branch(sandbox)
    first = collect(shop, sandbox)
    assert first.returncode == 1, first.stderr  # one account failed: as without alerts
    assert smtp.messages == [] and hook.posts == []  # once is not yet "2 runs in a row"

    fail_branch(sandbox)
    second = collect(shop, sandbox)
    assert second.returncode == 1, second.stderr
    [mail] = smtp.messages
    [post] = hook.posts
    message = mail.message
    assert mail.rcpt_tos == ["owner@example.com"] and message["Auto-Submitted"] == "auto-generated"
    assert message["Subject"] == "Corner Bakery: facebook · Corner Bakery Croix-Rousse needs you"
    body = message.get_content()
    assert post["title"] == message["Subject"]
    assert [x.rstrip() for x in post["message"].strip().splitlines()] == [x.rstrip() for x in body.strip().splitlines()]
    [line] = [x for x in body.splitlines() if x.startswith("- ")]
    assert line.startswith(f"- facebook · Corner Bakery Croix-Rousse ({BRANCH}): failed 2 runs in a row: ")
    assert "Session has expired" in line  # the platform's reason
    assert "Fix: `socialkpi connect facebook`" in line  # the command that fixes it
    assert SHOP not in body  # the account that works is not in it
    assert hook.auth[0].startswith("Basic ")  # the webhook's user:password reached it, and only it

    fail_branch(sandbox)
    third = collect(shop, sandbox)  # a new process, the same day: the warehouse remembers
    assert third.returncode == 1
    assert len(smtp.messages) == 1 and len(hook.posts) == 1
    rows = sent_rows(shop)
    assert [(c, p, a) for c, _, p, a in rows] == [(f"failed_runs:facebook/{BRANCH}", "facebook", BRANCH)] * 2
    assert {d.split(":")[0] for _, d, _, _ in rows} == {"owner@example.com", "url"}
    no_secret(shop, first.stdout + first.stderr, second.stdout + second.stderr, third.stdout + third.stderr)


def test_a_destination_that_cannot_be_reached_is_a_warning_and_is_tried_again(
    tmp_path: Path, sandbox: Sandbox, hook: Webhook
) -> None:
    smtp_port, dead_hook = free_port(), f"json://owner:{HOOK_SECRET}@127.0.0.1:{free_port()}/x"
    (tmp_path / "socialkpi.toml").write_text(BASE + alerts_toml(smtp_port, dead_hook), encoding="utf-8")
    for _ in range(2):
        fail_branch(sandbox)
        started = time.monotonic()
        done = collect(tmp_path, sandbox)
    assert time.monotonic() - started < 90  # bounded: connection refused at once, timeouts otherwise
    assert done.returncode == 1 and "Traceback" not in done.stderr
    warnings = [x for x in done.stderr.splitlines() if x.startswith("socialkpi: warning: alert not sent")]
    assert len(warnings) == 2, done.stderr
    assert any("owner@example.com: 127.0.0.1:" in w and "refused the connection" in w for w in warnings)
    assert any("json://***@127.0.0.1:" in w for w in warnings)  # a URL's user:password@ never shown
    assert sent_rows(tmp_path) == []  # nothing recorded: the next collect tries again
    with SmtpServer(security="none", port=smtp_port) as smtp:
        fail_branch(sandbox)
        done = collect(tmp_path, sandbox)
        assert done.returncode == 1
        assert len(smtp.messages) == 1  # now it goes; the dead webhook is still a warning
    assert len([x for x in done.stderr.splitlines() if "alert not sent" in x]) == 1
    no_secret(tmp_path, done.stdout + done.stderr)


def test_a_collect_that_succeeds_keeps_exit_0_when_an_alert_cannot_be_sent(tmp_path: Path, sandbox: Sandbox) -> None:
    (tmp_path / "socialkpi.toml").write_text(
        BASE + alerts_toml(free_port(), "json://127.0.0.1:9/x"), encoding="utf-8"
    )
    (tmp_path / "wh").mkdir()
    ends = datetime.now(UTC) + timedelta(days=5)  # a token socialkpi cannot renew, ending in 5 days
    tokens = {f"facebook/{SHOP}": {"access_token": "tok-DO-NOT-SHOW", "expires_at": ends.timestamp()}}
    store = tmp_path / "wh" / "socialkpi.duckdb.tokens.json"
    store.write_text(json.dumps(tokens), encoding="utf-8")
    store.chmod(0o600)
    done = collect(tmp_path, sandbox)
    assert done.returncode == 0, done.stderr
    assert len([x for x in done.stderr.splitlines() if "alert not sent" in x]) == 2


def test_a_token_ending_soon_is_alerted_once_a_day(shop: Path, sandbox: Sandbox, smtp: SmtpServer) -> None:
    (shop / "wh").mkdir()
    ends = datetime.now(UTC) + timedelta(days=5)
    tokens = {f"facebook/{SHOP}": {"access_token": "tok-DO-NOT-SHOW", "expires_at": ends.timestamp()}}
    store = shop / "wh" / "socialkpi.duckdb.tokens.json"
    store.write_text(json.dumps(tokens), encoding="utf-8")
    store.chmod(0o600)
    assert collect(shop, sandbox).returncode == 0
    assert collect(shop, sandbox).returncode == 0
    [mail] = smtp.messages
    body = mail.message.get_content()
    assert f"- facebook · Corner Bakery ({SHOP}): the access token expires on {ends:%Y-%m-%d}" in body
    assert "no refresh token is stored" in body and "tok-DO-NOT-SHOW" not in body


def test_token_days_is_the_threshold(shop: Path, sandbox: Sandbox, smtp: SmtpServer, hook: Webhook) -> None:
    (shop / "socialkpi.toml").write_text(BASE + alerts_toml(smtp.port, hook.url, "token_days = 3\n"), encoding="utf-8")
    (shop / "wh").mkdir()
    ends = datetime.now(UTC) + timedelta(days=5)
    store = shop / "wh" / "socialkpi.duckdb.tokens.json"
    store.write_text(json.dumps({f"facebook/{SHOP}": {"access_token": "t", "expires_at": ends.timestamp()}}))
    store.chmod(0o600)
    assert collect(shop, sandbox).returncode == 0
    assert smtp.messages == [] and hook.posts == []  # 5 days left, the owner asked for 3


def test_alert_test_reaches_every_destination_and_says_which_did_not(
    shop: Path, sandbox: Sandbox, smtp: SmtpServer, hook: Webhook
) -> None:
    done = collect(shop, sandbox, "alert", "--test")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "sent a test message to owner@example.com",
        f"sent a test message to json://***@127.0.0.1:{hook.port}/socialkpi",
    ]
    assert smtp.messages[0].message["Subject"] == "Corner Bakery: socialkpi test alert"
    assert hook.posts[0]["title"] == "Corner Bakery: socialkpi test alert"
    urls = f'urls = ["{hook.url}"]'
    broken = alerts_toml(smtp.port, hook.url).replace(urls, urls.replace("]", ', "json://127.0.0.1:9/x"]'))
    (shop / "socialkpi.toml").write_text(BASE + broken, encoding="utf-8")
    done = collect(shop, sandbox, "alert", "--test")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "socialkpi: error: json://127.0.0.1:9/x: json://127.0.0.1:9/x did not take the message "
        "(unreachable, or it refused it)"
    ]
    assert len(hook.posts) == 2 and len(smtp.messages) == 2  # the others still got it
    no_secret(shop, done.stdout + done.stderr)


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("", "alerts: no destination in"),
        ('[alerts]\nurls = ["nosuchservice://x"]\n', "alerts.urls[1]: is not a notification URL apprise knows"),
        ('[alerts]\nurls = ["json://u:' + HOOK_SECRET + '@"]\n', "alerts.urls[1]:"),
    ],
)
def test_alert_test_without_a_usable_destination_is_exit_2(
    tmp_path: Path, sandbox: Sandbox, toml: str, expected: str
) -> None:
    (tmp_path / "socialkpi.toml").write_text(BASE + toml, encoding="utf-8")
    done = collect(tmp_path, sandbox, "alert", "--test")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert expected in line and HOOK_SECRET not in line


def test_a_refused_metric_it_used_to_give_is_alerted_once(
    tmp_path: Path, smtp: SmtpServer, hook: Webhook
) -> None:
    """In-process, on a real warehouse: run 1 gives page_impressions, run 2 has it refused (alerted), run 3
    still refused (not again: nothing was given since), then it comes back and is refused again (alerted)."""
    from socialkpi import alerts
    from socialkpi.settings import load_settings
    from warehouse.db import writing
    from warehouse.load import AccountOutcome, write_account_batch

    (tmp_path / "socialkpi.toml").write_text(BASE + alerts_toml(smtp.port, hook.url), encoding="utf-8")
    settings = load_settings(cwd=tmp_path, environ={"SOCIALKPI_SMTP_PASSWORD": PASSWORD})
    shop = Account("facebook", SHOP, "Corner Bakery")
    note = [("page_impressions", "refused by the Graph API: (#100) The value must be a valid insights metric")]
    moment = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)

    def run(run_id: str, day: int, *, refused: bool) -> int:
        at = moment + timedelta(days=day)
        given = Observation("facebook", SHOP, "impressions", date(2026, 3, 9 + day), 10, "page_impressions", at)
        rows = [] if refused else [given]
        with writing(settings.db_path) as con:
            write_account_batch(con, AccountOutcome(run_id, shop, "ok", at, at), rows, note if refused else [])
        return alerts.after_collect(settings, run_id, now=at + timedelta(minutes=1))

    assert run("r1", 0, refused=False) == 0
    assert run("r2", 1, refused=True) == 2  # one message to each destination
    assert run("r3", 2, refused=True) == 0  # still refused, nothing given since: told already
    assert run("r4", 3, refused=False) == 0
    assert run("r5", 4, refused=True) == 2  # it came back, and is refused again
    assert len(smtp.messages) == len(hook.posts) == 2
    body = smtp.messages[0].message.get_content()
    assert f"- facebook · Corner Bakery ({SHOP}): facebook refused page_impressions, which it used to give" in body
    assert "Fix: `socialkpi connect facebook`" in body


def test_failing_every_day_is_told_again_the_next_day(tmp_path: Path, smtp: SmtpServer, hook: Webhook) -> None:
    from socialkpi import alerts
    from socialkpi.settings import load_settings
    from warehouse.db import writing
    from warehouse.load import AccountOutcome, write_account_batch

    toml = BASE + alerts_toml(smtp.port, hook.url, "failed_runs = 3\n")
    (tmp_path / "socialkpi.toml").write_text(toml, encoding="utf-8")
    settings = load_settings(cwd=tmp_path, environ={"SOCIALKPI_SMTP_PASSWORD": PASSWORD})
    branch = Account("facebook", BRANCH, "Corner Bakery Croix-Rousse")
    start = datetime(2026, 3, 10, 5, 0, tzinfo=UTC)
    sent = []
    for i, status in enumerate(["ok", "failed", "failed", "failed", "failed", "failed"]):
        at = start + timedelta(hours=12 * i)  # two runs a day
        reason = f"facebook/{BRANCH}: HTTP 503"
        outcome = AccountOutcome(f"r{i}", branch, status, at, at, error_kind="server", reason=reason)
        with writing(settings.db_path) as con:
            write_account_batch(con, outcome)
        sent.append(alerts.after_collect(settings, f"r{i}", now=at))
    # r1-r3 in a row (r3: 2026-03-11): sent; r4 (the next morning, 4 in a row): sent again; r5 (the same day): not
    assert sent == [0, 0, 0, 2, 2, 0]
    assert "failed 3 runs in a row: HTTP 503." in smtp.messages[0].message.get_content()
    assert "failed 4 runs in a row" in smtp.messages[1].message.get_content()
    assert "nothing if facebook answers again by the next collect" in smtp.messages[0].message.get_content()
