"""YouTube: a channel's subscribers and videos (Data API v3) and, for your own channel, daily views
and subscriber gains and losses (YouTube Analytics API v2).

Docs: https://developers.google.com/youtube/v3/docs/channels/list,
https://developers.google.com/youtube/analytics/reference/reports/query and docs/platform-apis-web.md §2.

Environment (read by the command line, passed in as ``ctx.credentials``):
    SOCIALKPI_YOUTUBE_TOKEN          an API key (``AIza...``, Cloud console > Credentials; public
                                     statistics only, required for competitors) or an OAuth access token
                                     (scopes youtube.readonly and yt-analytics.readonly; lasts about an hour)
    SOCIALKPI_YOUTUBE_REFRESH_TOKEN  optional, with SOCIALKPI_YOUTUBE_CLIENT_ID and _CLIENT_SECRET: an
                                     offline OAuth grant; access tokens are refreshed and kept (0600)
                                     beside the warehouse
    SOCIALKPI_YOUTUBE_BASE_URL       optional: replaces https://www.googleapis.com and
                                     https://youtubeanalytics.googleapis.com (the sandbox)
    SOCIALKPI_YOUTUBE_TOKEN_URL      optional: replaces https://oauth2.googleapis.com/token
An API key travels in the ``X-Goog-Api-Key`` header (Google accepts it there as well as in ``key=``),
so it never sits in a URL; it is registered with the redactor all the same.

Metrics (docs/metrics.md): followers <- ``subscriberCount`` and posts <- ``videoCount`` (JSON strings;
levels only given as "now": dated ``ctx.today``; a hidden subscriber count gives no row and a skipped
note); own channel with OAuth: video_views <- ``views``, followers_gained <- ``subscribersGained``,
followers_lost <- ``subscribersLost``, dated by the report's ``day`` column.  The last days the
Analytics API has not finished are absent: they are left out (not zero) and fetched again later.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from collectors.http import (
    AuthError,
    BadRequest,
    Client,
    PayloadError,
    PermissionDenied,
    Verdict,
    parse_retry_after,
    register_secret,
)
from collectors.observation import CollectContext, Collected, Observation
from collectors.tokens import StoredToken, refresh_access_token

PLATFORM = "youtube"
DATA_ROOT = "https://www.googleapis.com"
ANALYTICS_ROOT = "https://youtubeanalytics.googleapis.com"
TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (an endpoint)
CHANNELS_ENDPOINT = "/youtube/v3/channels"
REPORTS_ENDPOINT = "/v2/reports"
TOKEN_ENDPOINT = "/token"  # noqa: S105 (a path) under SOCIALKPI_YOUTUBE_BASE_URL when no token URL is given
STATISTICS: dict[str, str] = {"subscriberCount": "followers", "videoCount": "posts"}
ANALYTICS: dict[str, str] = {
    "views": "video_views",
    "subscribersGained": "followers_gained",
    "subscribersLost": "followers_lost",
}
PACIFIC = ZoneInfo("America/Los_Angeles")
ENV = "SOCIALKPI_YOUTUBE_TOKEN"
ENV_REFRESH = "SOCIALKPI_YOUTUBE_REFRESH_TOKEN"
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})
KEY_REASONS = frozenset({"keyInvalid", "API_KEY_INVALID", "keyExpired"})
DISABLED_REASONS = frozenset({"accessNotConfigured", "SERVICE_DISABLED"})


# -- classification ----------------------------------------------------------------------------


def seconds_until_pacific_midnight(now: datetime | None = None) -> float:
    """Seconds until YouTube's daily quota resets: the next midnight, Pacific time."""
    current = (now or datetime.now(PACIFIC)).astimezone(PACIFIC)
    midnight = datetime.combine(current.date() + timedelta(days=1), datetime.min.time(), PACIFIC)
    # subtract in UTC: between two datetimes of the same tzinfo Python subtracts wall clocks, wrong across DST
    return max(1.0, (midnight.astimezone(UTC) - current.astimezone(UTC)).total_seconds())


