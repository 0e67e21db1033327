"""Connect Facebook and Instagram: Facebook Login, a long-lived user token, the Pages and their Instagram accounts.

One flow for both platforms (``socialkpi connect facebook`` and ``socialkpi connect instagram`` run the same
consent and list the same accounts: the Pages the person manages and the Instagram professional account
linked to each):

1. The Login Dialog, https://developers.facebook.com/documentation/facebook-login/guides/advanced/manual-flow
   ("https://www.facebook.com/v21.0/dialog/oauth? client_id={app-id} &redirect_uri={redirect-uri}
   &state={state-param}"; ``response_type=code``, ``scope`` comma-separated), at the Graph version the
   collectors use (collectors.facebook.VERSION), with PKCE S256
   (https://developers.facebook.com/documentation/facebook-login/guides/advanced/oidc-token: "Facebook Login
   supports the OpenID Connect (OIDC) standard's Authorization Code flow with Proof Key for Code Exchange
   (PKCE)"; "S256 (Recommended)"), redirect ``http://localhost:<port>/callback``.  A refusal comes back as
   ``error=access_denied&error_code=200&error_description=Permissions+error&error_reason=user_denied#_=_``;
   Login for Business in Development mode sends the same after a completed dialog, so the message says both.
2. ``GET https://graph.facebook.com/<version>/oauth/access_token`` with ``client_id``, ``redirect_uri``,
   ``client_secret``, ``code`` (and ``code_verifier``) -> a short-lived user token; Meta's errors are its
   ``{"error": {"message", "type": "OAuthException", "code", "error_subcode"}}`` envelope: "This
   authorization code has been used." (100/36009), "Error validating client secret." (code 1).
3. The same endpoint with ``grant_type=fb_exchange_token`` -> the long-lived user token
   (https://developers.facebook.com/documentation/facebook-login/guides/access-tokens/get-long-lived: "A
   long-lived token generally lasts about 60 days").  It is used for the discovery only and not kept.
4. ``GET /<version>/me/accounts?fields=id,name,access_token,followers_count,fan_count,tasks,
   instagram_business_account{id,username,name,followers_count}`` (https://developers.facebook.com/docs/
   graph-api/reference/user/accounts: "The Facebook Pages that a person owns or is able to perform tasks
   on"), following the ``after`` cursor while ``paging.next`` is there.  A Page token listed with a
   long-lived user token does not expire
   (https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived): it is stored with no end,
   as the
   token of the Page and of its Instagram account (the Instagram API with Facebook Login reads with the
   Page's token), with the Instagram account id kept as ``ig_user_id`` (the Business Discovery node).

Competitors: ``connect facebook --competitor <page id | vanity name | facebook.com URL>`` reads ``GET
/<version>/<id-or-name>?fields=id,name,followers_count,fan_count`` ("(#803) Some of the aliases you requested
do not exist" and 100/33 for a Page that does not resolve; someone else's Page needs Page Public Metadata
Access on a live app); ``connect instagram --competitor <username | instagram.com URL>`` asks Business
Discovery on the connected Instagram account (https://developers.facebook.com/docs/instagram-platform/
instagram-graph-api/reference/ig-user/business_discovery: "Allows you to get data about other Instagram
Business or Creator IG Users"; code 110 / 2207013 when the username is no professional account).

Permissions asked (collectors/facebook.py reads Page fields and Page Insights; collectors/instagram.py the IG
User, its insights and Business Discovery): pages_show_list, pages_read_engagement, read_insights,
instagram_basic, instagram_manage_insights, business_management (Pages held in a business portfolio are only
listed with it; the "Manage everything on your Page" use case adds it).

Environment: ``SOCIALKPI_FACEBOOK_CLIENT_ID`` / ``_CLIENT_SECRET`` (``SOCIALKPI_INSTAGRAM_...`` for ``connect
instagram``), else ``SOCIALKPI_META_CLIENT_ID`` / ``_CLIENT_SECRET`` (the App ID and App Secret, App settings >
Basic); ``SOCIALKPI_<P>_CONFIG_ID`` or ``SOCIALKPI_META_CONFIG_ID`` (a Facebook Login for Business
configuration: sent as ``config_id`` instead of ``scope``); ``SOCIALKPI_<P>_SCOPES`` or ``SOCIALKPI_META_SCOPES``
(the permissions to ask instead of the six above, comma-separated: add ``ads_read`` when the Page role came
through Business Manager); ``SOCIALKPI_<P>_AUTH_URL``, ``_TOKEN_URL``,
``_BASE_URL`` replace the dialog, the token endpoint and https://graph.facebook.com (with only ``_BASE_URL``
set, the dialog's path ``/<version>/dialog/oauth`` is taken under it); ``SOCIALKPI_FACEBOOK_TOKEN`` /
``SOCIALKPI_INSTAGRAM_TOKEN`` read competitors when nothing is connected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from collectors.facebook import VERSION
from collectors.observation import Account
from collectors.tokens import StoredToken
from socialkpi.connect import Found, Session
from socialkpi.connect.flow import Authorization, ConnectError, exchange_code

PLATFORMS = ("facebook", "instagram")
AUTH_URL = f"https://www.facebook.com/{VERSION}/dialog/oauth"
API_ROOT = "https://graph.facebook.com"
TOKEN_URL = f"{API_ROOT}/{VERSION}/oauth/access_token"  # noqa: S105 (an endpoint)
ACCOUNTS_ENDPOINT = f"/{VERSION}/me/accounts"
NODE_ENDPOINT = "/" + VERSION + "/{node}"
SCOPES = (
    "pages_show_list",
    "pages_read_engagement",
    "read_insights",
    "instagram_basic",
    "instagram_manage_insights",
    "business_management",
)
ACCOUNT_FIELDS = (
    "id,name,access_token,followers_count,fan_count,tasks,instagram_business_account{id,username,name,followers_count}"
)
COMPETITOR_FIELDS = "id,name,followers_count,fan_count"
MAX_PAGES = 50  # /me/accounts answers to follow at most (25 Pages each by default)
WHERE = "developers.facebook.com > My Apps > your app > App settings > Basic: App ID and App Secret"
PAGE_ID_RE = re.compile(r"\d{5,20}")
VANITY_RE = re.compile(r"[A-Za-z0-9.\-]{1,100}")
IG_USERNAME_RE = re.compile(r"[A-Za-z0-9._]{1,30}")


# -- Meta's error envelope at the token endpoint -------------------------------------------------------


def token_classify(status: int, headers: Mapping[str, str], body: Any) -> Any:
    """Meta's envelope at ``/oauth/access_token`` as the RFC 6749 codes :func:`exchange_code` names: a code
    refused (100 with 36007 expired, 36008 another redirect URI, 36009 used, or "verification code") ->
    ``invalid_grant``; a wrong secret (code 1 "Error validating client secret.") or app id (101) ->
    ``invalid_client``; a bad token to exchange (190) stays a plain failure."""
    from collectors.errors import Verdict
    from collectors.meta import read_error

    err = read_error(status, body)
    if err is None:
        return None
    text = err.message.lower()
    if err.code == 101 or (err.code == 1 and "client secret" in text) or "client_secret" in text:
        return Verdict("auth", err.detail, code="invalid_client")
    if err.code == 100 and (
        err.subcode in {36007, 36008, 36009} or "authorization code" in text or "verification code" in text
    ):
        return Verdict("bad_request", err.detail, code="invalid_grant")
    if err.code in {190, 102}:
        return Verdict("bad_request", err.detail, code="invalid_token")
    if err.code in {4, 17, 32, 613} or err.code == 2 or err.raw.get("is_transient") is True:
        return Verdict("server", err.detail)
    return Verdict("bad_request", err.detail, code=f"meta_{err.code}")


def _graph_classify(platform: str) -> Any:
    if platform == "instagram":
        from collectors.instagram import classify

        return classify
    from collectors.facebook import classify as fb_classify

    def classify(status: int, headers: Mapping[str, str], body: Any) -> Any:
        from collectors.errors import Verdict
        from collectors.meta import read_error

        err = read_error(status, body)
        if err is not None and err.code == 803:  # "(#803) Some of the aliases you requested do not exist"
            return Verdict("bad_request", err.detail, code="unknown_object")
        return fb_classify(status, headers, body)

    return classify


# -- the flow ----------------------------------------------------------------------------------------------


def _names(session: Session, suffix: str) -> str:
    """The variable that holds ``suffix`` (CLIENT_ID / CLIENT_SECRET): the platform's own if set, else META's."""
    own = f"SOCIALKPI_{session.platform.upper()}_{suffix}"
    if not session.env.get(own) and session.env.get(f"SOCIALKPI_META_{suffix}"):
        return f"SOCIALKPI_META_{suffix}"
    return own


def connect(session: Session) -> list[Found]:
    client_id, client_secret = session.app(where=WHERE)
    assert client_secret is not None  # session.app(secret=True) raises without one
    config_id = session.var("CONFIG_ID") or session.env.get("SOCIALKPI_META_CONFIG_ID") or None
    extra = {"config_id": config_id, "override_default_response_type": "true"} if config_id else {}
    asked = session.var("SCOPES") or session.env.get("SOCIALKPI_META_SCOPES") or ""
    scopes = tuple(s for s in re.split(r"[,\s]+", asked) if s) or SCOPES
    auth = Authorization(
        platform=session.platform,
        label="Facebook",
        url=session.endpoint("AUTH", AUTH_URL),
        client_id=client_id,
        scopes=() if config_id else scopes,
        scope_separator=",",
        pkce="S256",
        redirect_host="localhost",
        extra=extra,
    )
    try:
        grant = session.authorize(auth)
    except ConnectError as exc:
        if "consent was refused" in str(exc):
            raise ConnectError(
                f"{exc} (Facebook sends the same answer when the app lacks a permission or, for Login for Business, "
                "is in the wrong mode: docs/connect.md)"
            ) from None
        raise
    token_url = session.endpoint("TOKEN", TOKEN_URL)
    names = {"secret_env": _names(session, "CLIENT_SECRET"), "client_id_env": _names(session, "CLIENT_ID")}
    with session.client(token_classify) as client:
        short = exchange_code(
            client,
            token_url,
            {
                "client_id": client_id,
                "redirect_uri": grant.redirect_uri,
                "client_secret": client_secret,
                "code": grant.code,
                "code_verifier": grant.code_verifier or "",
            },
            platform=session.platform,
            method="GET",
            **names,
        )
        user_token = _access(short, "the code exchange", session.platform)
        long = exchange_code(
            client,
            token_url,
            {
                "grant_type": "fb_exchange_token",
                "client_id": client_id,
                "client_secret": client_secret,
                "fb_exchange_token": user_token,
            },
            platform=session.platform,
            method="GET",
            **names,
        )
        long_token = _access(long, "the long-lived token exchange", session.platform)
    pages = _pages(session, long_token)
    found = parse_accounts(pages, client_id=client_id)
    own_platform = [f for f in found if f.account.platform == session.platform]
    if found and not own_platform and session.platform == "instagram":
        session.terminal.say(
            "None of your Pages has a linked Instagram professional account (link it in the Page's settings > "
            "Linked accounts, or in Instagram > Settings > Account type); the Pages are listed."
        )
    return found


def _access(body: Mapping[str, Any], what: str, platform: str) -> str:
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise ConnectError(f"{platform}: {what} answered without an access_token: nothing was written")
    return token


def _pages(session: Session, user_token: str) -> list[Any]:
    """Every entry of ``/me/accounts``, the ``after`` cursor followed while ``paging.next`` says more follow."""
    from collectors.redaction import register_secret

    url = session.base_url(API_ROOT) + ACCOUNTS_ENDPOINT
    params: dict[str, str] = {"fields": ACCOUNT_FIELDS}
    entries: list[Any] = []
    seen: set[str] = set()
    with session.client(_graph_classify("facebook")) as client:
        client.auth_headers = lambda: {"Authorization": f"Bearer {user_token}"}
        for _ in range(MAX_PAGES):
            body = client.get_json(url, params=params)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise ConnectError(
                    f"{session.platform}: /me/accounts answered without a data list: nothing was written"
                )
            for entry in data:  # every Page token, the moment it is received
                if isinstance(entry, dict) and isinstance(entry.get("access_token"), str):
                    register_secret(entry["access_token"])
            entries += data
            after = next_cursor(body)
            if after is None or after in seen:
                break
            seen.add(after)
            params = {"fields": ACCOUNT_FIELDS, "after": after}
    return entries


def next_cursor(body: Any) -> str | None:
    """The ``after`` cursor of the next answer, when ``paging.next`` says there is one (else None)."""
    paging = body.get("paging") if isinstance(body, dict) else None
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    if isinstance(after, str) and after:
        return after
    found = parse_qs(urlsplit(str(paging["next"])).query).get("after")
    return found[0] if found else None


# -- pure parts -----------------------------------------------------------------------------------------


def parse_accounts(entries: list[Any], *, client_id: str | None = None) -> list[Found]:
    """``/me/accounts`` entries -> each Page, then its linked Instagram account, both with the Page's token
    (stored with no end: listed with a long-lived user token, it does not expire)."""
    found: list[Found] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        page_id, token = str(entry.get("id", "")), entry.get("access_token")
        if not PAGE_ID_RE.fullmatch(page_id) or not isinstance(token, str) or not token:
            continue  # no Page token: the person has no task on the Page that gives one
        name = str(entry.get("name") or page_id)
        stored = StoredToken(access_token=token, refresh_token=None, expires_at=None)
        tasks = entry.get("tasks")
        no_analyze = isinstance(tasks, list) and "ANALYZE" not in tasks
        detail = "Facebook Page" + _count(entry.get("followers_count", entry.get("fan_count")))
        if no_analyze:
            detail += "; no ANALYZE task on it: its insights will be refused"
        found.append(
            Found(
                account=Account("facebook", page_id, name),
                detail=detail,
                token=stored,
                client_id=client_id,
            )
        )
        ig = entry.get("instagram_business_account")
        ig_id = str(ig.get("id", "")) if isinstance(ig, dict) else ""
        if not ig_id.isdigit():
            continue
        assert isinstance(ig, dict)
        username = ig.get("username") if isinstance(ig.get("username"), str) else None
        ig_name = str(ig.get("name") or username or name)
        handle = f"@{username}" if username else "Instagram"
        found.append(
            Found(
                account=Account("instagram", ig_id, ig_name),
                detail=f"Instagram {handle}{_count(ig.get('followers_count'))}, linked to the Page {name}",
                token=stored,
                client_id=client_id,
                extra={"ig_user_id": ig_id, "page_id": page_id},
            )
        )
    return found


def _count(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f", {value:,} followers"
    return ""


def page_of(text: str) -> str:
    """A Page id or vanity name from ``209876543210987``, ``rivalpatisserie``, ``@rivalpatisserie``,
    ``facebook.com/rivalpatisserie``, ``https://www.facebook.com/profile.php?id=2098...`` or
    ``https://www.facebook.com/pages/Rival-Patisserie/2098...``."""
    raw = text.strip()
    if "/" in raw or raw.lower().startswith(("facebook.com", "www.facebook.com", "fb.com", "m.facebook.com")):
        parts = urlsplit(raw if "://" in raw else "https://" + raw)
        query = parse_qs(parts.query)
        segments = [s for s in parts.path.split("/") if s]
        host = (parts.hostname or "").lower()
        if not (host in {"facebook.com", "fb.com"} or host.endswith((".facebook.com", ".fb.com"))):
            segments, query = [], {}  # not a Facebook address
        if query.get("id") and segments[:1] == ["profile.php"]:
            raw = query["id"][0]
        elif segments[:1] == ["pages"] and segments[-1:] and PAGE_ID_RE.fullmatch(segments[-1]):
            raw = segments[-1]
        elif segments[:1] == ["p"] and len(segments) > 1:  # facebook.com/p/Name-1000xxxxxxxxxxx/
            tail = segments[1].rsplit("-", 1)[-1]
            raw = tail if PAGE_ID_RE.fullmatch(tail) else segments[1]
        else:
            raw = segments[0] if segments else ""
    name = raw.removeprefix("@")
    if not (PAGE_ID_RE.fullmatch(name) or VANITY_RE.fullmatch(name)) or name.lower() in {"me", "profile.php"}:
        raise ConnectError(
            f"facebook: {text!r} is not a Page id, vanity name or facebook.com address: nothing was written"
        )
    return name


