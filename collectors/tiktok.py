"""TikTok: the token owner's follower and video counts through the Display API v2 (Login Kit).

Docs: https://developers.tiktok.com/doc/tiktok-api-v2-get-user-info,
https://developers.tiktok.com/doc/oauth-user-access-token-management,
https://developers.tiktok.com/doc/tiktok-api-v2-error-handling (the ``error`` object is there on success too) and
.../tiktok-api-v2-rate-limit.

Environment (read by the command line, passed in as ``ctx.credentials``):
    SOCIALKPI_TIKTOK_TOKEN          a user access token (``act.…``) with user.info.basic, user.info.profile
                                    and user.info.stats; optional when a refresh token is set.  Its life is
                                    24 h per TikTok's older docs, 2 h per its 2026 token page:
                                    the ``expires_in`` TikTok answers decides when it is refreshed
    SOCIALKPI_TIKTOK_REFRESH_TOKEN  optional but needed for cron: the refresh token (``rft.…``, 365 days,
                                    rotated: the newest is kept in the token store); needs the two below
    SOCIALKPI_TIKTOK_CLIENT_ID      optional: the app's client key
    SOCIALKPI_TIKTOK_CLIENT_SECRET  optional: the app's client secret
    SOCIALKPI_TIKTOK_BASE_URL       optional: replaces https://open.tiktokapis.com (the sandbox)
    SOCIALKPI_TIKTOK_TOKEN_URL      optional: replaces https://open.tiktokapis.com/v2/oauth/token/

Metrics (docs/metrics.md): followers ← ``follower_count``, posts ← ``video_count`` (public videos).
Both are levels TikTok only gives as "now": dated today in the business's time zone; ``since`` and
``until`` do not apply.  The account id is the username of the token's own account: a token of another
account fails the run.  Competitors: the Display API only answers for the account that authorized the
token (the Research API is for approved researchers only).
Numbers: JSON integers (collectors.values.Counts; a string, a fraction, a negative are refused).  The
answer declares no period (levels) and there is one call: no optional endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from collectors.common import token_env
from collectors.context import CollectContext, Collected
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied, Verdict, header, parse_retry_after
from collectors.http import Client
from collectors.oauth_session import OAuthSession, refresh_grant, wrong_owner
from collectors.oauth_session import authorize as authorize_session
from collectors.observation import Observation
from collectors.tokens import StoredToken
from collectors.values import Counts

PLATFORM = "tiktok"
API_ROOT = "https://open.tiktokapis.com"
VERSION = "v2"
USER_INFO_ENDPOINT = "/{version}/user/info/"
TOKEN_ENDPOINT = "/{version}/oauth/token/"  # noqa: S105 (a path, not a secret)
FIELDS = "open_id,username,display_name,follower_count,video_count"
SCOPES = "user.info.basic, user.info.profile and user.info.stats"
ENV_HINT = "SOCIALKPI_TIKTOK_REFRESH_TOKEN"

# TikTok's field -> canonical metric (docs/metrics.md); both are "now" levels.
METRICS: dict[str, str] = {"follower_count": "followers", "video_count": "posts"}
COUNT = Counts(PLATFORM)  # JSON numbers (int64 in TikTok's field table)

# v2 API ``error.code`` -> kind (tiktok-api-v2-error-handling).
API_CODES: dict[str, str] = {
    "access_token_invalid": "auth",
    "scope_not_authorized": "permission",
    "scope_permission_missed": "permission",
    "rate_limit_exceeded": "throttled",
    "internal_error": "server",
    "invalid_params": "bad_request",
}
# OAuth ``error`` (a string, with error_description) -> kind (oauth-error-handling).
OAUTH_CODES: dict[str, str] = {
    "invalid_grant": "auth",
    "invalid_client": "auth",
    "unauthorized_client": "auth",
    "access_denied": "permission",
    "invalid_scope": "permission",
    "server_error": "server",
    "temporarily_unavailable": "server",
}


# -- classification ----------------------------------------------------------------------------


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Classify on ``error.code`` (``"ok"`` is success), or the OAuth ``error`` string; never on presence."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        code = str(err.get("code") or "")
        if code == "ok":
            return Verdict("ok") if status < 400 else None
        message = str(err.get("message") or code or f"HTTP {status}")
        text = f"{message} (error.code {code or '?'}, log_id {err.get('log_id') or '?'})"
        kind = API_CODES.get(code) or _by_status(status)
    elif isinstance(err, str) and err:
        code = err
        text = f"{body.get('error_description') or err} ({err}, log_id {body.get('log_id') or '?'})"
        kind = OAUTH_CODES.get(code) or ("bad_request" if status < 500 else "server")
    else:
        return None
    if kind == "permission":
        text += f"; the token needs {SCOPES}: authorize the app again with them"
    retry = parse_retry_after(header(headers, "Retry-After")) if kind in ("throttled", "server") else None
    return Verdict(kind, text, retry_after=retry, code=code)


def _by_status(status: int) -> str:
    if status == 401:
        return "auth"
    if status == 403:
        return "permission"
    if status == 429:
        return "throttled"
    return "server" if status >= 500 else "bad_request"


# -- parser ------------------------------------------------------------------------------------


def _user(payload: Any) -> dict[str, Any]:
    data = payload.get("data") if isinstance(payload, dict) else None
    user = data.get("user") if isinstance(data, dict) else None
    if not isinstance(user, dict):
        raise PayloadError("tiktok: the user/info answer has no data.user object", platform=PLATFORM)
    return user


def parse_user_info(payload: Any, *, account_id: str, day: date, collected_at: datetime) -> list[Observation]:
    """``GET /v2/user/info/`` -> today's followers and posts (a field left out gives no row)."""
    user = _user(payload)
    rows: list[Observation] = []
    for source, metric in METRICS.items():
        value = user.get(source)
        if value is None:
            continue
        rows.append(Observation(PLATFORM, account_id, metric, day, COUNT(value, source), source, collected_at))
    return rows