def _reasons(err: dict[str, Any]) -> set[str]:
    """Reasons from the legacy ``errors[]`` array and from ``details[]`` (google.rpc.ErrorInfo)."""
    found: set[str] = set()
    for key in ("errors", "details"):
        items = err.get(key)
        if isinstance(items, list):
            found |= {str(i["reason"]) for i in items if isinstance(i, dict) and isinstance(i.get("reason"), str)}
    return found


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Read Google's envelope ``{"error": {"code", "message", "status"?, "errors": [{"reason"}]}}``.

    YouTube's daily quota is a **403** with reason ``quotaExceeded``: throttled until the next midnight
    Pacific, far beyond any retry policy, so the call fails at once with the reset time.
    """
    err = body.get("error") if isinstance(body, dict) else None
    if status < 400 or not isinstance(err, dict):
        return None
    reasons = _reasons(err)
    state = str(err.get("status") or "")
    message = str(err.get("message") or f"HTTP {status}")
    if reasons & QUOTA_REASONS:
        return Verdict(
            "throttled",
            f"{message} (daily quota of the Cloud project; it resets at midnight Pacific)",
            retry_after=seconds_until_pacific_midnight(),
            code="quota_exceeded",
        )
    if reasons & RATE_REASONS or status == 429 or state == "RESOURCE_EXHAUSTED":
        return Verdict("throttled", message, retry_after=parse_retry_after(headers.get("Retry-After")), code="rate")
    if reasons & KEY_REASONS:
        return Verdict("auth", f"{message} (the API key was refused)", code="key_invalid")
    if status == 401 or state == "UNAUTHENTICATED" or "authError" in reasons:
        return Verdict("auth", message, code="unauthenticated")
    if reasons & DISABLED_REASONS:
        return Verdict(
            "permission",
            f"{message}: enable the YouTube Data API v3 and the YouTube Analytics API in the Cloud project",
            code="service_disabled",
        )
    if status == 403 or state == "PERMISSION_DENIED":
        return Verdict(
            "permission",
            f"{message}: the token needs the scopes youtube.readonly and yt-analytics.readonly, "
            "granted by the channel's owner",
            code="forbidden",
        )
    if status >= 500:
        return Verdict("server", message, retry_after=parse_retry_after(headers.get("Retry-After")))
    if status == 400:
        return Verdict("bad_request", message, code="invalid_argument")
    return None


# -- parsing -----------------------------------------------------------------------------------


def _count(value: Any, name: str) -> int:
    """A uint64 sent as a JSON string (or, defensively, a number)."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise PayloadError(f"youtube: {name} is {value!r:.30}, not a count", platform=PLATFORM)


def parse_channels(
    payload: Any, *, account_id: str, day: date, collected_at: datetime
) -> tuple[list[Observation], list[tuple[str, str]]]:
    """``channels.list`` -> (followers and posts on ``day``, skipped notes).

    An answer without the channel (``totalResults: 0`` and no ``items``) is a BadRequest, not an
    empty success.
    """
    if not isinstance(payload, dict):
        raise PayloadError("youtube: channels.list answered something other than an object", platform=PLATFORM)
    items = payload.get("items", [])
    if not isinstance(items, list):
        raise PayloadError("youtube: items is not a list", platform=PLATFORM)
    item = next((i for i in items if isinstance(i, dict) and i.get("id") == account_id), None)
    if item is None:
        raise BadRequest(
            f"youtube: no channel {account_id} (channels.list found none): check the channel id (UC...) in "
            "socialkpi.toml (YouTube Studio > Settings > Channel > Advanced settings)",
            platform=PLATFORM,
            code="not_found",
        )
    stats = item.get("statistics")
    if not isinstance(stats, dict):
        raise PayloadError("youtube: the channel has no statistics object", platform=PLATFORM)
    rows: list[Observation] = []
    skipped: list[tuple[str, str]] = []
    hidden = stats.get("hiddenSubscriberCount")
    if hidden is not None and not isinstance(hidden, bool):
        raise PayloadError("youtube: hiddenSubscriberCount is not a boolean", platform=PLATFORM)
    for field, metric in STATISTICS.items():
        if field == "subscriberCount" and hidden:
            skipped.append((field, "the channel hides its subscriber count (hiddenSubscriberCount)"))
            continue
        value = _count(stats.get(field), field)
        rows.append(Observation(PLATFORM, account_id, metric, day, value, field, collected_at))
    return rows, skipped


