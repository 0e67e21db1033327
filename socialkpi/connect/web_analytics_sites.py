"""Plausible's, Matomo's and Umami's keys and site lists, for ``socialkpi connect plausible|matomo|umami``.

Each vendor's flow (:func:`list_plausible`, :func:`list_matomo`, :func:`list_umami`) takes the key (or logs
in), lists the sites it can read and returns them as :class:`~socialkpi.connect.Found`; the command's steps
around them (the server, each chosen site checked) are :mod:`socialkpi.connect.web_analytics`'s.

Plausible (https://plausible.io/docs/stats-api): "In the top-right menu, click on your account name and go
to settings." ... "go to the "API Keys" section in the left-hand sidebar. Click the "New API Key" button,
choose "Stats API" and save the key as it will only be shown once."; sent as ``Authorization: Bearer``.
Cloud ``https://plausible.io``; self-hosted Community Edition: the instance's own URL, same paths.  Sites:
``GET /api/v1/sites`` (https://plausible.io/docs/sites-api: "Gets a list of existing sites your Plausible
account can access", ``{"sites": [...], "meta": {"after", "before", "limit"}}``, "The ``null`` value in
``before`` or ``after`` means there are no more previous or next pages").  Every key has the implicit
scope ``sites:read:*`` (plausible/analytics ``lib/plausible_web/plugs/authorize_public_api.ex``), but the
Community Edition has no Sites API ("Site provisioning API is indeed not included in CE",
https://github.com/plausible/analytics/issues/4288): on 404 (or 401) the domains come from ``--select
DOMAIN[,DOMAIN...]`` (or are asked), and the check of each (a 7-day ``visitors`` aggregate,
``collectors.plausible.check``) proves the key: Plausible answers "Invalid API key or site ID" for a wrong
key and for a site the key cannot see alike.

Matomo (https://matomo.org/faq/general/faq_114): "Go to Administration ... > Personal > Security." "Click on
Create new token." No single cloud: ``--url`` is required (Matomo Cloud is ``https://<name>.matomo.cloud``).
``token_auth`` goes in the POST body, never the URL ("If the token is restricted to secure requests only,
Matomo ignores it when received as a URL parameter").  One call checks the token and lists the sites:
``SitesManager.getSitesWithAtLeastViewAccess`` ("Returns the list of websites with the 'view' or 'admin'
access for the current user"); ``idsite`` comes as a string or a number.  Each chosen site:
``SitesManager.getSiteFromId`` (``collectors.matomo.check``).

Umami: Cloud (https://umami.is/docs/cloud/api-key: "Navigate to API keys and click on the Create key
button."; ``https://api.umami.is/v1``, header ``x-umami-api-key``); self-hosted (``--url``,
https://umami.is/docs/api/authentication: "POST /api/auth/login" with ``{"username", "password"}`` ->
``{"token", "user"}``, then "Bearer <token>"; "POST /api/auth/verify You can verify if the token is still
valid").  Websites: ``GET /websites?includeTeams=true&page=N&pageSize=M`` (https://umami.is/docs/api/websites:
"Returns all user websites"; ``{"data": [...], "count", "page", "pageSize"}``; Umami v1 answered a bare
list).  Each chosen website: ``GET /websites/{id}`` (``collectors.umami.check``).  A self-hosted login
stores the username and password beside the token (as ``collectors.umami`` reads them from
``SOCIALKPI_UMAMI_CLIENT_ID``/``_CLIENT_SECRET``), so ``socialkpi collect`` logs in again when the token
stops working.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from collectors.errors import AuthError, BadRequest, CollectorError, PayloadError, PermissionDenied
from collectors.observation import Account
from collectors.redaction import register_secret
from collectors.tokens import StoredToken
from socialkpi.connect import Found, Session
from socialkpi.connect.flow import ConnectError

PLAUSIBLE_SITES = "/api/v1/sites"
PLAUSIBLE_PAGE = 100  # the Sites API's default page
MATOMO_ENDPOINT = "/index.php"
UMAMI_PAGE = 100
MAX_PAGES = 100

WHERE = {
    "plausible": (
        "a Stats API key: in Plausible, your account name (top right) > Settings > API Keys > New API Key > "
        "Stats API (shown once)"
    ),
    "matomo": "a token_auth: in Matomo, Administration (the gear) > Personal > Security > Create new token",
    "umami": "an API key: in Umami Cloud, Settings > API keys > Create key",
}
PROMPT = {
    "plausible": "Plausible Stats API key: ",
    "matomo": "Matomo token_auth: ",
    "umami": "Umami Cloud API key: ",
}
UMAMI_LOGIN = (
    "the username and password of an Umami user who can view the websites (a view-only user is enough), in "
    "SOCIALKPI_UMAMI_CLIENT_ID and SOCIALKPI_UMAMI_CLIENT_SECRET"
)
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class _Key:
    """What a flow found to read the sites with: the token, and for self-hosted Umami the login."""

    token: str
    username: str | None = None
    password: str | None = None


# -- Plausible -------------------------------------------------------------------------------------


def list_plausible(session: Session, root: str) -> list[Found]:
    from collectors.plausible import classify

    key = session.secret("TOKEN", PROMPT["plausible"], where=WHERE["plausible"])
    with session.client(server_text(classify)) as client:
        client.auth_headers = lambda: {"Authorization": f"Bearer {key}"}
        try:
            sites = _plausible_sites(client, root)
        except CollectorError as exc:
            domains = _domains_given(session)
            if exc.status == 402:
                raise ConnectError(plan_refused(exc)) from None
            if exc.status not in (401, 403, 404) and not isinstance(exc, PayloadError):
                raise
            if exc.status == 401 and not domains:
                raise ConnectError(
                    f"plausible: the key was refused ({said(exc)}): check SOCIALKPI_PLAUSIBLE_TOKEN "
                    f"({WHERE['plausible']}); a right key that may not list sites: pass the site's domain with "
                    "--select DOMAIN: nothing was written"
                ) from None
            why = "this server does not list sites (Plausible Community Edition has no Sites API)"
            sites = [{"domain": d, "timezone": ""} for d in domains or _ask_domains(session, why)]
    if not sites:
        domains = _domains_given(session)
        if not domains:
            raise ConnectError(
                "plausible: the key's account has no site (or lists none): add the site in Plausible, or give its "
                "domain with --select DOMAIN: nothing was written"
            )
        sites = [{"domain": d, "timezone": ""} for d in domains]
    return [
        Found(
            account=Account("plausible", site["domain"], site["domain"]),
            detail=f"days in {site['timezone']}" if site["timezone"] else "",
            token=StoredToken(access_token=key),
            base_url=root,
        )
        for site in sites
    ]


def _plausible_sites(client: Any, root: str) -> list[dict[str, str]]:
    """``GET /api/v1/sites`` page after page (cursor ``meta.after``)."""
    out: list[dict[str, str]] = []
    after: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"limit": PLAUSIBLE_PAGE}
        if after:
            params["after"] = after
        sites, after = parse_plausible_sites(client.get_json(root + PLAUSIBLE_SITES, params=params))
        out += [s for s in sites if s["domain"] not in {o["domain"] for o in out}]
        if not after or after in seen:
            break
        seen.add(after)
    return out


def _domains_given(session: Session) -> list[str]:
    select = (session.select or "").strip()
    if not select or select.lower() == "all":
        return []
    return _domains(select)


def _ask_domains(session: Session, why: str) -> list[str]:
    if (session.select or "").strip().lower() == "all" or not session.terminal.interactive:
        raise ConnectError(
            f"plausible: {why}: give the site's domain as registered in Plausible with --select DOMAIN[,DOMAIN...]: "
            "nothing was written"
        )
    session.terminal.say(f"{why}.")
    return _domains(session.terminal.ask("The site's domain as shown in Plausible (several: separated by commas): "))


def _domains(text: str) -> list[str]:
    from collectors import PLATFORMS

    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if not re.fullmatch(PLATFORMS["plausible"].id_pattern, part):
            raise ConnectError(
                f"plausible: {part[:60]!r} is not a site domain (the domain as registered in Plausible, e.g. "
                "cornerbakery.fr): nothing was written"
            )
        if part not in out:
            out.append(part)
    if not out:
        raise ConnectError("plausible: no site domain given: nothing was written")
    return out


def parse_plausible_sites(body: Any) -> tuple[list[dict[str, str]], str | None]:
    """``{"sites": [{"domain", "timezone"}], "meta": {"after": cursor|null}}`` -> (sites, next cursor)."""
    sites = body.get("sites") if isinstance(body, dict) else None
    if not isinstance(sites, list):
        raise PayloadError("plausible: /api/v1/sites answered without a sites list", platform="plausible")
    out = []
    for site in sites:
        if isinstance(site, dict) and isinstance(site.get("domain"), str) and site["domain"]:
            tz = site.get("timezone")
            out.append({"domain": site["domain"], "timezone": tz if isinstance(tz, str) else ""})
    meta = body.get("meta")
    after = meta.get("after") if isinstance(meta, dict) else None
    return out, after if isinstance(after, str) and after else None


def plan_refused(exc: CollectorError) -> str:
    return (
        f"plausible: {said(exc)} (HTTP 402: the account's plan has no Stats API, or the site is locked for want "
        "of a subscription): nothing was written"
    )


# -- Matomo ----------------------------------------------------------------------------------------


def list_matomo(session: Session, root: str) -> list[Found]:
    from collectors.matomo import classify

    token = session.secret("TOKEN", PROMPT["matomo"], where=WHERE["matomo"])
    form = {
        "module": "API",
        "method": "SitesManager.getSitesWithAtLeastViewAccess",
        "format": "JSON",
        "filter_limit": "-1",
        "token_auth": token,  # in the body: secure-only tokens are refused in the URL
    }
    with session.client(server_text(classify)) as client:
        try:
            body = client.post_json(root + MATOMO_ENDPOINT, data=form)
        except AuthError as exc:
            raise ConnectError(_key_refused(session, exc)) from None
        except (BadRequest, PayloadError) as exc:
            raise ConnectError(
                f"matomo: {root}{MATOMO_ENDPOINT} did not answer as Matomo's API ({said(exc)}): check --url "
                "(the address you open Matomo at): nothing was written"
            ) from None
    sites = parse_matomo_sites(body)
    if not sites:
        raise ConnectError(
            "matomo: the token is valid but its user has View access to no website: give it View access "
            "(Administration > System > Users) or use another user's token: nothing was written"
        )
    return [
        Found(
            account=Account("matomo", site["idsite"], site["name"] or f"site {site['idsite']}"),
            detail=", ".join(
                x for x in (site["main_url"], f"days in {site['timezone']}" if site["timezone"] else "") if x
            ),
            token=StoredToken(access_token=token),
            base_url=root,
        )
        for site in sites
    ]


def parse_matomo_sites(body: Any) -> list[dict[str, str]]:
    """``[{"idsite": "1" or 1, "name", "main_url", "timezone", ...}]`` -> sites with ``idsite`` as text."""
    if isinstance(body, dict) and body.get("result") == "error":
        raise PayloadError(f"matomo: {body.get('message')!r:.160}", platform="matomo")
    if not isinstance(body, list):
        raise ConnectError(
            f"matomo: SitesManager.getSitesWithAtLeastViewAccess answered {type(body).__name__}, not a list of "
            "sites: check --url (the address you open Matomo at): nothing was written"
        )
    out: list[dict[str, str]] = []
    for row in body:
        if not isinstance(row, dict):
            continue
        idsite = row.get("idsite")
        if isinstance(idsite, bool) or not isinstance(idsite, int | str) or not re.fullmatch(r"\d{1,9}", str(idsite)):
            continue
        out.append(
            {
                "idsite": str(idsite),
                "name": _text(row.get("name")),
                "main_url": _text(row.get("main_url")),
                "timezone": _text(row.get("timezone")),
            }
        )
    return out


# -- Umami -----------------------------------------------------------------------------------------


def list_umami(session: Session, root: str) -> list[Found]:
    from collectors.umami import api_root, classify

    api, cloud = api_root(root)
    with session.client(server_text(classify)) as client:
        key = _umami_cloud_key(session) if cloud else _umami_login(session, client, api)
        if cloud:
            client.auth_headers = lambda: {"x-umami-api-key": key.token}
        else:
            client.auth_headers = lambda: {"Authorization": f"Bearer {key.token}"}
        try:
            websites = _umami_websites(client, api)
        except AuthError as exc:
            if cloud:
                raise ConnectError(_key_refused(session, exc)) from None
            raise ConnectError(
                f"umami: the server refused the token ({said(exc)}): set a fresh SOCIALKPI_UMAMI_TOKEN, or "
                f"{UMAMI_LOGIN}: nothing was written"
            ) from None
        except (BadRequest, PayloadError) as exc:
            raise ConnectError(
                f"umami: {api}/websites did not answer as Umami's API ({said(exc)}): check --url (your Umami's "
                "address, the one you log in at): nothing was written"
            ) from None
    return [
        Found(
            account=Account("umami", site["id"], site["name"] or site["domain"] or site["id"]),
            detail=site["domain"],
            token=StoredToken(access_token=key.token),
            client_id=key.username,
            client_secret=key.password,
            base_url=root,
        )
        for site in websites
    ]


def _umami_cloud_key(session: Session) -> _Key:
    return _Key(session.secret("TOKEN", PROMPT["umami"], where=WHERE["umami"]))


def _umami_login(session: Session, client: Any, api: str) -> _Key:
    """Self-hosted: log in with a username and password (environment, or asked), else verify a given token."""
    username, password, token = session.var("CLIENT_ID"), session.var("CLIENT_SECRET"), session.var("TOKEN")
    register_secret(password)
    register_secret(token)
    if not (username and password) and token:
        client.auth_headers = lambda: {"Authorization": f"Bearer {token}"}
        try:
            client.post_json(api + "/auth/verify")  # POST in current Umami (src/app/api/auth/verify/route.ts)
        except AuthError as exc:
            raise ConnectError(
                f"umami: the server refused SOCIALKPI_UMAMI_TOKEN ({said(exc)}): set a fresh one "
                f"(POST /api/auth/login returns it), or {UMAMI_LOGIN}: nothing was written"
            ) from None
        return _Key(token)
    if not username:
        if not session.terminal.interactive:
            raise ConnectError(
                f"umami: a self-hosted server: set {UMAMI_LOGIN} (or SOCIALKPI_UMAMI_TOKEN to a token from "
                "POST /api/auth/login), or run this on a terminal to be asked: nothing was written"
            )
        username = session.terminal.ask("Umami username: ")
        if not username:
            raise ConnectError("umami: no username given: nothing was written")
    if not password:
        password = session.secret("CLIENT_SECRET", "Umami password: ", where=f"The password of Umami user {username!r}")
    return _Key(_login(client, api, username, password), username, password)


def _login(client: Any, api: str, username: str, password: str) -> str:
    """``POST /api/auth/login`` -> the token; any 401 is a wrong username or password (Umami's code varies)."""
    try:
        body = client.post_json(api + "/auth/login", json_body={"username": username, "password": password})
    except (AuthError, PermissionDenied, BadRequest) as exc:
        if exc.status == 404:
            raise ConnectError(
                f"umami: {api}/auth/login does not exist ({said(exc)}): check --url (your Umami's address): "
                "nothing was written"
            ) from None
        raise ConnectError(
            f"umami: the server refused to log in user {username!r} ({said(exc)}): check SOCIALKPI_UMAMI_CLIENT_ID "
            "(username) and SOCIALKPI_UMAMI_CLIENT_SECRET (password): nothing was written"
        ) from None
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise ConnectError(f"umami: {api}/auth/login answered without a token: nothing was written")
    register_secret(token)
    return token


def _umami_websites(client: Any, api: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for page in range(1, MAX_PAGES + 1):
        body = client.get_json(api + "/websites", params={"includeTeams": "true", "page": page, "pageSize": UMAMI_PAGE})
        rows, more = parse_umami_websites(body, page)
        out += [r for r in rows if r["id"] not in {o["id"] for o in out}]
        if not more:
            break
    return out


def parse_umami_websites(body: Any, page: int = 1) -> tuple[list[dict[str, str]], bool]:
    """``{"data": [...], "count", "page", "pageSize"}`` (or an older server's bare list) -> (websites with a
    UUID id, whether another page follows)."""
    if isinstance(body, list):
        rows, more = body, False
    elif isinstance(body, dict) and isinstance(body.get("data"), list):
        rows = body["data"]
        count, size = body.get("count"), body.get("pageSize")
        more = bool(rows) and isinstance(count, int) and isinstance(size, int) and size > 0 and page * size < count
    else:
        raise PayloadError("umami: /websites answered neither a list nor {data: [...]}", platform="umami")
    out: list[dict[str, str]] = []
    old = 0
    for row in rows:
        if not isinstance(row, dict):
            continue
        website = row.get("id")
        if not isinstance(website, str) or not UUID.fullmatch(website):
            website = row.get("websiteUuid")  # Umami v1: integer ids, the UUID beside them
            old += 1
        if isinstance(website, str) and UUID.fullmatch(website):
            out.append({"id": website, "name": _text(row.get("name")), "domain": _text(row.get("domain"))})
    if rows and not out and old:
        raise ConnectError(
            "umami: this server answers as Umami v1, whose API socialkpi does not read: upgrade Umami (v2 or later): "
            "nothing was written"
        )
    return out, more


# -- shared parts ----------------------------------------------------------------------------------


def server_text(classify: Callable[..., Any]) -> Callable[..., Any]:
    """The collector's classifier, its verdicts (kind, retry) kept, with the server's own words as the message
    (the collector's advice names .env variables; connect says what to do itself)."""

    def wrapped(status: int, headers: Mapping[str, str], body: Any) -> Any:
        verdict = classify(status, headers, body)
        if verdict is None or verdict.kind == "ok":
            return verdict
        return replace(verdict, message=_message(status, body))

    return wrapped


def _message(status: int, body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])  # Umami
        if isinstance(err, str):
            return err  # Plausible
        if body.get("result") == "error" and isinstance(body.get("message"), str):
            return str(body["message"])  # Matomo
    snippet = body if isinstance(body, str) else getattr(body, "snippet", "")  # a body that is not JSON
    if isinstance(snippet, str) and snippet.strip():
        return f"HTTP {status}: {snippet.strip()[:120]}"
    return f"HTTP {status}"


def said(exc: CollectorError) -> str:
    text = exc.message.removeprefix(f"{exc.platform}: ").strip()
    return text[:200] + (f", HTTP {exc.status}" if exc.status and f"HTTP {exc.status}" not in text else "")


def env_name(session: Session, name: str) -> str:
    return f"SOCIALKPI_{session.platform.upper()}_{name}"


def _key_refused(session: Session, exc: CollectorError) -> str:
    return (
        f"{session.platform}: the key was refused ({said(exc)}): check {env_name(session, 'TOKEN')}; create "
        f"{WHERE[session.platform]}: nothing was written"
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
