"""``socialkpi dashboard`` and ``socialkpi demo``: the dashboard served by streamlit.

On 127.0.0.1 by default; any other address only with ``SOCIALKPI_DASHBOARD_PASSWORD`` set (README: Serving on
a network), judged by what the address resolves to.  The process becomes the server (``os.execve``), so the
pid the owner started is the server's.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import NoReturn

from socialkpi.console import out as _out
from socialkpi.settings import load_settings
from socialkpi.status import check_warehouse
from socialkpi.validation import UsageError

EXIT_OK, EXIT_FAILED = 0, 1

log = logging.getLogger("socialkpi")


def dashboard_command(db_path: str, port: int, address: str = "127.0.0.1") -> tuple[list[str], dict[str, str]]:
    import importlib.util

    spec = importlib.util.find_spec("dashboard")
    if spec is None or spec.origin is None:
        raise UsageError("dashboard.py is not installed: reinstall socialkpi (pip install -e .)")
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        spec.origin,
        "--server.headless",
        "true",
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",  # no "Deploy" button or developer menu for the owner
    ]
    env = {**os.environ, "SOCIALKPI_DB": db_path}
    return cmd, env


def resolved_addresses(address: str) -> set[str]:
    """Every address ``address`` resolves to here (an IP address resolves to itself); empty if none."""
    import socket

    if not address:
        return set()
    try:
        infos = socket.getaddrinfo(address, None)
    except (OSError, UnicodeError, ValueError):  # not known, not a valid name (idna), a NUL in it
        return set()
    return {str(info[4][0]) for info in infos}


def is_loopback(address: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def check_address(address: str, env: dict[str, str] | os._Environ[str]) -> None:
    """Listening beyond this machine requires a password (README: Serving on a network).

    The address is judged by what it resolves to, not by how it is spelled: ``localhost.example`` or
    ``127.0.0.1.example`` are names like any other.  Only when every address it resolves to is loopback
    (127.0.0.0/8, ::1) is no password needed; one that does not resolve is refused.
    """
    resolved = resolved_addresses(address)
    if not resolved:
        raise UsageError(
            f"--address {address!r} does not resolve to an address of this machine: give an IP address such as "
            "127.0.0.1 (the default) or a host name that resolves"
        )
    if all(is_loopback(a) for a in resolved):
        return
    if not env.get("SOCIALKPI_DASHBOARD_PASSWORD"):
        raise UsageError(
            f"--address {address}: serving beyond 127.0.0.1 needs a password: set SOCIALKPI_DASHBOARD_PASSWORD "
            "(and put the dashboard behind a TLS reverse proxy, see README)"
        )


def _serve(db_path: str, port: int, address: str = "127.0.0.1", *, shown: str | None = None) -> NoReturn:
    """Become the dashboard: this process is replaced by streamlit (``os.execve``), so the pid the owner
    started is the server's, and a ``kill`` of it (SIGTERM, SIGHUP, Ctrl+C) ends the server, no child left."""
    check_address(address, os.environ)
    cmd, env = dashboard_command(db_path, port, address)
    _out(f"Dashboard: http://{address}:{port}  (warehouse {shown or db_path}; Ctrl+C to stop)")
    sys.stdout.flush()  # what is still buffered would be lost with this process image
    sys.stderr.flush()
    try:
        os.execve(cmd[0], cmd, env)  # noqa: S606 (our own streamlit command, no shell)
    except OSError as exc:
        raise UsageError(f"the dashboard could not start ({cmd[0]}: {exc.strerror}): reinstall socialkpi") from None


def cmd_dashboard(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None), require_config=False)
    check_address(args.address, settings.env)
    check_warehouse(settings.warehouse)  # a damaged or foreign file: one line and exit 2, no server
    if settings.accounts or settings.config_path:
        from socialkpi.settings import roi_config
        from warehouse.db import WarehouseBusy
        from warehouse.roi_inputs import sync_config

        try:
            sync_config(settings.warehouse, roi_config(settings), settings.timezone)
        except WarehouseBusy:
            log.warning("the warehouse is busy (a collect is running): costs from socialkpi.toml apply next time")
    if settings.env.get("SOCIALKPI_DASHBOARD_PASSWORD"):
        os.environ.setdefault("SOCIALKPI_DASHBOARD_PASSWORD", settings.env["SOCIALKPI_DASHBOARD_PASSWORD"])
    from socialkpi import workspaces

    workspaces.offer_to_dashboard(os.environ)  # the picker, when workspaces/ of this folder holds some
    if settings.lake is not None:  # dashboard.py reads the lake; the token store stays beside the file path
        os.environ["SOCIALKPI_LAKE_URL"] = settings.lake.url
        os.environ["SOCIALKPI_LAKE_DATA_PATH"] = settings.lake.data_path
    return _serve(str(settings.db_path), args.port, args.address, shown=str(settings.warehouse))


def cmd_demo(args: argparse.Namespace) -> int:
    from socialkpi.demo import build_demo

    code = build_demo(args.db)
    if code not in (EXIT_OK, EXIT_FAILED):
        return code
    if args.no_dashboard:
        return code
    return _serve(os.path.abspath(args.db), args.port)
