"""Pinterest: the token owner's follower count and daily account analytics through API v5.

Docs: https://developers.pinterest.com/docs/api/v5/ (``user_account/get``,
``user_account/analytics``: the 90-day window, PROCESSING days; ``oauth/token``) and
https://developers.pinterest.com/docs/reference/rate-limits/ (throttling).

Environment (read by the command line, passed in as ``ctx.credentials``):
    SOCIALKPI_PINTEREST_TOKEN          an access token (``pina_…``, about 30 days) with the
                                       ``user_accounts:read`` scope; optional when a refresh token is set
    SOCIALKPI_PINTEREST_REFRESH_TOKEN  optional: a continuous refresh token (``pinr_…``, 60 days, rotated
                                       on every refresh); needs the two below
    SOCIALKPI_PINTEREST_CLIENT_ID      optional: the app id (sent as HTTP Basic to the token endpoint)
    SOCIALKPI_PINTEREST_CLIENT_SECRET  optional: the app secret
    SOCIALKPI_PINTEREST_BASE_URL       optional: replaces https://api.pinterest.com (the sandbox)
    SOCIALKPI_PINTEREST_TOKEN_URL      optional: replaces https://api.pinterest.com/v5/oauth/token

Metrics (docs/metrics.md): followers ← ``follower_count`` (a level only given as "now": dated today
in the business's time zone); impressions ← ``IMPRESSION``, engagements ← ``ENGAGEMENT``,
link_clicks ← ``OUTBOUND_CLICK``, each dated by the answer's ``date`` field (a UTC day).  Only
``READY`` days are written; ``PROCESSING`` and ``ESTIMATE`` days are left out and fetched again by a
later run (keep ``lookback_days`` at a week); other statuses (``BEFORE_BUSINESS_CREATED`` ...) carry
no value and are noted.  Pinterest answers at most 90 days back: an older ``since`` is clamped and
the clamp noted in ``Collected.skipped``.  The account id is the username of the token's own account:
a token of another account fails the run.  Competitors: Pinterest's API has no public profile lookup.

Numbers: JSON numbers, whole (collectors.values.Counts; a string is refused: Pinterest sends none).
What the answer declares: it is keyed by split value, ``all`` when not split (no split is asked: any other
key is refused), and its days must lie inside the asked start_date..end_date.
Optional: ``user_account/analytics``.  Refused for a permission after ``user_account`` answered ("Not
authorized to access the user account analytics": analytics need a business account), its metrics are
skipped with the reason and the follower count is still written (collectors.optional).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from collectors.common import chunks, each_day, token_env
from collectors.context import CollectContext, Collected
from collectors.errors import (
    AuthError,
    BadRequest,
    PayloadError,
    Verdict,
    header,
    parse_retry_after,
    seconds_until_epoch,
)
from collectors.http import Client
from collectors.oauth_session import OAuthSession, refresh_grant, wrong_owner
from collectors.oauth_session import authorize as authorize_session
from collectors.observation import Observation
from collectors.optional import optional
from collectors.tokens import StoredToken
from collectors.values import Counts, expect

PLATFORM = "pinterest"
API_ROOT = "https://api.pinterest.com"
VERSION = "v5"
USER_ACCOUNT_ENDPOINT = "/{version}/user_account"
ANALYTICS_ENDPOINT = "/{version}/user_account/analytics"
TOKEN_ENDPOINT = "/{version}/oauth/token"  # noqa: S105 (a path, not a secret)
MAX_DAYS_BACK = 90  # start_date "not more than 90 days back from today" (UTC)
MAX_RANGE_DAYS = 90  # end_date "not more than 90 days after start_date"
SCOPE = "user_accounts:read"
ENV_HINT = "SOCIALKPI_PINTEREST_REFRESH_TOKEN"
RECONNECT = "run `socialkpi connect pinterest` again to renew the connection"

# Pinterest's metric type -> canonical metric (docs/metrics.md).  All three are additive counts.
METRICS: dict[str, str] = {
    "IMPRESSION": "impressions",
    "ENGAGEMENT": "engagements",
    "OUTBOUND_CLICK": "link_clicks",
}
READY = "READY"
NOT_READY = frozenset({"PROCESSING", "ESTIMATE"})  # not final yet: left out, fetched again later
AUTH_CODES = frozenset({2, 283})  # "Authentication failed.", "The authorization grant is invalid"
PERMISSION_CODES = frozenset({29, 403})
THROTTLE_CODES = frozenset({8})
COUNT = Counts(PLATFORM)  # JSON numbers
SPLIT = "all"  # the key of an answer that is not split (split_field NO_SPLIT, the default)


# -- classification ----------------------------------------------------------------------------


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Read Pinterest's ``{code, message}`` envelope and its ``X-RateLimit-Reset`` (seconds) signal."""
    if status < 400:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    message = body.get("message") if isinstance(body, dict) else None
    text = f"{message if isinstance(message, str) and message else f'HTTP {status}'}" + (
        f" (code {code})" if code is not None else ""
    )
    if status == 429 or code in THROTTLE_CODES:
        return Verdict("throttled", text, retry_after=reset_seconds(headers), code="rate_limited")
    if status == 401 or code in AUTH_CODES:
        return Verdict("auth", text, code="invalid_grant" if code == 283 else "token_invalid")
    if status == 403 or code in PERMISSION_CODES:
        return Verdict(
            "permission",
            f"{text}; the token needs the {SCOPE} scope on a business account: authorize the app again with it",
            code="forbidden",
        )
    if status >= 500:
        return Verdict("server", text, retry_after=parse_retry_after(header(headers, "Retry-After")))
    if status == 400 and isinstance(message, str) and "metric_types" in message:
        return Verdict("bad_request", text, code="invalid_metric")
    return Verdict("bad_request", text, code="invalid_parameters")


