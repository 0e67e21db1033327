"""Connect Google (ga4, google_business, youtube): one consent, the installed-app loopback flow with PKCE.

``socialkpi connect google`` asks, in one consent, the scopes of the three Google platforms
(collectors/google_auth.py ``SCOPES``: ``analytics.readonly``; ``youtube.readonly`` and
``yt-analytics.readonly``; ``business.manage``); ``connect ga4`` (``google_business``, ``youtube``) asks only
that platform's.  The flow is Google's "OAuth 2.0 for iOS & Desktop Apps",
https://developers.google.com/identity/protocols/oauth2/native-app:

* the owner's own OAuth client, "Desktop app" type, its JSON downloaded from the Cloud console (Google Auth
  Platform > Clients) and named by ``SOCIALKPI_GOOGLE_CLIENT_SECRETS``: its ``installed`` ``client_id``,
  ``client_secret``, ``auth_uri`` and ``token_uri`` (``SOCIALKPI_<PLATFORM>_AUTH_URL`` / ``_TOKEN_URL`` win
  over them, ``<PLATFORM>`` being the one typed: ``GOOGLE`` for ``connect google``);
* the redirect to a loopback address: "Loopback IP address (macOS, Linux, Windows desktop) [...] To receive
  the authorization code using this URL, your application must be listening on the local web server"
  (``http://127.0.0.1:<port>/callback``; a Desktop client needs no registered redirect URI: any port works);
* PKCE: "Google supports the Proof Key for Code Exchange (PKCE) protocol to make installed app flows more
  secure" (``code_challenge_method=S256``), and ``access_type=offline`` with ``prompt=consent`` so that the
  answer always carries a refresh token, also when the person had granted access before;
* "Step 5: Exchange authorization code for refresh and access tokens": ``POST`` to the token endpoint with
  ``code``, ``client_id``, ``client_secret``, ``redirect_uri``, ``grant_type=authorization_code`` and
  ``code_verifier``.

google-auth-oauthlib (``google_auth_oauthlib.flow.Flow``, the library Google maintains for this) builds the
authorization URL (the PKCE verifier and its S256 challenge) and runs the code exchange; the loopback
receiver, ``--no-browser`` and the pasted address, the timeout and the ``state`` check are the framework's
(socialkpi/connect/flow.py), as for every platform.  oauthlib refuses ``http://`` endpoints: the variable
that allows them (``OAUTHLIB_INSECURE_TRANSPORT``) is set only for the call, and only when the endpoint is a
loopback ``http`` address (the sandbox), never for a real one.  Google lets the person untick scopes on the
consent page ("granular consent"): the token then carries fewer scopes, oauthlib is told to accept that
(``OAUTHLIB_RELAX_TOKEN_SCOPE``, for the call only), and the platforms that lost theirs are named and left
out.

Discovery with the new access token:

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

Each chosen account is stored with the refresh token, the access token and its end, the client's id and
secret and its token endpoint, so ``socialkpi collect`` renews the access token with no ``.env``
(collectors/google_auth.py ``google_bearer``).  A Cloud project whose consent screen is in "Testing" gets
refresh tokens that end after 7 days (docs/connect.md: publish it to "In production").

Competitors (YouTube only): ``connect youtube --competitor @handle`` (or ``UC...``, or a youtube.com URL)
looks the channel up with ``channels.list`` ``forHandle`` (``id`` for a channel id, ``forUsername`` for a
legacy ``/user/`` URL), read with an API key in ``SOCIALKPI_YOUTUBE_TOKEN`` or else the connected account's
token.  GA4 properties and Business Profile listings of others are private.

Environment: ``SOCIALKPI_GOOGLE_CLIENT_SECRETS`` (the client JSON's path; asked on a terminal),
``SOCIALKPI_{GA4,GOOGLE_BUSINESS,YOUTUBE}_BASE_URL`` (an API root for discovery, e.g. the sandbox),
``SOCIALKPI_<PLATFORM>_AUTH_URL`` / ``_TOKEN_URL``, ``SOCIALKPI_YOUTUBE_TOKEN`` (an API key, competitors).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from collectors.google_auth import SCOPES, is_api_key
from collectors.http import CollectorError, Verdict, paginate_cursor, parse_retry_after, register_secret
from collectors.observation import Account
from collectors.tokens import StoredToken
from socialkpi.connect import Found, Session
from socialkpi.connect.flow import (
    Authorization,
    ConnectError,
    Grant,
    Receiver,
    check_redirect,
    exchange_failed,
    expires_at,
    new_state,
    register_answer,
    show_consent,
)

GOOGLE = ("ga4", "google_business", "youtube")  # what ``connect google`` connects, in this order
SECRETS_ENV = "SOCIALKPI_GOOGLE_CLIENT_SECRETS"
AUTH_URL = "https://accounts.google.com/o/oauth2/auth"  # what the console's client JSON names
TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (an endpoint)
ADMIN_ROOT = "https://analyticsadmin.googleapis.com"
ACCOUNTS_ROOT = "https://mybusinessaccountmanagement.googleapis.com"
INFORMATION_ROOT = "https://mybusinessbusinessinformation.googleapis.com"
YOUTUBE_ROOT = "https://www.googleapis.com"
ACCOUNT_SUMMARIES = "/v1beta/accountSummaries"
GBP_ACCOUNTS = "/v1/accounts"
GBP_LOCATIONS = "/v1/{account}/locations"
CHANNELS = "/youtube/v3/channels"
LABEL = "Google"
WHERE = (
    "Google Cloud console > Google Auth Platform > Clients > Create client > Desktop app, then Download JSON "
    "(docs/connect.md)"
)
APIS = {  # what the Cloud project must enable for each platform's discovery
    "ga4": "the Google Analytics Admin API",
    "google_business": "the My Business Account Management API and the My Business Business Information API",
    "youtube": "the YouTube Data API v3",
}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def platforms_of(platform: str) -> tuple[str, ...]:
    """The platforms one consent connects: all three for ``google``, else the one typed."""
    return GOOGLE if platform == "google" else (platform,)


def scopes_for(platforms: Sequence[str]) -> list[str]:
    return [scope for p in platforms for scope in SCOPES[p]]


# -- the owner's OAuth client ---------------------------------------------------------------------


@dataclass(frozen=True)
class ClientFile:
    """The ``installed`` part of a Desktop OAuth client JSON, the endpoints overrides applied."""

    path: str
    client_id: str
    client_secret: str
    auth_uri: str
    token_uri: str

    def config(self, redirect_uri: str) -> dict[str, Any]:
        """The client configuration in Google's client-secrets format, for ``Flow.from_client_config``."""
        return {
            "installed": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "auth_uri": self.auth_uri,
                "token_uri": self.token_uri,
                "redirect_uris": [redirect_uri],
            }
        }


