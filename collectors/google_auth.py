"""Google OAuth shared by ga4, youtube and google_business: credential files, refresh hooks, bearers.

Three ways a Google collector gets its bearer, installed on the :class:`~collectors.http.Client` as
``auth_headers`` / ``refresh`` hooks:

* :func:`google_bearer`: the platform's own variables (youtube, google_business):
  ``SOCIALKPI_<PLATFORM>_TOKEN`` (a static OAuth token, about an hour) and/or
  ``SOCIALKPI_<PLATFORM>_REFRESH_TOKEN`` with ``_CLIENT_ID`` / ``_CLIENT_SECRET``, the refreshed
  tokens kept in the :class:`~collectors.tokens.TokenStore` (0600) for the next run.
* :func:`use_credentials_file`: ``SOCIALKPI_GOOGLE_CREDENTIALS``, the path of a service-account or
  authorized-user JSON file as Google issues it (all three platforms).  :func:`load_google_credentials`
  reads it with the platform's scopes; :func:`google_auth_hooks` refreshes it through google-auth.

A collector tries its own variables first and the shared file second, so a file set up for GA4 never
replaces a working YouTube or Business Profile token.

``token_uri``: a service-account file's ``token_uri`` is kept by google-auth; for an authorized-user
file, ``Credentials.from_authorized_user_info`` always puts Google's endpoint there, so the file's
``token_uri`` is applied with ``.with_token_uri``.  ``SOCIALKPI_<PLATFORM>_TOKEN_URL`` replaces both.
google-auth posts to it through the client's ``requests.Session`` (the calling thread's,
``Client.thread_session``) with the client's timeouts (its own default is 120 s); the client calls the
hooks one thread at a time.  Every refusal becomes an :class:`~collectors.errors.AuthError` saying what to do
for that platform; the file's private key, refresh token and client secret, and every access token,
are registered with the redactor and never appear in a message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from collectors.context import CollectContext
from collectors.errors import AuthError
from collectors.http import Client
from collectors.redaction import register_secret
from collectors.tokens import StoredToken, refresh_access_token

if TYPE_CHECKING:
    import google.auth.exceptions
    from google.auth.credentials import Credentials as GoogleCredentials

# google-auth (~0.1-0.2 s to import, with its crypto) is imported only where a credentials file is used
# (SOCIALKPI_GOOGLE_CREDENTIALS): a collect whose Google accounts use tokens, or that has none, never loads it.

CREDENTIALS_ENV = "SOCIALKPI_GOOGLE_CREDENTIALS"
TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (an endpoint)
TOKEN_ENDPOINT = "/token"  # noqa: S105 (a path) under SOCIALKPI_<PLATFORM>_BASE_URL when no token URL is given
PACIFIC = ZoneInfo("America/Los_Angeles")
SCOPES: dict[str, tuple[str, ...]] = {
    "ga4": ("https://www.googleapis.com/auth/analytics.readonly",),
    "youtube": (
        "https://www.googleapis.com/auth/youtube.readonly",
        "https://www.googleapis.com/auth/yt-analytics.readonly",
    ),
    "google_business": ("https://www.googleapis.com/auth/business.manage",),
}
# Who must sign in (authorized-user file) or be granted access (service account), per platform.
WHO: dict[str, str] = {
    "ga4": "a Google user with access to the GA4 property (or a service account added as Viewer in GA4 Admin > "
    "Property access management)",
    "youtube": "the channel's owner (YouTube does not accept service accounts for a channel's data: use an "
    "authorized-user file)",
    "google_business": "a user who owns or manages the listing",
}
# AuthError codes whose message already says what to do: collectors pass them on unchanged.
EXPLAINED = frozenset({"refresh_refused", "token_uri_unreachable"})


def seconds_until_pacific_midnight(now: datetime | None = None) -> float:
    """Seconds until Google's daily quotas reset: the next midnight, Pacific time.

    Subtracted in UTC: between two datetimes of the same tzinfo Python subtracts wall clocks, which is
    an hour off on the days the clocks change.
    """
    current = (now or datetime.now(PACIFIC)).astimezone(PACIFIC)
    midnight = datetime.combine(current.date() + timedelta(days=1), datetime.min.time(), PACIFIC)
    return max(1.0, (midnight.astimezone(UTC) - current.astimezone(UTC)).total_seconds())


def _short(scopes: Sequence[str]) -> str:
    return " and ".join(s.rsplit("/", 1)[-1] for s in scopes)


# -- SOCIALKPI_GOOGLE_CREDENTIALS ------------------------------------------------------------------
def load_google_credentials(
    path: str, *, scopes: Sequence[str], platform: str, token_url: str | None = None
) -> GoogleCredentials:
    """Service-account or authorized-user credentials from Google's JSON file, with ``scopes``."""
    import google.auth.exceptions
    from google.oauth2 import credentials as user_credentials
    from google.oauth2 import service_account

    where = f"{CREDENTIALS_ENV} ({path})"
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AuthError(f"{platform}: cannot read {where}: {exc.strerror}", platform=platform) from None
    except ValueError:
        raise AuthError(
            f"{platform}: {where} is not JSON: download the key file from Google Cloud again", platform=platform
        ) from None
    if not isinstance(info, dict):
        raise AuthError(f"{platform}: {where} is not a JSON object", platform=platform)
    for key in ("private_key", "refresh_token", "client_secret"):
        if isinstance(info.get(key), str):
            register_secret(info[key])
    kind = info.get("type")
    cred: Any
    try:
        if kind == "service_account":
            cred = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=list(scopes)
            )
        elif kind == "authorized_user":
            cred = user_credentials.Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
                info, scopes=list(scopes)
            )
            if info.get("token_uri"):  # from_authorized_user_info always puts Google's endpoint there
                cred = cred.with_token_uri(str(info["token_uri"]))
        else:
            raise AuthError(
                f"{platform}: {where} has type {str(kind)[:40]!r}: expected a service_account or authorized_user file",
                platform=platform,
            )
    except (ValueError, TypeError, KeyError, AttributeError, google.auth.exceptions.GoogleAuthError) as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise AuthError(
            f"{platform}: {where} is not a usable {kind} file ({reason}): download it from Google Cloud again",
            platform=platform,
        ) from None
    if token_url:
        cred = cred.with_token_uri(token_url)
    result: GoogleCredentials = cred
    return result


