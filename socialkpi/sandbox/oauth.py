"""What every sandbox consent page and token exchange share: the one test app, the codes, the Allow page.

A platform part answers its authorization endpoint with :func:`consent_page` (after checking the request
as the platform does) and the page's form with :func:`decide`; its token endpoint redeems codes with
:func:`redeem`.  The flow is RFC 6749 §4.1 (https://datatracker.ietf.org/doc/html/rfc6749#section-4.1):

* the consent page is HTML with a form holding the request's parameters and two buttons, ``Allow`` and
  ``Deny`` (``<button name="decision" value="allow">``), posted back to the same path;
* Allow answers ``302`` to ``redirect_uri?code=...&state=...`` (§4.1.2); Deny to
  ``redirect_uri?error=access_denied&error_description=...&state=...`` (§4.1.2.1), or what the platform
  sends instead (``denial=`` of :func:`decide`);
* a code is good once, for 10 minutes, for the client and redirect URI it was issued to, and with PKCE
  only with the verifier whose challenge was sent (RFC 7636 §4.6); :func:`redeem` says which rule failed,
  and the platform part answers with its own error JSON.

The sandbox knows one app: :data:`CLIENT_ID` / :data:`CLIENT_SECRET`; any other id is an unknown app (the
consent page is an error page, as on the platforms), any other secret is refused at the token endpoint.
Tokens it issues are :data:`socialkpi.sandbox.world.TOKEN`, the token every sandbox API accepts.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from socialkpi.sandbox.server import Reply, Request

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 (the sandbox app's fake secret)
CODE_SECONDS = 600


@dataclass
class Issued:
    platform: str
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str | None
    method: str | None
    issued_at: float
    facts: dict[str, str] = field(default_factory=dict)  # what the platform part wants back with the code
    used: bool = False


_codes: dict[str, Issued] = {}
_lock = threading.Lock()


def clear() -> None:
    with _lock:
        _codes.clear()


def issue(
    platform: str,
    *,
    client_id: str,
    redirect_uri: str,
    scope: str = "",
    challenge: str | None = None,
    method: str | None = None,
    facts: Mapping[str, str] | None = None,
) -> str:
    code = f"{platform}-code-{secrets.token_urlsafe(18)}"
    with _lock:
        _codes[code] = Issued(
            platform, client_id, redirect_uri, scope, challenge, method, time.time(), dict(facts or {})
        )
    return code


def verify_pkce(challenge: str | None, method: str | None, verifier: str | None) -> bool:
    """RFC 7636 §4.6; ``S256-hex`` is TikTok desktop's hex SHA-256."""
    if challenge is None:
        return True
    if not verifier:
        return False
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    if method == "S256":
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == challenge
    if method == "S256-hex":
        return digest.hex() == challenge
    return verifier == challenge  # plain


@dataclass(frozen=True)
class Redeemed:
    issued: Issued | None
    error: str = ""  # "", "unknown_code", "used", "expired", "client", "redirect_uri", "pkce"


def redeem(
    platform: str,
    code: str | None,
    *,
    client_id: str | None,
    redirect_uri: str | None,
    verifier: str | None = None,
    check_redirect: bool = True,
) -> Redeemed:
    """Take ``code`` once; ``error`` says which rule it broke (the code is spent even then, as on the platforms)."""
    with _lock:
        issued = _codes.get(code or "")
        if issued is None or issued.platform != platform:
            return Redeemed(None, "unknown_code")
        if issued.used:
            return Redeemed(issued, "used")
        issued.used = True
    if time.time() - issued.issued_at > CODE_SECONDS:
        return Redeemed(issued, "expired")
    if client_id != issued.client_id:
        return Redeemed(issued, "client")
    if check_redirect and redirect_uri != issued.redirect_uri:
        return Redeemed(issued, "redirect_uri")
    if not verify_pkce(issued.challenge, issued.method, verifier):
        return Redeemed(issued, "pkce")
    return Redeemed(issued)


