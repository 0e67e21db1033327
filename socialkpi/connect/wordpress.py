"""Connect WordPress.com (and Jetpack sites): the OAuth2 authorization code flow, then the user's sites.

Docs: https://developer.wordpress.com/docs/api/oauth2/ ("OAuth2 authentication"): authorize at
``https://public-api.wordpress.com/oauth2/authorize`` with ``client_id``, ``redirect_uri`` ("Must match
registered redirect URI"), ``response_type=code``, ``scope`` and ``state`` ("Recommended for CSRF
protection"); "User denial: ``?error=access_denied``"; ``POST https://public-api.wordpress.com/oauth2/token``
with ``client_id``, ``client_secret``, ``code``, ``grant_type`` ("Must be "authorization_code"") and
``redirect_uri``, answered ``{"access_token", "blog_id", "blog_url", "token_type": "bearer"}``; errors
``invalid_client`` ("Invalid client credentials"), ``invalid_grant`` ("Invalid or expired authorization
code").  No PKCE is documented for ``/oauth2/`` (none is sent).  https://developer.wordpress.com/docs/oauth2/
(the older page): "These tokens do not expire"; "If you are specifying the scope as global then you should
omit the blog parameter".  Discovery: ``GET /rest/v1.1/me/sites`` ("Get a list of the current user's
sites"; ``fields=ID,name,URL,jetpack,capabilities``).

Scope ``global``: one consent for every site of the account (the default scope is "full access to a single
blog" the person picks, and the ``stats`` scope's reach is not documented).  Sites whose ``capabilities``
say ``view_stats`` false are left out; each chosen site is checked with one day of stats (the collector's
``check``) before anything is written, so a Jetpack site without Stats is named at once.

Account id: the site's domain (``cornerbakery.blog``, ``example.wordpress.com``), or its numeric blog id
when the site lives in a folder of its domain.  The token goes to the token store (one per site, the
same token); the client secret is not stored (a code-flow token has no refresh).

Environment: ``SOCIALKPI_WORDPRESS_CLIENT_ID`` / ``_CLIENT_SECRET`` (developer.wordpress.com/apps, the app's
"Client ID" and "Client Secret"; asked on a terminal when missing); ``SOCIALKPI_WORDPRESS_AUTH_URL``,
``_TOKEN_URL``, ``_BASE_URL`` replace the endpoints.  The redirect URL to register:
``http://localhost:8765/callback`` (WordPress.com "only redirects to a URL that exactly matches a
registered one").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from collectors.observation import Account
from collectors.tokens import StoredToken
from socialkpi.connect import Found, Session
from socialkpi.connect.flow import Authorization, ConnectError, exchange_code

PLATFORM = "wordpress"
API_ROOT = "https://public-api.wordpress.com"
AUTH_URL = API_ROOT + "/oauth2/authorize"
TOKEN_URL = API_ROOT + "/oauth2/token"  # noqa: S105 (an endpoint)
SITES_ENDPOINT = "/rest/v1.1/me/sites"
SITE_FIELDS = "ID,name,URL,jetpack,capabilities"
SCOPES = ("global",)
WHERE = "developer.wordpress.com/apps > your application > Client ID and Client Secret"


def _classify() -> Any:
    from collectors.wordpress import classify

    return classify


def connect(session: Session) -> list[Found]:
    client_id, client_secret = session.app(where=WHERE)
    assert client_secret is not None
    grant = session.authorize(
        Authorization(
            platform=PLATFORM,
            label="WordPress.com",
            url=session.endpoint("AUTH", AUTH_URL),
            client_id=client_id,
            scopes=SCOPES,
            pkce=None,  # not documented for /oauth2/authorize
            redirect_host="localhost",
        )
    )
    form = {
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": grant.redirect_uri,
        "code": grant.code,
        "grant_type": "authorization_code",
    }
    with session.client() as client:
        body = exchange_code(
            client,
            session.endpoint("TOKEN", TOKEN_URL),
            form,
            platform=PLATFORM,
            secret_env="SOCIALKPI_WORDPRESS_CLIENT_SECRET",  # noqa: S106 (a variable name)
            client_id_env="SOCIALKPI_WORDPRESS_CLIENT_ID",
        )
        token, token_site = parse_token(body)
        client.classify = _classify()
        client.auth_headers = lambda: {"Authorization": f"Bearer {token.access_token}"}
        listed = client.get_json(
            session.base_url(API_ROOT) + SITES_ENDPOINT, params={"fields": SITE_FIELDS, "site_visibility": "all"}
        )
    sites, left_out = parse_sites(listed)
    for name in left_out:
        session.terminal.say(f"left out: {name} (your WordPress.com user cannot view its stats)")
    if not sites and token_site is not None:
        sites = [token_site]  # the token's own blog, when the list is empty
    return [
        Found(
            account=Account(PLATFORM, site["id"], site["name"]),
            detail=site["detail"],
            token=token,
            client_id=client_id,
            extra={"blog_id": site["blog_id"]} if site["blog_id"] else {},
        )
        for site in sites
    ]


def verify(session: Session, chosen: list[Found]) -> list[Found]:
    """One day of stats per chosen site (the collector's ``check``): a site whose stats cannot be read is
    named before anything is written."""
    from collectors.context import CollectContext, Credentials
    from collectors.errors import CollectorError
    from collectors.wordpress import check, classify

    with session.client(classify) as client:
        for found in chosen:
            assert found.token is not None
            ctx = CollectContext(
                account=found.account,
                credentials=Credentials(token=found.token.access_token, base_url=session.var("BASE_URL")),
                collected_at=datetime.now(UTC),
                business_tz=session.settings.timezone,
            )
            try:
                check(client, ctx)
            except CollectorError as exc:
                others = [f.account.id for f in chosen if f is not found]
                hint = f"; add the others with --select {','.join(others)}" if others else ""
                said = exc.message.removeprefix(f"{PLATFORM}: ")
                raise ConnectError(
                    f"wordpress: the stats of {found.account.id} cannot be read ({said}){hint}; nothing was written"
                ) from None
    return chosen


# -- pure parts ----------------------------------------------------------------------------------------


def parse_token(body: dict[str, Any]) -> tuple[StoredToken, dict[str, str] | None]:
    """``{access_token, blog_id (a string), blog_url, token_type, scope?}`` -> the token (no expiry, no
    refresh) and the token's own blog, when it names one."""
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise ConnectError("wordpress: the token endpoint answered without an access_token: nothing was written")
    blog_id = str(body.get("blog_id") or "").strip()
    blog_url = body.get("blog_url")
    site = None
    if blog_id.isdigit() and blog_id != "0" and isinstance(blog_url, str) and blog_url:
        site = _site(int(blog_id), blog_url, blog_url, jetpack=None)
    return StoredToken(access_token=access), site


def parse_sites(body: Any) -> tuple[list[dict[str, str]], list[str]]:
    """``{"sites": [{"ID", "name", "URL", "jetpack", "capabilities"}]}`` -> (the sites whose stats the user
    can view, the names of the others)."""
    listed = body.get("sites") if isinstance(body, dict) else None
    if not isinstance(listed, list):
        raise ConnectError("wordpress: /me/sites answered without a sites list: nothing was written")
    sites: list[dict[str, str]] = []
    left_out: list[str] = []
    for entry in listed:
        if not isinstance(entry, dict) or not isinstance(entry.get("URL"), str):
            continue
        ident = entry.get("ID")
        if not isinstance(ident, int) or isinstance(ident, bool):
            ident = int(ident) if isinstance(ident, str) and ident.isdigit() else None
        name = str(entry.get("name") or "").strip() or entry["URL"]
        capabilities = entry.get("capabilities")
        if isinstance(capabilities, dict) and capabilities.get("view_stats") is False:
            left_out.append(name)
            continue
        jetpack = entry.get("jetpack")
        sites.append(_site(ident, entry["URL"], name, jetpack=jetpack if isinstance(jetpack, bool) else None))
    return sites, left_out


def site_id(url: str, blog_id: int | None) -> str:
    """The account id: the domain of a site at its domain's root, else (a site in a folder) the blog id."""
    parts = urlsplit(url if "://" in url else "https://" + url)
    host = (parts.hostname or "").lower()
    if host and parts.path.strip("/") == "":
        return host
    if blog_id is not None:
        return str(blog_id)
    raise ConnectError(
        f"wordpress: {url!r} is in a folder of its domain and came without a blog ID: nothing was written"
    )


def _site(blog_id: int | None, url: str, name: str, *, jetpack: bool | None) -> dict[str, str]:
    kind = {True: "Jetpack site", False: "WordPress.com site", None: "site"}[jetpack]
    detail = f"{kind} {url}" + (f", blog ID {blog_id}" if blog_id is not None else "")
    return {"id": site_id(url, blog_id), "name": name, "detail": detail, "blog_id": str(blog_id or "")}