def load_client(session: Session) -> ClientFile:
    """``SOCIALKPI_GOOGLE_CLIENT_SECRETS`` read and checked (asked on a terminal when unset)."""
    platform = session.platform
    path = session.env.get(SECRETS_ENV) or ""
    if not path:
        if not session.terminal.interactive:
            raise ConnectError(
                f"{platform}: {SECRETS_ENV} is not set: download your OAuth client's JSON ({WHERE}) and set "
                f"{SECRETS_ENV} to its path in .env; nothing was written"
            )
        session.terminal.say(
            f"socialkpi needs your Google Cloud project's OAuth client, type Desktop app ({WHERE}). Set "
            f"{SECRETS_ENV} in .env to the downloaded file's path to skip this question."
        )
        path = session.terminal.ask("Path of the client JSON file: ")
    return parse_client_file(
        path, platform=platform, auth_url=session.var("AUTH_URL"), token_url=session.var("TOKEN_URL")
    )


def parse_client_file(
    path: str, *, platform: str, auth_url: str | None = None, token_url: str | None = None
) -> ClientFile:
    """The Desktop client of the JSON at ``path`` (``{"installed": {...}}``), or the ConnectError naming what
    is wrong with it."""
    where = f"{SECRETS_ENV} ({path})"
    try:
        data = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConnectError(f"{platform}: cannot read {where}: {exc.strerror or exc}; nothing was written") from None
    except ValueError:
        raise ConnectError(
            f"{platform}: {where} is not JSON: download the client's JSON again ({WHERE}); nothing was written"
        ) from None
    installed = data.get("installed") if isinstance(data, dict) else None
    if not isinstance(installed, dict):
        kind = "a Web application client" if isinstance(data, dict) and "web" in data else "not an OAuth client file"
        raise ConnectError(
            f"{platform}: {where} is {kind}: socialkpi needs a client of type Desktop app ({WHERE}); "
            "nothing was written"
        )
    register_secret(installed.get("client_secret") if isinstance(installed.get("client_secret"), str) else None)
    client_id, secret = installed.get("client_id"), installed.get("client_secret")
    if not isinstance(client_id, str) or not client_id or not isinstance(secret, str) or not secret:
        raise ConnectError(
            f"{platform}: {where} has no client_id or client_secret: download the client's JSON again; "
            "nothing was written"
        )
    auth = auth_url or str(installed.get("auth_uri") or AUTH_URL)
    token = token_url or str(installed.get("token_uri") or TOKEN_URL)
    for name, url in (("auth_uri", auth), ("token_uri", token)):
        parts = urlsplit(url)
        if parts.scheme != "https" and not loopback_http(url):
            raise ConnectError(f"{platform}: the {name} {url!r} must be an https:// address; nothing was written")
    return ClientFile(path=path, client_id=client_id, client_secret=secret, auth_uri=auth, token_uri=token)


