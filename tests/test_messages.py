"""What the CLI prints: a URL's userinfo (``user:password@``) is masked in every message (the redaction of
collectors.redaction, which every message, log line and stored reason goes through), and a usage error names the
command once.  Real ``socialkpi`` processes, the sandbox, real warehouse files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from collectors.redaction import redact, sanitize_url
from collectors.tokens import Connection, StoredToken, TokenStore
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox.world import TOKEN
from warehouse.credentials import connect_command

PASSWORD = "hunter2pw"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("ftp://owner:hunter2pw@stats.example/x", "ftp://***@stats.example/x"),
        ("'ftp://owner:hunter2pw@stats.example/' must start with http://", "'ftp://***@stats.example/' must start"),
        ("https://hunter2pw@api.example/v1", "https://***@api.example/v1"),  # a token as the user name
        ("HTTP://owner:hunter2pw@[::1]:8080/p?q=1", "HTTP://***@[::1]:8080/p?q=1"),
        ("http://owner:hunt@er2pw@host.example/p", "http://***@host.example/p"),  # an @ left unencoded
        ("http://owner:hunter2pw@[::1", "http://***@[::1"),  # not even a valid URL
        ("(//owner:hunter2pw@host.example)", "(//***@host.example)"),
        ("'owner:hunter2pw@stats.example' must start with http://", "'***@stats.example' must start"),
        ("BASE_URL=owner:hunter2pw@stats.example", "BASE_URL=***@stats.example"),
        ("a\nftp://owner:hunter2pw@h.example b", "ftp://***@h.example b"),
    ],
)
def test_redact_masks_the_userinfo_of_any_url(text: str, shown: str) -> None:
    clean = redact(text)
    assert PASSWORD not in clean and "hunt" not in clean and "owner" not in clean
    assert shown in clean


@pytest.mark.parametrize(
    "text",
    [
        "owner@example.com wrote",  # an e-mail address: no password in it
        "mastodon: no account @cornerbakery@mastodon.social",
        "https://example.com/search?who=a@b.example",  # an @ in the query is not userinfo
        "https://stats.example/index.php",
        "ga4/312345678: ok, 36 rows changed (2026-11-29..2026-12-01)",
        "2026-12-02T00:03:08+0000 INFO x",
    ],
)
def test_redact_leaves_text_without_userinfo_as_it_is(text: str) -> None:
    assert redact(text) == text


def test_sanitize_url_masks_the_whole_userinfo() -> None:
    assert sanitize_url("https://owner:hunter2pw@api.example/a?x=1") == "https://***@api.example/a?x=1"
    assert sanitize_url("https://hunter2pw@api.example/a") == "https://***@api.example/a"


def test_the_renew_command_of_a_server_with_userinfo_hides_it() -> None:
    command = connect_command("matomo", server="https://owner:hunter2pw@stats.example/")
    assert command == "socialkpi connect matomo --url https://***@stats.example"


# -- the commands ------------------------------------------------------------------------------------------

CONFIG = """
[business]
name = "Corner Bakery"
timezone = "Europe/Paris"

[warehouse]
path = "wh/socialkpi.duckdb"

[collect]
history_days = 3