def parse_report(
    payload: Any, *, account_id: str, since: date, until: date, collected_at: datetime
) -> list[Observation]:
    """``reports.query`` with ``dimensions=day`` -> one row per metric per day.

    ``rows`` are positional arrays in ``columnHeaders`` order; ``rows`` is missing when there is no data.
    Days inside since..until up to the newest day answered and without a row are 0; days after it
    are not ready yet and are left out.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("columnHeaders"), list):
        raise PayloadError("youtube: the Analytics answer has no columnHeaders", platform=PLATFORM)
    names = [h.get("name") if isinstance(h, dict) else None for h in payload["columnHeaders"]]
    if "day" not in names:
        raise PayloadError("youtube: the Analytics answer has no day column", platform=PLATFORM)
    wanted = [(i, n) for i, n in enumerate(names) if n in ANALYTICS]
    table = payload.get("rows", [])
    if not isinstance(table, list):
        raise PayloadError("youtube: rows is not a list", platform=PLATFORM)
    values: dict[date, list[tuple[str, int | float]]] = {}
    for row in table:
        if not isinstance(row, list) or len(row) != len(names):
            raise PayloadError("youtube: a report row does not match the column headers", platform=PLATFORM)
        try:
            day = date.fromisoformat(str(row[names.index("day")]))
        except ValueError:
            raise PayloadError(f"youtube: day {row[names.index('day')]!r:.20} is not YYYY-MM-DD") from None
        if not since <= day <= until:
            continue
        cells: list[tuple[str, int | float]] = []
        for index, name in wanted:
            cell = row[index]
            if not isinstance(cell, int | float) or isinstance(cell, bool):
                raise PayloadError(f"youtube: {name} on {day} is {cell!r:.20}, not a number", platform=PLATFORM)
            cells.append((str(name), int(cell) if float(cell).is_integer() else cell))
        values[day] = cells
    if not values:
        return []
    newest = max(values)
    rows: list[Observation] = []
    day = since
    while day <= newest:
        cells = values.get(day) or [(str(n), 0) for _, n in wanted]
        rows += [Observation(PLATFORM, account_id, ANALYTICS[n], day, v, n, collected_at) for n, v in cells]
        day += timedelta(days=1)
    return rows


# -- credentials -------------------------------------------------------------------------------


def is_api_key(token: str | None) -> bool:
    """Google API keys start with ``AIza``; OAuth access tokens (``ya29.``...) do not."""
    return bool(token) and str(token).startswith("AIza")


def token_url(ctx: CollectContext, default: str = TOKEN_URL) -> str:
    creds = ctx.credentials
    if creds.token_url:
        return creds.token_url
    return creds.base_url.rstrip("/") + TOKEN_ENDPOINT if creds.base_url else default


def google_bearer(
    client: Client, ctx: CollectContext, *, platform: str, env_refresh: str, default_url: str = TOKEN_URL
) -> bool:
    """Install a Google OAuth bearer on ``client``; False when there is no OAuth credential to use.

    A fresh token in the token store wins over the static ``env`` token; with a refresh token and the
    OAuth client's id and secret, an expired (or missing) token is refreshed first and an auth error
    refreshes once more, each new token stored (0600) for the next run.  Google does not rotate refresh
    tokens; one that comes back anyway is kept.
    """
    creds, store, account = ctx.credentials, ctx.token_store, ctx.account.id
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
            new = _exchange(client, ctx, refresh_tokens, platform=platform, env_refresh=env_refresh, url=default_url)
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
    client: Client, ctx: CollectContext, refresh_tokens: list[str], *, platform: str, env_refresh: str, url: str
) -> StoredToken:
    creds = ctx.credentials
    last: AuthError | None = None
    for refresh_token in refresh_tokens:
        try:
            return refresh_access_token(
                client,
                token_url(ctx, url),
                refresh_token=refresh_token,
                client_id=creds.client_id,
                client_secret=creds.client_secret,
                env_hint=f"{env_refresh} (apps in Testing mode lose refresh tokens after 7 days: publish the app)",
            )
        except AuthError as exc:
            last = exc
    assert last is not None
    raise AuthError(last.message, platform=platform, status=last.status, code="refresh_refused")


def _api_key_auth(client: Client, key: str) -> None:
    register_secret(key)
    client.auth_headers = lambda: {"X-Goog-Api-Key": key}
    client.refresh = None


# -- I/O ---------------------------------------------------------------------------------------


def _roots(ctx: CollectContext) -> tuple[str, str]:
    base = ctx.credentials.base_url
    return ((base or DATA_ROOT).rstrip("/"), (base or ANALYTICS_ROOT).rstrip("/"))


def _authorize(client: Client, ctx: CollectContext) -> bool:
    """Credentials on ``client``; True when OAuth (Analytics possible), False for an API key."""
    creds = ctx.credentials
    env = creds.token_env or ENV
    client.classify = client.classify or classify
    if ctx.account.competitor:
        if not creds.token:
            raise AuthError(
                f"youtube: a competitor channel is read with an API key: create one (Cloud console > "
                f"APIs & Services > Credentials, YouTube Data API v3 enabled) and put it in {env}",
                platform=PLATFORM,
            )
        _api_key_auth(client, str(creds.token))  # competitors: the API key only
        return False
    if google_bearer(client, ctx, platform=PLATFORM, env_refresh=ENV_REFRESH):
        return True
    if is_api_key(creds.token):
        _api_key_auth(client, str(creds.token))
        return False
    hint = " (SOCIALKPI_GOOGLE_CREDENTIALS is not read for youtube yet)" if creds.google_credentials else ""
    raise AuthError(
        f"youtube: no credentials{hint}: set {env} to an OAuth access token or an API key, or "
        f"{ENV_REFRESH} with SOCIALKPI_YOUTUBE_CLIENT_ID and SOCIALKPI_YOUTUBE_CLIENT_SECRET",
        platform=PLATFORM,
    )


def _advise(exc: AuthError, ctx: CollectContext, oauth: bool) -> AuthError:
    env = ctx.credentials.token_env or ENV
    if exc.code == "refresh_refused":
        return exc
    if oauth:
        advice = (
            f"an OAuth access token lasts about an hour: set a fresh one in {env}, or set {ENV_REFRESH} "
            "with SOCIALKPI_YOUTUBE_CLIENT_ID and SOCIALKPI_YOUTUBE_CLIENT_SECRET to refresh it automatically"
        )
    else:
        advice = f"check the API key in {env} (Cloud console > APIs & Services > Credentials)"
    return AuthError(f"{exc.message}; {advice}", platform=PLATFORM, status=exc.status, code=exc.code)


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Today's subscribers and videos; with OAuth on the own channel also the daily Analytics series."""
    out, before = Collected(), client.requests_made
    oauth = _authorize(client, ctx)
    data_root, analytics_root = _roots(ctx)
    channel = ctx.account.id
    try:
        payload = client.get_json(data_root + CHANNELS_ENDPOINT, params={"part": "statistics", "id": channel})
        rows, skipped = parse_channels(payload, account_id=channel, day=ctx.today, collected_at=ctx.collected_at)
        out.observations += rows
        out.skipped += skipped
        if not oauth and not ctx.account.competitor:
            out.skipped += [
                (
                    name,
                    f"YouTube Analytics needs OAuth, not an API key: set {ENV_REFRESH} with the client id "
                    "and secret (or an OAuth access token) to collect it",
                )
                for name in ANALYTICS
            ]
        elif oauth and since <= until:
            _analytics(client, ctx, analytics_root + REPORTS_ENDPOINT, since, until, out)
    except AuthError as exc:
        raise _advise(exc, ctx, oauth) from None
    out.requests = client.requests_made - before
    return out