def loopback_http(url: str) -> bool:
    """An ``http://`` address on this machine (the sandbox): the only plain-http endpoint socialkpi uses."""
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


@contextlib.contextmanager
def _oauthlib(*urls: str) -> Iterator[None]:
    """oauthlib's switches for one call: plain http only for loopback endpoints (``OAUTHLIB_INSECURE_TRANSPORT``),
    fewer scopes granted than asked accepted (``OAUTHLIB_RELAX_TOKEN_SCOPE``: socialkpi names what was lost);
    requests-oauthlib's DEBUG log (which prints the token answer) muted meanwhile."""
    wanted = {"OAUTHLIB_RELAX_TOKEN_SCOPE": "1"}
    plain = [u for u in urls if urlsplit(u).scheme == "http"]
    if plain and all(loopback_http(u) for u in plain):
        wanted["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # the sandbox only: a real endpoint is https
    saved = {name: os.environ.get(name) for name in wanted}
    loggers = [logging.getLogger(n) for n in ("requests_oauthlib", "oauthlib", "google_auth_oauthlib")]
    levels = [lg.level for lg in loggers]
    os.environ.update(wanted)
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.INFO))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


# -- the consent and the code exchange ---------------------------------------------------------------


def _flow(client: ClientFile, scopes: Sequence[str], redirect_uri: str) -> Any:
    from google_auth_oauthlib.flow import Flow

    # PKCE asked for explicitly: from_client_config only turns it on by itself from 1.3.0 (upstream #354, #356)
    return Flow.from_client_config(
        client.config(redirect_uri), scopes=list(scopes), redirect_uri=redirect_uri, autogenerate_code_verifier=True
    )


def authorize(session: Session, client: ClientFile, scopes: Sequence[str]) -> tuple[Any, Grant]:
    """Google's consent page for ``scopes``, its answer checked: (the Flow, the Grant).

    The Flow builds the URL (its own 128-character PKCE verifier, the S256 challenge, ``access_type=offline``)
    with the framework's ``state`` and ``prompt=consent``; the framework's receiver waits for the redirect (or
    the pasted address) and checks ``state`` and ``error=``.
    """
    auth = Authorization(
        platform=session.platform,
        label=LABEL,
        url=client.auth_uri,
        client_id=client.client_id,
        scopes=tuple(scopes),
        redirect_host="127.0.0.1",
    )
    state = new_state()
    with Receiver(session.port) as receiver:
        redirect_uri = auth.redirect_uri(receiver.port)
        flow = _flow(client, scopes, redirect_uri)
        with _oauthlib(client.auth_uri):
            url, _ = flow.authorization_url(state=state, access_type="offline", prompt="consent")
        show_consent(session.terminal, url, label=LABEL, redirect_uri=redirect_uri, no_browser=session.no_browser)
        params = receiver.wait(session.terminal, timeout=session.timeout, label=LABEL)
    grant = check_redirect(params, auth=auth, state=state, redirect_uri=redirect_uri, code_verifier=flow.code_verifier)
    return flow, grant