def ig_username_of(text: str) -> str:
    """``@name``, ``name``, ``instagram.com/name``, ``https://www.instagram.com/name/?hl=fr`` -> ``name``."""
    raw = text.strip()
    if "/" in raw:
        parts = urlsplit(raw if "://" in raw else "https://" + raw)
        raw = parts.path.strip("/").split("/", 1)[0]
    name = raw.removeprefix("@")
    if not IG_USERNAME_RE.fullmatch(name):
        raise ConnectError(
            f"instagram: {text!r} is not an Instagram username (letters, digits, '.' and '_', at most 30): "
            "nothing was written"
        )
    return name


# -- competitors -----------------------------------------------------------------------------------------


def _reader(session: Session) -> tuple[str, Mapping[str, str]]:
    """The token competitors are read with: ``SOCIALKPI_<P>_TOKEN``, else the platform's default connection."""
    from collectors.redaction import register_secret
    from collectors.tokens import TokenStore

    token = session.var("TOKEN")
    if token:
        register_secret(token)
        return token, {}
    conn = TokenStore.beside(session.settings.db_path).connection(session.platform, "", fallback=True)
    if conn is None:
        raise ConnectError(
            f"{session.platform}: looking up a competitor needs a token: run `socialkpi connect {session.platform}` "
            f"first (or set SOCIALKPI_{session.platform.upper()}_TOKEN to a Page access token)"
        )
    return conn.token.access_token, conn.extra


