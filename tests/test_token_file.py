"""The token store file ``<warehouse>.tokens.json``: made 0600 whenever socialkpi opens it (a read too), and
never a symbolic link or anything but a regular file (one error naming it, never followed): real files and
real ``socialkpi`` processes against the sandbox."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from collectors.tokens import Connection, StoredToken, TokenFileError, TokenStore
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.world import TOKEN
from warehouse.tokens import token_rows

ENTRY = {"x/12": {"access_token": "stolen-access-token-1234", "refresh_token": None, "expires_at": None}}
CONTENT = json.dumps(ENTRY)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    store = TokenStore.beside(tmp_path / "socialkpi.duckdb")
    store.path.write_text(CONTENT, encoding="utf-8")
    store.path.chmod(0o644)
    return store


CONNECTION = Connection(platform="mastodon", key="1", token=StoredToken("connected-token-5678"))

# Every way in: reads and writes of collectors.tokens, and the expiry view of status, the report and the dashboard.
OPERATIONS: dict[str, Callable[[TokenStore], object]] = {
    "get": lambda s: s.get("x", "12"),
    "connection": lambda s: s.connection("x", "12", fallback=True),
    "has_default": lambda s: s.has_default("x"),
    "check": lambda s: s.check(),
    "put": lambda s: s.put("x", "12", StoredToken("new-access-token-999")),
    "save_connections": lambda s: s.save_connections([CONNECTION], defaults=[CONNECTION]),
    "note_env_token": lambda s: s.note_env_token("linkedin", "1", "env-token-abcdef", 60),
    "forget_env_token": lambda s: s.forget_env_token("x", "12"),
    "token_rows": lambda s: token_rows(s.path.with_name("socialkpi.duckdb"), s.path),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_0644_token_file_is_0600_after_any_read_or_write(store: TokenStore, operation: str) -> None:
    OPERATIONS[operation](store)
    assert mode(store.path) == 0o600
    assert stat.S_ISREG(store.path.lstat().st_mode)


def test_a_read_leaves_the_content_as_it_was(store: TokenStore) -> None:
    assert store.get("x", "12") == StoredToken("stolen-access-token-1234")
    assert store.path.read_text(encoding="utf-8") == CONTENT


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_symlink_at_the_token_file_is_refused_and_never_followed(
    tmp_path: Path, store: TokenStore, operation: str
) -> None:
    victim = tmp_path / "elsewhere.json"
    victim.write_text(CONTENT, encoding="utf-8")
    victim.chmod(0o644)
    store.path.unlink()
    store.path.symlink_to(victim)
    with pytest.raises(TokenFileError) as info:
        OPERATIONS[operation](store)
    message = str(info.value)
    assert str(store.path) in message and "symbolic link" in message and "\n" not in message
    assert "stolen" not in message
    assert store.path.is_symlink()  # not replaced
    assert victim.read_text(encoding="utf-8") == CONTENT and mode(victim) == 0o644  # not read into, not chmod'ed


@pytest.mark.parametrize("operation", ["get", "put", "token_rows"])
def test_a_dangling_symlink_is_refused_and_nothing_is_created(
    tmp_path: Path, store: TokenStore, operation: str
) -> None:
    store.path.unlink()
    store.path.symlink_to(tmp_path / "nowhere.json")
    with pytest.raises(TokenFileError, match="symbolic link"):
        OPERATIONS[operation](store)
    assert not (tmp_path / "nowhere.json").exists()


@pytest.mark.parametrize("kind", ["fifo", "directory"])
@pytest.mark.parametrize("operation", ["get", "put", "token_rows"])
def test_a_fifo_or_a_directory_at_the_token_file_is_refused_without_hanging(
    store: TokenStore, kind: str, operation: str
) -> None:
    store.path.unlink()
    if kind == "fifo":
        os.mkfifo(store.path)  # opening it to read would wait for a writer forever
    else:
        store.path.mkdir()
    with pytest.raises(TokenFileError, match="not a regular file"):
        OPERATIONS[operation](store)


def test_a_missing_token_file_is_still_created_0600(tmp_path: Path) -> None:
    store = TokenStore.beside(tmp_path / "socialkpi.duckdb")
    assert store.get("x", "12") is None and not store.path.exists()
    store.put("x", "12", StoredToken("new-access-token-999"))
    assert mode(store.path) == 0o600


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
"""


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> Path:
    (tmp_path / "socialkpi.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / ".env").write_text(
        f"SOCIALKPI_GA4_TOKEN={TOKEN}\nSOCIALKPI_GA4_BASE_URL={sandbox.url}\n", encoding="utf-8"
    )
    (tmp_path / "wh").mkdir()
    return tmp_path


def socialkpi(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    return subprocess.run(
        [sys.executable, "-m", "socialkpi.cli", *args],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,  # a guard against a hang, not a timing assertion
    )


def test_collect_and_status_tighten_a_0644_token_file(project: Path) -> None:
    tokens = project / "wh/socialkpi.duckdb.tokens.json"
    tokens.write_text(CONTENT, encoding="utf-8")
    tokens.chmod(0o644)
    done = socialkpi(project, "collect")
    assert done.returncode == 0, done.stderr
    assert mode(tokens) == 0o600
    tokens.chmod(0o644)
    done = socialkpi(project, "status")
    assert done.returncode == 0, done.stderr
    assert mode(tokens) == 0o600
    assert json.loads(tokens.read_text(encoding="utf-8")) == ENTRY


@pytest.mark.parametrize(
    "command",
    [["collect"], ["status"], ["doctor"], ["connect", "mastodon", "--instance", "mastodon.social", "--no-browser"]],
    ids=lambda c: c[0],
)
def test_a_symlinked_token_file_stops_the_command_with_one_line(
    project: Path, sandbox: Sandbox, command: list[str]
) -> None:
    if command == ["status"]:
        assert socialkpi(project, "collect").returncode == 0  # status needs a warehouse
    sandbox.clear()
    victim = project / "elsewhere.json"
    victim.write_text(CONTENT, encoding="utf-8")
    victim.chmod(0o644)
    tokens = project / "wh/socialkpi.duckdb.tokens.json"
    tokens.symlink_to(victim)
    (project / ".env").write_text(
        (project / ".env").read_text(encoding="utf-8") + f"SOCIALKPI_MASTODON_BASE_URL={sandbox.url}\n",
        encoding="utf-8",
    )
    done = socialkpi(project, *command)
    assert "symbolic link" in done.stderr
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("socialkpi: error: ") and str(tokens) in lines[0], done.stderr
    assert done.stdout == ""  # refused before anything was printed or done
    assert victim.read_text(encoding="utf-8") == CONTENT and mode(victim) == 0o644 and tokens.is_symlink()
    assert sandbox.requests == []  # no platform was called (connect: no consent was started)


def test_the_dashboard_says_so_instead_of_reading_a_symlinked_token_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from streamlit.testing.v1 import AppTest

    from tests import seed

    db = seed.build_warehouse(tmp_path / "seed.duckdb")
    victim = tmp_path / "elsewhere.json"
    victim.write_text(CONTENT, encoding="utf-8")
    tokens = TokenStore.beside(db).path
    tokens.symlink_to(victim)
    monkeypatch.setenv("SOCIALKPI_DB", str(db))
    monkeypatch.delenv("SOCIALKPI_DASHBOARD_PASSWORD", raising=False)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard.py"), default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert str(tokens) in at.error[0].value and "symbolic link" in at.error[0].value
    assert not at.metric and tokens.is_symlink()