# -- tokens ------------------------------------------------------------------------------------


def _root(ctx: CollectContext) -> str:
    return (ctx.credentials.base_url or API_ROOT).rstrip("/")


def _token_url(ctx: CollectContext) -> str:
    return ctx.credentials.token_url or _root(ctx) + TOKEN_ENDPOINT.format(version=VERSION)


def authorize(client: Client, ctx: CollectContext) -> Callable[[], StoredToken | None]:
    """Put the right bearer on ``client`` and install the refresh hook; returns "the token in use".

    A fresh token in the token store wins over ``SOCIALKPI_TIKTOK_TOKEN``; an expired stored token (the
    usual case: they last a day) or none at all is refreshed first when a refresh token, the client
    key and the secret are set; an auth error refreshes once more.  Each new pair is stored (0600)
    (collectors.oauth_session.OAuthSession; the refresh_token grant with client_key and client_secret in the form).
    """
    creds = ctx.credentials
    env = token_env(ctx)

    session = OAuthSession.from_context(
        client,
        ctx,
        PLATFORM,
        key=ctx.credentials.store_key or ctx.account.id,
        exchange=refresh_grant(
            client,
            _token_url(ctx),
            client_id=None,  # TikTok names it client_key
            client_secret=None,
            env_hint=ENV_HINT,
            extra={"client_key": creds.client_id or "", "client_secret": creds.client_secret or ""},
        ),
        missing=f"tiktok: no access token; set {env}, or {ENV_HINT} with SOCIALKPI_TIKTOK_CLIENT_ID (the client "
        "key) and SOCIALKPI_TIKTOK_CLIENT_SECRET",
        app_ready=bool(creds.client_id and creds.client_secret),
        keep_expired=True,  # expired and nothing to refresh it with: the API will say so
        refused=lambda last: AuthError(last.message, platform=PLATFORM, status=last.status, code="refresh_refused"),
    )
    authorize_session(client, session)
    return lambda: session.current


# -- I/O ---------------------------------------------------------------------------------------


def _competitor_refused(ctx: CollectContext) -> None:
    if ctx.account.competitor:
        raise BadRequest(
            f"tiktok: {ctx.account.id!r} is marked competitor, but TikTok's Display API only answers for the "
            "account that authorized the token (no competitor endpoint): remove competitor = true or the account",
            platform=PLATFORM,
            code="no_competitors",
        )


def _user_info(client: Client, ctx: CollectContext) -> Any:
    """``GET /v2/user/info/``, checked to be the configured account."""
    payload = client.get_json(_root(ctx) + USER_INFO_ENDPOINT.format(version=VERSION), params={"fields": FIELDS})
    user = _user(payload)
    username = user.get("username")
    wanted = ctx.account.id.lstrip("@")
    if not isinstance(username, str) or not username:
        raise PermissionDenied(
            f"tiktok: the answer has no username, so it cannot be matched to {wanted!r}: the token needs "
            f"{SCOPES}: authorize the app again with them",
            platform=PLATFORM,
            code="no_username",
        )
    if username.lstrip("@").casefold() != wanted.casefold():
        raise wrong_owner(PLATFORM, username, wanted, token_env(ctx))
    return payload


def _with_advice(exc: AuthError, ctx: CollectContext) -> AuthError:
    if exc.code == "refresh_refused":
        return exc
    env = token_env(ctx)
    return exc.with_message(
        f"{exc.message}: access tokens expire within a day; set {ENV_HINT} with SOCIALKPI_TIKTOK_CLIENT_ID and "
        f"SOCIALKPI_TIKTOK_CLIENT_SECRET so socialkpi refreshes them, or put a new token in {env}"
    )


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Today's followers and posts (TikTok has no history: ``since``/``until`` do not apply)."""
    _competitor_refused(ctx)
    out = Collected()
    try:
        authorize(client, ctx)
        payload = _user_info(client, ctx)
    except AuthError as exc:
        raise _with_advice(exc, ctx) from None
    out.observations = parse_user_info(payload, account_id=ctx.account.id, day=ctx.today, collected_at=ctx.collected_at)
    user = _user(payload)
    for source in METRICS:
        if user.get(source) is None:
            out.skipped.append((source, "not in TikTok's user/info answer (needs user.info.stats)"))
    return out


def check(client: Client, ctx: CollectContext) -> str:
    """``socialkpi doctor``: the same single ``GET /v2/user/info/`` (refreshing first when expired)."""
    _competitor_refused(ctx)
    try:
        token = authorize(client, ctx)
        user = _user(_user_info(client, ctx))
    except AuthError as exc:
        raise _with_advice(exc, ctx) from None
    detail = f"token valid for {user['username']!r}"
    used = token()
    if used is not None and used.expires_at is not None:
        detail += f", access token expires {datetime.fromtimestamp(used.expires_at, UTC):%Y-%m-%d %H:%M} UTC"
    if not ctx.credentials.refresh_token and not (used is not None and used.refresh_token):
        detail += f"; set {ENV_HINT} (with the client key and secret): access tokens expire within a day"
    return detail
