"""``socialkpi report --mail-to``: real processes, a real SMTP server on 127.0.0.1 (aiosmtpd), the message
parsed back with the standard ``email`` package.

The warehouse is filled by a real ``socialkpi collect`` against the sandbox (Facebook Pages, three weeks),
so the report has numbers and charts.  Checked: the MIME structure mail clients expect, every image the
HTML references is a PNG part with that Content-ID (and no part is left unreferenced), the plain text
carries the key numbers, the attachments are the report file and the KPI export; STARTTLS and SSL with a
CA of the test's own (``SSL_CERT_FILE``); each SMTP failure is one line and exit 1 with the report file
written; bad usage is one line and exit 2 with nothing written; the password is in no output, no file.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.world import TOKEN
from tests.smtp import PASSWORD, USER, SmtpServer, make_ca

TO = ["owner@example.com", "partner@example.org"]
PARIS = ZoneInfo("Europe/Paris")


def today() -> date:
    return datetime.now(PARIS).date()
BASE = """[business]
name = "Corner Bakery"
timezone = "Europe/Paris"
[warehouse]
path = "wh/socialkpi.duckdb"
[[accounts]]
platform = "facebook"
id = "104512345678901"
name = "Corner Bakery"
[[accounts]]
platform = "facebook"
id = "209876543210987"
name = "Rival Patisserie"
competitor = true
"""


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_ca(tmp_path_factory.mktemp("ca"))


def run(
    folder: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_") and k != "SSL_CERT_FILE"}
    return subprocess.run(
        [sys.executable, "-m", "socialkpi.cli", *args],
        cwd=folder, env=base | (env or {}), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory, _sandbox_server: Sandbox) -> Path:
    """A warehouse a real collect filled: three weeks of the sandbox's Facebook Pages (the last week whole)."""
    folder = tmp_path_factory.mktemp("collected")
    (folder / "socialkpi.toml").write_text(BASE, encoding="utf-8")
    env = {"SOCIALKPI_FACEBOOK_TOKEN": TOKEN, "SOCIALKPI_FACEBOOK_BASE_URL": _sandbox_server.url}
    since = (today() - timedelta(days=21)).isoformat()
    done = run(folder, "collect", "--since", since, env=env)
    assert done.returncode == 0, done.stderr
    return folder / "wh" / "socialkpi.duckdb"


@pytest.fixture
def shop(tmp_path: Path, collected: Path) -> Path:
    """A project folder using the collected warehouse (a copy: each test may write beside it)."""
    (tmp_path / "wh").mkdir()
    (tmp_path / "wh" / "socialkpi.duckdb").write_bytes(collected.read_bytes())
    return tmp_path


def configure(shop: Path, server: SmtpServer | None = None, extra: str = "", *, user: bool = True) -> None:
    (shop / "socialkpi.toml").write_text(BASE + (server.toml(user=user) if server else "") + extra, encoding="utf-8")


def mail_env(certs: tuple[Path, Path, Path] | None, password: str | None = PASSWORD) -> dict[str, str]:
    env = {"SSL_CERT_FILE": str(certs[0])} if certs else {}
    return env | ({"SOCIALKPI_SMTP_PASSWORD": password} if password else {})


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def parts(message: EmailMessage) -> list[tuple[int, str, EmailMessage]]:
    """(depth, content type, part) of the whole tree, in order."""
    out: list[tuple[int, str, EmailMessage]] = []

    def walk(part: EmailMessage, depth: int) -> None:
        out.append((depth, part.get_content_type(), part))
        if part.is_multipart():
            for child in part.iter_parts():
                walk(child, depth + 1)  # type: ignore[arg-type]

    walk(message, 0)
    return out


