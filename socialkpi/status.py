"""``socialkpi status`` and ``socialkpi doctor``: how the warehouse, the runs, the tokens and each account's
credential are.

``status`` reads the warehouse only (last runs, each account's freshness, failing sources with the reason,
stored tokens' ends, where each credential comes from); ``doctor`` checks the configuration, reads the
warehouse through once (:func:`check_warehouse`) and makes each account's cheapest authenticated call.
Exit statuses as the command line's (README, "Exit statuses of `socialkpi collect`").
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from socialkpi.console import out as _out
from socialkpi.settings import load_settings
from warehouse.lake_config import Lake

if TYPE_CHECKING:
    from pathlib import Path

EXIT_OK, EXIT_FAILED = 0, 1


def cmd_status(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None), require_config=False)
    from warehouse import runs
    from warehouse.access import exists

    if not exists(settings.warehouse):
        where = f"in the {settings.lake}" if settings.lake else f"at {settings.db_path}"
        _out(f"No warehouse yet {where}. Run `socialkpi collect` (or `make demo` for sample data).")
        return EXIT_OK
    from collectors.redaction import escape_controls as shown  # a reason stored by an older version may be raw
    from collectors.tokens import TokenStore
    from socialkpi.credentials import live_credentials

    store = TokenStore.beside(settings.db_path)
    store.check()  # refused before a line is printed
    report = runs.status_report(settings.warehouse)
    _out(f"Warehouse: {settings.warehouse}")
    _out("")
    _out("Last runs:")
    if not report.runs:
        _out("  (none)")
    for r in report.runs:
        _out(
            f"  {r['started_at']:%Y-%m-%d %H:%M} UTC  {r['status']:<8} {r['accounts_ok']} ok, "
            f"{r['accounts_failed']} failed, {r['rows_written']} rows, {r['requests']} requests  ({r['run_id']})"
        )
    _out("")
    _out("Accounts:")
    configured = {(a.platform, a.id) for a in settings.accounts}
    for a in report.accounts:
        newest = a["newest_day"].isoformat() if a["newest_day"] else "no data"
        last_ok = f"{a['last_ok']:%Y-%m-%d %H:%M} UTC" if a["last_ok"] else "never"
        state = "ok" if a["last_status"] == "ok" else f"FAILED: {shown(str(a['last_reason']))}"
        flag = "" if not configured or (a["platform"], a["account_id"]) in configured else "  (no longer configured)"
        _out(f"  {a['platform']:<10} {a['account_id']:<22} newest day {newest}, last ok {last_ok}, {state}{flag}")
    for platform, account_id in sorted(configured - {(a["platform"], a["account_id"]) for a in report.accounts}):
        _out(f"  {platform:<10} {account_id:<22} not collected yet")
    if report.requests_this_month:
        _out("")
        _out("API requests this month (X bills every read):")
        for platform, count in report.requests_this_month.items():
            _out(f"  {platform:<15} {count}")
    from warehouse.tokens import token_rows, token_warnings

    tokens = token_rows(settings.warehouse, store.path)
    if tokens:
        _out("")
        _out("Stored tokens (expiry only, never the tokens):")
        for t in tokens:
            if t.first_used_at and t.expires_at:
                access = (
                    f"access token from .env, first used {t.first_used_at:%Y-%m-%d}, ends by {t.expires_at:%Y-%m-%d}"
                )
            elif t.expires_at:
                access = f"access token until {t.expires_at:%Y-%m-%d}"
            elif t.connected:
                access = "access token from socialkpi connect"
            else:
                access = "access token, expiry unknown"
            renew = (
                "renewed with its refresh token"
                if t.refreshable
                else "renewed with itself while valid"
                if t.self_renewing
                else "does not expire"
                if t.connected and not t.expires_at
                else f"NOT renewable: run `socialkpi connect {t.platform}` again before it ends"
                if t.connected
                else "NOT renewable: authorize again before it ends"
            )
            until = f" (refresh token until {t.refresh_expires_at:%Y-%m-%d})" if t.refresh_expires_at else ""
            _out(f"  {t.platform:<10} {t.account_id:<22} {access}, {renew}{until}")
        for warning in token_warnings(tokens):
            _out(f"  WARNING: {warning.message}")
    if settings.accounts:
        _out("")
        _out("Credentials (where each account's comes from, when it ends, how to renew it):")
        for c in live_credentials(settings):
            _out(f"  {c.platform:<10} {c.account_id:<22} {c.comes_from}; ends: {c.ends}; renew: {c.renew}")
    if report.notes:
        _out("")
        _out("Metrics skipped (the platform refused or retired them):")
        for n in report.notes:
            _out(f"  {n['platform']}/{n['account_id']} {shown(n['source_metric'])}: {shown(n['note'])}")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from collectors import PLATFORMS
    from collectors.tokens import TokenStore
    from socialkpi.credentials import credentials_for, live_credentials
    from socialkpi.runner import run_checks
    from socialkpi.validation import ConfigError

    settings = load_settings(getattr(args, "config", None))
    store = TokenStore.beside(settings.db_path)
    store.check()
    _out(f"Configuration {settings.config_path}: ok ({len(settings.accounts)} account(s))")
    _out(f"Warehouse {settings.warehouse}: {check_warehouse(settings.warehouse)}")
    accounts = [a for a in settings.accounts if not args.platform or a.platform in args.platform]
    problems = 0
    credentials = {}
    checkable = []
    for account in accounts:
        try:
            credentials[(account.platform, account.id)] = credentials_for(account, settings.env, store)
            checkable.append(account)
        except ConfigError as exc:
            problems += 1
            _out(f"  {account.platform:<15} {account.id:<24} FAILED: {exc}")
    for result in run_checks(settings, checkable, credentials):
        a = result.account
        label = PLATFORMS[a.platform].label
        if result.ok:
            _out(f"  {a.platform:<15} {a.id:<24} ok: {result.detail}")
        else:
            problems += 1
            _out(f"  {a.platform:<15} {a.id:<24} FAILED ({label}): {result.detail}")
    _out("Credentials:")
    for c in live_credentials(settings):
        if not args.platform or c.platform in args.platform:
            _out(f"  {c.platform:<15} {c.account_id:<24} {c.comes_from}; ends: {c.ends}; renew: {c.renew}")
    _out(f"{len(accounts) - problems} ok, {problems} with problems")
    return EXIT_FAILED if problems else EXIT_OK


def check_warehouse(db_path: Path | Lake) -> str:
    """Read the warehouse through once (every block: warehouse.db.verify): how it is, or
    :class:`WarehouseError` (damaged, foreign, newer) for main to print.  A lake: it opens, and its
    socialkpi tables are there (DuckLake's Parquet files are not read through)."""
    from warehouse.access import WarehouseMissing, open_warehouse
    from warehouse.db import WarehouseBusy

    if not isinstance(db_path, Lake) and not db_path.exists():
        return "not created yet (socialkpi collect creates it)"
    try:
        with open_warehouse(db_path):
            pass
    except WarehouseMissing:  # the file is there, without socialkpi's tables yet
        return "empty (socialkpi collect fills it)"
    except WarehouseBusy:
        return "not checked: a collect kept it busy"
    return "ok"