def fetch_token(session: Session, flow: Any, grant: Grant, client: ClientFile) -> tuple[StoredToken, set[str]]:
    """The code exchanged by ``flow.fetch_token``: (the token pair, the scopes granted)."""
    import requests
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error

    for value in (grant.code, grant.code_verifier, client.client_secret):
        register_secret(value)
    from collectors.http import RetryPolicy

    timeout = (session.policy or RetryPolicy()).timeout
    platform = session.platform
    try:
        with _oauthlib(client.token_uri):
            # client_id and client_secret in the form, as the native-app doc's step 5 shows; not retried: a code
            # is good once
            body = flow.fetch_token(
                code=grant.code, code_verifier=grant.code_verifier, include_client_id=True, timeout=timeout
            )
    except OAuth2Error as exc:
        said = f"{exc.error}: {exc.description}" if exc.description else str(exc.error)
        error = CollectorError(f"{platform}: {said}", platform=platform, status=exc.status_code, code=exc.error)
        raise exchange_failed(
            error,
            platform=platform,
            secret_env=f"its client_secret ({client.path})",
            client_id_env=f"the client_id in {SECRETS_ENV}",
        ) from None
    except requests.RequestException as exc:
        raise ConnectError(
            f"{platform}: could not reach Google's token endpoint {client.token_uri} ({type(exc).__name__}): "
            "nothing was written"
        ) from None
    except (ValueError, KeyError) as exc:  # an answer that is neither a token nor an OAuth error
        raise ConnectError(
            f"{platform}: the token endpoint answered something that is not a token ({str(exc)[:120]}): "
            "nothing was written"
        ) from None
    answer = dict(body)
    register_answer(answer)
    return parse_token(answer, platform=platform), granted_scopes(answer, flow)


def parse_token(body: Mapping[str, Any], *, platform: str) -> StoredToken:
    """Google's token answer: ``{access_token, expires_in, refresh_token, scope, token_type}``."""
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise ConnectError(f"{platform}: the token endpoint answered without an access_token: nothing was written")
    refresh = body.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        raise ConnectError(
            f"{platform}: Google gave no refresh token (access_type=offline was not honoured): the access would "
            "end in an hour; nothing was written"
        )
    return StoredToken(access_token=access, refresh_token=refresh, expires_at=expires_at(body))


def granted_scopes(body: Mapping[str, Any], flow: Any) -> set[str]:
    """The scopes the token carries: the answer's ``scope`` (oauthlib makes it a list), else those asked
    (RFC 6749 §5.1: it may be left out when identical to the scope requested)."""
    scope = body.get("scope")
    if isinstance(scope, str):
        return set(scope.split())
    if isinstance(scope, list | tuple):
        return {str(s) for s in scope}
    return set(flow.oauth2session.scope or ())


# -- connect ---------------------------------------------------------------------------------------


def connect(session: Session) -> list[Found]:
    platforms = platforms_of(session.platform)
    client = load_client(session)
    flow, grant = authorize(session, client, scopes_for(platforms))
    token, granted = fetch_token(session, flow, grant, client)
    kept = [p for p in platforms if set(SCOPES[p]) <= granted]
    for lost in (p for p in platforms if p not in kept):
        missing = ", ".join(s.rsplit("/", 1)[-1] for s in SCOPES[lost] if s not in granted)
        session.terminal.say(
            f"{lost}: not connected: the consent did not grant {missing} (a box left unticked on Google's page); "
            f"run `socialkpi connect {lost}` and tick it to add it"
        )
    if not kept:
        raise ConnectError(
            f"{session.platform}: the consent granted none of the scopes socialkpi asked for: nothing was written; "
            f"run `socialkpi connect {session.platform}` again and tick the boxes"
        )
    register_secret(token.access_token)
    found: list[Found] = []
    for platform in kept:
        try:
            accounts = DISCOVER[platform](session, token.access_token)
        except CollectorError as exc:
            if len(platforms) == 1:
                raise
            session.terminal.say(f"{platform}: skipped: {exc.message}")
            continue
        if not accounts:
            session.terminal.say(f"{platform}: this Google account gives access to none ({NONE[platform]})")
        found += accounts
    return [
        Found(
            account=f.account,
            detail=f.detail,
            token=token,
            client_id=client.client_id,
            client_secret=client.client_secret,
            token_url=client.token_uri,
        )
        for f in found
    ]


NONE = {
    "ga4": "no GA4 property: a Universal Analytics account has none; ask the property's owner for Viewer access",
    "google_business": "no Business Profile listing the account owns or manages",
    "youtube": "no YouTube channel: sign in with the channel's Google account, or pick its Brand Account",
}


def _base(session: Session, platform: str, default: str) -> str:
    """``SOCIALKPI_<PLATFORM>_BASE_URL`` of the platform discovered (also for ``connect google``), else Google's."""
    return (session.env.get(f"SOCIALKPI_{platform.upper()}_BASE_URL") or default).rstrip("/")


