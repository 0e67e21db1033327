"""Google's OAuth in the sandbox: the token endpoint, the installed-app authorization and the bearers issued.

Shared by the ga4, youtube and google_business parts, which route :func:`token` and check a bearer's
scopes with :func:`scopes_of`.

``POST /token`` stands in for ``https://oauth2.googleapis.com/token``: the ``refresh_token`` grant
(client id and secret required; a refresh token starting ``revoked`` gets ``invalid_grant``, one
starting ``analytics-only`` was granted only analytics.readonly) and the service-account
``jwt-bearer`` grant (signature not checked: the sandbox has no public key) issue ``ya29.sandbox-...``
bearers carrying the scopes asked for (a refresh without ``scope`` gets the ones granted).  A scope
not granted gets ``invalid_scope``.  :func:`scopes_of` tells each route what a bearer may do;
``world.TOKEN`` may do everything.

Google's installed-app authorization (https://developers.google.com/identity/protocols/oauth2/native-app),
for ``socialkpi connect google|ga4|google_business|youtube``:

* ``GET /o/oauth2/auth`` (also ``/o/oauth2/v2/auth``): the consent page for the sandbox's Desktop client
  (``socialkpi.sandbox.oauth.CLIENT_ID``), a loopback ``redirect_uri`` (``http://127.0.0.1:<any port>``,
  ``[::1]`` or ``localhost``), ``response_type=code``, known ``scope`` values and, when a ``code_challenge``
  is sent, ``code_challenge_method`` S256 or plain; anything else gets Google's error page ("Error 401:
  invalid_client", "Error 400: invalid_scope", "Error 400: redirect_uri_mismatch" ...), never a redirect.
  ``POST`` is the page's form: Allow redirects with ``code`` and ``state`` (and ``scope``, as Google does),
  Deny with ``error=access_denied`` and ``state`` only (the doc's "An error response:
  https://oauth2.example.com/auth?error=access_denied").
* ``POST /token`` with ``grant_type=authorization_code``: the client as HTTP Basic or ``client_id`` and
  ``client_secret`` in the form; an unknown client gets 401 ``{"error": "invalid_client",
  "error_description": "The OAuth client was not found."}``, a wrong secret 401 ``{"error":
  "invalid_client", "error_description": "Unauthorized"}``; a code used before, expired or unknown 400
  ``{"error": "invalid_grant", "error_description": "Bad Request"}``; another ``redirect_uri`` 400
  ``redirect_uri_mismatch``; a wrong PKCE verifier ``invalid_grant``.  The answer: ``access_token``,
  ``expires_in`` 3599, ``refresh_token``, ``scope`` (the scopes granted), ``token_type`` "Bearer".  The
  refresh token keeps its scopes for the refresh grant.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from typing import Any
from urllib.parse import unquote

from socialkpi.sandbox import oauth, world
from socialkpi.sandbox.server import Reply, Request

SCOPES_OK = (
    "https://www.googleapis.com/auth/analytics.readonly",
    "https://www.googleapis.com/auth/analytics",
)
GOOGLE_SCOPES = frozenset(
    {
        *SCOPES_OK,
        "https://www.googleapis.com/auth/youtube.readonly",
        "https://www.googleapis.com/auth/yt-analytics.readonly",
        "https://www.googleapis.com/auth/business.manage",
    }
)  # what the sandbox's OAuth client may be granted
ISSUED_PREFIX = "ya29.sandbox-"

_issued: dict[str, frozenset[str]] = {}  # access token -> granted scopes
_refresh_scopes: dict[str, frozenset[str]] = {}  # refresh token issued by the code grant -> its scopes
_issued_lock = threading.Lock()
OAUTH_PLATFORM = "google"  # the codes of Google's one consent page (socialkpi.sandbox.oauth)
ACCESS_TTL = 3599


# -- OAuth token endpoint (Google's, for ga4, youtube and google_business) -------------------------
def scopes_of(token: str | None) -> frozenset[str] | None:
    """The scopes a bearer carries; None for an unknown (or expired) one."""
    if token == world.TOKEN:
        return GOOGLE_SCOPES
    with _issued_lock:
        return _issued.get(token or "")


def issue_token(scopes: frozenset[str] = GOOGLE_SCOPES) -> str:
    """A bearer the routes accept, as the token endpoint would issue it (tests script it in replies)."""
    token = f"{ISSUED_PREFIX}{uuid.uuid4().hex}"
    with _issued_lock:
        _issued[token] = scopes
    return token


def _oauth_error(error: str, description: str, status: int = 400) -> Reply:
    return Reply(status, {"error": error, "error_description": description})


def _issue(scopes: frozenset[str]) -> Reply:
    body = {"access_token": issue_token(scopes), "expires_in": 3599, "token_type": "Bearer"}
    body["scope"] = " ".join(sorted(scopes))
    return Reply(200, body)


def _jwt_claims(assertion: str) -> dict[str, Any]:
    """The payload of a JWT, unverified (the sandbox has no way to know the public key)."""
    payload = assertion.split(".")[1]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return data


def _scoped(asked: str, granted: frozenset[str]) -> Reply:
    scopes = frozenset(asked.split()) or granted
    if not scopes <= granted:
        return _oauth_error(
            "invalid_scope", f"Some requested scopes were invalid. {{invalid={sorted(scopes - granted)}}}"
        )
    return _issue(scopes)


def token(request: Request) -> Reply:
    form = request.form()
    grant = form.get("grant_type")
    if grant == "refresh_token":
        refresh = form.get("refresh_token", "")
        if not refresh or not form.get("client_id") or not form.get("client_secret"):
            return _oauth_error("invalid_request", "Missing required parameter: refresh_token or client.")
        if refresh.startswith("revoked"):
            return _oauth_error("invalid_grant", "Token has been expired or revoked.")
        with _issued_lock:
            known = _refresh_scopes.get(refresh)
        granted = known or (frozenset({SCOPES_OK[0]}) if refresh.startswith("analytics-only") else GOOGLE_SCOPES)
        return _scoped(form.get("scope", ""), granted)
    if grant == "authorization_code":
        return _code_grant(request, form)
    if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        try:
            claims = _jwt_claims(form.get("assertion", ""))
        except (IndexError, ValueError):
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        if not claims.get("iss") or not claims.get("exp"):
            return _oauth_error("invalid_grant", "Invalid JWT: missing iss or exp.")
        if not claims.get("scope"):
            return _oauth_error("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        return _scoped(str(claims["scope"]), GOOGLE_SCOPES)
    return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant}")


# -- Google's authorization endpoint and the code grant (installed apps) ----------------------------
def _google_error_page(code: int, error: str, message: str) -> Reply:
    """What accounts.google.com shows for a bad authorization request: "Access blocked" and the error."""
    return oauth.error_page(
        "Google", f"Access blocked: this app's request is invalid. Error {code}: {error}. {message}", code
    )


def consent(request: Request) -> Reply:
    """``GET /o/oauth2/auth``: Google's consent page, after the checks accounts.google.com makes."""
    if request.arg("client_id") != oauth.CLIENT_ID:
        return _google_error_page(401, "invalid_client", "The OAuth client was not found.")
    redirect = request.arg("redirect_uri") or ""
    if not redirect:
        return _google_error_page(400, "invalid_request", "Missing required parameter: redirect_uri")
    if not oauth.loopback(redirect) and "[::1]" not in redirect:
        return _google_error_page(
            400, "redirect_uri_mismatch", "A Desktop client takes loopback redirects only (http://127.0.0.1:port)."
        )
    if request.arg("response_type") != "code":
        return _google_error_page(400, "unsupported_response_type", "Invalid response_type: use code.")
    scopes = (request.arg("scope") or "").split()
    if not scopes:
        return _google_error_page(400, "invalid_request", "Missing required parameter: scope")
    unknown = sorted(set(scopes) - GOOGLE_SCOPES)
    if unknown:
        return _google_error_page(400, "invalid_scope", f"Some requested scopes were invalid. {{invalid={unknown}}}")
    if request.arg("code_challenge") and request.arg("code_challenge_method", "plain") not in {"S256", "plain"}:
        return _google_error_page(400, "invalid_request", "Invalid code_challenge_method.")
    return oauth.consent_page(
        request,
        platform="Google",
        title="socialkpi (sandbox) wants access to your Google Account",
        scope=" ".join(scopes),
    )


