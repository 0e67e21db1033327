"""LinkedIn organization pages (Community Management API): followers, gains, page views, share statistics.

Docs: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/follower-statistics,
.../page-statistics, .../share-statistics, https://learn.microsoft.com/en-us/linkedin/marketing/versioning,
https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits,
https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens,
https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/protocol-version (Rest.li encoding).

Environment (read by the command line, passed in as ``ctx.credentials``):
    SOCIALKPI_LINKEDIN_TOKEN          required unless refreshing: a member access token (60 days) with
                                      ``rw_organization_admin``; the member must be an ADMINISTRATOR of the Page
    SOCIALKPI_LINKEDIN_REFRESH_TOKEN  optional (Marketing Developer Platform partners): a 365-day refresh
    SOCIALKPI_LINKEDIN_CLIENT_ID      token and the app's client id and secret; the access token is then
    SOCIALKPI_LINKEDIN_CLIENT_SECRET  refreshed when it expires and kept in the 0600 token file
    SOCIALKPI_LINKEDIN_BASE_URL       optional: replaces https://api.linkedin.com (and, for refreshes,
                                      https://www.linkedin.com)
    SOCIALKPI_LINKEDIN_TOKEN_URL      optional: replaces the token endpoint

Every call sends ``LinkedIn-Version`` (:data:`VERSION`, a sunset version answers 426) and
``X-Restli-Protocol-Version: 2.0.0``; the Rest.li ``timeIntervals`` value goes into the URL raw
(``(timeRange:(start:..,end:..),timeGranularityType:DAY)``), only the URN values are percent-encoded.

Metrics (docs/metrics.md): followers ← networkSizes ``firstDegreeSize`` (a "now" level, dated
``ctx.today``); per UTC day of ``timeRange.start``: followers_gained ← ``organicFollowerGain`` +
``paidFollowerGain``, profile_views ← ``allPageViews.pageViews``, impressions ← ``impressionCount``,
link_clicks ← ``clickCount``, engagements ← likes + comments + shares + clicks.  A day LinkedIn
leaves out is a 0; days after the last complete UTC day are not asked for.  A field LinkedIn stops
sending is skipped and recorded, not fatal.

Competitors: networkSizes only.  The docs do not say it works for an organization the member does
not administer (unverified); if LinkedIn refuses, the
account fails with a PermissionDenied that says so, and the other accounts go on.

Numbers: JSON numbers, whole and not negative (collectors.values.Counts; a string is refused).
What the answer declares: each element's ``timeRange`` is its bucket, and ``timeGranularityType:DAY`` is
asked: an element whose ``end - start`` is not one day (a MONTH bucket) is refused, never dated on its
first day.
Optional: the three statistics endpoints, for one reason only: LinkedIn no longer serves one (404 or 410):
its metrics are skipped with the reason and the rest is written (collectors.optional).  A permission
refusal still fails the account: the statistics need the member to be an ADMINISTRATOR of the Page, which
is the credential this collector asks for, and the message says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

from collectors.common import each_day, token_env
from collectors.context import CollectContext, Collected
from collectors.errors import AuthError, PayloadError, PermissionDenied, Verdict
from collectors.http import Client
from collectors.oauth_session import OAuthSession, authorize, refresh_grant
from collectors.observation import Observation
from collectors.optional import optional
from collectors.paging import paginate_next_url
from collectors.values import Counts, expect

PLATFORM = "linkedin"
API_ROOT = "https://api.linkedin.com"
OAUTH_ROOT = "https://www.linkedin.com"
TOKEN_ENDPOINT = "/oauth/v2/accessToken"  # noqa: S105 (a path)
NETWORK_SIZES = "/rest/networkSizes/{urn}?edgeType=COMPANY_FOLLOWED_BY_MEMBER"
FOLLOWER_STATS = "/rest/organizationalEntityFollowerStatistics?q=organizationalEntity&organizationalEntity={urn}"
PAGE_STATS = "/rest/organizationPageStatistics?q=organization&organization={urn}"
SHARE_STATS = "/rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity={urn}"
TIME_INTERVALS = "(timeRange:(start:{start},end:{end}),timeGranularityType:DAY)"  # sent raw, never encoded
VERSION = "202607"  # LinkedIn Marketing July 2026; each version lives at least 12 months
VERSION_SUPPORTED_UNTIL = date(2027, 7, 1)  # about: release + 12 months (the exact sunset is published later)
HEADERS = {"LinkedIn-Version": VERSION, "X-Restli-Protocol-Version": "2.0.0"}
HISTORY_DAYS = 360  # share statistics: a rolling 12-month window (assumed for page/follower statistics too)
TOKEN_ENV = "SOCIALKPI_LINKEDIN_TOKEN"  # noqa: S105 (a variable name)
REFRESH_ENV = "SOCIALKPI_LINKEDIN_REFRESH_TOKEN"
STORE_PREFIX = "oauth2:"
ACCESS_TOKEN_DAYS = 60  # 60 days (programmatic-refresh-tokens, above): a .env token ends by then
REAUTHORIZE = (
    "authorize the app again (3-legged OAuth, scope rw_organization_admin, by a Page ADMINISTRATOR) and put "
    f"the new access token in {TOKEN_ENV} (or the new refresh token in {REFRESH_ENV})"
)
RECONNECT = "run `socialkpi connect linkedin` again (as an ADMINISTRATOR of the Page) to renew the connection"

# Canonical metric -> the fields it adds up (all counts).
FOLLOWER_FIELDS: dict[str, tuple[str, ...]] = {"followers_gained": ("organicFollowerGain", "paidFollowerGain")}
PAGE_FIELDS: dict[str, tuple[str, ...]] = {"profile_views": ("allPageViews.pageViews",)}
SHARE_FIELDS: dict[str, tuple[str, ...]] = {
    "impressions": ("impressionCount",),
    "link_clicks": ("clickCount",),
    "engagements": ("likeCount", "commentCount", "shareCount", "clickCount"),
}
COUNT = Counts(PLATFORM)  # JSON numbers
DAY_MS = 86_400_000  # a DAY bucket's timeRange.end - timeRange.start (UTC days have no DST)


# -- classification ----------------------------------------------------------------------------


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Read LinkedIn's ``{"status", "serviceErrorCode", "code", "message"}`` envelope (https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling)."""
    if status < 400:
        return None
    envelope = body if isinstance(body, dict) else {}
    code = str(envelope["code"]) if isinstance(envelope.get("code"), str) else ""
    text = str(envelope["message"]) if isinstance(envelope.get("message"), str) else ""
    if isinstance(envelope.get("error_description"), str):  # the OAuth token endpoint (RFC 6749 §5.2)
        text = f"{envelope.get('error')}: {envelope['error_description']}"
    service = envelope.get("serviceErrorCode")
    tags = [code] if code else []
    if isinstance(service, int) and not isinstance(service, bool):
        tags.append(f"serviceErrorCode {service}")
    detail = (text or f"HTTP {status}") + (f" ({', '.join(tags)})" if tags else "")
    if status == 401:
        why = {
            "EXPIRED_ACCESS_TOKEN": "the access token expired (they last 60 days)",
            "REVOKED_ACCESS_TOKEN": "the member revoked the access token",
        }.get(code, "the access token was refused")
        return Verdict("auth", f"{detail}: {why}", code=code.lower() or "unauthorized")
    if status == 403:
        return Verdict(
            "permission",
            f"{detail}: the token needs rw_organization_admin and its member must be an ADMINISTRATOR of the Page",
            code=code.lower() or "access_denied",
        )
    if status == 426 or code == "NONEXISTENT_VERSION":
        return Verdict(
            "bad_request",
            f"{detail}: LinkedIn-Version {HEADERS['LinkedIn-Version']} is past its sunset; "
            "update socialkpi (the collector pins the version)",
            code="version_sunset",
        )
    if status == 429:
        if "DAY limit" in text:  # daily quota: nothing changes before 00:00 UTC
            wait = _until_midnight_utc()
            return Verdict("throttled", f"{detail}: daily limit, resets at 00:00 UTC", retry_after=wait)
        return Verdict("throttled", detail)
    if status >= 500:
        uuid = next((v for k, v in headers.items() if k.lower() == "x-li-uuid"), None)
        return Verdict("server", f"{detail}{f' (x-li-uuid {uuid})' if uuid else ''}")
    if status in (404, 410):
        return Verdict("bad_request", detail, code="not_found")
    return Verdict("bad_request", detail, code=code.lower() or "bad_request")


