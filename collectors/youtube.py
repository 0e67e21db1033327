"""YouTube: a channel's subscribers and videos (Data API v3) and, for your own channel, daily views
and subscriber gains and losses (YouTube Analytics API v2).

Docs: https://developers.google.com/youtube/v3/docs/channels/list,
https://developers.google.com/youtube/analytics/reference/reports/query and
https://developers.google.com/youtube/analytics/v1/data_model.

Environment (read by the command line, passed in as ``ctx.credentials``), the first one set wins:
    socialkpi connect youtube        (or ``connect google``) the token store's connection: the refresh
                                     token and the OAuth client; the access token is renewed when it has
                                     ended.  Competitors without a key in SOCIALKPI_YOUTUBE_TOKEN are read
                                     with the platform's default connection (their public statistics only)
    SOCIALKPI_YOUTUBE_TOKEN          an API key (``AIza...``, Cloud console > Credentials; public
                                     statistics only; when set, competitors are read with it) or an OAuth
                                     access token (scopes youtube.readonly and yt-analytics.readonly; lasts
                                     about an hour)
    SOCIALKPI_YOUTUBE_REFRESH_TOKEN  optional, with SOCIALKPI_YOUTUBE_CLIENT_ID and _CLIENT_SECRET: an
                                     offline OAuth grant; access tokens are refreshed and kept (0600)
                                     beside the warehouse (wins over a static OAuth token)
    SOCIALKPI_GOOGLE_CREDENTIALS     an authorized-user JSON file of the channel's owner (shared with ga4
                                     and google_business; read with the two scopes above), used when none
                                     of the YouTube variables is set
    SOCIALKPI_YOUTUBE_BASE_URL       optional: replaces https://www.googleapis.com and
                                     https://youtubeanalytics.googleapis.com (the sandbox)
    SOCIALKPI_YOUTUBE_TOKEN_URL      optional: replaces https://oauth2.googleapis.com/token (and the
                                     credentials file's ``token_uri``)
An API key travels in the ``X-Goog-Api-Key`` header (Google accepts it there as well as in ``key=``),
so it never sits in a URL; it is registered with the redactor all the same.

Metrics (docs/metrics.md): followers <- ``subscriberCount`` and posts <- ``videoCount`` (JSON strings;
levels only given as "now": dated ``ctx.today``; a hidden subscriber count gives no row and a skipped
note); own channel with OAuth: video_views <- ``views``, followers_gained <- ``subscribersGained``,
followers_lost <- ``subscribersLost``, dated by the report's ``day`` column.  The last days the
Analytics API has not finished are absent: they are left out (not zero) and fetched again later.

Numbers (collectors.values.Counts): the statistics are uint64 strings (a number is read too); the report's
cells are JSON numbers, whole (18552.0 is 18552), and a string there is refused.
What the report declares: its DIMENSION column must be ``day`` alone (a ``month`` or ``country`` column
is another report), and, asked by collect, its METRIC columns the metrics asked and its days inside the
asked range; anything else is refused rather than dated wrongly.
Optional: the YouTube Analytics report, for one reason only: the YouTube Analytics API is not enabled in
the Cloud project (``accessNotConfigured``): its three metrics are skipped with the reason and the
subscribers and videos are still written (collectors.optional).  A token without yt-analytics.readonly,
or refused for the channel, still fails the account: the credential is wrong and says how to fix it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import partial
from typing import Any

from collectors.common import each_day, token_env
from collectors.context import CollectContext, Collected
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied, Verdict, parse_retry_after
from collectors.google_auth import (
    CREDENTIALS_ENV,
    EXPLAINED,
    WHO,
    google_bearer,
    is_api_key,
    seconds_until_pacific_midnight,
    use_credentials_file,
)
from collectors.http import Client
from collectors.observation import Observation
from collectors.optional import OptionalEndpoint, optional
from collectors.values import Counts, expect

PLATFORM = "youtube"
DATA_ROOT = "https://www.googleapis.com"
ANALYTICS_ROOT = "https://youtubeanalytics.googleapis.com"
CHANNELS_ENDPOINT = "/youtube/v3/channels"
REPORTS_ENDPOINT = "/v2/reports"
STATISTICS: dict[str, str] = {"subscriberCount": "followers", "videoCount": "posts"}
ANALYTICS: dict[str, str] = {
    "views": "video_views",
    "subscribersGained": "followers_gained",
    "subscribersLost": "followers_lost",
}
ENV = "SOCIALKPI_YOUTUBE_TOKEN"
ENV_REFRESH = "SOCIALKPI_YOUTUBE_REFRESH_TOKEN"
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})
KEY_REASONS = frozenset({"keyInvalid", "API_KEY_INVALID", "keyExpired"})
DISABLED_REASONS = frozenset({"accessNotConfigured", "SERVICE_DISABLED"})
STATISTIC = Counts(PLATFORM, text=True)  # uint64 "sent as JSON strings"
CELL = Counts(PLATFORM)  # report cells: "Metric values are JSON numbers"


# -- classification ----------------------------------------------------------------------------


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
        value = STATISTIC(stats.get(field), field)
        rows.append(Observation(PLATFORM, account_id, metric, day, value, field, collected_at))
    return rows, skipped


def parse_report(
    payload: Any,
    *,
    account_id: str,
    since: date,
    until: date,
    collected_at: datetime,
    metrics: Sequence[str] | None = None,
) -> list[Observation]:
    """``reports.query`` with ``dimensions=day`` -> one row per metric per day.

    ``rows`` are positional arrays in ``columnHeaders`` order; ``rows`` is missing when there is no data.
    Days inside since..until up to the newest day answered and without a row are 0; days after it
    are not ready yet and are left out.  The DIMENSION columns must be ``day`` alone; ``metrics`` (the
    metrics asked, from collect) must be the METRIC columns, and then no row may fall outside since..until.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("columnHeaders"), list):
        raise PayloadError("youtube: the Analytics answer has no columnHeaders", platform=PLATFORM)
    headers = [h if isinstance(h, dict) else {} for h in payload["columnHeaders"]]
    names = [h.get("name") for h in headers]
    if "day" not in names:
        raise PayloadError("youtube: the Analytics answer has no day column", platform=PLATFORM)
    typed = [h for h in headers if "columnType" in h]
    if typed:
        dims = [h.get("name") for h in typed if h.get("columnType") == "DIMENSION"]
        expect(dims, ["day"], field="columnHeaders (DIMENSION)", what="the Analytics report", platform=PLATFORM)
        if metrics is not None:
            got = [h.get("name") for h in typed if h.get("columnType") == "METRIC"]
            expect(got, list(metrics), field="columnHeaders (METRIC)", what="the Analytics report", platform=PLATFORM)
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
            if metrics is not None:
                expect(
                    day.isoformat(), f"{since}..{until}", field="day", what="the Analytics report", platform=PLATFORM
                )
            continue
        cells: list[tuple[str, int | float]] = []
        for index, name in wanted:
            cells.append((str(name), CELL(row[index], f"{name} on {day}")))
        values[day] = cells
    if not values:
        return []
    newest = max(values)
    rows: list[Observation] = []
    for day in each_day(since, newest):
        cells = values.get(day) or [(str(n), 0) for _, n in wanted]
        rows += [Observation(PLATFORM, account_id, ANALYTICS[n], day, v, n, collected_at) for n, v in cells]
    return rows


