"""Connect Mastodon: no developer app to create, socialkpi registers its own on the instance, then OAuth 2.0.

Docs: https://docs.joinmastodon.org/spec/oauth/ and https://docs.joinmastodon.org/client/token/ (the flow),
https://docs.joinmastodon.org/methods/apps/#create (``POST /api/v1/apps`` with ``client_name``,
``redirect_uris``, ``scopes``, ``website``: "Store the client_id and client_secret in your cache"),
https://docs.joinmastodon.org/methods/oauth/ (``GET /oauth/authorize`` with ``response_type=code``,
``client_id``, ``redirect_uri``, ``scope``, ``state``, and since 4.3.0 ``code_challenge`` with
``code_challenge_method`` "Must be ``S256``"; ``POST /oauth/token`` with ``grant_type=authorization_code``,
``code``, ``client_id``, ``client_secret``, ``redirect_uri``, ``code_verifier``; ``GET
/.well-known/oauth-authorization-server``, "4.3.0 - added", a 404 before), and
https://docs.joinmastodon.org/methods/accounts/ (``GET /api/v1/accounts/verify_credentials``: "User token +
``profile`` or ``read:accounts``"; ``GET /api/v1/accounts/lookup?acct=``: public).

Three ways in (``socialkpi connect mastodon ...``):

* ``--instance HOST`` (with ``--select all`` or no ``--select``): the app ``socialkpi`` registered on HOST
  with the loopback redirect URI and the scope ``read:accounts`` (the lookup ``socialkpi collect`` makes
  takes a token with ``read`` or ``read:accounts`` only: "authorize_if_got_token! :read, :'read:accounts'",
  so ``profile`` would not do); PKCE S256 where the instance's metadata lists it (4.3+); the token
  (Mastodon tokens "will not expire automatically") stored with the app's client id and secret and
  ``https://HOST``; the account is the token's (verify_credentials), written ``username@HOST``.
* ``--select USER@HOST[,USER@HOST...]``: the account added without any token ("the public numbers need
  none"), after one public lookup on HOST proves it exists; nothing to authorize.
* ``--competitor USER@HOST`` (or ``@USER@HOST``, ``https://HOST/@USER``): someone else's account, by the
  same public lookup on its own instance.

Environment: ``SOCIALKPI_MASTODON_BASE_URL`` replaces ``https://HOST`` for every call (the sandbox, a
proxy); ``SOCIALKPI_MASTODON_AUTH_URL`` / ``_TOKEN_URL`` replace the consent page / the token endpoint.  No
client id or secret is read: the app is registered anew on each connect (its secret is minted by the
instance and kept in the token store).
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from collectors.observation import Account
from collectors.tokens import StoredToken
from socialkpi.connect import Found, Session
from socialkpi.connect.flow import Authorization, ConnectError, oauth_classify, register_answer

PLATFORM = "mastodon"
APPS_ENDPOINT = "/api/v1/apps"
METADATA_ENDPOINT = "/.well-known/oauth-authorization-server"
AUTHORIZE_ENDPOINT = "/oauth/authorize"
TOKEN_ENDPOINT = "/oauth/token"  # noqa: S105 (an endpoint)
VERIFY_ENDPOINT = "/api/v1/accounts/verify_credentials"
LOOKUP_ENDPOINT = "/api/v1/accounts/lookup"
SCOPES = ("read:accounts",)
CLIENT_NAME = "socialkpi"
WEBSITE = "https://github.com/socialkpi/socialkpi"
_USER = re.compile(r"[A-Za-z0-9_]+")
_HOST = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?")


def _classify() -> Any:
    from collectors.mastodon import classify

    return classify


@dataclass(frozen=True)
class App:
    """What ``POST /api/v1/apps`` answered: the client socialkpi uses on this instance."""

    client_id: str
    client_secret: str
    redirect_uri: str


# -- the flows -----------------------------------------------------------------------------------------


def connect(session: Session) -> list[Found]:
    """``--select USER@HOST``: the public accounts named; else the OAuth flow on ``--instance``."""
    if session.select is not None and session.select.strip().lower() != "all":
        return [_public(session, part, competitor=False) for part in session.select.split(",") if part.strip()]
    host = _instance(session)
    if session.port == 0:  # the redirect URI is registered before the receiver listens: fix the port now
        session.port = _free_port()
    root = session.base_url(f"https://{host}")
    with session.client(_classify()) as client:
        pkce = supports_pkce(client, root)
        app = register(client, root, host=host, redirect_uri=session.redirect_uri())
    grant = session.authorize(
        Authorization(
            platform=PLATFORM,
            label=f"Mastodon ({host})",
            url=session.endpoint("AUTH", f"https://{host}{AUTHORIZE_ENDPOINT}"),
            client_id=app.client_id,
            scopes=SCOPES,
            pkce="S256" if pkce else None,
            redirect_host="localhost",
        )
    )
    form = {
        "grant_type": "authorization_code",
        "code": grant.code,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "redirect_uri": grant.redirect_uri,
    }
    if grant.code_verifier:
        form["code_verifier"] = grant.code_verifier
    with session.client() as client:
        body = exchange(client, session.endpoint("TOKEN", f"https://{host}{TOKEN_ENDPOINT}"), form, host=host)
        token = parse_token(body)
        client.classify = _classify()
        client.auth_headers = lambda: {"Authorization": f"Bearer {token.access_token}"}
        me = client.get_json(root + VERIFY_ENDPOINT)
    user = parse_account(me, host)
    return [
        Found(
            account=Account(PLATFORM, user["id"], user["name"]),
            detail=_detail(user),
            token=token,
            client_id=app.client_id,
            client_secret=app.client_secret,
            base_url=f"https://{host}",
            extra={"instance": host},
        )
    ]


def competitor(session: Session, handle: str) -> Found:
    """``user@instance``, ``@user@instance`` or ``https://instance/@user``: the public lookup on its instance."""
    return _public(session, handle, competitor=True)


