"""Connect LinkedIn: 3-legged OAuth (authorization code), then the organizations the member administers.

Docs (quoted in tests/test_connect_linkedin.py):

* https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow: authorize at
  ``https://www.linkedin.com/oauth/v2/authorization`` with ``response_type=code``, ``client_id``,
  ``redirect_uri``, ``state`` and a space-separated ``scope`` ("If multiple scopes are requested, the user
  must consent to all of them"); a refusal comes back as ``error=user_cancelled_authorize`` ("The member
  refused to authorize the permissions request from your application") or ``user_cancelled_login``; then
  ``POST https://www.linkedin.com/oauth/v2/accessToken`` with ``grant_type=authorization_code``, ``code``,
  ``client_id``, ``client_secret``, ``redirect_uri`` in the form (LinkedIn's official Python client,
  ``exchange_auth_code_for_access_token``), answering ``access_token``, ``expires_in``, ``scope`` and,
  only "if refresh tokens are enabled for the application", ``refresh_token`` and
  ``refresh_token_expires_in``.
* https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens: "By default,
  access tokens are valid for 60 days and programmatic refresh tokens are valid for a year"; refresh
  tokens are for "approved Marketing Developer Platform (MDP) partners".  Without one the connection
  ends after 60 days (status and the Data health page warn) and ``socialkpi connect linkedin`` renews it.
* PKCE is not used: "please reach out to your point of contact at LinkedIn, and we will enable PKCE
  OAuth 2 flow for your app" (.../authorization-code-flow-native): a self-serve app sends its secret.
* https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/organization-access-control-by-role:
  ``GET /rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED`` ("FINDER requests must
  include a header for Restli Protocol 2.0.0"); each element's ``organization`` URN names an organization,
  whose ``localizedName`` comes from ``GET /rest/organizations/{id}`` (.../organization-lookup-api:
  "You can use the organization ID to lookup organization information on behalf of authenticated members
  with role type ADMINISTRATOR for that organization").
* Competitors: "Organization lookup APIs are also provided to find organizations, brands, or schools using
  a vanity name" (.../community-management-overview), the ``vanityName`` finder
  (``GET /rest/organizations?q=vanityName&vanityName=...``); a numeric id is looked up directly ("APIs that
  do not require administrative access will only return the following fields: id name localizedName
  localizedWebsite vanityName ...").

Scope ``rw_organization_admin`` (Community Management API): every call the collector makes needs it
("Manage organizations pages and retrieve reporting data. Restricted to organizations in which the
authenticated member has the role type ADMINISTRATOR").  The redirect URI is
``http://localhost:8765/callback``, registered under the app's Auth tab.

Environment: ``SOCIALKPI_LINKEDIN_CLIENT_ID`` and ``SOCIALKPI_LINKEDIN_CLIENT_SECRET`` (Developer Portal >
your app > Auth); ``SOCIALKPI_LINKEDIN_AUTH_URL``, ``_TOKEN_URL``, ``_BASE_URL`` replace the endpoints
(``_BASE_URL`` serves both www.linkedin.com's OAuth paths and api.linkedin.com's, as for the collector);
``SOCIALKPI_LINKEDIN_TOKEN`` is read by ``--competitor`` when no account is connected yet.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from collectors.observation import Account
from collectors.tokens import StoredToken, refresh_expiry
from socialkpi.connect import Found, Session
from socialkpi.connect.flow import Authorization, ConnectError, exchange_code, expires_at, oauth_classify

PLATFORM = "linkedin"
AUTH_URL = "https://www.linkedin.com/oauth/v2/authorization"
TOKEN_URL = "https://www.linkedin.com/oauth/v2/accessToken"  # noqa: S105 (an endpoint)
API_ROOT = "https://api.linkedin.com"
ACLS = "/rest/organizationAcls"
ACL_QUERY = {"q": "roleAssignee", "role": "ADMINISTRATOR", "state": "APPROVED"}
ORGANIZATION = "/rest/organizations/{id}"
ORGANIZATIONS = "/rest/organizations"
NETWORK_SIZES = "/rest/networkSizes/{urn}?edgeType=COMPANY_FOLLOWED_BY_MEMBER"
SCOPES = ("rw_organization_admin",)
PAGE_SIZE = 100
MAX_PAGES = 20
WHERE = "LinkedIn Developer Portal > your app > Auth > Client ID and Primary Client Secret"
URN = re.compile(r"urn:li:organization:(\d+)")


def _classify() -> Any:
    from collectors.linkedin import classify

    return classify


def _headers() -> dict[str, str]:
    from collectors.linkedin import HEADERS

    return dict(HEADERS)


def token_classify(status: int, headers: Any, body: Any) -> Any:
    """RFC 6749 §5.2 errors of the token endpoint; LinkedIn also answers a used, expired or foreign code
    with ``invalid_redirect_uri`` ("Unable to retrieve access token: appid/redirect uri/code verifier does
    not match authorization code. Or authorization code expired..."): that is a refused code too."""
    verdict = oauth_classify(status, headers, body)
    if verdict is not None and verdict.code == "invalid_redirect_uri" and "authorization code" in verdict.message:
        return replace(verdict, code="invalid_grant")
    return verdict


def connect(session: Session) -> list[Found]:
    client_id, client_secret = session.app(where=WHERE)
    assert client_secret is not None
    grant = session.authorize(
        Authorization(
            platform=PLATFORM,
            label="LinkedIn",
            url=session.endpoint("AUTH", AUTH_URL),
            client_id=client_id,
            scopes=SCOPES,
            pkce=None,  # enabled by LinkedIn per app, for native partners only
        )
    )
    form = {
        "grant_type": "authorization_code",
        "code": grant.code,
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": grant.redirect_uri,
    }
    with session.client(token_classify) as client:
        body = exchange_code(
            client,
            session.endpoint("TOKEN", TOKEN_URL),
            form,
            platform=PLATFORM,
            secret_env="SOCIALKPI_LINKEDIN_CLIENT_SECRET",  # noqa: S106 (a variable name)
            client_id_env="SOCIALKPI_LINKEDIN_CLIENT_ID",
        )
        token = parse_token(body)
        client.classify = _classify()
        headers = _headers()
        client.auth_headers = lambda: {"Authorization": f"Bearer {token.access_token}", **headers}
        root = session.base_url(API_ROOT)
        org_ids = administered(client, root)
        found = []
        for org_id in org_ids:
            org = _organization(client, root, org_id)
            followers = _followers(client, root, org_id)
            found.append(
                Found(
                    account=Account(PLATFORM, org_id, org["name"]),
                    detail=_detail(org, followers, administrator=True),
                    token=token,
                    client_id=client_id,
                    client_secret=client_secret,
                )
            )
    if found and token.refresh_token is None:
        session.terminal.say(
            "LinkedIn gave no refresh token (only Marketing Developer Platform partners get one): the access "
            "token lasts 60 days; socialkpi warns before it ends, and `socialkpi connect linkedin` renews it."
        )
    return found


def administered(client: Any, root: str) -> list[str]:
    """The ids of the organizations whose APPROVED ADMINISTRATOR the member is (all pages of the finder)."""
    ids: list[str] = []
    start = 0
    for _ in range(MAX_PAGES):
        page = client.get_json(root + ACLS, params={**ACL_QUERY, "start": start, "count": PAGE_SIZE})
        elements = parse_acls(page)
        for org_id in elements:
            if org_id not in ids:
                ids.append(org_id)
        paging = page.get("paging") if isinstance(page, dict) else None
        total = paging.get("total") if isinstance(paging, dict) else None
        count = len(page.get("elements") or []) if isinstance(page, dict) else 0
        start += count
        if not count or not isinstance(total, int) or start >= total:
            break
    return ids


def competitor(session: Session, handle: str) -> Found:
    """An organization by its page address (``linkedin.com/company/<vanity name>``), vanity name or numeric id,
    read with the connected token (else ``SOCIALKPI_LINKEDIN_TOKEN``)."""
    from collectors.errors import AuthError, BadRequest, CollectorError, PermissionDenied
    from collectors.tokens import TokenStore

    kind, value = handle_of(handle)
    bearer = session.var("TOKEN")
    if not bearer:
        conn = TokenStore.beside(session.settings.db_path).connection(PLATFORM, "", fallback=True)
        bearer = conn.token.access_token if conn else None
    if not bearer:
        raise ConnectError(
            "linkedin: looking up a competitor needs a token: run `socialkpi connect linkedin` first (or set "
            "SOCIALKPI_LINKEDIN_TOKEN); nothing was written"
        )
    root = session.base_url(API_ROOT)
    headers = _headers()
    with session.client(_classify()) as client:
        client.auth_headers = lambda: {"Authorization": f"Bearer {bearer}", **headers}
        try:
            if kind == "id":
                body = client.get_json(root + ORGANIZATION.format(id=value))
            else:
                body = client.get_json(root + ORGANIZATIONS, params={"q": "vanityName", "vanityName": value})
                elements = body.get("elements") if isinstance(body, dict) else None
                if not isinstance(elements, list) or not elements:
                    raise ConnectError(
                        f"linkedin: no organization has the vanity name {value!r} (the end of its page address, "
                        "linkedin.com/company/<name>): nothing was written"
                    )
                body = elements[0]
            org = parse_organization(body)
        except AuthError as exc:
            raise ConnectError(
                f"linkedin: the token was refused ({_said(exc)}): run `socialkpi connect linkedin` again; "
                "nothing was written"
            ) from None
        except CollectorError as exc:
            if isinstance(exc, BadRequest) and exc.code == "not_found":
                raise ConnectError(f"linkedin: no organization {value} ({_said(exc)}): nothing was written") from None
            raise ConnectError(f"linkedin: {value} could not be looked up ({_said(exc)}): nothing was written") from exc
        try:
            followers = _network_size(client, root, org["id"])
        except PermissionDenied as exc:
            raise ConnectError(
                f"linkedin: found {org['name']} ({org['id']}), but LinkedIn refuses its follower count to this "
                f"token ({_said(exc)}), the one number socialkpi collects for a competitor: nothing was written"
            ) from None
    return Found(
        account=Account(PLATFORM, org["id"], org["name"], competitor=True),
        detail=_detail(org, followers, administrator=False),
    )


# -- pure parts ------------------------------------------------------------------------------------


def parse_token(body: dict[str, Any], *, now: float | None = None) -> StoredToken:
    """``{access_token, expires_in, scope, refresh_token?, refresh_token_expires_in?}``; the refresh token is
    kept when LinkedIn gives one (programmatic refresh), with its end (365 days, not extended by refreshing)."""
    import time

    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise ConnectError("linkedin: the token endpoint answered without an access_token: nothing was written")
    moment = time.time() if now is None else now
    refresh = body.get("refresh_token")
    refresh = refresh if isinstance(refresh, str) and refresh else None
    seconds = body.get("refresh_token_expires_in")
    if isinstance(seconds, str) and seconds.strip().isdigit():
        body = {**body, "refresh_token_expires_in": int(seconds)}
    return StoredToken(
        access_token=access,
        refresh_token=refresh,
        expires_at=expires_at(body, now=moment),
        refresh_expires_at=refresh_expiry(body, moment) if refresh else None,
    )


def parse_acls(body: Any) -> list[str]:
    """``{"elements": [{"organization": "urn:li:organization:<id>", "role", "state", "roleAssignee"}]}`` ->
    the ids of the APPROVED ADMINISTRATOR roles, in order (other roles cannot read the statistics)."""
    elements = body.get("elements") if isinstance(body, dict) else None
    if not isinstance(elements, list):
        raise ConnectError("linkedin: the organizationAcls answer has no elements list: nothing was written")
    ids: list[str] = []
    for element in elements:
        if not isinstance(element, dict):
            continue
        if element.get("role", "ADMINISTRATOR") != "ADMINISTRATOR" or element.get("state", "APPROVED") != "APPROVED":
            continue
        match = URN.fullmatch(str(element.get("organization") or element.get("organizationTarget") or ""))
        if match and match[1] not in ids:
            ids.append(match[1])
    return ids


def parse_organization(body: Any) -> dict[str, str]:
    """An organization record -> ``{"id", "name", "vanity"}`` (``localizedName``, else the id)."""
    if not isinstance(body, dict) or not str(body.get("id", "")).isdigit():
        raise ConnectError("linkedin: the organization answer has no numeric id: nothing was written")
    org_id = str(body["id"])
    name = body.get("localizedName")
    if not isinstance(name, str) or not name.strip():
        localized = body.get("name", {}).get("localized") if isinstance(body.get("name"), dict) else None
        name = next(iter(localized.values()), "") if isinstance(localized, dict) and localized else ""
    vanity = body.get("vanityName")
    return {
        "id": org_id,
        "name": str(name).strip() or f"LinkedIn organization {org_id}",
        "vanity": vanity if isinstance(vanity, str) else "",
    }


def handle_of(text: str) -> tuple[str, str]:
    """``("id", "2414183")`` for an id or ``urn:li:organization:<id>``; ``("vanity", "name")`` for
    ``name``, ``linkedin.com/company/name`` or ``https://www.linkedin.com/company/name/about/``."""
    raw = text.strip()
    match = URN.fullmatch(raw)
    if match:
        return "id", match[1]
    if raw.isdigit():
        return "id", raw
    if "/" in raw:
        parts = urlsplit(raw if "://" in raw else "https://" + raw)
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) >= 2 and segments[0] in {"company", "showcase", "school"}:
            raw = segments[1]
        else:
            raise ConnectError(
                f"linkedin: {text!r} is not a LinkedIn page address (linkedin.com/company/<name>): nothing was written"
            )
        if raw.isdigit():
            return "id", raw
    name = unquote(raw).removeprefix("@")
    if not re.fullmatch(r"[\w.&-]{1,100}", name):
        raise ConnectError(
            f"linkedin: {text!r} is neither an organization id nor a vanity name (the end of the page address "
            "linkedin.com/company/<name>): nothing was written"
        )
    return "vanity", name