def no_secret_anywhere(shop: Path, *texts: str | bytes) -> None:
    for text in texts:
        blob = text.encode() if isinstance(text, str) else text
        assert PASSWORD.encode() not in blob
    for path in shop.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_the_report_arrives_with_its_charts_text_and_attachments(
    shop: Path, certs: tuple[Path, Path, Path]
) -> None:
    with SmtpServer(certs, security="starttls") as server:
        configure(shop, server)
        done = run(shop, "report", "--period", "last-week", "--out", "r.html", "--mail-to", ",".join(TO),
                   env=mail_env(certs))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert server.logins == [(USER, PASSWORD)]
    [received] = server.messages
    assert received.mail_from == "owner@example.com" and received.rcpt_tos == TO
    message = received.message
    tree = [(depth, kind) for depth, kind, _ in parts(message)]
    assert tree[:5] == [
        (0, "multipart/mixed"), (1, "multipart/alternative"), (2, "text/plain"), (2, "multipart/related"),
        (3, "text/html"),
    ]  # fmt: skip
    assert tree[-2:] == [(1, "text/html"), (1, "text/csv")]
    images = {
        str(part["Content-ID"]).strip().strip("<>"): part for _, kind, part in parts(message) if kind == "image/png"
    }
    assert len(images) == 3  # followers, impressions, engagements (no website account here)
    assert message["Subject"].startswith("Corner Bakery: social and website report, ")
    assert message["From"] == "Corner Bakery <owner@example.com>" and message["To"] == ", ".join(TO)
    assert message["Auto-Submitted"] == "auto-generated"

    body = message.get_body(preferencelist=("html",))
    assert body is not None
    html = body.get_content()
    referenced = re.findall(r'<img src="cid:([^"]+)"', html)
    assert sorted(referenced) == sorted(images)  # every image referenced is there, none is extra
    for part in images.values():
        width, height = png_size(part.get_content())
        assert width >= 900 and 300 <= height <= 700  # drawn at twice its displayed size
        assert part.get_content_disposition() == "inline"
    assert "<svg" not in html and "<script" not in html and "<style" not in html  # what Gmail and Outlook drop
    assert not re.search(r'(src|href)="https?:', html)  # nothing fetched from the network
    assert 'style="' in html and "<table" in html

    from socialkpi.report import period_bounds
    from warehouse import kpi_cards

    start, end = period_bounds("last-week", today())
    db = shop / "wh" / "socialkpi.duckdb"
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content()
    cards = kpi_cards.kpi_cards(db, start, end)
    for card in cards:
        if card.value is not None:
            assert f"{card.title}: {card.shown}" in text  # the key numbers, each as the report shows it
            assert f">{card.shown}<" in html
    assert any(c.key == "audience" and c.value for c in cards)

    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    stem = f"socialkpi-{start:%Y-%m-%d}_{end:%Y-%m-%d}"
    assert sorted(attachments) == [f"{stem}-kpis.csv", f"{stem}-report.html"]
    assert attachments[f"{stem}-report.html"].get_content() == (shop / "r.html").read_text(encoding="utf-8")
    exported = run(shop, "export", "--table", "kpis", "--period", "week", "--since", str(start), "--until", str(end))
    assert exported.returncode == 0
    assert attachments[f"{stem}-kpis.csv"].get_content().replace("\r\n", "\n") == exported.stdout
    no_secret_anywhere(shop, done.stdout, done.stderr, received.raw)


def test_ssl_from_the_first_byte_delivers_too(shop: Path, certs: tuple[Path, Path, Path]) -> None:
    with SmtpServer(certs, security="ssl") as server:
        configure(shop, server)
        done = run(shop, "report", "--out", "r.html", "--mail-to", TO[0], env=mail_env(certs))
    assert done.returncode == 0, done.stderr
    assert [m.rcpt_tos for m in server.messages] == [[TO[0]]]
    assert server.logins == [(USER, PASSWORD)]


