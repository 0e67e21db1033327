"""collectors.google_auth: SOCIALKPI_GOOGLE_CREDENTIALS for ga4, youtube and google_business.

Real token exchanges against the sandbox's Google token endpoint: an authorized-user file (refresh
grant) and a service-account file (a JWT signed with an RSA key made here), each file's token_uri
honoured, the platform's scopes sent, refusals turned into AuthErrors that say what to do and carry
no secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import google.auth.jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from collectors import ga4, google_business, youtube
from collectors.errors import AuthError
from collectors.google_auth import (
    CREDENTIALS_ENV,
    SCOPES,
    google_auth_hooks,
    load_google_credentials,
    use_credentials_file,
)
from collectors.http import Client, RetryPolicy
from collectors.redaction import redact
from socialkpi.sandbox import Reply, Sandbox
from tests.conftest import FAST, make_ctx

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
CLIENT_SECRET = "GOCSPX-sandbox-client-secret"
REFRESH_SECRET = "1//0gSandboxRefreshToken-x7Yq"
SA_EMAIL = "socialkpi@sandbox-project.iam.gserviceaccount.com"
ACCOUNTS = {"ga4": "312345678", "youtube": "UCcornerBakeryLyon00001A", "google_business": "4812345678901234567"}
COLLECTORS: dict[str, Any] = {"ga4": ga4, "youtube": youtube, "google_business": google_business}
API_PATHS = {"ga4": r":runReport$", "youtube": r"^/(youtube/v3/channels|v2/reports)$", "google_business": r"^/v1/"}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(
        parts=("socialkpi.sandbox.ga4", "socialkpi.sandbox.youtube", "socialkpi.sandbox.google_business")
    ) as sb:
        yield sb


@pytest.fixture(scope="module")
def rsa_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def user_file(tmp_path: Path, token_uri: str | None, refresh_token: str = REFRESH_SECRET) -> Path:
    info = {
        "type": "authorized_user",
        "client_id": "1234-sandbox.apps.googleusercontent.com",
        "client_secret": CLIENT_SECRET,
        "refresh_token": refresh_token,
    }
    if token_uri:
        info["token_uri"] = token_uri
    path = tmp_path / "authorized_user.json"
    path.write_text(json.dumps(info))
    return path


def service_file(tmp_path: Path, private_key: str, token_uri: str) -> Path:
    info = {
        "type": "service_account",
        "project_id": "sandbox-project",
        "private_key_id": "0123456789abcdef",
        "private_key": private_key,
        "client_email": SA_EMAIL,
        "client_id": "100000000000000000001",
        "token_uri": token_uri,
    }
    path = tmp_path / "service_account.json"
    path.write_text(json.dumps(info))
    return path


def credentials_file(kind: str, tmp_path: Path, token_uri: str, rsa_key: tuple[str, str]) -> Path:
    return (
        user_file(tmp_path, token_uri) if kind == "authorized_user" else service_file(tmp_path, rsa_key[0], token_uri)
    )


def scopes_sent(grant: Any, public_key: str) -> list[str]:
    """The scopes a token request asked for: the form's ``scope`` or the signed JWT's ``scope`` claim."""
    form = grant.form()
    if form["grant_type"] == "refresh_token":
        return str(form["scope"]).split()
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    # google-auth signs for Google's audience, whatever token_uri it posts to
    claims = google.auth.jwt.decode(form["assertion"], certs=public_key, audience=GOOGLE_TOKEN_URI)
    assert claims["iss"] == SA_EMAIL
    return str(claims["scope"]).split()


def ctx_for(sandbox: Sandbox, platform: str, path: Path | str, **kw: Any) -> Any:
    return make_ctx(platform, ACCOUNTS[platform], sandbox.url, token=None, google_credentials=str(path), **kw)


# -- loading ---------------------------------------------------------------------------------------
def test_the_files_token_uri_is_kept_and_the_token_url_setting_replaces_it(
    tmp_path: Path, rsa_key: tuple[str, str]
) -> None:
    mine = "http://127.0.0.1:9/token"
    for kind in ("authorized_user", "service_account"):
        path = str(credentials_file(kind, tmp_path, mine, rsa_key))
        creds: Any = load_google_credentials(path, scopes=SCOPES["ga4"], platform="ga4")
        assert creds._token_uri == mine, kind  # google-auth's user loader alone would say Google's
        creds = load_google_credentials(path, scopes=SCOPES["ga4"], platform="ga4", token_url="http://other/token")
        assert creds._token_uri == "http://other/token", kind
        assert tuple(creds.scopes) == SCOPES["ga4"]
    user = user_file(tmp_path, None)  # no token_uri in the file: Google's own
    creds = load_google_credentials(str(user), scopes=SCOPES["ga4"], platform="ga4")
    assert creds._token_uri == GOOGLE_TOKEN_URI


@pytest.mark.parametrize("kind", ["authorized_user", "service_account"])
@pytest.mark.parametrize("platform", sorted(SCOPES))
def test_a_real_token_exchange_sends_the_platforms_scopes(
    sandbox: Sandbox, tmp_path: Path, rsa_key: tuple[str, str], platform: str, kind: str
) -> None:
    path = credentials_file(kind, tmp_path, f"{sandbox.url}/token", rsa_key)
    creds = load_google_credentials(str(path), scopes=SCOPES[platform], platform=platform)
    with Client(platform, policy=FAST) as client:
        headers, refresh = google_auth_hooks(client, creds, platform=platform, scopes=SCOPES[platform])
        first = headers()
        assert headers() == first  # a valid token is reused, not minted again
        assert refresh() and headers() != first
    grants = sandbox.requests_to(r"^/token$")
    assert len(grants) == 2
    assert scopes_sent(grants[0], rsa_key[1]) == list(SCOPES[platform])
    bearer = first["Authorization"].removeprefix("Bearer ")
    assert bearer.startswith("ya29.sandbox-") and redact(f"x {bearer} y") == "x *** y"


# -- each collector reads SOCIALKPI_GOOGLE_CREDENTIALS ----------------------------------------------
@pytest.mark.parametrize(
    ("platform", "kind"),
    [
        ("ga4", "authorized_user"),
        ("ga4", "service_account"),
        ("youtube", "authorized_user"),  # YouTube does not accept service accounts for channel data
        ("google_business", "authorized_user"),
        ("google_business", "service_account"),
    ],
)
def test_every_google_collector_works_from_the_credentials_file(
    sandbox: Sandbox, tmp_path: Path, rsa_key: tuple[str, str], platform: str, kind: str
) -> None:
    path = credentials_file(kind, tmp_path, f"{sandbox.url}/token", rsa_key)
    ctx = ctx_for(sandbox, platform, path, collected_at=datetime.now(UTC))
    until = ctx.today - timedelta(days=4)
    with Client(platform, policy=FAST) as client:
        out = COLLECTORS[platform].collect(client, ctx, since=until - timedelta(days=2), until=until)
    assert out.observations and out.skipped == []
    [grant] = sandbox.requests_to(r"^/token$")
    assert scopes_sent(grant, rsa_key[1]) == list(SCOPES[platform])
    bearers = {r.bearer() for r in sandbox.requests_to(API_PATHS[platform])}
    assert len(bearers) == 1 and str(next(iter(bearers))).startswith("ya29.sandbox-")
    if platform == "youtube":  # OAuth, so the Analytics series came too
        assert {"video_views", "followers"} <= {o.metric for o in out.observations}


def test_use_credentials_file_is_a_no_op_without_the_variable(sandbox: Sandbox) -> None:
    ctx = make_ctx("ga4", ACCOUNTS["ga4"], sandbox.url, token=None)
    with Client("ga4", policy=FAST) as client:
        assert use_credentials_file(client, ctx, platform="ga4") is False
        assert client.auth_headers is None and client.refresh is None


# -- refusals --------------------------------------------------------------------------------------
ADVICE = {
    "ga4": "authorize again as a Google user with access to the GA4 property",
    "youtube": "authorize again as the channel's owner",
    "google_business": "authorize again as a user who owns or manages the listing",
}


@pytest.mark.parametrize("platform", sorted(SCOPES))
def test_a_revoked_refresh_token_says_what_to_do_without_the_secret(
    sandbox: Sandbox, tmp_path: Path, platform: str
) -> None:
    secret = f"revoked-1//0gThisRefreshTokenIsSecret-{platform}"
    path = user_file(tmp_path, f"{sandbox.url}/token", refresh_token=secret)
    ctx = ctx_for(sandbox, platform, path)
    with pytest.raises(AuthError) as caught, Client(platform, policy=FAST) as client:
        COLLECTORS[platform].collect(client, ctx, since=ctx.today - timedelta(days=3), until=ctx.today)
    text = str(caught.value) + repr(caught.value)
    assert text.startswith(f"{platform}: the refresh token was revoked or expired (apps in Testing mode")
    assert ADVICE[platform] in text and f"update {CREDENTIALS_ENV}" in text
    assert "invalid_grant: Token has been expired or revoked." in text
    assert SCOPES[platform][-1].rsplit("/", 1)[-1] in text  # names the scope to grant
    assert secret not in text and CLIENT_SECRET not in text
    assert redact(f"log: {secret} {CLIENT_SECRET}") == "log: *** ***"  # the runner's log filter hides them too
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert caught.value.code == "refresh_refused"
    assert sandbox.requests_to(API_PATHS[platform]) == []


def test_a_grant_without_the_platforms_scopes_is_invalid_scope(sandbox: Sandbox, tmp_path: Path) -> None:
    path = user_file(tmp_path, f"{sandbox.url}/token", refresh_token="analytics-only-1//0gNarrowGrant")
    ctx = ctx_for(sandbox, "youtube", path)
    with pytest.raises(AuthError) as caught, Client("youtube", policy=FAST) as client:
        youtube.collect(client, ctx, since=ctx.today - timedelta(days=3), until=ctx.today)
    assert str(caught.value).startswith(
        f"youtube: {CREDENTIALS_ENV} was not granted the scope youtube.readonly and yt-analytics.readonly "
        "that youtube needs: authorize again as the channel's owner"
    )
    assert "invalid_scope" in str(caught.value)


def test_a_refused_service_account_key(sandbox: Sandbox, tmp_path: Path, rsa_key: tuple[str, str]) -> None:
    sandbox.script(r"^/token$", Reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}))
    path = service_file(tmp_path, rsa_key[0], f"{sandbox.url}/token")
    today = datetime.now(UTC).date()
    with (
        pytest.raises(AuthError, match="service-account key was refused.*create a new key") as caught,
        Client("ga4", policy=FAST) as client,
    ):
        ga4.collect(client, ctx_for(sandbox, "ga4", path), since=today, until=today)
    assert "BEGIN PRIVATE KEY" not in str(caught.value)


def test_an_unreachable_token_endpoint(sandbox: Sandbox, tmp_path: Path) -> None:
    with Sandbox(parts=()) as gone:
        dead = f"{gone.url}/token"
    ctx = ctx_for(sandbox, "google_business", user_file(tmp_path, dead))
    with (
        pytest.raises(AuthError, match="could not reach the OAuth endpoint") as caught,
        Client("google_business", policy=FAST) as client,
    ):
        google_business.collect(client, ctx, since=ctx.today - timedelta(days=3), until=ctx.today)
    assert caught.value.code == "token_uri_unreachable"  # passed on as is, not "a token lasts an hour"
    assert "lasts about an hour" not in str(caught.value)


def test_the_token_request_uses_the_clients_timeouts(tmp_path: Path) -> None:
    with Sandbox(parts=("socialkpi.sandbox.ga4",), delay=1.0) as slow:
        creds = load_google_credentials(
            str(user_file(tmp_path, f"{slow.url}/token")), scopes=SCOPES["ga4"], platform="ga4"
        )
        policy = RetryPolicy(attempts=1, timeout=(1.0, 0.2))
        with Client("ga4", policy=policy) as client:
            headers, _ = google_auth_hooks(client, creds, platform="ga4", scopes=SCOPES["ga4"])
            # the token endpoint answers after 1 s: only the 0.2 s read timeout makes this fail
            # (google-auth's own default would wait 120 s and get the token)
            with pytest.raises(AuthError, match="could not reach the OAuth endpoint"):
                headers()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot read"),
        ("{not json", "is not JSON"),
        ("[1, 2]", "is not a JSON object"),
        (json.dumps({"type": "external_account"}), "expected a service_account or authorized_user file"),
        (json.dumps({"type": "authorized_user", "client_id": "x", "client_secret": CLIENT_SECRET}), "refresh_token"),
        (json.dumps({"type": "service_account", "client_email": "a@b", "token_uri": "http://x"}), "private_key"),
        (
            json.dumps(
                {
                    "type": "service_account",
                    "client_email": "a@b",
                    "token_uri": "http://x",
                    # fake: the base64 reads "not a key at all"
                    "private_key": "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n",
                }
            ),
            "not a usable service_account file",
        ),
    ],
    ids=["missing", "not-json", "not-object", "unknown-type", "user-without-refresh", "sa-without-key", "bad-key"],
)
@pytest.mark.parametrize("platform", sorted(SCOPES))
def test_a_malformed_credentials_file_is_a_clear_auth_error(
    sandbox: Sandbox, tmp_path: Path, platform: str, content: str | None, says: str
) -> None:
    path = tmp_path / "google.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(AuthError) as caught, Client(platform, policy=FAST) as client:
        ctx = ctx_for(sandbox, platform, path)
        COLLECTORS[platform].collect(client, ctx, since=ctx.today, until=ctx.today)
    message = str(caught.value)
    assert message.startswith(f"{platform}: ") and says in message and CREDENTIALS_ENV in message
    assert "bm90IGEga2V5" not in message and CLIENT_SECRET not in message
    assert sandbox.requests == []
