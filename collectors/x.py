"""X (Twitter) API v2: follower and post counts of a profile, one paid read per account per run.

Docs: https://docs.x.com/x-api/users/lookup/introduction (user lookup, ``public_metrics``),
https://docs.x.com/x-api/fundamentals/rate-limits, https://docs.x.com/x-api/fundamentals/response-codes-and-errors,
https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code (refresh),
https://docs.x.com/x-api/getting-started/pricing.

Environment (read by the command line, passed in as ``ctx.credentials``):
    SOCIALKPI_X_TOKEN           the App's Bearer Token (app-only: never expires, enough for every
                                account, own or competitor) or an OAuth 2.0 user access token
    SOCIALKPI_X_REFRESH_TOKEN   optional: an OAuth 2.0 refresh token (scope ``offline.access``); user
    SOCIALKPI_X_CLIENT_ID       access tokens last 2 hours and are refreshed with these; X rotates the
    SOCIALKPI_X_CLIENT_SECRET   refresh token on each use, so the newest pair is kept in the 0600 token
                                file beside the warehouse (the secret only for confidential clients:
                                sent as HTTP Basic)
    SOCIALKPI_X_BASE_URL        optional: replaces https://api.x.com (also for the token endpoint)
    SOCIALKPI_X_TOKEN_URL       optional: replaces the token endpoint

Metrics (docs/metrics.md): followers ← ``public_metrics.followers_count``, posts ←
``public_metrics.tweet_count``.  X gives both only as "now": they are dated ``ctx.today`` (the
business's time zone); ``since``/``until`` do not apply.  Competitors: the same public lookup.

Cost: X bills every user returned ($0.010, deduplicated per UTC day), so a run makes exactly one
``GET /2/users/by/username/{username}?user.fields=public_metrics`` per configured account (plus
retries of refused requests, which return no resource) and asks for no other field or expansion.
The lookup by username works with both an app-only and a user token, which ``/2/users/me`` does not.
Numbers: JSON integers (collectors.values.Counts; a string, a fraction, a negative are refused).  The
answer declares no period (a "now" level) and there is one call: no optional endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from collectors.common import token_env
from collectors.context import CollectContext, Collected
from collectors.errors import AuthError, PayloadError, Verdict, header, seconds_until_epoch
from collectors.http import Client
from collectors.oauth_session import OAuthSession, authorize, refresh_grant
from collectors.observation import Observation
from collectors.values import Counts

PLATFORM = "x"
API_ROOT = "https://api.x.com"
USER_BY_USERNAME = "/2/users/by/username/{username}"
TOKEN_ENDPOINT = "/2/oauth2/token"  # noqa: S105 (a path) POST, grant_type=refresh_token
USER_FIELDS = "public_metrics"  # nothing else: every extra field or expansion can cost money
METRICS: dict[str, str] = {"followers_count": "followers", "tweet_count": "posts"}
COUNT = Counts(PLATFORM)  # JSON numbers
REFRESH_ENV = "SOCIALKPI_X_REFRESH_TOKEN"
CLIENT_ID_ENV = "SOCIALKPI_X_CLIENT_ID"
# Accounts that share one token variable share one refreshed user token (X rotates the refresh
# token: two accounts refreshing the same one would kill it), so the store key is the variable.
STORE_PREFIX = "oauth2:"
REAUTHORIZE = (
    "authorize the App again (OAuth 2.0 Authorization Code with PKCE, scopes "
    "tweet.read users.read offline.access) and put the new refresh token in " + REFRESH_ENV
)


# -- classification ----------------------------------------------------------------------------


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Read X's problem JSON (``title``/``detail``/``type``, ``errors[]``) and ``x-rate-limit-reset``.

    Problem types come with both ``api.twitter.com`` and ``api.x.com`` hosts: only the path's last
    segment is compared (https://docs.x.com/x-api/fundamentals/response-codes-and-errors).  A 200 whose body
    has ``errors`` and no ``data`` is a refusal too (unknown or suspended user).
    """
    kind = _problem_kind(body)
    message = _message(body) or f"HTTP {status}"
    if status < 300:
        if isinstance(body, dict) and "data" not in body and isinstance(body.get("errors"), list):
            if kind in ("resource-not-found", ""):
                return Verdict(
                    "bad_request",
                    f"{message}: check the account id in socialkpi.toml (the username, without @)",
                    code="not_found",
                )
            if kind == "not-authorized-for-resource":
                return Verdict("permission", message, code=kind)
            return Verdict("bad_request", message, code=kind)
        return None
    if status == 429:
        if kind == "usage-capped":
            return Verdict(
                "throttled",
                f"{message}: the X developer account reached its monthly usage cap; raise it in the "
                "Developer Console or wait for the next billing cycle",
                code="usage_capped",
            )
        wait = seconds_until_epoch(header(headers, "x-rate-limit-reset"))
        return Verdict("throttled", f"{message} (x-rate-limit-reset)", retry_after=wait, code="rate_limited")
    if status == 401:
        return Verdict("auth", f"{message}: the token was refused (expired, revoked or not an X token)")
    if status == 403:
        if kind == "client-forbidden":
            advice = "use keys and tokens of a developer App attached to a Project (Developer Console)"
        elif kind == "unsupported-authentication":
            advice = "this endpoint needs a different kind of token (app-only vs user context)"
        else:
            advice = "the App or the token may not read this resource (scopes tweet.read users.read)"
        return Verdict("permission", f"{message}: {advice}", code=kind or "forbidden")
    if status == 402 or kind == "credits-depleted":
        return Verdict("permission", f"{message}: add credits in the X Developer Console", code="credits")
    if status >= 500:
        return Verdict("server", message)
    return Verdict("bad_request", message, code=kind or "invalid_request")


