"""Instagram professional accounts through the Instagram API with Facebook Login (graph.facebook.com).

Docs: https://developers.facebook.com/documentation/instagram-platform/api-reference/instagram-user/insights/,
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/business_discovery,
https://developers.facebook.com/docs/graph-api/guides/error-handling and
https://developers.facebook.com/docs/graph-api/overview/rate-limiting/ (Meta's error envelope and throttling codes).

Environment (read by the command line, passed in as ``ctx.credentials``):
    SOCIALKPI_INSTAGRAM_TOKEN     required: a Page access token of the Facebook Page linked to the
                                  Instagram account (from a long-lived user token via /me/accounts: it does
                                  not expire) or a long-lived user token, with instagram_basic,
                                  instagram_manage_insights and pages_read_engagement
    SOCIALKPI_INSTAGRAM_BASE_URL  optional: replaces https://graph.facebook.com (the sandbox)

Metrics (docs/metrics.md): followers <- ``followers_count`` and posts <- ``media_count`` (levels only
given as "now": dated today in the business's time zone); impressions <- insights ``views``; reach <-
``reach``; engagements <- ``total_interactions``; link_clicks <- ``profile_links_taps`` (the successor of
``website_clicks``); profile_views <- ``profile_views`` (undocumented since 2025: when refused, skipped and
recorded, never fatal).  ``impressions`` and ``website_clicks`` are gone and never asked.

Whose day: these metrics are ``metric_type=total_value``: one number for the whole since..until range.  A
daily value is therefore asked one Pacific day at a time (since = 00:00 America/Los_Angeles, until = the
next midnight) and dated by that Pacific day; days that have not ended in Los Angeles are not asked.

Competitors (``competitor = true``, account id = the username): followers and posts through Business
Discovery on the token's own Instagram account, found with ``GET /me?fields=instagram_business_account``
(a Page token) or ``/me/accounts`` (a user token).

Numbers: JSON numbers, whole and not negative (collectors.values.Counts; a string is refused).
What the answer declares: each insights entry's ``period``; ``period=day`` is asked, and an entry of another
period is refused naming it.
No optional endpoint: the insights need instagram_manage_insights, part of the credential asked for, so a
permission refusal fails the account with that advice; a refused metric is skipped alone
(collectors.meta.ask_metrics), as is profile_views.  Business Discovery is a competitor's only call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from collectors.common import each_day, token_env
from collectors.context import CollectContext, Collected
from collectors.errors import AuthError, BadRequest, CollectorError, PayloadError, PermissionDenied, Verdict
from collectors.http import Client
from collectors.meta import (
    PACIFIC as PACIFIC,  # re-exported: the reporting day's zone
)
from collectors.meta import (
    ask_metrics,
    last_complete_pacific_day,
    pacific_bounds,
    pacific_day,
    read_error,
    throttle_wait,
)
from collectors.observation import Observation
from collectors.values import Counts, expect

PLATFORM = "instagram"
API_ROOT = "https://graph.facebook.com"
VERSION = "v26.0"
ACCOUNT_ENDPOINT = "/{version}/{ig_user_id}"
INSIGHTS_ENDPOINT = "/{version}/{ig_user_id}/insights"
ME_ENDPOINT = "/{version}/me"
ME_ACCOUNTS_ENDPOINT = "/{version}/me/accounts"
DEBUG_TOKEN_ENDPOINT = "/{version}/debug_token"  # noqa: S105 (a path, not a secret)
ACCOUNT_FIELDS = "id,username,followers_count,media_count"
DISCOVERY_FIELDS = "business_discovery.username({username}){{username,followers_count,media_count}}"
REQUIRED_SCOPES = ("instagram_basic", "instagram_manage_insights", "pages_read_engagement")

# Instagram's metric -> canonical metric (docs/metrics.md).  All asked with metric_type=total_value.
METRICS: dict[str, str] = {
    "views": "impressions",
    "reach": "reach",
    "total_interactions": "engagements",
    "profile_links_taps": "link_clicks",
    "profile_views": "profile_views",
}
OPTIONAL = frozenset({"profile_views"})  # absent from the v25 table: a refusal is expected, not an error
COUNTS = frozenset({"impressions", "engagements", "link_clicks", "profile_views"})  # missing = 0
# Removed for every version (2025-01-08, 2025-04-21): never requested.
REMOVED = frozenset(
    {
        "impressions", "website_clicks", "email_contacts", "get_direction_clicks", "phone_call_clicks",
        "text_message_clicks", "video_views", "plays",
    }
)  # fmt: skip
USERNAME_RE = re.compile(r"[A-Za-z0-9._]{1,30}")

AUTH_CODES = frozenset({102, 104, 190})
THROTTLE_CODES = frozenset({4, 17, 32, 341, 613, 80001, 80002})
COUNT = Counts(PLATFORM)  # JSON numbers


# -- classification (Meta's envelope, shared with collectors.threads) ---------------------------------


def classify_meta(status: int, headers: Mapping[str, str], body: Any, *, scopes: str) -> Verdict | None:
    """Read Meta's ``{"error": {code, error_subcode, message}}``; the HTTP status is not reliable (https://developers.facebook.com/docs/graph-api/guides/error-handling)."""
    err = read_error(status, body)
    if err is None:
        return None  # no envelope (an empty 500, a proxy page): judge by the HTTP status
    code, sub, message, detail = err.code, err.subcode, err.message, err.detail
    if code in AUTH_CODES:
        return Verdict("auth", detail, code="token_expired" if sub == 463 else "token_invalid")
    if code == 10 or (code is not None and 200 <= code <= 299):
        return Verdict("permission", f"{detail}; the token needs {scopes}", code="permission")
    if code in THROTTLE_CODES:
        return Verdict("throttled", detail, retry_after=throttle_wait(headers), code="throttled")
    if code == 368:  # blocked for policy: minutes of waiting are no use, fail now with a reset time
        return Verdict("throttled", detail, retry_after=3600.0, code="blocked")
    if code == 100:
        if "metric" in message.lower():  # "(#100) metric[0] must be one of ...", "... no longer supported"
            return Verdict("bad_request", detail, code="invalid_metric")
        return Verdict("bad_request", detail, code="unknown_object" if sub == 33 else "invalid_parameter")
    if code == 110:  # business discovery: "Invalid user id", subcode 2207013 "Cannot find User"
        return Verdict("bad_request", str(err.raw.get("error_user_msg") or detail), code="unknown_user")
    if code in (1, 2) or err.raw.get("is_transient") is True:
        return Verdict("server", detail)
    return None


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    return classify_meta(status, headers, body, scopes=", ".join(REQUIRED_SCOPES))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Days: Meta's Pacific reporting day (collectors.meta): pacific_day, pacific_bounds,
# last_complete_pacific_day; collectors.common.each_day walks the days of a range.


