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

Discovery with the new access token: :mod:`socialkpi.connect.google_accounts`.

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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from collectors.errors import CollectorError
from collectors.google_auth import SCOPES, is_api_key
from collectors.redaction import register_secret
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
from socialkpi.connect.google_accounts import (
    CHANNELS,
    DISCOVER,
    NONE,
    YOUTUBE_ROOT,
    api_client,
    api_root,
    channel_query,
    items_of,
    parse_channel,
)

GOOGLE = ("ga4", "google_business", "youtube")  # what ``connect google`` connects, in this order
SECRETS_ENV = "SOCIALKPI_GOOGLE_CLIENT_SECRETS"
AUTH_URL = "https://accounts.google.com/o/oauth2/auth"  # what the console's client JSON names
TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (an endpoint)
LABEL = "Google"
WHERE = (
    "Google Cloud console > Google Auth Platform > Clients > Create client > Desktop app, then Download JSON "
    "(docs/connect.md)"
)
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
    url = api_root(session, "youtube", YOUTUBE_ROOT) + CHANNELS
    with api_client(session, "youtube", bearer, key=key) as client:
        try:
            body = client.get_json(url, params={"part": "snippet,statistics", **query})
        except CollectorError as exc:
            raise ConnectError(
                f"youtube: {handle!r} could not be looked up ({exc.message}): nothing was written"
            ) from None
    items = items_of(body, "items")
    if not items or not isinstance(items[0].get("id"), str):
        asked = ", ".join(f"{k}={v}" for k, v in query.items())
        raise ConnectError(f"youtube: no channel {handle!r} (channels.list {asked} found none): nothing was written")
    return parse_channel(items[0], competitor=True)


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
    with api_client(session, "youtube") as client:
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