def _client(session: Session, platform: str, bearer: str | None = None, *, key: str | None = None) -> Any:
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
    url = _base(session, "ga4", ADMIN_ROOT) + ACCOUNT_SUMMARIES
    with _client(session, "ga4", bearer) as client:

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
    accounts_url = _base(session, "google_business", ACCOUNTS_ROOT) + GBP_ACCOUNTS
    info_root = _base(session, "google_business", INFORMATION_ROOT)
    found: dict[str, Found] = {}
    with _client(session, "google_business", bearer) as client:

        def account_page(cursor: str | None) -> Any:
            return client.get_json(accounts_url, params={"pageSize": 20, **({"pageToken": cursor} if cursor else {})})

        accounts = [a for body in paginate_cursor(account_page, cursor=_next_page) for a in _items(body, "accounts")]
        for account in accounts:
            name = account.get("name")
            if not isinstance(name, str) or not re.fullmatch(r"accounts/\d+", name):
                continue
            url = info_root + GBP_LOCATIONS.format(account=name)

            def location_page(cursor: str | None, url: str = url) -> Any:
                params = {"readMask": "name,title", "pageSize": 100, **({"pageToken": cursor} if cursor else {})}
                return client.get_json(url, params=params)

            for body in paginate_cursor(location_page, cursor=_next_page):
                for location in _items(body, "locations"):
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
    url = _base(session, "youtube", YOUTUBE_ROOT) + CHANNELS
    with _client(session, "youtube", bearer) as client:

        def page(cursor: str | None) -> Any:
            params = {"part": "snippet,statistics", "mine": "true", "maxResults": 50}
            return client.get_json(url, params={**params, **({"pageToken": cursor} if cursor else {})})

        items = [i for body in paginate_cursor(page, cursor=_next_page) for i in _items(body, "items")]
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


def _items(body: Any, key: str) -> list[dict[str, Any]]:
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


# -- competitors (YouTube) ------------------------------------------------------------------------


def competitor(session: Session, handle: str) -> Found:
    """Someone else's YouTube channel by handle, channel id or URL (``channels.list`` ``forHandle`` / ``id``
    / ``forUsername``), read with an API key in ``SOCIALKPI_YOUTUBE_TOKEN`` or the connected token."""
    if session.platform != "youtube":
        why = {
            "ga4": "a competitor's website analytics are private",
            "google_business": "the Business Profile Performance API only answers for listings you own or manage",
        }.get(session.platform, "only YouTube channels can be looked up: use `socialkpi connect youtube --competitor`")
        raise ConnectError(f"{session.platform}: competitors cannot be added: {why}")
    query = channel_query(handle)
    key, bearer = _lookup_credentials(session)
    url = _base(session, "youtube", YOUTUBE_ROOT) + CHANNELS
    with _client(session, "youtube", bearer, key=key) as client:
        try:
            body = client.get_json(url, params={"part": "snippet,statistics", **query})
        except CollectorError as exc:
            raise ConnectError(
                f"youtube: {handle!r} could not be looked up ({exc.message}): nothing was written"
            ) from None
    items = _items(body, "items")
    if not items or not isinstance(items[0].get("id"), str):
        asked = ", ".join(f"{k}={v}" for k, v in query.items())
        raise ConnectError(f"youtube: no channel {handle!r} (channels.list {asked} found none): nothing was written")
    return parse_channel(items[0], competitor=True)


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


def _lookup_credentials(session: Session) -> tuple[str | None, str | None]:
    """(API key, bearer): ``SOCIALKPI_YOUTUBE_TOKEN`` (an ``AIza...`` key or an OAuth token), else the youtube
    connection's access token, refreshed in memory when it has ended (Google keeps the refresh token)."""
    from collectors.tokens import TokenStore, refresh_access_token

    token = session.var("TOKEN")
    if token:
        register_secret(token)
        return (token, None) if is_api_key(token) else (None, token)
    conn = TokenStore.beside(session.settings.db_path).connection("youtube", "", fallback=True)
    if conn is None:
        raise ConnectError(
            "youtube: looking up a competitor needs a token: run `socialkpi connect youtube` first, or set "
            "SOCIALKPI_YOUTUBE_TOKEN to an API key (Cloud console > APIs & Services > Credentials)"
        )
    if conn.token.fresh() or not (conn.token.refresh_token and conn.client_id and conn.client_secret):
        return None, conn.token.access_token
    with _client(session, "youtube") as client:
        try:
            fresh = refresh_access_token(
                client,
                conn.token_url or TOKEN_URL,
                refresh_token=conn.token.refresh_token,
                client_id=conn.client_id,
                client_secret=conn.client_secret,
                env_hint="the token store (run `socialkpi connect youtube` again)",
            )
        except CollectorError as exc:
            raise ConnectError(f"youtube: the connected token could not be renewed ({exc.message})") from None
    return None, fresh.access_token