def _until_midnight_utc(now: datetime | None = None) -> float:
    current = now or datetime.now(UTC)
    midnight = datetime.combine(current.date() + timedelta(days=1), datetime.min.time(), UTC)
    return max(1.0, (midnight - current).total_seconds())


# -- URLs --------------------------------------------------------------------------------------


def org_urn(org_id: str) -> str:
    """``urn%3Ali%3Aorganization%3A<id>``: a URN value is percent-encoded, Rest.li structure is not."""
    return quote(f"urn:li:organization:{org_id}", safe="")


def epoch_ms(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1000)


def time_intervals(since: date, until: date) -> str:
    """The raw Rest.li value for the UTC days since..until (``end`` is exclusive)."""
    return TIME_INTERVALS.format(start=epoch_ms(since), end=epoch_ms(until + timedelta(days=1)))


def stats_url(root: str, template: str, org_id: str, since: date, until: date) -> str:
    """A statistics URL built by hand: ``requests`` leaves ``( ) : ,`` as they are, but params= would encode them."""
    return root + template.format(urn=org_urn(org_id)) + "&timeIntervals=" + time_intervals(since, until)


# -- parsers -----------------------------------------------------------------------------------


def parse_network_size(payload: Any, *, account_id: str, day: date, collected_at: datetime) -> list[Observation]:
    """``GET /rest/networkSizes/{urn}`` -> today's followers."""
    size = payload.get("firstDegreeSize") if isinstance(payload, dict) else None
    if size is None:
        raise PayloadError("linkedin: networkSizes has no numeric firstDegreeSize", platform=PLATFORM)
    value = COUNT(size, "networkSizes firstDegreeSize")
    return [Observation(PLATFORM, account_id, "followers", day, value, "firstDegreeSize", collected_at)]