def _public(session: Session, text: str, *, competitor: bool) -> Found:
    user, host = account_of(text, default_instance=_given_instance(session))
    if not competitor and session.instance and _given_instance(session) != host:
        raise ConnectError(
            f"mastodon: --select {text.strip()} is on {host}, not on --instance {session.instance}: nothing was written"
        )
    if not competitor and not _is_account_id(text):
        raise ConnectError(
            f"mastodon: --select takes the account id as socialkpi.toml writes it: --select {user}@{host} "
            "(or --select all to sign in); nothing was written"
        )
    body = lookup(session, user, host, competitor=competitor)
    found = parse_account(body, host)
    if not competitor:  # --select names it: the list is not shown, so say what was found (no token: public)
        session.terminal.say(f"Found mastodon {found['id']}: {found['name']} ({_detail(found)}; public, no token)")
    return Found(account=Account(PLATFORM, found["id"], found["name"], competitor=competitor), detail=_detail(found))


# -- the steps -----------------------------------------------------------------------------------------


def supports_pkce(client: Any, root: str) -> bool:
    """Whether the instance takes PKCE: its 4.3+ metadata lists S256 (older servers answer 404)."""
    from collectors.errors import CollectorError

    try:
        meta = client.get_json(root + METADATA_ENDPOINT)
    except CollectorError:
        return False
    methods = meta.get("code_challenge_methods_supported") if isinstance(meta, dict) else None
    return isinstance(methods, list) and "S256" in methods


def register(client: Any, root: str, *, host: str, redirect_uri: str) -> App:
    """``POST /api/v1/apps``: socialkpi's app on this instance, with the redirect URI and scope it uses."""
    from collectors.errors import CollectorError
    from collectors.redaction import register_secret

    try:
        body = client.post_json(
            root + APPS_ENDPOINT,
            json_body={
                "client_name": CLIENT_NAME,
                "redirect_uris": redirect_uri,
                "scopes": " ".join(SCOPES),
                "website": WEBSITE,
            },
            retry=False,
        )
    except CollectorError as exc:
        said = exc.message.removeprefix(f"{PLATFORM}: ")
        raise ConnectError(
            f"mastodon: {host} did not register socialkpi's app ({said}); check the instance name "
            f"(--instance {host}); nothing was written"
        ) from None
    return parse_app(body, host=host, redirect_uri=redirect_uri, register=register_secret)