# -- credentials -------------------------------------------------------------------------------


def _api_key_auth(client: Client, key: str) -> None:
    client.use_token(key, header="X-Goog-Api-Key", prefix="")
    client.refresh = None


# -- I/O ---------------------------------------------------------------------------------------


def _roots(ctx: CollectContext) -> tuple[str, str]:
    base = ctx.credentials.base_url
    return ((base or DATA_ROOT).rstrip("/"), (base or ANALYTICS_ROOT).rstrip("/"))


def _authorize(client: Client, ctx: CollectContext) -> str:
    """Credentials on ``client``: ``"key"`` (an API key: statistics only), ``"oauth"``, ``"file"`` or, for a
    competitor read with the owner's connection, ``"competitor-oauth"`` (statistics only)."""
    creds = ctx.credentials
    env = token_env(ctx)
    # where a refused refresh token is replaced: a connection's by connecting again
    hint = "socialkpi's token store: run `socialkpi connect youtube` again" if creds.source == "store" else ENV_REFRESH
    if ctx.account.competitor:
        # whichever credential is configured (docs/connect.md): an API key, else the owner's OAuth credentials
        # (a connection, a refresh token or access token in the environment, or the credentials file), which
        # channels.list accepts for any public channel; statistics only either way
        if is_api_key(creds.token):
            _api_key_auth(client, str(creds.token))
            return "key"
        if google_bearer(client, ctx, platform=PLATFORM, env_refresh=hint):
            return "competitor-oauth"
        if use_credentials_file(client, ctx, platform=PLATFORM):
            return "competitor-oauth"
        raise AuthError(
            f"youtube: a competitor channel is read with an API key or your own OAuth credentials: create a key "
            f"(Cloud console > APIs & Services > Credentials, YouTube Data API v3 enabled) and put it in {env}, "
            "or run `socialkpi connect youtube` to read it with your own channel's connection",
            platform=PLATFORM,
        )
    if google_bearer(client, ctx, platform=PLATFORM, env_refresh=hint):
        return "oauth"
    if is_api_key(creds.token):
        _api_key_auth(client, str(creds.token))
        return "key"
    if use_credentials_file(client, ctx, platform=PLATFORM):
        return "file"
    raise AuthError(
        f"youtube: no credentials: set {env} to an OAuth access token or an API key, or {ENV_REFRESH} with "
        f"SOCIALKPI_YOUTUBE_CLIENT_ID and SOCIALKPI_YOUTUBE_CLIENT_SECRET, or {CREDENTIALS_ENV}",
        platform=PLATFORM,
    )