def _analytics(client: Client, ctx: CollectContext, url: str, since: date, until: date, out: Collected) -> None:
    """One report for all metrics; if it is refused as invalid, each metric alone, skipping the refused."""
    tries: list[list[str]] = [list(ANALYTICS)]
    while tries:
        metrics = tries.pop(0)
        params = {
            "ids": "channel==MINE",
            "startDate": since.isoformat(),
            "endDate": until.isoformat(),
            "metrics": ",".join(metrics),
            "dimensions": "day",
            "sort": "day",
        }
        try:
            payload = client.get_json(url, params=params)
        except BadRequest as exc:
            if len(metrics) > 1:
                tries = [[m] for m in metrics] + tries
                continue
            out.skipped.append((metrics[0], f"refused by YouTube Analytics: {exc.message}"))
            continue
        out.observations += parse_report(
            payload, account_id=ctx.account.id, since=since, until=until, collected_at=ctx.collected_at
        )


def check(client: Client, ctx: CollectContext) -> str:
    """The cheapest proof: channels.list (1 quota unit); with OAuth, ``mine=true`` to see whose token it is."""
    oauth = _authorize(client, ctx)
    data_root, _ = _roots(ctx)
    params = {"part": "id", "mine": "true"} if oauth else {"part": "id", "id": ctx.account.id}
    try:
        payload = client.get_json(data_root + CHANNELS_ENDPOINT, params=params)
    except AuthError as exc:
        raise _advise(exc, ctx, oauth) from None
    items = payload.get("items") if isinstance(payload, dict) else None
    ids = [i.get("id") for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    if not oauth:
        if ctx.account.id not in ids:
            raise BadRequest(f"youtube: API key valid, but no channel {ctx.account.id}", platform=PLATFORM)
        return f"API key valid; channel {ctx.account.id} found (public statistics only)"
    if ctx.account.id not in ids:
        raise PermissionDenied(
            f"youtube: the OAuth token belongs to {', '.join(map(str, ids)) or 'no channel'}, not "
            f"{ctx.account.id}: authorize with the channel's owner account (or its Brand Account)",
            platform=PLATFORM,
        )
    return f"OAuth token valid for channel {ctx.account.id} (statistics and Analytics)"