def competitor(session: Session, handle: str) -> Found:
    if session.platform == "instagram":
        return _instagram_competitor(session, handle)
    return _facebook_competitor(session, handle)


def _facebook_competitor(session: Session, handle: str) -> Found:
    from collectors.errors import CollectorError

    node = page_of(handle)
    token, _ = _reader(session)
    with session.client(_graph_classify("facebook")) as client:
        client.auth_headers = lambda: {"Authorization": f"Bearer {token}"}
        try:
            body = client.get_json(
                session.base_url(API_ROOT) + NODE_ENDPOINT.format(node=node), params={"fields": COMPETITOR_FIELDS}
            )
        except CollectorError as exc:
            said = exc.message.removeprefix("facebook: ")
            if exc.code == "unknown_object":
                raise ConnectError(f"facebook: no Facebook Page {node!r} ({said}): nothing was written") from None
            if exc.kind == "permission":
                said += (
                    "; reading someone else's Page needs the Page Public Metadata Access feature (App Review and "
                    "business verification: docs/connect.md)"
                )
            raise ConnectError(
                f"facebook: the Page {node!r} could not be looked up ({said}): nothing was written"
            ) from None
    page_id = str(body.get("id", "")) if isinstance(body, dict) else ""
    if not PAGE_ID_RE.fullmatch(page_id):
        raise ConnectError(f"facebook: {node!r} answered without a Page id: nothing was written")
    assert isinstance(body, dict)
    name = str(body.get("name") or page_id)
    return Found(
        account=Account("facebook", page_id, name, competitor=True),
        detail="Facebook Page" + _count(body.get("followers_count", body.get("fan_count"))),
    )


