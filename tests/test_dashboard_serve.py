"""Guarantee 8: the dashboard listens on 127.0.0.1; any other address needs a password."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from socialkpi.cli import main
from socialkpi.serve import dashboard_command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a LISTEN socket on ``port``, read from /proc/net/tcp{,6}."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            addr, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(addr)
    return found


def test_default_command_binds_loopback() -> None:
    cmd, env = dashboard_command("/tmp/x.duckdb", 8599)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert env["SOCIALKPI_DB"] == "/tmp/x.duckdb"


def test_other_address_without_password_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOCIALKPI_DASHBOARD_PASSWORD", raising=False)
    assert main(["dashboard", "--address", "0.0.0.0"]) == 2  # noqa: S104 (refused: that is the test)
    assert "SOCIALKPI_DASHBOARD_PASSWORD" in capsys.readouterr().err


def test_real_server_listens_on_loopback_only(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    env["SOCIALKPI_DB"] = str(tmp_path / "missing.duckdb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "socialkpi.cli", "dashboard", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
                    assert resp.read() == b"ok"
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