def _problem_kind(body: Any) -> str:
    """The last path segment of the problem ``type`` (top level, else the first error's)."""
    if not isinstance(body, dict):
        return ""
    candidates = [body.get("type")]
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        candidates.append(errors[0].get("type"))
    for value in candidates:
        if isinstance(value, str) and value != "about:blank":
            return value.rstrip("/").rsplit("/", 1)[-1]
    return ""


def _message(body: Any) -> str:
    """``title: detail`` plus the first error's message (the legacy ``{"errors":[{"code":88,...}]}`` too)."""
    if not isinstance(body, dict):
        return body[:200] if isinstance(body, str) else ""
    if isinstance(body.get("error_description"), str):  # the OAuth 2.0 token endpoint's RFC 6749 error
        return f"{body.get('error')}: {body['error_description']}"
    parts = [str(body[k]) for k in ("title", "detail") if isinstance(body.get(k), str)]
    if len(parts) == 2 and parts[0] == parts[1]:
        parts = parts[:1]
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        text = first.get("detail") or first.get("message")
        if isinstance(text, str) and text not in parts:
            code = first.get("code")
            parts.append(f"{text} (code {code})" if isinstance(code, int) else text)
    return ": ".join(parts)


# -- parser ------------------------------------------------------------------------------------


def parse_user(payload: Any, *, account_id: str, day: date, collected_at: datetime) -> list[Observation]:
    """``GET /2/users/by/username/{u}?user.fields=public_metrics`` -> followers and posts on ``day``."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise PayloadError("x: the user lookup answer has no data object", platform=PLATFORM)
    counts = data.get("public_metrics")
    if not isinstance(counts, dict):
        raise PayloadError("x: the user has no public_metrics object", platform=PLATFORM)
    rows: list[Observation] = []
    for source, metric in METRICS.items():
        value = counts.get(source)
        if value is None:
            continue  # left out: the collector records it as skipped
        count = COUNT(value, f"public_metrics.{source}")
        rows.append(Observation(PLATFORM, account_id, metric, day, count, f"public_metrics.{source}", collected_at))
    return rows


# -- tokens ------------------------------------------------------------------------------------


def _authenticate(client: Client, ctx: CollectContext) -> OAuthSession:
    """The shared OAuth session (collectors.tokens): app Bearer Token or user token, refreshed when due."""
    creds = ctx.credentials
    url = creds.token_url or (creds.base_url or API_ROOT).rstrip("/") + TOKEN_ENDPOINT

    def refused(exc: AuthError) -> AuthError:
        return exc.with_message(f"{exc.message.split(': authorize')[0]}: {REAUTHORIZE}")

    session = OAuthSession.from_context(
        client,
        ctx,
        PLATFORM,
        key=creds.store_key or STORE_PREFIX + token_env(ctx),
        exchange=refresh_grant(  # a confidential client's secret goes as HTTP Basic
            client,
            url,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            env_hint=REFRESH_ENV,
            basic_auth=bool(creds.client_secret),
        ),
        missing=f"x: no token; set {token_env(ctx)} to the App's Bearer Token (Developer "
        f"Console > your App > Keys and tokens), or {REFRESH_ENV} and {CLIENT_ID_ENV}",
        app_ready=bool(creds.client_id),
        app_missing=f"x: the user token needs a refresh but {CLIENT_ID_ENV} is not set: set it to the App's "
        "OAuth 2.0 Client ID (Developer Console > your App > Keys and tokens)",
        refused=refused,
    )
    authorize(client, session)
    return session


def _with_advice(exc: AuthError, ctx: CollectContext) -> AuthError:
    env = token_env(ctx)
    advice = f"check {env} (the App's Bearer Token from the Developer Console never expires)"
    if ctx.credentials.refresh_token:
        advice += f", or {REFRESH_ENV}: {REAUTHORIZE}"
    text = exc.message if "authorize the App again" in exc.message else f"{exc.message}; {advice}"
    return exc.with_message(text)


def _lookup(client: Client, ctx: CollectContext) -> Any:
    root = (ctx.credentials.base_url or API_ROOT).rstrip("/")
    url = root + USER_BY_USERNAME.format(username=ctx.account.id.lstrip("@"))
    return client.get_json(url, params={"user.fields": USER_FIELDS})


# -- I/O ---------------------------------------------------------------------------------------


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Today's followers and posts of ``ctx.account`` (own or competitor): one user lookup."""
    out = Collected()
    try:
        _authenticate(client, ctx)
        payload = _lookup(client, ctx)
    except AuthError as exc:
        raise _with_advice(exc, ctx) from None
    out.observations = parse_user(payload, account_id=ctx.account.id, day=ctx.today, collected_at=ctx.collected_at)
    got = {o.source_metric for o in out.observations}
    out.skipped = [(f"public_metrics.{s}", "not in X's answer") for s in METRICS if f"public_metrics.{s}" not in got]
    return out


def check(client: Client, ctx: CollectContext) -> str:
    """The account's own lookup (X has no free call): one read, billed once per UTC day with collect."""
    try:
        auth = _authenticate(client, ctx)
        payload = _lookup(client, ctx)
    except AuthError as exc:
        raise _with_advice(exc, ctx) from None
    rows = parse_user(payload, account_id=ctx.account.id, day=ctx.today, collected_at=ctx.collected_at)
    followers = next((int(o.value) for o in rows if o.metric == "followers"), None)
    if auth.expires_at is not None:
        until = datetime.fromtimestamp(auth.expires_at, UTC)
        kind = f"user token valid until {until:%Y-%m-%d %H:%M} UTC (refreshed automatically)"
    else:
        kind = "token valid"
    return f"{kind}; @{ctx.account.id.lstrip('@')} has {followers} followers (1 user read, ~$0.01)"