def parse_follower_statistics(
    payload: Any, *, account_id: str, since: date, until: date, collected_at: datetime
) -> list[Observation]:
    """Time-bound ``organizationalEntityFollowerStatistics`` -> followers_gained per UTC day."""
    return _parse_daily(payload, "followerGains", FOLLOWER_FIELDS, account_id, since, until, collected_at)


def parse_page_statistics(
    payload: Any, *, account_id: str, since: date, until: date, collected_at: datetime
) -> list[Observation]:
    """Time-bound ``organizationPageStatistics`` -> profile_views (``views.allPageViews.pageViews``)."""
    return _parse_daily(payload, "totalPageStatistics.views", PAGE_FIELDS, account_id, since, until, collected_at)


def parse_share_statistics(
    payload: Any, *, account_id: str, since: date, until: date, collected_at: datetime
) -> list[Observation]:
    """Time-bound ``organizationalEntityShareStatistics`` -> impressions, link_clicks, engagements."""
    return _parse_daily(payload, "totalShareStatistics", SHARE_FIELDS, account_id, since, until, collected_at)


def _parse_daily(
    payload: Any,
    block: str,
    fields: Mapping[str, tuple[str, ...]],
    account_id: str,
    since: date,
    until: date,
    collected_at: datetime,
) -> list[Observation]:
    """One row per metric per UTC day in since..until; a day without an element is a 0.

    A metric none of whose fields appear in any element of a non-empty answer was retired: no rows
    (the collector records it as skipped) rather than a year of invented zeros.  A field missing
    from one element counts 0 there.
    """
    elements = payload.get("elements") if isinstance(payload, dict) else None
    if not isinstance(elements, list):
        raise PayloadError("linkedin: the statistics answer has no elements list", platform=PLATFORM)
    by_day: dict[date, dict[str, Any]] = {}
    for element in elements:
        if not isinstance(element, dict):
            raise PayloadError("linkedin: a statistics element is not an object", platform=PLATFORM)
        day = _utc_day(element.get("timeRange"))
        values = _dig(element, block)
        if values is None:
            values = {}  # nothing to report that day (or the block was retired: see below)
        if not isinstance(values, dict):
            raise PayloadError(f"linkedin: an element's {block} is not an object", platform=PLATFORM)
        if since <= day <= until:
            by_day.setdefault(day, values)
    for day, values in by_day.items():
        for sources in fields.values():
            for s in sources:
                value = _dig(values, s)
                if value is not None:
                    COUNT(value, f"{block}.{s} on {day}")  # refused here, before any row is built
    rows: list[Observation] = []
    for metric, sources in fields.items():
        if by_day and not any(_dig(v, s) is not None for v in by_day.values() for s in sources):
            continue  # retired (or renamed): none of its fields in any element
        source = "+".join(sources)
        for day in each_day(since, until):
            values = by_day.get(day, {})
            total = 0
            for s in sources:
                value = _dig(values, s)
                total += COUNT(value, s) if value is not None else 0
            rows.append(Observation(PLATFORM, account_id, metric, day, total, source, collected_at))
    return rows


