"""Facebook Login in the sandbox: the Login Dialog, the token endpoint and the tokens they issue.

Facebook Login (https://developers.facebook.com/documentation/facebook-login/guides/advanced/manual-flow):

* ``GET/POST /vNN.N/dialog/oauth``: the Login Dialog for the sandbox app (``oauth.CLIENT_ID``), a loopback
  ``redirect_uri``, ``response_type=code`` (Meta's default when left out), ``scope`` a comma-separated list
  of known permissions (else Meta's "Invalid Scopes" page) or a Login for Business ``config_id``; PKCE
  (``code_challenge``, S256 or plain) optional.  Allow: ``redirect_uri?code=...&state=...#_=_``; Deny:
  ``?error=access_denied&error_code=200&error_description=Permissions+error&error_reason=user_denied
  &state=...#_=_`` (what Facebook sends, fragment included).
* ``GET /vNN.N/oauth/access_token``: the code grant (``client_id``, ``redirect_uri``, ``client_secret``,
  ``code``, ``code_verifier`` when a challenge was sent) -> a short-lived user token
  ``{access_token, token_type: "bearer", expires_in}``; ``grant_type=fb_exchange_token`` (``client_id``,
  ``client_secret``, ``fb_exchange_token``) -> the long-lived one (``expires_in`` 5183944, about 60 days).
  Errors as Meta sends them (HTTP 400, the ``{"error": {...}}`` envelope): a used code "This authorization
  code has been used." (100/36009), a redirect URI that differs (100/36008), an expired code (100/36007), a
  code that is not one (100, "Invalid verification code format."), a wrong secret "Error validating client
  secret." (code 1), an unknown app id (101), a bad token to exchange (190).

The sandbox part :mod:`socialkpi.sandbox.facebook` routes these handlers with its Graph ones and accepts the
tokens issued here (:func:`issued`), as the Instagram part does; both answer errors in Meta's envelope
(:func:`_error`).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from socialkpi.sandbox import oauth
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "facebook"
SHORT_TTL = 5400  # a short-lived user token: "about an hour or two"
LONG_TTL = 5183944  # the long-lived one: the doc's sample "expires_in": 5183944 (about 60 days)
PERMISSIONS = frozenset(
    {
        "public_profile", "email", "openid", "pages_show_list", "pages_read_engagement", "read_insights",
        "pages_read_user_content", "pages_manage_metadata", "business_management", "instagram_basic",
        "instagram_manage_insights", "ads_read", "ads_management",
    }
)  # fmt: skip
# what a Login for Business configuration (config_id instead of scope) grants in the sandbox
CONFIG_GRANT = (
    "pages_show_list", "pages_read_engagement", "read_insights", "instagram_basic", "instagram_manage_insights",
    "business_management",
)  # fmt: skip
DENIAL = {
    "error": "access_denied",
    "error_code": "200",
    "error_description": "Permissions error",
    "error_reason": "user_denied",
}
FRAGMENT = "#_=_"  # Facebook appends it to every redirect of the Login Dialog


# -- errors (Meta's envelope) --------------------------------------------------------------------
def _error(status: int, code: int, message: str, *, subcode: int | None = None, kind: str = "OAuthException") -> Reply:
    err: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    err["fbtrace_id"] = "AsAnDbOxTrAcE01"
    return Reply(
        status,
        {"error": err},
        {"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'} if code == 190 else {},
    )


@dataclass(frozen=True)
class Issued:
    """A token this sandbox issued: a user token (short- or long-lived) or a Page token."""

    kind: str  # "user" | "page"
    long_lived: bool
    expires_at: float | None  # None: never
    scopes: tuple[str, ...]
    page_id: str | None = None

    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= time.time()


_tokens: dict[str, Issued] = {}


_tokens_lock = threading.Lock()


def issued(token: str | None) -> Issued | None:
    """What the sandbox knows of ``token`` (also when it has expired), or None for a token it never issued."""
    with _tokens_lock:
        return _tokens.get(token or "")


def _issue(prefix: str, info: Issued) -> str:
    token = f"EAAsandbox{prefix}{secrets.token_urlsafe(24)}"
    with _tokens_lock:
        _tokens[token] = info
    return token


def _expired() -> Reply:
    return _error(
        400,
        190,
        "Error validating access token: Session has expired on Tuesday, 03-Mar-26 10:00:00 PST. "
        "The current time is Wednesday, 04-Mar-26 02:13:40 PST.",
        subcode=463,
    )


def _scopes(text: str | None) -> list[str]:
    return [s.strip() for s in re.split(r"[, ]+", text or "") if s.strip()]


def consent(request: Request) -> Reply:
    """``GET https://www.facebook.com/vNN.N/dialog/oauth``: the Login Dialog, or the page Facebook shows instead."""
    if request.arg("client_id") != oauth.CLIENT_ID:
        return oauth.error_page("Facebook", "Invalid App ID: The provided app ID does not look like a valid app ID.")
    if not oauth.loopback(request.arg("redirect_uri")):
        return oauth.error_page(
            "Facebook",
            "URL Blocked: This redirect failed because the redirect URI is not whitelisted in the app's Client "
            "OAuth Settings. Make sure Client and Web OAuth Login are on and add all your app domains as Valid "
            "OAuth Redirect URIs.",
        )
    if request.arg("response_type") not in (None, "code"):
        return oauth.error_page("Facebook", "The sandbox app serves response_type=code only.")
    if request.arg("code_challenge") and request.arg("code_challenge_method") not in (None, "S256", "plain"):
        return oauth.error_page("Facebook", "Invalid code_challenge_method: use S256 or plain.")
    scopes = _scopes(request.arg("scope"))
    unknown = [s for s in scopes if s not in PERMISSIONS]
    if unknown:
        return oauth.error_page(
            "Facebook",
            f"Invalid Scopes: {', '.join(unknown)}. This message is only shown to developers. Users of your app "
            "will ignore these permissions if present. Please read the documentation for valid permissions at: "
            "https://developers.facebook.com/docs/facebook-login/permissions",
        )
    granted = ", ".join(scopes or (CONFIG_GRANT if request.arg("config_id") else ("public_profile",)))
    return oauth.consent_page(
        request, platform="Facebook", title="socialkpi (sandbox app) is requesting access to your Pages", scope=granted
    )