def _instagram_competitor(session: Session, handle: str) -> Found:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from collectors import instagram
    from collectors.context import CollectContext, Credentials
    from collectors.errors import CollectorError

    username = ig_username_of(handle)
    token, extra = _reader(session)
    root = session.base_url(API_ROOT)
    ctx = CollectContext(
        account=Account("instagram", username, username, competitor=True),
        credentials=Credentials(token=token, base_url=root, extra=dict(extra)),
        collected_at=datetime.now(UTC),
        business_tz=ZoneInfo("UTC"),
        options={"ig_user_id": extra["ig_user_id"]} if extra.get("ig_user_id") else {},
    )
    with session.client(instagram.classify) as client:
        client.auth_headers = lambda: {"Authorization": f"Bearer {token}"}
        try:
            own = instagram.own_ig_user_id(client, ctx)
            body = client.get_json(
                root + NODE_ENDPOINT.format(node=own),
                params={"fields": instagram.DISCOVERY_FIELDS.format(username=username)},
            )
        except CollectorError as exc:
            said = exc.message.removeprefix("instagram: ")
            if exc.code == "unknown_user":
                raise ConnectError(
                    f"instagram: no Instagram professional account @{username} ({said.rstrip('.')}; personal "
                    "accounts cannot be looked up): nothing was written"
                ) from None
            raise ConnectError(f"instagram: @{username} could not be looked up ({said}): nothing was written") from None
    found = body.get("business_discovery") if isinstance(body, dict) else None
    if not isinstance(found, dict):
        raise ConnectError(f"instagram: no Instagram professional account @{username}: nothing was written")
    name = str(found.get("username") or username)
    return Found(
        account=Account("instagram", name, found.get("name") or name, competitor=True),
        detail=f"Instagram @{name}{_count(found.get('followers_count'))}",
    )
