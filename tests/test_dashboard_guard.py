"""Issue 11 item 10: ``socialkpi dashboard`` skips the password only for an address that is loopback once
resolved."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from socialkpi.cli import main


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
    from socialkpi.cli import check_address

    if not _resolves(address):
        pytest.skip(f"{address} does not resolve on this machine")
    check_address(address, {})  # no UsageError