def decision(request: Request) -> Reply:
    """The consent form: Allow -> ``code``, ``scope`` and ``state``; Deny -> ``error=access_denied`` and ``state``."""
    form = request.form()
    return oauth.decide(
        request,
        platform=OAUTH_PLATFORM,
        denial={"error": "access_denied"},
        redirect_extra={"scope": form.get("scope", "")} if form.get("decision") == "allow" else None,
    )


def _client(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """(client_id, client_secret) from HTTP Basic (client_secret_basic) or the form (client_secret_post)."""
    auth = request.header("Authorization") or ""
    if auth.lower().startswith("basic "):
        try:
            pair = base64.b64decode(auth[6:]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None, None
        client_id, _, secret = pair.partition(":")
        return unquote(client_id) or None, unquote(secret) or None
    return form.get("client_id") or None, form.get("client_secret") or None


def _code_grant(request: Request, form: dict[str, str]) -> Reply:
    """``grant_type=authorization_code`` (native-app doc, "Step 5: Exchange authorization code for refresh and
    access tokens": ``code``, ``client_id``, ``client_secret``, ``redirect_uri``, ``code_verifier``)."""
    client_id, secret = _client(request, form)
    if client_id != oauth.CLIENT_ID:
        return _oauth_error("invalid_client", "The OAuth client was not found.", 401)
    if secret != oauth.CLIENT_SECRET:
        return _oauth_error("invalid_client", "Unauthorized", 401)
    done = oauth.redeem(
        OAUTH_PLATFORM,
        form.get("code"),
        client_id=client_id,
        redirect_uri=form.get("redirect_uri"),
        verifier=form.get("code_verifier"),
    )
    if done.error == "redirect_uri":
        return _oauth_error("redirect_uri_mismatch", "Bad Request")
    if done.error or done.issued is None:
        return _oauth_error("invalid_grant", "Bad Request")
    scopes = frozenset(done.issued.scope.split()) & GOOGLE_SCOPES
    refresh = f"1//sandbox-refresh-{uuid.uuid4().hex}"
    with _issued_lock:
        _refresh_scopes[refresh] = scopes
    body = {
        "access_token": issue_token(scopes),
        "expires_in": ACCESS_TTL,
        "refresh_token": refresh,
        "scope": " ".join(sorted(scopes)),
        "token_type": "Bearer",
    }
    return Reply(200, body)
