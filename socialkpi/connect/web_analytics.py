"""Connect Plausible, Matomo and Umami: the server, the key or token checked at once, the sites listed.

No consent page and no developer app: the owner creates a key (or token) in the product itself, and
``socialkpi connect plausible|matomo|umami [--url URL]`` reads it from ``SOCIALKPI_<PLATFORM>_TOKEN`` (or asks
for it, hidden, on a terminal), checks it with the cheapest call, lists the sites it can read, lets the person
pick (``--select all|ID[,ID...]``), then checks each chosen site with the collector's own ``check`` (the call
``socialkpi doctor`` makes) before anything is written.  Each site is stored with the key and the server's
root (``base_url``), so ``socialkpi collect`` needs no ``.env`` afterwards.

The server: ``--url URL`` (a self-hosted server; ``http://`` or ``https://``, trailing ``/`` dropped), else the
vendor's cloud; ``SOCIALKPI_<PLATFORM>_BASE_URL`` wins over both (a proxy, the sandbox).

Each vendor's key and site list: :mod:`socialkpi.connect.web_analytics_sites`.

Environment: ``SOCIALKPI_PLAUSIBLE_TOKEN``, ``SOCIALKPI_MATOMO_TOKEN``, ``SOCIALKPI_UMAMI_TOKEN`` (the key or
token; Umami self-hosted: a token from ``/api/auth/login``), ``SOCIALKPI_UMAMI_CLIENT_ID`` and
``SOCIALKPI_UMAMI_CLIENT_SECRET`` (self-hosted Umami: the username and password to log in with),
``SOCIALKPI_<PLATFORM>_BASE_URL`` (replaces the server).

No competitors: a competitor's website analytics are private (the platform registry says so).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from collectors.context import CollectContext, Credentials
from collectors.errors import AuthError, CollectorError, PermissionDenied
from socialkpi.connect import Found, Session
from socialkpi.connect.flow import ConnectError
from socialkpi.connect.web_analytics_sites import (
    MATOMO_ENDPOINT,
    WHERE,
    env_name,
    list_matomo,
    list_plausible,
    list_umami,
    plan_refused,
    said,
    server_text,
)

PLAUSIBLE_CLOUD = "https://plausible.io"
UMAMI_CLOUD = "https://api.umami.is"


# -- the command's steps ------------------------------------------------------------------------------


def connect(session: Session) -> list[Found]:
    flows: dict[str, Callable[[Session, str], list[Found]]] = {
        "plausible": list_plausible,
        "matomo": list_matomo,
        "umami": list_umami,
    }
    if session.platform not in flows:
        raise ConnectError(f"{session.platform}: not a web analytics platform")
    return flows[session.platform](session, server_root(session))


def verify(session: Session, chosen: Sequence[Found]) -> list[Found]:
    """Each chosen site read once with the collector's ``check`` (what ``socialkpi doctor`` calls)."""
    from collectors import load_check, load_classifier

    check, classify = load_check(session.platform), load_classifier(session.platform)
    assert check is not None and classify is not None  # the three web analytics collectors have both
    now = datetime.now(UTC)
    with session.client(server_text(classify)) as client:
        for found in chosen:
            assert found.token is not None
            ctx = CollectContext(
                account=found.account,
                credentials=Credentials(
                    token=found.token.access_token,
                    base_url=found.base_url,
                    client_id=found.client_id,
                    client_secret=found.client_secret,
                    token_env=env_name(session, "TOKEN"),
                ),
                collected_at=now,
                business_tz=session.settings.timezone,
                token_store=None,  # nothing is written before every chosen site answered
            )
            try:
                detail = check(client, ctx)
            except CollectorError as exc:
                raise ConnectError(_site_refused(session, found, exc)) from None
            session.terminal.say(f"checked {session.platform} {found.account.id}: {detail}")
    return list(chosen)


def competitor(session: Session, handle: str) -> Found:
    from collectors import PLATFORMS

    spec = PLATFORMS[session.platform]
    raise ConnectError(
        f"{session.platform}: {spec.label} cannot collect competitors: {spec.competitor_support}: nothing was written"
    )


def server_root(session: Session) -> str:
    """``SOCIALKPI_<P>_BASE_URL``, else ``--url``, else the vendor's cloud (Matomo has none: ConnectError)."""
    base = session.var("BASE_URL")
    if base:
        root = normalise_url(base, session.platform, flag=env_name(session, "BASE_URL"))
        if session.url and normalise_url(session.url, session.platform) != root:
            session.terminal.say(
                f"{env_name(session, 'BASE_URL')} is set: connecting to {root}, not --url {session.url}"
            )
        return root
    if session.url:
        root = normalise_url(session.url, session.platform)
        host = urlsplit(root).hostname or ""
        if root.startswith("http://") and host not in ("localhost", "127.0.0.1", "::1"):
            session.terminal.say(f"warning: {root} is plain http: the key travels unencrypted")
        return root
    if session.platform == "matomo":
        raise ConnectError(
            "matomo: Matomo has no single cloud address: pass --url with your Matomo's address "
            "(https://stats.example.com, or https://<name>.matomo.cloud for Matomo Cloud): nothing was written"
        )
    return PLAUSIBLE_CLOUD if session.platform == "plausible" else UMAMI_CLOUD


# -- shared parts ----------------------------------------------------------------------------------


def normalise_url(text: str, platform: str, *, flag: str = "--url") -> str:
    """``http(s)://host[/path]`` without a trailing ``/`` (and without a pasted endpoint: Plausible's
    ``/api/v2/query``, Matomo's ``/index.php``); a ConnectError for anything else."""
    url = text.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConnectError(
            f"{platform}: {flag} {text.strip()[:80]!r}: give the server's address with http:// or https:// "
            "(e.g. https://stats.example.com): nothing was written"
        )
    for suffix in {"plausible": ("/api/v2/query", "/api/v1/sites"), "matomo": (MATOMO_ENDPOINT,)}.get(platform, ()):
        if url.endswith(suffix):
            url = url[: -len(suffix)].rstrip("/")
    return url


def _site_refused(session: Session, found: Found, exc: CollectorError) -> str:
    site, platform = found.account.id, session.platform
    if platform == "plausible":
        if exc.status == 402:
            return plan_refused(exc)
        if isinstance(exc, AuthError):
            return (
                f"plausible: {site}: refused ({said(exc)}): the key is wrong or cannot read this site (Plausible "
                f"answers the same for both): check SOCIALKPI_PLAUSIBLE_TOKEN ({WHERE['plausible']}) and that {site} "
                "is the site's domain as shown in Plausible: nothing was written"
            )
    if platform == "matomo" and isinstance(exc, AuthError | PermissionDenied):
        return (
            f"matomo: site {site}: the token cannot read it ({said(exc)}): give the token's user View access to it "
            "(Administration > Websites > Manage, or System > Users): nothing was written"
        )
    if platform == "umami" and isinstance(exc, AuthError | PermissionDenied):
        return (
            f"umami: website {site}: this user cannot read it ({said(exc)}): give the user view access to the website "
            "(Settings > Teams or Users): nothing was written"
        )
    return f"{platform}: {site}: {exc.message.removeprefix(f'{platform}: ')}: nothing was written"
