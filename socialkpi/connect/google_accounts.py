"""What a Google access token reaches: the GA4 properties, Business Profile listings and YouTube channels.

Discovery, with the access token of the consent (:mod:`socialkpi.connect.google`):

* GA4: the Admin API's account summaries, every page (``GET https://analyticsadmin.googleapis.com/v1beta/
  accountSummaries``: "Returns summaries of all accounts accessible by the caller"; ``pageSize`` "The maximum
  value is 200"), each ``propertySummaries[].property`` (``properties/<id>``) a GA4 property;
* Business Profile: the Account Management API's accounts (``GET https://mybusinessaccountmanagement.
  googleapis.com/v1/accounts``), then per account the Business Information API's locations (``GET
  https://mybusinessbusinessinformation.googleapis.com/v1/accounts/<id>/locations?readMask=name,title``:
  ``readMask`` is "Required"; ``pageSize`` up to 100), a listing reached through two accounts kept once;
* YouTube: ``GET https://www.googleapis.com/youtube/v3/channels?part=snippet,statistics&mine=true``
  ("Set this parameter's value to true to instruct the API to only return channels owned by the
  authenticated user").

A competitor's channel is looked up with ``channels.list`` too (:func:`channel_query` turns a handle, a
channel id or a youtube.com URL into its filter).  Google's error envelope is read by :func:`classify_for`:
an API the Cloud project has not enabled names the API to enable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from collectors.errors import Verdict, parse_retry_after
from collectors.observation import Account
from collectors.paging import paginate_cursor
from collectors.redaction import register_secret
from socialkpi.connect import Found, Session
from socialkpi.connect.flow import ConnectError

ADMIN_ROOT = "https://analyticsadmin.googleapis.com"
ACCOUNTS_ROOT = "https://mybusinessaccountmanagement.googleapis.com"
INFORMATION_ROOT = "https://mybusinessbusinessinformation.googleapis.com"
YOUTUBE_ROOT = "https://www.googleapis.com"
ACCOUNT_SUMMARIES = "/v1beta/accountSummaries"
GBP_ACCOUNTS = "/v1/accounts"
GBP_LOCATIONS = "/v1/{account}/locations"
CHANNELS = "/youtube/v3/channels"
APIS = {  # what the Cloud project must enable for each platform's discovery
    "ga4": "the Google Analytics Admin API",
    "google_business": "the My Business Account Management API and the My Business Business Information API",
    "youtube": "the YouTube Data API v3",
}


NONE = {
    "ga4": "no GA4 property: a Universal Analytics account has none; ask the property's owner for Viewer access",
    "google_business": "no Business Profile listing the account owns or manages",
    "youtube": "no YouTube channel: sign in with the channel's Google account, or pick its Brand Account",
}


def api_root(session: Session, platform: str, default: str) -> str:
    """``SOCIALKPI_<PLATFORM>_BASE_URL`` of the platform discovered (also for ``connect google``), else Google's."""
    return (session.env.get(f"SOCIALKPI_{platform.upper()}_BASE_URL") or default).rstrip("/")


def api_client(session: Session, platform: str, bearer: str | None = None, *, key: str | None = None) -> Any:
    from collectors.http import Client, RetryPolicy

    client = Client(platform, policy=session.policy or RetryPolicy(attempts=3), classify=classify_for(platform))
    if key:
        register_secret(key)
        client.auth_headers = lambda: {"X-Goog-Api-Key": key}  # in a header: never in a URL
    elif bearer:
        client.auth_headers = lambda: {"Authorization": f"Bearer {bearer}"}
    return client


def discover_ga4(session: Session, bearer: str) -> list[Found]:
    """Every GA4 property of the Admin API's account summaries (all pages)."""
    url = api_root(session, "ga4", ADMIN_ROOT) + ACCOUNT_SUMMARIES
    with api_client(session, "ga4", bearer) as client:

        def page(cursor: str | None) -> Any:
            return client.get_json(url, params={"pageSize": 200, **({"pageToken": cursor} if cursor else {})})

        pages = list(paginate_cursor(page, cursor=_next_page))
    return [f for body in pages for f in parse_account_summaries(body)]