def decision(request: Request) -> Reply:
    """The dialog's answer; the granted permissions ride with the code (a ``config_id`` grants its set)."""
    form = request.form()
    granted = _scopes(form.get("scope")) or (list(CONFIG_GRANT) if form.get("config_id") else ["public_profile"])
    return oauth.decide(
        request, platform=PLATFORM, facts={"scopes": ",".join(granted)}, denial=DENIAL, fragment=FRAGMENT
    )


def _grant_error(message: str, code: int, subcode: int | None = None) -> Reply:
    return _error(400, code, message, subcode=subcode)


def access_token(request: Request) -> Reply:
    """``GET https://graph.facebook.com/vNN.N/oauth/access_token``: the code grant or ``fb_exchange_token``."""
    if request.arg("client_id") != oauth.CLIENT_ID:
        return _grant_error("Error validating application. Invalid application ID.", 101)
    if request.arg("client_secret") != oauth.CLIENT_SECRET:
        return _grant_error("Error validating client secret.", 1)
    if request.arg("grant_type") == "fb_exchange_token":
        given = issued(request.arg("fb_exchange_token"))
        if given is None or given.kind != "user":
            return _grant_error("Invalid OAuth access token - Cannot parse access token", 190)
        if given.expired():
            return _expired()
        token = _issue("long", Issued("user", True, time.time() + LONG_TTL, given.scopes))
        return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": LONG_TTL})
    if request.arg("grant_type") not in (None, "authorization_code"):
        return _grant_error(f"Unsupported grant_type: {request.arg('grant_type')}", 100)
    done = oauth.redeem(
        PLATFORM,
        request.arg("code"),
        client_id=request.arg("client_id"),
        redirect_uri=request.arg("redirect_uri"),
        verifier=request.arg("code_verifier"),
    )
    if done.error == "unknown_code":
        return _grant_error("Invalid verification code format.", 100)
    if done.error == "used":
        return _grant_error("This authorization code has been used.", 100, 36009)
    if done.error == "expired":
        return _grant_error("This authorization code has expired.", 100, 36007)
    if done.error == "redirect_uri":
        return _grant_error(
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you "
            "used in the OAuth dialog request",
            100,
            36008,
        )
    if done.error:  # pkce (the client id was checked above)
        return _grant_error("Invalid code verifier.", 100)
    assert done.issued is not None
    scopes = tuple(_scopes(done.issued.facts.get("scopes")))
    token = _issue("user", Issued("user", False, time.time() + SHORT_TTL, scopes))
    return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": SHORT_TTL})