def _advise(exc: AuthError, ctx: CollectContext, mode: str) -> AuthError:
    env = token_env(ctx)
    if exc.code in EXPLAINED:
        return exc
    if mode == "file":
        advice = f"the token from {CREDENTIALS_ENV} was refused: authorize again as {WHO[PLATFORM]}"
    elif mode == "competitor-oauth":
        advice = (
            "your OAuth token was refused: run `socialkpi connect youtube` again (or renew the token in .env), "
            f"or set an API key in {env}"
        )
    elif mode == "oauth":
        advice = (
            f"an OAuth access token lasts about an hour: set a fresh one in {env}, or set {ENV_REFRESH} "
            "with SOCIALKPI_YOUTUBE_CLIENT_ID and SOCIALKPI_YOUTUBE_CLIENT_SECRET to refresh it automatically"
        )
    else:
        advice = f"check the API key in {env} (Cloud console > APIs & Services > Credentials)"
    return exc.with_message(f"{exc.message}; {advice}")


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Today's subscribers and videos; with OAuth on the own channel also the daily Analytics series."""
    out = Collected()
    mode = _authorize(client, ctx)
    oauth = mode not in {"key", "competitor-oauth"}  # Analytics: the own channel's OAuth only
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
                    f"and secret (or an OAuth access token, or {CREDENTIALS_ENV} with {ENV} unset) to collect it",
                )
                for name in ANALYTICS
            ]
        elif oauth and since <= until:
            analytics = optional(
                out,
                "YouTube Analytics reports.query",
                skip=list(ANALYTICS),
                metrics="video_views, followers_gained and followers_lost",
                permission={"service_disabled"},
            )
            analytics.fetch(
                partial(_analytics, client, ctx, analytics_root + REPORTS_ENDPOINT, since, until, analytics)
            )
            out.observations += analytics.rows()
    except AuthError as exc:
        raise _advise(exc, ctx, mode) from None
    return out


def _analytics(
    client: Client, ctx: CollectContext, url: str, since: date, until: date, report: OptionalEndpoint
) -> None:
    """One report for all metrics; if it is refused as invalid, each metric alone, skipping the refused.

    The rows are kept on ``report`` (collectors.optional), written unless the API is refused as disabled.
    """
    out = report.out
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
        report.keep(
            parse_report(
                payload,
                account_id=ctx.account.id,
                since=since,
                until=until,
                collected_at=ctx.collected_at,
                metrics=metrics,
            )
        )


def check(client: Client, ctx: CollectContext) -> str:
    """The cheapest proof: channels.list (1 quota unit); with OAuth, ``mine=true`` to see whose token it is."""
    mode = _authorize(client, ctx)
    oauth = mode not in {"key", "competitor-oauth"}
    data_root, _ = _roots(ctx)
    params = {"part": "id", "mine": "true"} if oauth else {"part": "id", "id": ctx.account.id}
    try:
        payload = client.get_json(data_root + CHANNELS_ENDPOINT, params=params)
    except AuthError as exc:
        raise _advise(exc, ctx, mode) from None
    items = payload.get("items") if isinstance(payload, dict) else None
    ids = [i.get("id") for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    if not oauth:
        what = "your OAuth credentials" if mode == "competitor-oauth" else "API key"
        if ctx.account.id not in ids:
            raise BadRequest(f"youtube: {what} valid, but no channel {ctx.account.id}", platform=PLATFORM)
        return f"{what} valid; channel {ctx.account.id} found (public statistics only)"
    if ctx.account.id not in ids:
        raise PermissionDenied(
            f"youtube: the OAuth token belongs to {', '.join(map(str, ids)) or 'no channel'}, not "
            f"{ctx.account.id}: authorize with the channel's owner account (or its Brand Account)",
            platform=PLATFORM,
        )
    return f"OAuth token valid for channel {ctx.account.id} (statistics and Analytics)"