[[accounts]]
platform = "ga4"
id = "312345678"
name = "cornerbakery.fr"
{extra}
"""

MATOMO = """
[[accounts]]
platform = "matomo"
id = "1"
name = "cornerbakery.fr (Matomo)"
"""


def project(tmp_path: Path, env: str, extra: str = "") -> Path:
    (tmp_path / "socialkpi.toml").write_text(CONFIG.format(extra=extra), encoding="utf-8")
    (tmp_path / ".env").write_text(f"SOCIALKPI_GA4_TOKEN={TOKEN}\n{env}\n", encoding="utf-8")
    return tmp_path


def socialkpi(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    return subprocess.run(
        [sys.executable, "-m", "socialkpi.cli", *args],
        cwd=folder,
        env={**base, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,  # a guard against a hang, not a timing assertion
    )


def printed(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr


BAD_SCHEME = ["ftp://owner:hunter2pw@stats.example/", "owner:hunter2pw@stats.example"]


@pytest.mark.parametrize("base_url", BAD_SCHEME)
def test_a_bad_scheme_base_url_is_refused_without_its_password(tmp_path: Path, base_url: str) -> None:
    folder = project(tmp_path, f"SOCIALKPI_GA4_BASE_URL={base_url}")
    done = socialkpi(folder, "collect")
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("socialkpi: error: SOCIALKPI_GA4_BASE_URL: ") and "must start with http://" in line
    assert "***@stats.example" in line
    assert PASSWORD not in printed(done) and "owner" not in printed(done)


@pytest.mark.parametrize("base_url", BAD_SCHEME)
def test_doctor_and_status_name_the_bad_base_url_without_its_password(
    tmp_path: Path, sandbox: Sandbox, base_url: str
) -> None:
    folder = project(
        tmp_path,
        f"SOCIALKPI_GA4_BASE_URL={sandbox.url}\nSOCIALKPI_MATOMO_TOKEN=matomo-token-1\n"
        f"SOCIALKPI_MATOMO_BASE_URL={base_url}",
        MATOMO,
    )
    assert socialkpi(folder, "collect", "--platform", "ga4").returncode == 0  # status needs a warehouse
    doctor = socialkpi(folder, "doctor")
    assert doctor.returncode == 1 and "SOCIALKPI_MATOMO_BASE_URL" in doctor.stdout, printed(doctor)
    status = socialkpi(folder, "status")
    assert status.returncode == 0 and "SOCIALKPI_MATOMO_BASE_URL" in status.stdout, printed(status)
    for done in (doctor, status):
        assert "***@stats.example" in done.stdout
        assert PASSWORD not in printed(done) and "owner" not in printed(done)


def test_a_failing_server_with_userinfo_in_its_url_never_shows_it(tmp_path: Path, sandbox: Sandbox) -> None:
    with_userinfo = sandbox.url.replace("http://", f"http://owner:{PASSWORD}@")
    # every try of the three reports (sent at once, 5 tries each) dropped: the error names the URL
    sandbox.script(r":runReport", *[Reply.drop() for _ in range(15)])
    folder = project(tmp_path, f"SOCIALKPI_GA4_BASE_URL={with_userinfo}")
    done = socialkpi(folder, "-v", "collect")
    assert done.returncode == 1, printed(done)
    assert "***@127.0.0.1" in done.stderr  # the failure names the URL, masked
    status = socialkpi(folder, "status")
    assert "FAILED" in status.stdout
    for output in (done, status):
        assert PASSWORD not in printed(output) and "owner" not in printed(output)
    con = duckdb.connect(str(folder / "wh/socialkpi.duckdb"), read_only=True)
    try:
        stored = con.execute("SELECT string_agg(coalesce(reason, ''), ' ') FROM run_accounts").fetchone()
    finally:
        con.close()
    assert stored is not None and "***@127.0.0.1" in stored[0] and PASSWORD not in stored[0]


def test_status_shows_a_connected_servers_renew_command_without_its_userinfo(tmp_path: Path, sandbox: Sandbox) -> None:
    folder = project(tmp_path, f"SOCIALKPI_GA4_BASE_URL={sandbox.url}", MATOMO)
    assert socialkpi(folder, "collect", "--platform", "ga4").returncode == 0
    TokenStore.beside(folder / "wh/socialkpi.duckdb").save_connections(
        [
            Connection(
                platform="matomo",
                key="1",
                token=StoredToken("matomo-connected-token"),
                base_url=f"https://owner:{PASSWORD}@stats.example",
            )
        ]
    )
    done = socialkpi(folder, "status")
    assert done.returncode == 0, printed(done)
    assert "socialkpi connect matomo --url https://***@stats.example" in done.stdout
    assert PASSWORD not in printed(done) and "owner" not in printed(done)


def test_connect_refuses_a_bad_url_without_its_password(tmp_path: Path) -> None:
    folder = project(tmp_path, "")
    done = socialkpi(folder, "connect", "matomo", "--url", f"ftp://owner:{PASSWORD}@stats.example", "--no-browser")
    assert done.returncode == 2, printed(done)
    assert "***@stats.example" in done.stderr
    assert PASSWORD not in printed(done) and "owner" not in printed(done)


def test_connect_says_which_server_wins_without_either_password(tmp_path: Path, sandbox: Sandbox) -> None:
    folder = project(tmp_path, "")
    done = socialkpi(
        folder,
        "connect",
        "matomo",
        "--url",
        f"https://owner:{PASSWORD}@other.example",
        "--no-browser",
        SOCIALKPI_MATOMO_BASE_URL=sandbox.url.replace("http://", "http://me:s3cretpw@"),
    )
    assert "is set: connecting to http://***@127.0.0.1" in done.stderr and "--url https://***@other.example" in (
        done.stderr
    )
    assert PASSWORD not in printed(done) and "s3cretpw" not in printed(done) and "owner" not in printed(done)


# -- usage errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "see"),
    [
        (["--bogus"], "(see socialkpi --help)"),
        (["collect", "--bogus"], "(see socialkpi collect --help)"),
        (["export", "--table", "nope"], "(see socialkpi export --help)"),
        (["connect"], "(see socialkpi connect --help)"),
        (["connect", f"https://owner:{PASSWORD}@stats.example"], "(see socialkpi connect --help)"),
    ],
)
def test_a_usage_error_names_the_command_once(tmp_path: Path, args: list[str], see: str) -> None:
    done = socialkpi(tmp_path, *args)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("socialkpi: error: ") and line.endswith(see), line
    assert "socialkpi socialkpi" not in line and PASSWORD not in line