def parse_account_summaries(body: Any) -> list[Found]:
    """``{"accountSummaries": [{"account", "displayName", "propertySummaries": [{"property": "properties/ID",
    "displayName", "propertyType", "parent"}]}], "nextPageToken"}`` -> the properties (empty lists left out)."""
    out: list[Found] = []
    summaries = body.get("accountSummaries", []) if isinstance(body, dict) else None
    if not isinstance(summaries, list):
        raise ConnectError("ga4: the account summaries answered without an accountSummaries list: nothing was written")
    for summary in summaries:
        if not isinstance(summary, dict):
            continue
        account = str(summary.get("displayName") or summary.get("account") or "")
        for prop in summary.get("propertySummaries") or []:
            name = prop.get("property") if isinstance(prop, dict) else None
            if not isinstance(name, str) or not name.startswith("properties/"):
                continue
            pid = name.removeprefix("properties/")
            kind = {"PROPERTY_TYPE_SUBPROPERTY": "GA4 subproperty", "PROPERTY_TYPE_ROLLUP": "GA4 roll-up property"}
            what = kind.get(str(prop.get("propertyType") or ""), "GA4 property")
            out.append(
                Found(
                    account=Account("ga4", pid, str(prop.get("displayName") or pid)),
                    detail=f"{what} in account {account}" if account else what,
                )
            )
    return out


def discover_google_business(session: Session, bearer: str) -> list[Found]:
    """The listings of every Business Profile account the person has (accounts, then each one's locations)."""
    accounts_url = api_root(session, "google_business", ACCOUNTS_ROOT) + GBP_ACCOUNTS
    info_root = api_root(session, "google_business", INFORMATION_ROOT)
    found: dict[str, Found] = {}
    with api_client(session, "google_business", bearer) as client:

        def account_page(cursor: str | None) -> Any:
            return client.get_json(accounts_url, params={"pageSize": 20, **({"pageToken": cursor} if cursor else {})})

        accounts = [a for body in paginate_cursor(account_page, cursor=_next_page) for a in items_of(body, "accounts")]
        for account in accounts:
            name = account.get("name")
            if not isinstance(name, str) or not re.fullmatch(r"accounts/\d+", name):
                continue
            url = info_root + GBP_LOCATIONS.format(account=name)

            def location_page(cursor: str | None, url: str = url) -> Any:
                params = {"readMask": "name,title", "pageSize": 100, **({"pageToken": cursor} if cursor else {})}
                return client.get_json(url, params=params)

            for body in paginate_cursor(location_page, cursor=_next_page):
                for location in items_of(body, "locations"):
                    lid = str(location.get("name") or "").removeprefix("locations/")
                    if lid.isdigit() and lid not in found:
                        owner = str(account.get("accountName") or name)
                        found[lid] = Found(
                            account=Account("google_business", lid, str(location.get("title") or lid)),
                            detail=f"Business Profile listing of {owner}",
                        )
    return list(found.values())


def discover_youtube(session: Session, bearer: str) -> list[Found]:
    """The channels the signed-in account owns (``mine=true``: the one picked at the consent for a Brand
    Account)."""
    url = api_root(session, "youtube", YOUTUBE_ROOT) + CHANNELS
    with api_client(session, "youtube", bearer) as client:

        def page(cursor: str | None) -> Any:
            params = {"part": "snippet,statistics", "mine": "true", "maxResults": 50}
            return client.get_json(url, params={**params, **({"pageToken": cursor} if cursor else {})})

        items = [i for body in paginate_cursor(page, cursor=_next_page) for i in items_of(body, "items")]
    return [parse_channel(item) for item in items if isinstance(item.get("id"), str)]


DISCOVER = {"ga4": discover_ga4, "google_business": discover_google_business, "youtube": discover_youtube}


def parse_channel(item: Mapping[str, Any], *, competitor: bool = False) -> Found:
    """A ``youtube#channel`` with ``snippet`` and ``statistics`` (counts are strings)."""
    channel = str(item["id"])
    snippet = item.get("snippet") if isinstance(item.get("snippet"), dict) else {}
    stats = item.get("statistics") if isinstance(item.get("statistics"), dict) else {}
    assert isinstance(snippet, dict) and isinstance(stats, dict)
    title = str(snippet.get("title") or channel)
    parts = [str(snippet["customUrl"])] if snippet.get("customUrl") else []
    subscribers = stats.get("subscriberCount")
    if stats.get("hiddenSubscriberCount") is True:
        parts.append("subscriber count hidden")
    elif isinstance(subscribers, str) and subscribers.isdigit():
        parts.append(f"{int(subscribers):,} subscribers")
    return Found(account=Account("youtube", channel, title, competitor=competitor), detail=", ".join(parts))


