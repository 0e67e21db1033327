"""LinkedIn's OAuth 2.0 in the sandbox: the consent page, the token endpoint and the tokens they issued.

The sandbox part :mod:`socialkpi.sandbox.linkedin` routes these handlers with its ``/rest`` ones and checks
a ``/rest`` call's bearer against the tokens issued here.

* ``POST /oauth/v2/accessToken`` (``grant_type=refresh_token`` with ``client_id`` and
  ``client_secret`` in the form): refresh tokens starting with ``sandbox-refresh`` are valid (not
  rotated: the same one comes back, with its remaining ``refresh_token_expires_in``); others get
  ``invalid_grant``.  Access tokens last 60 days.
* ``socialkpi connect linkedin`` (tests/test_connect_linkedin.py quotes the docs): ``GET/POST
  /oauth/v2/authorization``, the consent page (socialkpi.sandbox.oauth; a scope the app has no product
  for is redirected back as ``error=unauthorized_scope_error``; Deny answers LinkedIn's
  ``error=user_cancelled_authorize``); ``grant_type=authorization_code`` on the token route (the form's
  ``client_id`` and ``client_secret``; a wrong one gets 401 ``invalid_client`` "Client authentication
  failed"; a used, expired or unknown code 400 ``invalid_request`` and a redirect URI that differs
  ``invalid_redirect_uri``, both "Unable to retrieve access token: appid/redirect uri/code verifier does
  not match authorization code. Or authorization code expired..."); a refresh token only while
  :data:`REFRESH_TOKENS` is on (programmatic refresh: MDP partners only; refresh tokens issued here need
  the sandbox app's client id and secret).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from socialkpi.sandbox import oauth
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "linkedin"
ACCESS_TTL = 60 * 86400
REFRESH_TTL = 365 * 86400

_lock = threading.Lock()
_access: dict[str, float] = {}  # issued access token -> expiry (epoch)
_refresh_born: dict[str, float] = {}  # refresh token -> first use (its 365 days do not slide)

# -- socialkpi connect linkedin: the app's products, the member's organizations --------------------
ADMINISTERED: list[str] = ["2414183"]  # the member's APPROVED ADMINISTRATOR roles (tests add "2414190")
REFRESH_TOKENS = False  # programmatic refresh tokens: "approved Marketing Developer Platform (MDP) partners" only
APP_SCOPES = frozenset(  # what the sandbox app's products (Community Management API, Sign In) grant
    {
        "rw_organization_admin",
        "r_organization_admin",
        "r_organization_social",
        "w_organization_social",
        "openid",
        "profile",
        "email",
    }
)
CODE_REFUSED = (
    "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. "
    "Or authorization code expired. Or external member binding exists"
)
_member_orgs: dict[str, tuple[str, ...]] = {}  # issued access token -> the organizations its member administers
_issued_refresh: dict[str, tuple[str, ...]] = {}  # refresh tokens issued by a code grant -> the member's orgs


# -- OAuth 2.0 token endpoint ----------------------------------------------------------------------
def access_token(request: Request) -> Reply:
    form = request.form()
    if form.get("grant_type") == "authorization_code":
        return _code_grant(form)
    if form.get("grant_type") != "refresh_token":
        return Reply(400, {"error": "unsupported_grant_type", "error_description": "Grant type not supported"})
    for name in ("refresh_token", "client_id", "client_secret"):
        if not form.get(name):
            return Reply(
                400, {"error": "invalid_request", "error_description": f'A required parameter "{name}" is missing'}
            )
    refresh = form["refresh_token"]
    with _lock:
        member = _issued_refresh.get(refresh)
    if member is not None and (form["client_id"], form["client_secret"]) != (oauth.CLIENT_ID, oauth.CLIENT_SECRET):
        return Reply(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
    if member is None and not refresh.startswith("sandbox-refresh"):
        return Reply(
            400,
            {
                "error": "invalid_grant",
                "error_description": "The provided authorization grant or refresh token is invalid, expired or revoked",
            },
        )
    now = time.time()
    with _lock:
        born = _refresh_born.setdefault(refresh, now)
        if now - born > REFRESH_TTL:
            return Reply(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "The provided authorization grant or refresh token is invalid, expired or "
                    "revoked",
                },
            )
        token = f"AQsandbox-{uuid.uuid4().hex}"
        _access[token] = now + ACCESS_TTL
        if member is not None:
            _member_orgs[token] = member
    return Reply(
        200,
        {
            "access_token": token,
            "expires_in": ACCESS_TTL,
            "refresh_token": refresh,  # not rotated; its expiry does not slide
            "refresh_token_expires_in": int(REFRESH_TTL - (now - born)),
            "scope": "rw_organization_admin",
        },
    )


def _code_grant(form: dict[str, str]) -> Reply:
    """``grant_type=authorization_code``: ``code``, ``client_id``, ``client_secret``, ``redirect_uri`` in the
    form (the client is checked before the code, so a wrong secret leaves the code unspent)."""
    for name in ("code", "client_id", "client_secret", "redirect_uri"):
        if not form.get(name):
            return Reply(
                400, {"error": "invalid_request", "error_description": f'A required parameter "{name}" is missing'}
            )
    if (form["client_id"], form["client_secret"]) != (oauth.CLIENT_ID, oauth.CLIENT_SECRET):
        return Reply(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
    done = oauth.redeem(PLATFORM, form["code"], client_id=form["client_id"], redirect_uri=form["redirect_uri"])
    if done.error:
        error = "invalid_redirect_uri" if done.error == "redirect_uri" else "invalid_request"
        return Reply(400, {"error": error, "error_description": CODE_REFUSED})
    assert done.issued is not None
    now = time.time()
    body: dict[str, Any] = {
        "access_token": f"AQsandbox-{uuid.uuid4().hex}",
        "expires_in": ACCESS_TTL,
        "scope": ",".join(done.issued.scope.split()),
    }
    with _lock:
        _access[body["access_token"]] = now + ACCESS_TTL
        _member_orgs[body["access_token"]] = tuple(ADMINISTERED)
        if REFRESH_TOKENS:
            refresh = f"AQsandbox-refresh-{uuid.uuid4().hex}"
            _issued_refresh[refresh] = tuple(ADMINISTERED)
            _refresh_born[refresh] = now
            body |= {"refresh_token": refresh, "refresh_token_expires_in": REFRESH_TTL}
    return Reply(200, body)


# -- the consent page and discovery (socialkpi connect linkedin) -----------------------------------
def consent(request: Request) -> Reply:
    """``GET https://www.linkedin.com/oauth/v2/authorization``: the app and redirect URI are checked (an error
    page), a scope the app has no product for comes back to the redirect URI as an error, else the page."""
    bad = oauth.check_authorize(request, platform="LinkedIn")
    if bad is not None:
        return bad
    scopes = (request.arg("scope") or "").split()
    unknown = [s for s in scopes if s not in APP_SCOPES]
    if not scopes or unknown:
        query = {
            "error": "unauthorized_scope_error",
            "error_description": f'Scope "{unknown[0] if unknown else ""}" is not authorized for your application',
        }
        state = request.arg("state")
        if state is not None:
            query["state"] = state
        location = (request.arg("redirect_uri") or "") + "?" + urlencode(query)
        return Reply(302, b"", {"Location": location, "Content-Type": "text/html"})
    return oauth.consent_page(request, platform="LinkedIn", title="socialkpi would like to access your LinkedIn Pages")


def decision(request: Request) -> Reply:
    """Allow: a code; Deny: LinkedIn's ``error=user_cancelled_authorize``."""
    return oauth.decide(
        request,
        platform=PLATFORM,
        denial={"error": "user_cancelled_authorize", "error_description": "The user cancelled the authorization"},
    )


def _orgs_of(token: str) -> tuple[str, ...]:
    with _lock:
        return _member_orgs.get(token, tuple(ADMINISTERED))