# -- parsers ------------------------------------------------------------------------------------------


def parse_account(payload: Any, *, account_id: str, day: date, collected_at: datetime) -> list[Observation]:
    """``GET /{ig-user-id}?fields=followers_count,media_count`` -> today's followers and posts."""
    if not isinstance(payload, dict):
        raise PayloadError("instagram: the account answer is not an object", platform=PLATFORM)
    return _levels(payload, account_id=account_id, day=day, collected_at=collected_at)


def parse_business_discovery(payload: Any, *, account_id: str, day: date, collected_at: datetime) -> list[Observation]:
    """``GET /{own-ig-user-id}?fields=business_discovery.username(x){...}`` -> a competitor's levels."""
    found = payload.get("business_discovery") if isinstance(payload, dict) else None
    if not isinstance(found, dict):
        raise PayloadError("instagram: the answer has no business_discovery object", platform=PLATFORM)
    return _levels(found, account_id=account_id, day=day, collected_at=collected_at)


def _levels(node: Mapping[str, Any], *, account_id: str, day: date, collected_at: datetime) -> list[Observation]:
    rows = []
    for source, metric in (("followers_count", "followers"), ("media_count", "posts")):
        value = node.get(source)
        if value is None:
            continue  # left out when the token may not read it
        rows.append(Observation(PLATFORM, account_id, metric, day, COUNT(value, source), source, collected_at))
    return rows


def parse_insights(
    payload: Any, *, account_id: str, day: date, requested: Sequence[str], collected_at: datetime
) -> list[Observation]:
    """``GET /{ig-user-id}/insights?metric_type=total_value`` for one Pacific day -> rows dated ``day``.

    Each ``data`` entry carries ``total_value.value`` (breakdowns are ignored).  Instagram answers "no
    data" with an empty list, not zeros: a requested count that is missing is a 0 for the day; reach (a
    distinct count) is never invented.
    """
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise PayloadError("instagram: the insights answer has no data list", platform=PLATFORM)
    rows: list[Observation] = []
    seen: set[str] = set()
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise PayloadError("instagram: an insights entry has no name", platform=PLATFORM)
        source = entry["name"]
        if source not in METRICS or source in seen:
            continue
        expect(entry.get("period"), "day", field="period", what=f"insights {source}", platform=PLATFORM)
        value = _total_value(entry, source, day)
        if value is None:
            continue
        seen.add(source)
        rows.append(Observation(PLATFORM, account_id, METRICS[source], day, value, source, collected_at))
    for source in requested:
        if source in METRICS and source not in seen and METRICS[source] in COUNTS:
            rows.append(Observation(PLATFORM, account_id, METRICS[source], day, 0, source, collected_at))
    return rows