class Silent:
    """A TCP server that accepts and never says a word (an SMTP server that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            while True:
                conn, _ = self.sock.accept()
                self.held.append(conn)
        except OSError:
            return

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]  # bound, never listening: connections are refused


FAILURES: dict[str, Any] = {
    "connection refused": ("refused", "refused the connection: check mail.host and mail.port"),
    "bad password": ("starttls", "refused the login of owner@example.com (535"),
    "certificate not trusted": ("untrusted", "its certificate is not trusted"),
    "TLS spoken to a plain server": ("ssl-to-plain", "TLS with 127.0.0.1:"),
    "no STARTTLS offered": ("no-starttls", "does not offer STARTTLS: nothing was sent in clear"),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_an_smtp_failure_is_one_line_exit_1_and_the_report_is_written(
    shop: Path, certs: tuple[Path, Path, Path], closed_port: int, case: str
) -> None:
    kind, expected = FAILURES[case]
    env = mail_env(certs, "not-the-" + PASSWORD if kind == "starttls" else PASSWORD)
    args = ["report", "--out", "r.html", "--mail-to", TO[0]]
    if kind == "refused":
        configure(shop, extra=f'[mail]\nhost = "127.0.0.1"\nport = {closed_port}\nfrom = "o@example.com"\n')
        done = run(shop, *args, env=env)
    else:
        security = {"untrusted": "starttls", "ssl-to-plain": "none", "no-starttls": "none"}.get(kind, kind)
        with SmtpServer(certs, security=security) as server:
            configure(shop, server)
            if kind == "untrusted":
                env.pop("SSL_CERT_FILE")
            if kind in ("ssl-to-plain", "no-starttls"):  # the owner's config says TLS, the server speaks plain
                wanted = "ssl" if kind == "ssl-to-plain" else "starttls"
                toml = (shop / "socialkpi.toml").read_text().replace('security = "none"', f'security = "{wanted}"')
                (shop / "socialkpi.toml").write_text(toml)
            done = run(shop, *args, env=env)
        assert server.messages == []
    assert done.returncode == 1, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if "error" in line]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert errors[0].startswith("socialkpi: error: the report is written to r.html but was not mailed: ")
    assert expected in errors[0], errors[0]
    assert (shop / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    no_secret_anywhere(shop, done.stdout, done.stderr)
    assert "not-the-" not in done.stdout + done.stderr


def test_a_server_that_never_answers_times_out_with_one_line() -> None:
    from email.message import EmailMessage

    from socialkpi.mail import MailError, send
    from socialkpi.settings import MailSettings

    silent = Silent()
    try:
        message = EmailMessage()
        message["Subject"] = "x"
        message.set_content("x")
        started = time.monotonic()
        with pytest.raises(MailError) as info:
            send(MailSettings("127.0.0.1", silent.port, "none", None, "o@example.com"), None, message, TO, timeout=1)
        assert time.monotonic() - started < 10
    finally:
        silent.close()
    assert str(info.value) == f"127.0.0.1:{silent.port} did not answer within 1 s: check mail.host and mail.port"


NO_PASSWORD = "SOCIALKPI_SMTP_PASSWORD: missing: [mail] user = 'owner@example.com'"
USAGE: dict[str, Any] = {
    "not an address": (["--mail-to", "owner at example.com"], True, True, "'owner at example.com' is not an e-mail"),
    "a header injected": (["--mail-to", "a@example.com\nBcc: x@evil.example"], True, True, "is not an e-mail address"),
    "no [mail] table": (["--mail-to", TO[0]], False, True, "--mail-to: needs a [mail] table in"),
    "no password": (["--mail-to", TO[0]], True, False, NO_PASSWORD),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(USAGE))
def test_bad_usage_is_one_line_exit_2_and_nothing_is_written_or_sent(
    shop: Path, certs: tuple[Path, Path, Path], case: str
) -> None:
    extra, with_mail, with_password, expected = USAGE[case]
    with SmtpServer(certs, security="starttls") as server:
        configure(shop, server if with_mail else None)
        done = run(shop, "report", "--out", "r.html", *extra, env=mail_env(certs, PASSWORD if with_password else None))
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert expected in line, line
    assert not (shop / "r.html").exists() and server.messages == []


def test_a_report_without_mail_to_needs_no_mail_settings_and_sends_nothing(shop: Path) -> None:
    configure(shop)
    done = run(shop, "report", "--out", "r.html")
    assert done.returncode == 0 and (shop / "r.html").exists()


def test_the_message_builds_without_charts_when_drawing_fails(
    shop: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from socialkpi import charts, report_mail
    from socialkpi.settings import MailSettings

    def broken(chart: Any, **_: Any) -> bytes:
        raise RuntimeError("no renderer")

    monkeypatch.setattr(charts, "png", broken)
    end = today() - timedelta(days=1)
    message = report_mail.build_message(
        MailSettings("127.0.0.1", 25, "none", None, "o@example.com"), TO, shop / "wh" / "socialkpi.duckdb",
        end - timedelta(days=6), end, period="last-week", business="Corner Bakery", report_html="<p>r</p>",
    )  # fmt: skip
    assert not [p for p in message.walk() if p.get_content_type() == "image/png"]
    body = message.get_body(preferencelist=("html",))
    assert body is not None and "cid:" not in body.get_content() and "Key numbers" in body.get_content()
    assert "the followers chart could not be drawn (no renderer): sent without it" in caplog.text