def reset_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds until the limit resets: ``X-RateLimit-Reset`` (seconds to wait), else ``Retry-After``."""
    raw = header(headers, "X-RateLimit-Reset")
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = None
        if value is not None:
            # Pinterest sends the seconds left; an epoch (some proxies rewrite it) is read as one.
            return seconds_until_epoch(raw) if value > 1_000_000_000 else max(0.0, value)
    return parse_retry_after(header(headers, "Retry-After"))


# -- parsers -----------------------------------------------------------------------------------


def parse_user_account(payload: Any, *, account_id: str, day: date, collected_at: datetime) -> list[Observation]:
    """``GET /v5/user_account`` -> today's followers (a level Pinterest only gives as "now")."""
    if not isinstance(payload, dict) or not isinstance(payload.get("username"), str):
        raise PayloadError("pinterest: the user_account answer has no username", platform=PLATFORM)
    count = payload.get("follower_count")
    if count is None:
        return []
    value = COUNT(count, "follower_count")
    return [Observation(PLATFORM, account_id, "followers", day, value, "follower_count", collected_at)]


def _daily_metrics(payload: Any) -> list[dict[str, Any]]:
    """The ``all`` split's ``daily_metrics``, shape-checked (an empty object means no data)."""
    if not isinstance(payload, dict):
        raise PayloadError("pinterest: the analytics answer is not an object", platform=PLATFORM)
    if not payload:
        return []
    expect(sorted(payload), [SPLIT], field="split (its keys)", what="user_account/analytics", platform=PLATFORM)
    split = payload.get(SPLIT)
    if not isinstance(split, dict) or not isinstance(split.get("daily_metrics", []), list):
        raise PayloadError("pinterest: the analytics answer has no all.daily_metrics list", platform=PLATFORM)
    entries: list[dict[str, Any]] = split.get("daily_metrics", [])
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("date"), str):
            raise PayloadError("pinterest: a daily_metrics entry has no date", platform=PLATFORM)
        if not isinstance(entry.get("metrics", {}), dict):
            raise PayloadError("pinterest: a daily_metrics entry has no metrics object", platform=PLATFORM)
    return entries


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"pinterest: unexpected date {text[:20]!r}", platform=PLATFORM) from None


def served_metrics(payload: Any, requested: tuple[str, ...]) -> set[str]:
    """The requested metric types the answer carries at all (a retired one is in no day and no summary)."""
    entries = _daily_metrics(payload)
    if not entries:
        return set(requested)  # nothing at all: every count is 0, none is retired
    seen: set[str] = set()
    for entry in entries:
        seen.update(entry.get("metrics", {}))
    summary = payload.get("all", {}).get("summary_metrics")
    if isinstance(summary, dict):
        seen.update(summary)
    return seen & set(requested)


def parse_analytics(
    payload: Any,
    *,
    account_id: str,
    since: date,
    until: date,
    collected_at: datetime,
    metric_types: tuple[str, ...] = tuple(METRICS),
) -> list[Observation]:
    """``GET /v5/user_account/analytics`` -> one row per metric per READY day in since..until.

    A READY day without a metric, and a day inside the range the answer leaves out, are 0 (counts);
    a day not READY (PROCESSING, ESTIMATE, BEFORE_*) gives no row.  A metric type the answer carries
    nowhere is not invented (see :func:`served_metrics`).
    """
    entries = _daily_metrics(payload)
    wanted = [m for m in metric_types if m in METRICS and m in served_metrics(payload, metric_types)]
    rows: list[Observation] = []
    answered: set[date] = set()
    for entry in entries:
        day = _day(entry["date"])
        if not since <= day <= until:
            expect(str(day), f"{since}..{until}", field="date", what="user_account/analytics", platform=PLATFORM)
        if day in answered:
            continue
        answered.add(day)
        if entry.get("data_status") != READY:
            continue
        metrics = entry.get("metrics", {})
        for source in wanted:
            value = metrics.get(source, 0)
            value = 0 if value is None else COUNT(value, f"{source} on {day}")
            rows.append(Observation(PLATFORM, account_id, METRICS[source], day, value, source, collected_at))
    for day in each_day(since, until):
        if day not in answered:
            rows += [Observation(PLATFORM, account_id, METRICS[s], day, 0, s, collected_at) for s in wanted]
    return rows