def _total_value(entry: Mapping[str, Any], source: str, day: date) -> int | None:
    total = entry.get("total_value")
    if isinstance(total, dict):
        value = total.get("value")
    elif isinstance(entry.get("values"), list):  # a time_series answer (reach can be one): the asked day
        value = None
        for item in entry["values"]:
            if not isinstance(item, dict) or not isinstance(item.get("end_time"), str):
                raise PayloadError(f"instagram: a {source} value has no end_time", platform=PLATFORM)
            if pacific_day(item["end_time"]) == day:
                value = item.get("value")
    else:
        raise PayloadError(f"instagram: {source} has neither total_value nor values", platform=PLATFORM)
    if value is None:
        return None
    return COUNT(value, f"{source} on {day}")


def parse_debug_token(payload: Any) -> dict[str, Any]:
    """``GET /debug_token`` -> ``{"valid", "expires_at" (datetime | None: never), "scopes"}``."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise PayloadError("instagram: debug_token answered without data", platform=PLATFORM)
    expires = data.get("expires_at")
    scopes = data.get("scopes")
    return {
        "valid": data.get("is_valid") is True,
        "expires_at": datetime.fromtimestamp(expires, UTC) if _is_number(expires) and expires else None,
        "scopes": [s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else None,
    }


# -- I/O ----------------------------------------------------------------------------------------------


def _root(ctx: CollectContext) -> str:
    return (ctx.credentials.base_url or API_ROOT).rstrip("/")


def _env(ctx: CollectContext) -> str:
    return token_env(ctx)


def _prepare(client: Client, ctx: CollectContext) -> None:
    token = ctx.credentials.token
    if not token:
        raise AuthError(
            f"instagram: no access token; set {_env(ctx)} to a Page access token of the Facebook Page "
            "linked to the Instagram account",
            platform=PLATFORM,
        )
    client.use_token(token)  # never access_token= in a URL


def _username(ctx: CollectContext) -> str:
    name = ctx.account.id.strip().removeprefix("@")
    if not USERNAME_RE.fullmatch(name):
        raise BadRequest(
            f"instagram: {ctx.account.id!r} is not an Instagram username (letters, digits, '.' and '_', "
            "at most 30): a competitor account's id is its username",
            platform=PLATFORM,
        )
    return name


def _own_id(ctx: CollectContext) -> str:
    if not ctx.account.id.isdigit():
        raise BadRequest(
            f"instagram: {ctx.account.id!r} is not an Instagram professional account id (digits, 17841…): "
            "find it with GET /{page-id}?fields=instagram_business_account, or set competitor = true "
            "for someone else's username",
            platform=PLATFORM,
        )
    return ctx.account.id


def own_ig_user_id(client: Client, ctx: CollectContext) -> str:
    """The token's own Instagram account id (the node Business Discovery is asked on): the account option,
    else the one ``socialkpi connect`` kept with the connection, else asked of the token's ``me``."""
    known = ctx.options.get("ig_user_id") or ctx.credentials.extra.get("ig_user_id")
    if known:
        return known
    root = _root(ctx)
    try:  # a Page token: "me" is the Page
        me = client.get_json(
            root + ME_ENDPOINT.format(version=VERSION), params={"fields": "instagram_business_account"}
        )
        found = _ig_account_of(me)
        if found:
            return found
    except BadRequest:  # a user token: "me" is a person, who has no such field
        pass
    pages = client.get_json(
        root + ME_ACCOUNTS_ENDPOINT.format(version=VERSION), params={"fields": "instagram_business_account"}
    )
    for page in pages.get("data", []) if isinstance(pages, dict) else []:
        found = _ig_account_of(page)
        if found:
            return found
    raise PermissionDenied(
        "instagram: the token reaches no Facebook Page linked to an Instagram professional account; "
        "Business Discovery needs one: link the Instagram account to the Page and use that Page's token",
        platform=PLATFORM,
    )


def _ig_account_of(node: Any) -> str | None:
    acc = node.get("instagram_business_account") if isinstance(node, dict) else None
    ident = acc.get("id") if isinstance(acc, dict) else None
    return str(ident) if isinstance(ident, str | int) and str(ident).isdigit() else None


def _business_discovery(client: Client, ctx: CollectContext) -> tuple[str, Any]:
    """The competitor's username and its Business Discovery answer, asked on the token's own account."""
    username = _username(ctx)
    own = own_ig_user_id(client, ctx)
    payload = client.get_json(
        _root(ctx) + ACCOUNT_ENDPOINT.format(version=VERSION, ig_user_id=own),
        params={"fields": DISCOVERY_FIELDS.format(username=username)},
    )
    return username, payload


