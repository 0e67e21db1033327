"""Issue 11 item 10: ``socialkpi dashboard`` skips the password only for an address that is loopback once
resolved, and the dashboard ends with the process the owner started (a ``kill`` of it leaves nothing serving)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from socialkpi.cli import main
from warehouse import db as wdb


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the address ---------------------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SOCIALKPI_"):
            monkeypatch.delenv(name)
    return tmp_path


@pytest.mark.parametrize(
    "address",
    [
        # names that start like a loopback address and are not one (.invalid never resolves: RFC 6761 §6.4)
        "localhost.invalid",
        "localhost.attacker.invalid",
        "127.0.0.1.invalid",
        "::1.invalid",
        "no-such-host.invalid",
        "",
    ],
)
def test_an_address_that_does_not_resolve_exits_2_with_one_line(
    folder: Path, capsys: pytest.CaptureFixture[str], address: str
) -> None:
    assert main(["dashboard", "--address", address, "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"socialkpi: error: --address {address!r}"), err
    assert "does not resolve" in err


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "0", "10.1.2.3", "192.168.1.20"])  # noqa: S104
def test_an_address_beyond_loopback_needs_the_password(
    folder: Path, capsys: pytest.CaptureFixture[str], address: str
) -> None:
    assert main(["dashboard", "--address", address]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SOCIALKPI_DASHBOARD_PASSWORD" in err, err


def _resolves(host: str) -> set[str]:
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return set()


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_loopback_addresses_need_no_password(address: str) -> None:
    from socialkpi.serve import check_address

    if not _resolves(address):
        pytest.skip(f"{address} does not resolve on this machine")
    check_address(address, {})  # no UsageError


# -- the dashboard's lifetime ----------------------------------------------------------------------------


def _streamlit_on(port: int) -> list[int]:
    """Pids of processes whose command line runs streamlit on ``port``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in args and str(port).encode() in args and b"--server.port" in args:
            found.append(int(entry.name))
    return found


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
            return bool(resp.read() == b"ok")
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_killing_socialkpi_dashboard_stops_the_dashboard(tmp_path: Path, signum: signal.Signals) -> None:
    db = tmp_path / "tiny.duckdb"
    with wdb.writing(db):
        pass  # an empty warehouse: the schema, no rows
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    env["SOCIALKPI_DB"] = str(db)
    log = tmp_path / "dashboard.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "socialkpi.cli", "dashboard", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the cleanup below reaches whatever it started
        )
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the dashboard did not come up:\n{log.read_text(errors='replace')}")
            time.sleep(0.3)
        os.kill(proc.pid, signum)  # the pid the owner knows: `kill <pid>`, not the process group
        proc.wait(timeout=60)
        deadline = time.monotonic() + 30
        while (_answers(port) or _streamlit_on(port)) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert not _answers(port), "the port still answers after socialkpi dashboard was killed"
        assert _streamlit_on(port) == [], "a streamlit process outlived socialkpi dashboard"
        assert f"Dashboard: http://127.0.0.1:{port}" in log.read_text(errors="replace")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