def _utc_day(time_range: Any) -> date:
    """The UTC day of a DAY bucket: ``timeRange.start``; an ``end`` (exclusive) must be one day later."""
    start = time_range.get("start") if isinstance(time_range, dict) else None
    if start is None:
        raise PayloadError("linkedin: an element has no numeric timeRange.start", platform=PLATFORM)
    start = COUNT(start, "timeRange.start")
    end = time_range.get("end")
    if end is not None:
        length = COUNT(end, "timeRange.end") - start
        declared = "1 day" if length == DAY_MS else f"{length / DAY_MS:g} days"
        expect(declared, "1 day", field="timeRange (timeGranularityType DAY)", what="a statistics element",
               platform=PLATFORM)  # fmt: skip
    return datetime.fromtimestamp(start / 1000, UTC).date()


def _dig(obj: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


# -- tokens ------------------------------------------------------------------------------------


def _authenticate(client: Client, ctx: CollectContext) -> OAuthSession:
    """The shared OAuth session (collectors.tokens); LinkedIn's refresh token is not rotated, and a
    refresh token in the environment wins over the stored one (the user put a newer one there)."""
    creds = ctx.credentials
    url = creds.token_url or (creds.base_url or OAUTH_ROOT).rstrip("/") + TOKEN_ENDPOINT

    def refused(exc: AuthError) -> AuthError:
        reason = exc.message.split(": authorize")[0]
        fix = RECONNECT if creds.source == "store" else REAUTHORIZE
        return exc.with_message(f"{reason} (refresh tokens last 365 days from the first authorization): {fix}")

    session = OAuthSession.from_context(
        client,
        ctx,
        PLATFORM,
        key=creds.store_key or STORE_PREFIX + token_env(ctx),
        exchange=refresh_grant(  # client_id and client_secret in the form
            client, url, client_id=creds.client_id, client_secret=creds.client_secret, env_hint=REFRESH_ENV
        ),
        missing=f"linkedin: no access token; set {token_env(ctx)} (LinkedIn Developer Portal > "
        "your app > Auth > OAuth 2.0 tools, scope rw_organization_admin)",
        app_ready=bool(creds.client_id and creds.client_secret),
        app_missing="linkedin: the access token needs a refresh but SOCIALKPI_LINKEDIN_CLIENT_ID and "
        "SOCIALKPI_LINKEDIN_CLIENT_SECRET are not both set (Developer Portal > your app > Auth)",
        env_refresh_wins=True,
        refused=refused,
        env_lifetime_days=ACCESS_TOKEN_DAYS,
    )
    return authorize(client, session, HEADERS)


def _with_advice(exc: AuthError, ctx: CollectContext) -> AuthError:
    if "authorize the app again" in exc.message or "not both set" in exc.message or RECONNECT in exc.message:
        return exc
    if ctx.credentials.source == "store":  # a connection made by `socialkpi connect linkedin`
        renew = "" if ctx.credentials.refresh_token else " (without a refresh token it lasts 60 days)"
        return exc.with_message(f"{exc.message}: {RECONNECT}{renew}")
    env = token_env(ctx)
    refresh = "" if ctx.credentials.refresh_token else f", or set {REFRESH_ENV} with the client id and secret"
    return exc.with_message(
        f"{exc.message}: create a new token (Developer Portal > OAuth 2.0 tools, scope rw_organization_admin) "
        f"and put it in {env}{refresh}"
    )


# -- I/O ---------------------------------------------------------------------------------------


def _pages(client: Client, root: str, url: str) -> Iterator[Any]:
    """A statistics answer and any ``paging.links`` ``rel=next`` pages after it."""

    def next_url(page: Any) -> str | None:
        links = page.get("paging", {}).get("links") if isinstance(page, dict) else None
        for link in links if isinstance(links, list) else []:
            if isinstance(link, dict) and link.get("rel") == "next" and isinstance(link.get("href"), str):
                href = str(link["href"])
                return href if href.startswith("http") else root + href
        return None

    yield from paginate_next_url(client, url, next_url=next_url)


def _merged(client: Client, root: str, url: str) -> dict[str, Any]:
    elements: list[Any] = []
    for page in _pages(client, root, url):
        if not isinstance(page, dict) or not isinstance(page.get("elements"), list):
            raise PayloadError("linkedin: the statistics answer has no elements list", platform=PLATFORM)
        elements += page["elements"]
    return {"elements": elements}


STATS = (
    ("organizationalEntityFollowerStatistics", FOLLOWER_STATS, parse_follower_statistics, FOLLOWER_FIELDS),
    ("organizationPageStatistics", PAGE_STATS, parse_page_statistics, PAGE_FIELDS),
    ("organizationalEntityShareStatistics", SHARE_STATS, parse_share_statistics, SHARE_FIELDS),
)


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Followers today; for an own organization, the daily statistics of since..until (UTC days)."""
    org_id = ctx.account.id
    root = (ctx.credentials.base_url or API_ROOT).rstrip("/")
    out = Collected()
    last_complete = ctx.collected_at.astimezone(UTC).date() - timedelta(days=1)
    until = min(until, last_complete)
    since = max(since, last_complete - timedelta(days=HISTORY_DAYS - 1))
    try:
        _authenticate(client, ctx)
        try:
            size = client.get_json(root + NETWORK_SIZES.format(urn=org_urn(org_id)))
        except PermissionDenied as exc:
            if ctx.account.competitor:
                raise exc.with_message(
                    f"{exc.message.split(': the token needs')[0]}: LinkedIn refused the follower count of an "
                    "organization the member does not administer (networkSizes for other organizations is "
                    "undocumented); remove this competitor from socialkpi.toml"
                ) from None
            raise
        out.observations += parse_network_size(size, account_id=org_id, day=ctx.today, collected_at=ctx.collected_at)
        if not ctx.account.competitor and since <= until:
            for name, template, parse, fields in STATS:
                url = stats_url(root, template, org_id, since, until)
                endpoint = optional(
                    out,
                    name,
                    skip=[f"{name}: {'+'.join(s)}" for s in fields.values()],
                    metrics=" and ".join(fields),
                    permission=False,  # the ADMINISTRATOR role is the credential asked for: fail, with advice
                    unsupported={"not_found"},  # 404/410: LinkedIn no longer serves it
                )
                payload = endpoint.fetch(partial(_merged, client, root, url))
                if payload is None:
                    continue
                rows = parse(payload, account_id=org_id, since=since, until=until, collected_at=ctx.collected_at)
                got = {o.metric for o in rows}
                gone = [sources for metric, sources in fields.items() if metric not in got]
                out.skipped += [("+".join(s), f"not in LinkedIn's {name} answer any more") for s in gone]
                out.observations += rows
    except AuthError as exc:
        raise _with_advice(exc, ctx) from None
    return out


def check(client: Client, ctx: CollectContext) -> str:
    """networkSizes (proves the token and the version); for an own Page, one day of follower statistics
    (proves the admin role and scope)."""
    org_id = ctx.account.id
    root = (ctx.credentials.base_url or API_ROOT).rstrip("/")
    try:
        auth = _authenticate(client, ctx)
        size = client.get_json(root + NETWORK_SIZES.format(urn=org_urn(org_id)))
        rows = parse_network_size(size, account_id=org_id, day=ctx.today, collected_at=ctx.collected_at)
        if not ctx.account.competitor:
            day = ctx.collected_at.astimezone(UTC).date() - timedelta(days=2)
            client.get_json(stats_url(root, FOLLOWER_STATS, org_id, day, day))
    except AuthError as exc:
        raise _with_advice(exc, ctx) from None
    parts = ["token valid"]
    if auth.expires_at is not None:
        parts[0] += f" until {datetime.fromtimestamp(auth.expires_at, UTC):%Y-%m-%d}"
    parts.append(f"organization {org_id} has {int(rows[0].value)} followers")
    parts.append("admin statistics ok" if not ctx.account.competitor else "competitor: networkSizes only (unverified)")
    left = (VERSION_SUPPORTED_UNTIL - ctx.collected_at.astimezone(UTC).date()).days
    version = f"LinkedIn-Version {VERSION} supported until about {VERSION_SUPPORTED_UNTIL:%Y-%m}"
    if left < 60:
        version += ": near its sunset, update socialkpi"
    parts.append(version)
    return "; ".join(parts)