# -- calls ------------------------------------------------------------------------------------------


def _organization(client: Any, root: str, org_id: str) -> dict[str, str]:
    """The organization's name; a record LinkedIn refuses to show leaves the id as its name."""
    from collectors.errors import BadRequest, PermissionDenied

    try:
        return parse_organization(client.get_json(root + ORGANIZATION.format(id=org_id)))
    except (PermissionDenied, BadRequest):
        return {"id": org_id, "name": f"LinkedIn organization {org_id}", "vanity": ""}


def _network_size(client: Any, root: str, org_id: str) -> int | None:
    body = client.get_json(root + NETWORK_SIZES.format(urn=quote(f"urn:li:organization:{org_id}", safe="")))
    size = body.get("firstDegreeSize") if isinstance(body, dict) else None
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def _followers(client: Any, root: str, org_id: str) -> int | None:
    from collectors.errors import BadRequest, PermissionDenied

    try:
        return _network_size(client, root, org_id)
    except (PermissionDenied, BadRequest):
        return None


def _detail(org: dict[str, str], followers: int | None, *, administrator: bool) -> str:
    parts = [f"linkedin.com/company/{org['vanity']}" if org.get("vanity") else "LinkedIn Page"]
    if administrator:
        parts.append("administrator")
    if followers is not None:
        parts.append(f"{followers:,} followers")
    return ", ".join(parts)


def _said(exc: Any) -> str:
    return str(exc.message).removeprefix("linkedin: ").split(": the token needs")[0]