def unready_days(payload: Any) -> dict[str, list[date]]:
    """Days of the answer that are not READY, by ``data_status``."""
    out: dict[str, list[date]] = {}
    for entry in _daily_metrics(payload):
        status = entry.get("data_status")
        if status != READY:
            out.setdefault(str(status), []).append(_day(entry["date"]))
    return out


# -- tokens ------------------------------------------------------------------------------------


def _token_url(ctx: CollectContext) -> str:
    creds = ctx.credentials
    if creds.token_url:
        return creds.token_url
    return (creds.base_url or API_ROOT).rstrip("/") + TOKEN_ENDPOINT.format(version=VERSION)


def authorize(client: Client, ctx: CollectContext) -> Callable[[], StoredToken | None]:
    """Put the right bearer on ``client`` and install the refresh hook; returns "the token in use".

    A fresh token in the token store wins over ``SOCIALKPI_PINTEREST_TOKEN``; a stored token that has
    expired (or none at all) is refreshed first when a refresh token and the app's id and secret are
    set; an auth error later refreshes once more.  Each new pair is stored (0600) for the next run
    (collectors.oauth_session.OAuthSession; the refresh_token grant with HTTP Basic client auth).
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
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            env_hint=ENV_HINT,
            basic_auth=True,
            extra={"continuous_refresh": "true"},  # apps from before 2025-09-25 must ask for it
        ),
        missing=f"pinterest: no access token; set {env}, or {ENV_HINT} with SOCIALKPI_PINTEREST_CLIENT_ID "
        "and SOCIALKPI_PINTEREST_CLIENT_SECRET",
        app_ready=bool(creds.client_id and creds.client_secret),
        keep_expired=True,  # expired and nothing to refresh it with: the API will say so
        refused=lambda last: AuthError(
            _reconnect(last.message) if creds.source == "store" else last.message,
            platform=PLATFORM,
            status=last.status,
            code="refresh_refused",
        ),
    )
    authorize_session(client, session)
    return lambda: session.current


# -- I/O ---------------------------------------------------------------------------------------


def _root(ctx: CollectContext) -> str:
    return (ctx.credentials.base_url or API_ROOT).rstrip("/")


def _competitor_refused(ctx: CollectContext) -> None:
    if ctx.account.competitor:
        raise BadRequest(
            f"pinterest: {ctx.account.id!r} is marked competitor, but Pinterest's API has no public profile "
            "lookup: only the token's own account can be collected; remove competitor = true or the account",
            platform=PLATFORM,
            code="no_competitors",
        )


def _owner(client: Client, ctx: CollectContext) -> dict[str, Any]:
    """``GET /v5/user_account``, checked to be the configured account."""
    payload = client.get_json(_root(ctx) + USER_ACCOUNT_ENDPOINT.format(version=VERSION))
    if not isinstance(payload, dict) or not isinstance(payload.get("username"), str):
        raise PayloadError("pinterest: the user_account answer has no username", platform=PLATFORM)
    username = payload["username"]
    if username.casefold() != ctx.account.id.lstrip("@").casefold():
        raise wrong_owner(PLATFORM, username, ctx.account.id, token_env(ctx))
    return payload


def _reconnect(message: str) -> str:
    """A refused refresh of a connection made by ``socialkpi connect``: connect again, not .env."""
    return f"{message.split(': authorize the app again')[0]}: {RECONNECT}"


def _with_advice(exc: AuthError, ctx: CollectContext) -> AuthError:
    if exc.code == "refresh_refused":
        return exc
    if ctx.credentials.source == "store":
        return exc.with_message(f"{exc.message}: {RECONNECT}")
    env = token_env(ctx)
    return exc.with_message(
        f"{exc.message}: create a new access token (developers.pinterest.com > My apps, or the OAuth flow "
        f"with {SCOPE}) and put it in {env}, or set {ENV_HINT} with the app's id and secret"
    )


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Today's followers and READY daily analytics for since..until (clamped to Pinterest's 90 days)."""
    _competitor_refused(ctx)
    out = Collected()
    try:
        authorize(client, ctx)
        owner = _owner(client, ctx)
        out.observations += parse_user_account(
            owner, account_id=ctx.account.id, day=ctx.today, collected_at=ctx.collected_at
        )
        if "follower_count" not in owner:
            out.skipped.append(("follower_count", "not in Pinterest's user_account answer"))
        _analytics(client, ctx, since, until, out)
    except AuthError as exc:
        raise _with_advice(exc, ctx) from None
    return out


