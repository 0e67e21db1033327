"""An account's credentials: which ones a collect takes, where they came from, how they are described.

:func:`credentials_for` reads them for one account, the environment (and ``.env``) first, else the
connection ``socialkpi connect`` left in the token store; :func:`credential_source` says where they came
from, without the secret (what a run records); :func:`live_credentials` describes every configured
account's for ``socialkpi status`` and ``socialkpi doctor``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from collectors import PLATFORMS
from collectors.context import Credentials
from collectors.observation import Account
from socialkpi.validation import ConfigError, check_url

if TYPE_CHECKING:
    from collectors.tokens import TokenStore
    from socialkpi.settings import Settings
    from warehouse.credentials import Credential, CredentialSource


def credentials_for(account: Account, env: Mapping[str, str], store: TokenStore | None = None) -> Credentials:
    """The account's credentials: the environment (and ``.env``) first, else the connection that
    ``socialkpi connect`` left in the token store ``store``; ConfigError when a required one is missing.

    Precedence (README, "Connecting accounts"): a token or refresh token set in the environment wins over
    the token store for that account; the OAuth client, the server URL and the token endpoint likewise
    come from the environment when set there, else from the connection.
    """
    prefix = f"SOCIALKPI_{account.platform.upper()}_"
    spec = PLATFORMS[account.platform]
    token_env = account.token_env or f"{prefix}TOKEN"
    token = env.get(token_env) or None
    google = env.get("SOCIALKPI_GOOGLE_CREDENTIALS") or None if spec.google else None
    if google and not Path(google).expanduser().is_file():
        raise ConfigError(
            "SOCIALKPI_GOOGLE_CREDENTIALS",
            f"no file at {google}: give the path of the service-account or authorized-user JSON Google issued",
        )
    refresh = env.get(f"{prefix}REFRESH_TOKEN") or None
    connection = None
    if not token and not refresh and not google and store is not None:
        connection = store.connection(account.platform, account.id, fallback=account.competitor)
    if spec.needs_token and not token and not google and not refresh and connection is None:
        fix = f"run `socialkpi connect {account.platform}`, or set {token_env} in .env (see .env.example)"
        if spec.google:
            fix += " or SOCIALKPI_GOOGLE_CREDENTIALS to a credentials JSON file"
        raise ConfigError(token_env, f"missing for {account.platform} account {account.id!r}: {fix}")
    base_url = env.get(f"{prefix}BASE_URL") or (connection.base_url if connection else None) or None
    if base_url:
        check_url(base_url, f"{prefix}BASE_URL")
    client_id = env.get(f"{prefix}CLIENT_ID") or None
    client_secret = env.get(f"{prefix}CLIENT_SECRET") or None
    token_url = env.get(f"{prefix}TOKEN_URL") or None
    if token_url:
        check_url(token_url, f"{prefix}TOKEN_URL")
    if connection is not None:
        return Credentials(
            token=connection.token.access_token,
            base_url=base_url.rstrip("/") if base_url else None,
            token_url=token_url or connection.token_url,
            refresh_token=connection.token.refresh_token,
            client_id=client_id or connection.client_id,
            client_secret=client_secret or connection.client_secret,
            token_env=token_env,
            source="store",
            store_key=connection.key,
            extra=dict(connection.extra),
        )
    return Credentials(
        token=token,
        base_url=base_url.rstrip("/") if base_url else None,
        token_url=token_url,
        refresh_token=refresh,
        client_id=client_id,
        client_secret=client_secret,
        google_credentials=str(Path(google).expanduser()) if google else None,
        token_env=token_env,
    )


def credential_source(account: Account, creds: Credentials) -> CredentialSource:
    """Where ``creds`` came from, without the secret: the token store's entry, the variable, or nothing."""
    from warehouse.credentials import CredentialSource  # duckdb: loaded by a collect, not by reading settings

    if creds.source == "store":
        return CredentialSource(account.platform, account.id, "connect", store_key=creds.store_key)
    if creds.token:
        return CredentialSource(account.platform, account.id, "env", variable=creds.token_env)
    if creds.refresh_token:
        variable = f"SOCIALKPI_{account.platform.upper()}_REFRESH_TOKEN"
        return CredentialSource(account.platform, account.id, "env", variable=variable)
    if creds.google_credentials:
        return CredentialSource(account.platform, account.id, "env", variable="SOCIALKPI_GOOGLE_CREDENTIALS")
    if creds.client_secret:  # Umami self-hosted: a user name and password
        variable = f"SOCIALKPI_{account.platform.upper()}_CLIENT_SECRET"
        return CredentialSource(account.platform, account.id, "env", variable=variable)
    return CredentialSource(account.platform, account.id, "none")


def live_credentials(settings: Settings) -> list[Credential]:
    """Each configured account's credential as a collect would take it now (the environment and ``.env``
    first, then the token store), described: where from, when it ends, the command that renews it."""
    from collectors.tokens import TokenStore
    from warehouse.credentials import CredentialSource, describe, expiry_for
    from warehouse.tokens import token_rows

    store = TokenStore.beside(settings.db_path)
    tokens = token_rows(settings.warehouse, store.path)
    out = []
    for account in settings.accounts:
        try:
            source = credential_source(account, credentials_for(account, settings.env, store))
        except ConfigError as exc:
            missing = CredentialSource(account.platform, account.id, "missing")
            out.append(describe(missing, competitor=account.competitor, expiry=None, account_name=account.name,
                                missing=str(exc)))
            continue
        out.append(
            describe(source, competitor=account.competitor, expiry=expiry_for(source, tokens),
                     account_name=account.name)
        )
    return out
