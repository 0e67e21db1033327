"""Each account's credential: where it comes from, when it ends, and the command that renews it. Never a token.

``socialkpi collect`` records, per account, where it took the credential from (``account_credentials``,
schema 5): ``connect`` (the token store, a connection made by ``socialkpi connect``, and which entry: a
competitor uses its platform's default connection), ``env`` (a variable of the environment or ``.env``,
named) or ``none`` (a public account).  :func:`describe` turns that and the token store's expiry
(:mod:`warehouse.tokens`) into three short texts that ``socialkpi status``, ``socialkpi doctor`` and the
Data health page all show the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from warehouse.access import DbPath, FilePath, open_warehouse
from warehouse.tokens import TokenExpiry, token_rows


@dataclass(frozen=True, slots=True)
class CredentialSource:
    """Where one account's credential came from (the plain facts ``collect`` records)."""

    platform: str
    account_id: str
    source: str  # "connect" | "env" | "none"
    variable: str | None = None  # source "env": the variable's name
    store_key: str | None = None  # source "connect": the token-store entry (an account id)


@dataclass(frozen=True, slots=True)
class Credential:
    """One account's credential, described."""

    platform: str
    account_id: str
    account_name: str
    source: str  # "connect" | "env" | "none" | "missing" | "unknown" (never collected)
    comes_from: str  # "token store (socialkpi connect)", ".env / environment: SOCIALKPI_X_TOKEN", ...
    ends: str  # "2027-01-30", "renewed by collect", "does not expire", "unknown"
    renew: str  # the command, or what to do


def record_credentials(con: duckdb.DuckDBPyConnection, sources: Iterable[CredentialSource], at: datetime) -> None:
    """Upsert where each account's credential came from (one statement; the caller's transaction).

    One ``INSERT ... VALUES (...), (...)`` for every account, not ``executemany`` (one statement per
    account, ~5 ms each: a run of 26 accounts paid ~150 ms); an account given twice: the last one.
    """
    moment = at.astimezone(UTC).replace(tzinfo=None)
    latest = {
        (s.platform, s.account_id): (s.platform, s.account_id, s.source, s.variable, s.store_key) for s in sources
    }
    if not latest:
        return
    values = ", ".join(["(?, ?, ?, ?, ?, ?::TIMESTAMP)"] * len(latest))
    con.execute(
        f"INSERT INTO account_credentials VALUES {values} ON CONFLICT (platform, account_id) DO UPDATE "
        "SET source = excluded.source, variable = excluded.variable, store_key = excluded.store_key, "
        "recorded_at = excluded.recorded_at",
        [value for row in latest.values() for value in (*row, moment)],
    )


def recorded_sources(db_path: DbPath) -> dict[tuple[str, str], CredentialSource]:
    """What the last collect of each account recorded; empty for a warehouse older than schema 5."""
    with open_warehouse(db_path) as (con, _):
        try:
            found = con.execute(
                "SELECT platform, account_id, source, variable, store_key FROM account_credentials"
            ).fetchall()
        except duckdb.CatalogException:
            return {}
    return {(p, a): CredentialSource(p, a, s, v, k) for p, a, s, v, k in found}


SELF_HOSTED_FLAG = {"matomo": "--url", "umami": "--url", "plausible": "--url", "mastodon": "--instance"}
CLOUD = {"plausible": "https://plausible.io", "umami": "https://api.umami.is"}


def connect_command(platform: str, *, server: str | None = None) -> str:
    """The command that connects (or renews) an account, with its self-hosted server when it has one."""
    flag = SELF_HOSTED_FLAG.get(platform)
    if not flag or not server or server.rstrip("/") == CLOUD.get(platform):
        return "socialkpi connect " + platform
    from collectors.redaction import redact_userinfo

    value = redact_userinfo(server.rstrip("/"))  # a server's user:password@ is never shown
    if flag == "--instance":
        value = value.split("://", 1)[-1]
    return f"socialkpi connect {platform} {flag} {value}"


def describe(
    source: CredentialSource | None,
    *,
    competitor: bool,
    expiry: TokenExpiry | None,
    account_name: str = "",
    missing: str = "",
) -> Credential:
    """The three texts of one account's credential (``expiry``: the token store's entry it uses, if any)."""
    platform = source.platform if source else ""
    account_id = source.account_id if source else ""
    renew_cmd = connect_command(platform, server=expiry.server if expiry is not None else None)
    if source is None:
        return Credential(platform, account_id, account_name, "unknown", "not collected yet", "unknown", renew_cmd)
    if source.source == "missing":
        return Credential(platform, account_id, account_name, "missing", f"MISSING: {missing}", "-", renew_cmd)
    if source.source == "none":
        return Credential(platform, account_id, account_name, "none", "none needed (public numbers)", "-", "-")
    if source.source == "connect":
        via = "token store (socialkpi connect)"
        if competitor and source.store_key and source.store_key != account_id:
            via += f", the connection of {source.store_key}"
        renew = f"{renew_cmd}" + (" (your own account's connection)" if competitor else "")
        return Credential(platform, account_id, account_name, "connect", via, _ends(expiry), renew)
    variable = source.variable or "?"
    ends = _ends(expiry) if expiry is not None else "unknown (set by hand)"
    renew = f"update {variable} in .env, or {renew_cmd} and remove {variable}"
    return Credential(platform, account_id, account_name, "env", f".env / environment: {variable}", ends, renew)


def _ends(expiry: TokenExpiry | None) -> str:
    if expiry is None:
        return "does not expire"
    if expiry.refreshable:
        until = f" (refresh token until {expiry.refresh_expires_at:%Y-%m-%d})" if expiry.refresh_expires_at else ""
        return f"renewed by collect{until}"
    if expiry.expires_at is None:
        return "does not expire"
    if expiry.self_renewing:
        return f"{expiry.expires_at:%Y-%m-%d}, renewed by collect while valid"
    return f"{expiry.expires_at:%Y-%m-%d}" + (" (estimated: 60 days after first use)" if expiry.first_used_at else "")


def expiry_for(source: CredentialSource, tokens: Sequence[TokenExpiry]) -> TokenExpiry | None:
    """The token-store entry that ``source`` uses (a connection or a refreshed pair), if any."""
    keys = [source.store_key or source.account_id]
    if source.source == "env" and source.variable:
        keys += [f"oauth2:{source.variable}", source.variable]
    for key in keys:
        for row in tokens:
            if row.platform == source.platform and row.account_id == key:
                return row
    return None


def credential_rows(
    db_path: DbPath, tokens_file: FilePath, accounts: Mapping[tuple[str, str], tuple[str, bool]] | None = None
) -> list[Credential]:
    """Every account's credential as the last collect found it (``accounts``: (platform, id) -> (name,
    competitor), default: the warehouse's accounts; ``tokens_file``: its token store), for the Data health
    page."""
    if accounts is None:
        with open_warehouse(db_path) as (con, _):
            accounts = {
                (p, a): (n, bool(c))
                for p, a, n, c in con.execute("SELECT platform, account_id, name, competitor FROM accounts").fetchall()
            }
    sources = recorded_sources(db_path)
    tokens = token_rows(db_path, tokens_file)
    out = []
    for (platform, account_id), (name, competitor) in sorted(accounts.items()):
        source = sources.get((platform, account_id))
        if source is None:
            out.append(
                Credential(
                    platform,
                    account_id,
                    name,
                    "unknown",
                    "not recorded yet (run collect)",
                    "unknown",
                    connect_command(platform),
                )
            )
            continue
        out.append(describe(source, competitor=competitor, expiry=expiry_for(source, tokens), account_name=name))
    return out