def google_auth_hooks(
    client: Client, creds: GoogleCredentials, *, platform: str, scopes: Sequence[str]
) -> tuple[Callable[[], dict[str, str]], Callable[[], bool]]:
    """``(auth_headers, refresh)`` for ``client``: a bearer minted (and re-minted) from ``creds``."""
    import google.auth.transport.requests

    def request(*args: Any, **kwargs: Any) -> Any:  # through the calling thread's session (collectors.http, Threads)
        transport = google.auth.transport.requests.Request(session=client.thread_session)
        return transport(*args, **{"timeout": client.policy.timeout, **kwargs})

    def headers() -> dict[str, str]:
        if not creds.valid:
            _refresh(creds, request, platform, scopes)
        return {"Authorization": f"Bearer {creds.token}"}

    def refresh() -> bool:  # the API refused the token: get a new one and try once more
        _refresh(creds, request, platform, scopes)
        return True

    return headers, refresh


def use_credentials_file(client: Client, ctx: CollectContext, *, platform: str) -> bool:
    """Install hooks from SOCIALKPI_GOOGLE_CREDENTIALS; False when it is not set."""
    path = ctx.credentials.google_credentials
    if not path:
        return False
    scopes = SCOPES[platform]
    creds = load_google_credentials(path, scopes=scopes, platform=platform, token_url=ctx.credentials.token_url)
    client.auth_headers, client.refresh = google_auth_hooks(client, creds, platform=platform, scopes=scopes)
    return True


def _refresh(creds: GoogleCredentials, request: Callable[..., Any], platform: str, scopes: Sequence[str]) -> None:
    import google.auth.exceptions

    try:
        creds.refresh(request)  # type: ignore[no-untyped-call]
    except google.auth.exceptions.RefreshError as exc:
        raise AuthError(
            _refresh_advice(creds, exc, platform, scopes), platform=platform, code="refresh_refused"
        ) from None
    except google.auth.exceptions.TransportError:
        raise AuthError(
            f"{platform}: could not reach the OAuth endpoint (token_uri): check the network, or the token_uri "
            f"in {CREDENTIALS_ENV}",
            platform=platform,
            code="token_uri_unreachable",
        ) from None
    register_secret(creds.token)