def _analytics(client: Client, ctx: CollectContext, since: date, until: date, out: Collected) -> None:
    utc_today = ctx.collected_at.astimezone(UTC).date()
    oldest = utc_today - timedelta(days=MAX_DAYS_BACK)
    if since < oldest:
        out.skipped.append(
            (
                "user_account/analytics",
                f"{since}..{min(until, oldest - timedelta(days=1))} is more than {MAX_DAYS_BACK} days back: "
                f"Pinterest no longer answers for it (asked from {oldest})",
            )
        )
        since = oldest
    until = min(until, utc_today - timedelta(days=1))  # a UTC day not over yet has no final numbers
    url = _root(ctx) + ANALYTICS_ENDPOINT.format(version=VERSION)
    active: tuple[str, ...] = tuple(METRICS)
    no_value: dict[str, list[date]] = {}
    analytics = optional(
        out, "user_account/analytics", skip=list(METRICS), metrics="impressions, engagements and link_clicks"
    )
    for start, end in chunks(since, until, MAX_RANGE_DAYS):
        got = analytics.fetch(partial(_fetch, client, url, start, end, active, out))
        if got is None:
            break  # refused: noted, and the chunks kept so far are dropped
        payload, active = got
        if not active:
            break
        served = served_metrics(payload, active)
        for metric in active:
            if metric not in served:
                out.skipped.append((metric, "not in Pinterest's analytics answer (retired?): skipped"))
        active = tuple(m for m in active if m in served)
        analytics.keep(
            parse_analytics(
                payload,
                account_id=ctx.account.id,
                since=start,
                until=end,
                collected_at=ctx.collected_at,
                metric_types=active,
            )
        )
        for status, days in unready_days(payload).items():
            if status not in NOT_READY:  # PROCESSING/ESTIMATE: expected, fetched again by the next run
                no_value.setdefault(status, []).extend(d for d in days if start <= d <= end)
    out.observations += analytics.rows()
    for status, days in sorted(no_value.items()):
        if days and not analytics.refused:
            note = f"{len(days)} day(s) in {min(days)}..{max(days)} carry no value"
            out.skipped.append((f"data_status:{status}", note))


def _fetch(
    client: Client, url: str, start: date, end: date, metrics: tuple[str, ...], out: Collected
) -> tuple[Any, tuple[str, ...]]:
    """One range; metric types Pinterest refuses are skipped and noted, the others still asked."""

    def get(batch: tuple[str, ...]) -> Any:
        params = {"start_date": start.isoformat(), "end_date": end.isoformat(), "metric_types": ",".join(batch)}
        return client.get_json(url, params=params)

    batch = metrics
    while batch:
        try:
            return get(batch), batch
        except BadRequest as exc:
            if exc.code != "invalid_metric":
                raise
            # The message may list the allowed types too: ask each one alone to find the refused ones.
            refused = list(batch) if len(batch) == 1 else [m for m in batch if _refused_alone(get, m)]
            if not refused:
                raise
            for metric in refused:
                out.skipped.append((metric, f"refused by Pinterest: {exc.message}"))
            batch = tuple(m for m in batch if m not in refused)
    return None, ()


def _refused_alone(get: Callable[[tuple[str, ...]], Any], metric: str) -> bool:
    try:
        get((metric,))
    except BadRequest as exc:
        if exc.code == "invalid_metric":
            return True
        raise
    return False


def check(client: Client, ctx: CollectContext) -> str:
    """``socialkpi doctor``: one ``GET /v5/user_account`` (refreshing first when the token has expired)."""
    _competitor_refused(ctx)
    try:
        token = authorize(client, ctx)
        owner = _owner(client, ctx)
    except AuthError as exc:
        raise _with_advice(exc, ctx) from None
    kind = str(owner.get("account_type") or "").lower() or "unknown"
    detail = f"token valid for {owner['username']!r} ({kind} account)"
    used = token()
    if used is not None and used.expires_at is not None:
        detail += f", access token expires {datetime.fromtimestamp(used.expires_at, UTC):%Y-%m-%d}"
    if kind != "business":
        detail += "; analytics need a business account (pinterest.com > Settings > Convert to business)"
    return detail