def _with_advice(exc: AuthError, ctx: CollectContext) -> AuthError:
    return exc.with_message(
        f"{exc.message}; create a new Page access token (Graph API Explorer, then /me/accounts with a "
        f"long-lived user token) and put it in {_env(ctx)}"
    )


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Today's followers and posts; for an own account also the daily insights of since..until."""
    _prepare(client, ctx)
    root, out = _root(ctx), Collected()
    try:
        if ctx.account.competitor:
            username, payload = _business_discovery(client, ctx)
            out.observations += parse_business_discovery(
                payload, account_id=ctx.account.id, day=ctx.today, collected_at=ctx.collected_at
            )
        else:
            ig_id = _own_id(ctx)
            account = client.get_json(
                root + ACCOUNT_ENDPOINT.format(version=VERSION, ig_user_id=ig_id), params={"fields": ACCOUNT_FIELDS}
            )
            out.observations += parse_account(account, account_id=ig_id, day=ctx.today, collected_at=ctx.collected_at)
            url = root + INSIGHTS_ENDPOINT.format(version=VERSION, ig_user_id=ig_id)
            refused: set[str] = set()
            for day in each_day(since, min(until, last_complete_pacific_day(ctx.collected_at))):
                _insights_day(client, ctx, url, day, refused, out)
    except AuthError as exc:
        raise _with_advice(exc, ctx) from None
    return out


def _insights_day(client: Client, ctx: CollectContext, url: str, day: date, refused: set[str], out: Collected) -> None:
    """All metrics of one Pacific day in one call; on a refusal, each metric alone; skip what stays refused.

    One invalid metric fails the whole request on Meta
    (https://developers.facebook.com/docs/graph-api/reference/page/insights/), so a refusal of the group
    is retried one metric at a time; a metric refused alone is recorded in ``skipped`` and not asked again
    this run.
    """
    since_ts, until_ts = pacific_bounds(day)

    def fetch(batch: list[str]) -> Any:
        params = {
            "metric": ",".join(batch),
            "period": "day",
            "metric_type": "total_value",
            "since": since_ts,
            "until": until_ts,
        }
        return client.get_json(url, params=params)

    def tolerated(exc: CollectorError, batch: Sequence[str]) -> bool:
        # a retired metric (any metric), or any refusal while profile_views is in the batch
        return exc.code == "invalid_metric" or any(m in OPTIONAL for m in batch)

    metrics = [m for m in METRICS if m not in REMOVED]
    for batch, payload in ask_metrics(
        fetch, metrics, refused, out, api="Graph API", errors=(BadRequest, PermissionDenied), tolerated=tolerated
    ):
        out.observations += parse_insights(
            payload, account_id=ctx.account.id, day=day, requested=batch, collected_at=ctx.collected_at
        )


def check(client: Client, ctx: CollectContext) -> str:
    """The cheapest proof that the credential works, for ``socialkpi doctor``; a one-line detail.

    Reads the account's username (or a competitor through Business Discovery), then asks
    ``debug_token`` for the expiry and the granted scopes (best effort: some tokens may not inspect
    themselves).  A missing scope raises PermissionDenied naming it.
    """
    _prepare(client, ctx)
    root = _root(ctx)
    try:
        if ctx.account.competitor:
            username, payload = _business_discovery(client, ctx)
            rows = parse_business_discovery(payload, account_id=username, day=ctx.today, collected_at=ctx.collected_at)
            followers = next((o.value for o in rows if o.metric == "followers"), None)
            detail = f"business discovery of @{username} works"
            if followers is not None:
                detail += f" ({followers:.0f} followers)"
        else:
            payload = client.get_json(
                root + ACCOUNT_ENDPOINT.format(version=VERSION, ig_user_id=_own_id(ctx)),
                params={"fields": "id,username"},
            )
            name = payload.get("username") if isinstance(payload, dict) else None
            detail = f"token valid for @{name}" if name else "token valid"
    except AuthError as exc:
        raise _with_advice(exc, ctx) from None
    try:
        info = parse_debug_token(
            client.get_json(
                root + DEBUG_TOKEN_ENDPOINT.format(version=VERSION), params={"input_token": ctx.credentials.token}
            )
        )
    except CollectorError:
        return detail
    if info["scopes"] is not None:
        missing = [s for s in REQUIRED_SCOPES if s not in info["scopes"]]
        if missing:
            raise PermissionDenied(
                f"instagram: the token lacks {', '.join(missing)}: generate it again with these permissions "
                f"and put it in {_env(ctx)}",
                platform=PLATFORM,
            )
    expires = info["expires_at"]
    return f"{detail}, expires {expires:%Y-%m-%d}" if expires else f"{detail}, does not expire"