def exchange(client: Any, token_url: str, form: dict[str, str], *, host: str) -> dict[str, Any]:
    """The code for a token (RFC 6749 §4.1.3 as Mastodon takes it); one line naming the cause when refused."""
    from collectors.errors import AuthError, CollectorError
    from collectors.redaction import register_secret

    for name in ("client_secret", "code", "code_verifier"):
        register_secret(form.get(name))
    client.classify = oauth_classify
    try:
        body = client.post_json(token_url, data=form, retry=False)
    except CollectorError as exc:
        said = exc.message.removeprefix(f"{PLATFORM}: ")
        if exc.code in {"invalid_client", "unauthorized_client"} or isinstance(exc, AuthError):
            raise ConnectError(
                f"mastodon: {host} refused the app socialkpi registered a moment ago ({said}); run "
                f"`socialkpi connect mastodon --instance {host}` again; nothing was written"
            ) from None
        if exc.code == "invalid_grant":
            raise ConnectError(
                f"mastodon: the authorization code was refused ({said}): it was already used or has expired; run "
                f"`socialkpi connect mastodon --instance {host}` again; nothing was written"
            ) from None
        raise ConnectError(f"mastodon: the token exchange on {host} failed ({said}); nothing was written") from None
    finally:
        client.classify = None
    register_answer(body)
    if not isinstance(body, dict):
        raise ConnectError("mastodon: the token endpoint answered without a token; nothing was written")
    return body


def lookup(session: Session, user: str, host: str, *, competitor: bool) -> Any:
    """``GET https://HOST/api/v1/accounts/lookup?acct=USER``, public (no token sent)."""
    from collectors.errors import AuthError, CollectorError

    root = session.base_url(f"https://{host}")
    with session.client(_classify()) as client:
        try:
            return client.get_json(root + LOOKUP_ENDPOINT, params={"acct": user})
        except CollectorError as exc:
            said = exc.message.removeprefix(f"{PLATFORM}: ")
            if exc.code == "not_found":
                raise ConnectError(f"mastodon: no account @{user}@{host} ({said}): nothing was written") from None
            if isinstance(exc, AuthError):
                fix = (
                    "its numbers cannot be read without an account there"
                    if competitor
                    else f"connect it with a token instead: socialkpi connect mastodon --instance {host}"
                )
                raise ConnectError(
                    f"mastodon: {host} refuses unauthenticated API calls ({said}): {fix}; nothing was written"
                ) from None
            raise ConnectError(
                f"mastodon: @{user}@{host} could not be looked up ({said}): nothing was written"
            ) from None


# -- pure parts ----------------------------------------------------------------------------------------


def instance_of(text: str) -> str:
    """``mastodon.social``, ``https://mastodon.social/``, ``@me@mastodon.social`` -> ``mastodon.social``."""
    raw = text.strip()
    if "://" in raw:
        raw = urlsplit(raw).netloc
    raw = raw.split("/", 1)[0].rsplit("@", 1)[-1].lower().rstrip(".")
    if not _HOST.fullmatch(raw):
        raise ConnectError(
            f"mastodon: {text!r} is not an instance's host name (such as mastodon.social): nothing was written"
        )
    return raw