# -- the consent page ---------------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:32em;margin:3em auto}} button{{font-size:1.1em;margin-right:1em;
padding:.4em 1.4em}} .scopes{{color:#555}}</style></head>
<body><h1>{title}</h1>
<p><b>socialkpi (sandbox app)</b> would like to: </p><p class="scopes">{scopes}</p>
<form method="post" action="{action}">{hidden}
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form><p><small>The socialkpi sandbox imitates {platform}'s consent page; nothing leaves this machine.</small></p>
</body></html>"""


def html_reply(text: str, status: int = 200) -> Reply:
    return Reply(status, text.encode("utf-8"), {"Content-Type": "text/html; charset=utf-8"})


def error_page(platform: str, message: str, status: int = 400) -> Reply:
    """What a platform shows instead of a consent page when the request is wrong (no redirect: RFC 6749
    §4.1.2.1 says an invalid client or redirect URI must not be redirected to)."""
    body = f"<!doctype html><title>{html.escape(platform)} error</title><h1>Error</h1><p>{html.escape(message)}</p>"
    return html_reply(body, status)


def consent_page(request: Request, *, platform: str, title: str, scope: str = "") -> Reply:
    """The Allow/Deny page; the form carries every query parameter back to the same path."""
    params = {k: v[0] for k, v in request.query.items()}
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items()
    )
    scopes = html.escape(scope or params.get("scope", "")) or "read your account's statistics"
    page = _PAGE.format(
        title=html.escape(title),
        scopes=scopes,
        action=html.escape(request.path),
        hidden=hidden,
        platform=html.escape(platform),
    )
    return html_reply(page)


def decide(
    request: Request,
    *,
    platform: str,
    facts: Mapping[str, str] | None = None,
    client_id_param: str = "client_id",
    denial: Mapping[str, str] | None = None,
    redirect_extra: Mapping[str, str] | None = None,
    fragment: str = "",
) -> Reply:
    """The answer to the consent form: a 302 to the redirect URI with a code (Allow) or an error (Deny)."""
    form = request.form()
    redirect_uri = form.get("redirect_uri", "")
    state = form.get("state")
    if form.get("decision") == "allow":
        code = issue(
            platform,
            client_id=form.get(client_id_param, ""),
            redirect_uri=redirect_uri,
            scope=form.get("scope", ""),
            challenge=form.get("code_challenge"),
            method=form.get("code_challenge_method", "plain") if form.get("code_challenge") else None,
            facts=facts,
        )
        query: dict[str, str] = {"code": code, **(redirect_extra or {})}
    else:
        query = dict(denial or {"error": "access_denied", "error_description": "The user denied the request."})
    if state is not None:
        query["state"] = state
    sep = "&" if urlsplit(redirect_uri).query else "?"
    return Reply(302, b"", {"Location": redirect_uri + sep + urlencode(query) + fragment, "Content-Type": "text/html"})


def loopback(redirect_uri: str | None) -> bool:
    """A redirect URI on this machine (the only kind the sandbox app registers): http://localhost|127.0.0.1:port/..."""
    if not redirect_uri:
        return False
    parts = urlsplit(redirect_uri)
    return parts.scheme in {"http", "https"} and parts.hostname in {"localhost", "127.0.0.1"} and bool(parts.path)


def check_authorize(
    request: Request, *, platform: str, client_id_param: str = "client_id", require_pkce: bool = False
) -> Reply | None:
    """The checks a platform makes before showing its consent page; an error page, or None when fine."""
    if request.arg(client_id_param) != CLIENT_ID:
        return error_page(platform, f"Invalid {client_id_param}: the app does not exist.")
    if not loopback(request.arg("redirect_uri")):
        return error_page(platform, "The redirect_uri is not registered for this app.")
    if request.arg("response_type") != "code":
        return error_page(platform, "response_type must be code.")
    if require_pkce and not request.arg("code_challenge"):
        return error_page(platform, "Missing code_challenge (PKCE is required).")
    return None