def items_of(body: Any, key: str) -> list[dict[str, Any]]:
    """The list ``key`` of a page (left out when empty, as proto-JSON does)."""
    items = body.get(key, []) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ConnectError(f"the answer has no {key} list: nothing was written")
    return [i for i in items if isinstance(i, dict)]


def _next_page(body: Any) -> str | None:
    token = body.get("nextPageToken") if isinstance(body, dict) else None
    return token if isinstance(token, str) and token else None


def classify_for(platform: str) -> Any:
    """Google's error envelope ``{"error": {"code", "message", "status", "errors"|"details"}}`` read for a
    discovery call: an API not enabled names the API to enable."""

    def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
        err = body.get("error") if isinstance(body, dict) else None
        if status < 400 or not isinstance(err, dict):
            return None
        message = str(err.get("message") or f"HTTP {status}")
        state = str(err.get("status") or "")
        reasons = {
            str(d.get("reason"))
            for key in ("errors", "details")
            for d in (err.get(key) or [])
            if isinstance(d, dict) and d.get("reason")
        }
        if reasons & {"SERVICE_DISABLED", "accessNotConfigured"} or "has not been used in project" in message:
            return Verdict(
                "permission", f"{message}: enable {APIS[platform]} in the Cloud project", code="service_disabled"
            )
        if status == 401 or state == "UNAUTHENTICATED":
            return Verdict("auth", message, code="unauthenticated")
        if status == 429 or state == "RESOURCE_EXHAUSTED":
            if platform == "google_business" and ("limit: 0" in message or "limit '0'" in message):
                return Verdict(
                    "permission",
                    f"{message}: the Cloud project has no Business Profile API quota yet: request GBP API access "
                    "(docs/connect.md)",
                    code="not_approved",
                )
            return Verdict("throttled", message, parse_retry_after(headers.get("Retry-After")), code="quota")
        if status == 403 or state == "PERMISSION_DENIED":
            return Verdict("permission", message, code="permission_denied")
        if status == 404:
            return Verdict("bad_request", message, code="not_found")
        if status >= 500:
            return Verdict("server", message, parse_retry_after(headers.get("Retry-After")))
        return Verdict("bad_request", message, code=state.lower() or "invalid_argument")

    return classify


def channel_query(text: str) -> dict[str, str]:
    """``@handle``, ``handle``, ``UC...``, ``youtube.com/@handle``, ``youtube.com/channel/UC...``,
    ``youtube.com/user/NAME`` -> the ``channels.list`` filter that finds it."""
    raw = text.strip()
    if "/" in raw:
        parts = urlsplit(raw if "://" in raw else "https://" + raw)
        host = (parts.hostname or "").lower()
        if not (host == "youtu.be" or host.endswith("youtube.com")):
            raise ConnectError(f"youtube: {text!r} is not a YouTube address: nothing was written")
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) >= 2 and segments[0] == "channel":
            raw = segments[1]
        elif len(segments) >= 2 and segments[0] in {"user", "c"}:
            if segments[0] == "c":
                raise ConnectError(
                    f"youtube: {text!r} is a custom URL, which the API cannot look up: open the channel and use its "
                    "@handle or its channel id (UC...) instead; nothing was written"
                )
            return {"forUsername": segments[1]}
        elif segments and segments[0].startswith("@"):
            raw = segments[0]
        else:
            raise ConnectError(f"youtube: {text!r} names no channel (expected /@handle or /channel/UC...)")
    if re.fullmatch(r"UC[A-Za-z0-9_-]{22}", raw):
        return {"id": raw}
    name = raw.removeprefix("@")
    if not re.fullmatch(r"[A-Za-z0-9._-]{3,30}", name):
        raise ConnectError(
            f"youtube: {text!r} is not a YouTube handle (3 to 30 letters, digits, '.', '_' or '-') nor a channel id "
            "(UC...): nothing was written"
        )
    return {"forHandle": f"@{name}"}