def _refresh_advice(
    creds: GoogleCredentials, exc: google.auth.exceptions.RefreshError, platform: str, scopes: Sequence[str]
) -> str:
    from google.oauth2 import service_account

    data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    error = str(data.get("error") or "")
    said = f"{error}: {data.get('error_description') or ''}" if error else str(exc.args[0]) if exc.args else ""
    said = said.splitlines()[0][:200] if said else "no reason given"
    who = WHO.get(platform, "a user with access")
    if error == "invalid_grant" and isinstance(creds, service_account.Credentials):
        advice = (
            "the service-account key was refused (deleted or disabled key, or a wrong clock): "
            f"create a new key and update {CREDENTIALS_ENV}"
        )
    elif error == "invalid_grant":
        advice = (
            "the refresh token was revoked or expired (apps in Testing mode lose them after 7 days): "
            f"authorize again as {who} with the scope {_short(scopes)}, and update {CREDENTIALS_ENV}"
        )
    elif error == "invalid_scope":
        advice = (
            f"{CREDENTIALS_ENV} was not granted the scope {_short(scopes)} that {platform} needs: "
            f"authorize again as {who} with it"
        )
    elif error in {"invalid_client", "unauthorized_client"}:
        advice = f"the OAuth client was refused: check client_id and client_secret in {CREDENTIALS_ENV}"
    else:
        advice = f"the OAuth endpoint refused the credentials: check {CREDENTIALS_ENV}"
    return f"{platform}: {advice} ({said})"


# -- the platform's own variables ------------------------------------------------------------------
def is_api_key(token: str | None) -> bool:
    """Google API keys start with ``AIza``; OAuth access tokens (``ya29.``...) do not."""
    return bool(token) and str(token).startswith("AIza")


def token_url(ctx: CollectContext, default: str = TOKEN_URL) -> str:
    """SOCIALKPI_<PLATFORM>_TOKEN_URL, else ``/token`` under the BASE_URL (the sandbox), else Google's."""
    creds = ctx.credentials
    if creds.token_url:
        return creds.token_url
    return creds.base_url.rstrip("/") + TOKEN_ENDPOINT if creds.base_url else default


def google_bearer(client: Client, ctx: CollectContext, *, platform: str, env_refresh: str) -> bool:
    """Install a bearer from the platform's own variables on ``client``; False when there is none.

    A fresh token in the token store wins over the static token (an API key is not one); with a refresh
    token and the OAuth client's id and secret, an expired (or missing) token is refreshed first and an
    auth error refreshes once more, each new token stored (0600) for the next run.  Google does not
    rotate refresh tokens; one that comes back anyway is kept.
    """
    creds, store = ctx.credentials, ctx.token_store
    account = creds.store_key or ctx.account.id
    static = creds.token if creds.token and not is_api_key(creds.token) else None
    stored = store.get(platform, account) if store is not None else None
    refresh_tokens = [t for t in dict.fromkeys([stored.refresh_token if stored else None, creds.refresh_token]) if t]
    can_refresh = bool(refresh_tokens and creds.client_id and creds.client_secret)
    current: list[str] = []

    def refresh() -> bool:
        if not can_refresh:
            return False
        client.refresh = None  # the token endpoint's own refusal must not recurse into this hook
        try:
            new = _exchange(client, ctx, refresh_tokens, platform=platform, env_refresh=env_refresh)
        finally:
            client.refresh = refresh
        refresh_tokens[:] = [t for t in dict.fromkeys([new.refresh_token, *refresh_tokens]) if t]
        if store is not None:
            store.put(platform, account, new)
        current[:] = [new.access_token]
        return True

    if stored is not None and stored.fresh():
        current.append(stored.access_token)
    elif can_refresh and (stored is not None or not static):
        refresh()
    elif static:
        current.append(static)
    else:
        return False
    register_secret(current[0])
    client.auth_headers = lambda: {"Authorization": f"Bearer {current[0]}"}
    client.refresh = refresh if can_refresh else None
    return True


def _exchange(
    client: Client, ctx: CollectContext, refresh_tokens: list[str], *, platform: str, env_refresh: str
) -> StoredToken:
    creds = ctx.credentials
    last: AuthError | None = None
    for refresh_token in refresh_tokens:
        try:
            return refresh_access_token(
                client,
                token_url(ctx),
                refresh_token=refresh_token,
                client_id=creds.client_id,
                client_secret=creds.client_secret,
                env_hint=f"{env_refresh} (apps in Testing mode lose refresh tokens after 7 days: publish the app)",
            )
        except AuthError as exc:
            last = exc
    assert last is not None
    raise AuthError(last.message, platform=platform, status=last.status, code="refresh_refused")