def account_of(text: str, *, default_instance: str | None = None) -> tuple[str, str]:
    """``user@instance``, ``@user@instance``, ``https://instance/@user``, ``https://instance/@user@other``,
    ``https://instance/users/user`` -> ``(user, instance)``; a bare ``user`` takes ``default_instance``."""
    raw = text.strip().strip("<>")
    if "/" in raw:
        parts = urlsplit(raw if "://" in raw else "https://" + raw)
        segments = [s for s in parts.path.split("/") if s]
        if segments and segments[0].startswith("@"):
            name = segments[0][1:]
        elif len(segments) >= 2 and segments[0] == "users":
            name = segments[1]
        else:
            raise ConnectError(
                f"mastodon: {text!r} is not a profile address (https://instance/@user): nothing was written"
            )
        user, _, other = name.partition("@")
        host = other or parts.netloc
    else:
        user, _, host = raw.removeprefix("@").partition("@")
        if not host:
            if not default_instance:
                raise ConnectError(
                    f"mastodon: {text!r} has no instance: give user@instance (such as cornerbakery@mastodon.social) "
                    "or pass --instance HOST; nothing was written"
                )
            host = default_instance
    if not _USER.fullmatch(user):
        raise ConnectError(f"mastodon: {user!r} is not a Mastodon username (letters, digits, _): nothing was written")
    return user, instance_of(host)


def parse_app(body: Any, *, host: str, redirect_uri: str, register: Any = None) -> App:
    """The ``CredentialApplication``: ``client_id`` and ``client_secret``; the redirect URI must be registered."""
    if not isinstance(body, dict) or not isinstance(body.get("client_id"), str) or not body.get("client_secret"):
        raise ConnectError(f"mastodon: {host} answered the app registration without a client id: nothing was written")
    secret = str(body["client_secret"])
    if register is not None:
        register(secret)
    uris = body.get("redirect_uris")
    if not isinstance(uris, list):  # before 4.3: "redirect_uri", the URIs joined by newlines
        uris = str(body.get("redirect_uri") or "").split()
    if redirect_uri not in uris:
        raise ConnectError(
            f"mastodon: {host} registered the app without the redirect URI {redirect_uri}: nothing was written"
        )
    return App(client_id=str(body["client_id"]), client_secret=secret, redirect_uri=redirect_uri)


def parse_token(body: dict[str, Any]) -> StoredToken:
    """``{access_token, token_type: "Bearer", scope, created_at}``: no refresh token, no expiry."""
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise ConnectError("mastodon: the token endpoint answered without an access_token: nothing was written")
    return StoredToken(access_token=access)


def parse_account(body: Any, host: str) -> dict[str, str]:
    """An ``Account`` (verify_credentials or lookup) -> ``{"id": "username@host", "name", "followers", ...}``."""
    if not isinstance(body, dict) or not isinstance(body.get("username"), str) or not _USER.fullmatch(body["username"]):
        raise ConnectError(f"mastodon: {host} answered without the account's username: nothing was written")
    followers = body.get("followers_count")
    posts = body.get("statuses_count")
    return {
        "id": f"{body['username']}@{host}",
        "name": str(body.get("display_name") or body["username"]),
        "followers": str(followers) if isinstance(followers, int) and not isinstance(followers, bool) else "",
        "posts": str(posts) if isinstance(posts, int) and not isinstance(posts, bool) else "",
        "suspended": "yes" if body.get("suspended") is True else "",
    }


def _detail(user: dict[str, str]) -> str:
    text = f"@{user['id']}"
    if user.get("suspended"):
        return text + ", suspended: Mastodon serves no counts for it"
    if user.get("followers"):
        text += f", {int(user['followers']):,} followers"
    if user.get("posts"):
        text += f", {int(user['posts']):,} posts"
    return text


def _is_account_id(text: str) -> bool:
    return "/" not in text and text.strip().removeprefix("@").count("@") == 1


def _given_instance(session: Session) -> str | None:
    return instance_of(session.instance) if session.instance else None


def _instance(session: Session) -> str:
    """``--instance HOST``, else asked on a terminal."""
    if session.instance:
        return instance_of(session.instance)
    if not session.terminal.interactive:
        raise ConnectError(
            "mastodon: which instance? pass --instance HOST (such as --instance mastodon.social), or "
            "--select USER@HOST to add an account without a token"
        )
    return instance_of(session.terminal.ask("Your Mastodon instance (such as mastodon.social): "))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
