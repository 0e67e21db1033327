"""collectors.tokens: the shared OAuth session against the sandbox's real token endpoints.

X's endpoint rotates single-use refresh tokens, LinkedIn's does not, Pinterest's wants HTTP Basic and
answers a wrong client with a 401 (the case that must not re-enter the refresh hook).
"""

from __future__ import annotations

import stat
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from collectors.context import CollectContext
from collectors.errors import AuthError, PermissionDenied
from collectors.http import Client
from collectors.oauth_session import OAuthSession, authorize, bearer_hooks, refresh_grant, wrong_owner
from collectors.tokens import StoredToken, TokenStore, refresh_expiry, without_auth
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox import pinterest as sb_pinterest
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN
from tests.conftest import make_client, make_ctx

X_TOKEN = "/2/oauth2/token"
X_USER = "/2/users/by/username/cornerbakery"
LINKEDIN_TOKEN = "/oauth/v2/accessToken"
PINTEREST_TOKEN = "/v5/oauth/token"
KEY = "oauth2:SOCIALKPI_X_TOKEN"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    parts = ("socialkpi.sandbox.x", "socialkpi.sandbox.linkedin", "socialkpi.sandbox.pinterest")
    with Sandbox(parts=parts) as sb:
        yield sb


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore.beside(tmp_path / "socialkpi.duckdb")


@pytest.fixture
def client() -> Iterator[Client]:
    with make_client("x") as c:
        yield c


def x_refresh() -> str:
    return f"sandbox-refresh-{uuid.uuid4().hex}"  # the X sandbox accepts each once


def ctx_for(sb: Sandbox, store: TokenStore | None, **creds: Any) -> CollectContext:
    return replace(make_ctx("x", "cornerbakery", sb.url, **creds), token_store=store)


def x_session(client: Client, sb: Sandbox, ctx: CollectContext, **policy: Any) -> OAuthSession:
    policy.setdefault("missing", "x: no token")
    return OAuthSession.from_context(
        client,
        ctx,
        "x",
        key=KEY,
        exchange=refresh_grant(
            client, sb.url + X_TOKEN, client_id="x-client-id", client_secret=None, env_hint="SOCIALKPI_X_REFRESH_TOKEN"
        ),
        **policy,
    )


def pinterest_session(client: Client, sb: Sandbox, store: TokenStore, *, client_secret: str) -> OAuthSession:
    """Pinterest's session: an expired env token, a refresh token, HTTP Basic at the token endpoint."""
    ctx = replace(
        make_ctx("pinterest", sb_pinterest.USERNAME, sb.url, token=EXPIRED_TOKEN, refresh_token="pinr_ok"),
        token_store=store,
    )
    return OAuthSession.from_context(
        client,
        ctx,
        "pinterest",
        key=ctx.account.id,
        exchange=refresh_grant(
            client,
            sb.url + PINTEREST_TOKEN,
            client_id=sb_pinterest.CLIENT_ID,
            client_secret=client_secret,
            env_hint="ENV",
            basic_auth=True,
        ),
        missing="pinterest: no token",
    )


def stored_pair_session(client: Client, store: TokenStore, exchange: Any) -> OAuthSession:
    """A session on the stored pair alone (no env tokens), refreshing with ``exchange``."""
    return OAuthSession(
        client, store, "x", KEY, env_token=None, env_refresh_token=None, exchange=exchange, missing="x: no token"
    )


def read_user(client: Client, sb: Sandbox) -> Any:
    return client.get_json(sb.url + X_USER, params={"user.fields": "public_metrics"})


# -- start: which token --------------------------------------------------------------------------


def test_a_fresh_stored_token_wins_over_the_env_token(sandbox: Sandbox, store: TokenStore, client: Client) -> None:
    store.put("x", KEY, StoredToken(TOKEN, x_refresh(), time.time() + 3600))
    session = authorize(client, x_session(client, sandbox, ctx_for(sandbox, store, token=EXPIRED_TOKEN)))
    assert session.access_token == TOKEN
    assert read_user(client, sandbox)["data"]["username"] == "cornerbakery"
    assert sandbox.requests_to(X_TOKEN) == []


def test_the_env_token_is_used_when_nothing_is_stored(sandbox: Sandbox, store: TokenStore, client: Client) -> None:
    session = authorize(
        client, x_session(client, sandbox, ctx_for(sandbox, store, token=TOKEN, refresh_token=x_refresh()))
    )
    assert session.access_token == TOKEN and session.expires_at is None
    assert client.refresh is not None  # a refresh token is set: a 401 will refresh
    assert sandbox.requests_to(X_TOKEN) == []


def test_an_expired_stored_pair_is_refreshed_before_the_first_call_and_kept_0600(
    sandbox: Sandbox, store: TokenStore, client: Client
) -> None:
    old = x_refresh()
    store.put("x", KEY, StoredToken("expired-stored-token", old, time.time() - 60))
    session = authorize(client, x_session(client, sandbox, ctx_for(sandbox, store, token=TOKEN)))
    (exchange,) = sandbox.requests_to(X_TOKEN)
    assert exchange.form()["refresh_token"] == old
    assert exchange.header("Authorization") is None  # no (expired) bearer at the token endpoint
    kept = store.get("x", KEY)
    assert kept is not None and kept == session.current
    assert kept.refresh_token and kept.refresh_token != old  # X rotated it: the new one is kept
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert read_user(client, sandbox)["data"]["username"] == "cornerbakery"


def test_no_token_at_all_raises_the_missing_message(sandbox: Sandbox, store: TokenStore, client: Client) -> None:
    with pytest.raises(AuthError, match="x: no token; set it"):
        authorize(
            client, x_session(client, sandbox, ctx_for(sandbox, store, token=None), missing="x: no token; set it")
        )


def test_keep_expired_sends_the_expired_stored_token_when_nothing_can_refresh_it(
    sandbox: Sandbox, store: TokenStore, client: Client
) -> None:
    store.put("x", KEY, StoredToken("expired-stored-token", None, time.time() - 60))
    ctx = ctx_for(sandbox, store, token=None)
    with pytest.raises(AuthError, match="no token"):
        authorize(client, x_session(client, sandbox, ctx))
    session = authorize(client, x_session(client, sandbox, ctx, keep_expired=True))
    assert session.access_token == "expired-stored-token" and client.refresh is None


# -- refresh ---------------------------------------------------------------------------------------


def test_a_401_refreshes_once_and_the_call_is_retried(sandbox: Sandbox, store: TokenStore, client: Client) -> None:
    authorize(
        client, x_session(client, sandbox, ctx_for(sandbox, store, token=EXPIRED_TOKEN, refresh_token=x_refresh()))
    )
    assert read_user(client, sandbox)["data"]["username"] == "cornerbakery"
    assert len(sandbox.requests_to(X_TOKEN)) == 1
    assert [r.bearer() for r in sandbox.requests_to(X_USER)][0] == EXPIRED_TOKEN
    assert store.get("x", KEY) is not None


def test_a_dead_stored_refresh_token_falls_back_to_the_env_one(
    sandbox: Sandbox, store: TokenStore, client: Client
) -> None:
    store.put("x", KEY, StoredToken("expired-stored-token", "dead-refresh-token", time.time() - 60))
    env = x_refresh()
    session = authorize(client, x_session(client, sandbox, ctx_for(sandbox, store, token=None, refresh_token=env)))
    assert [r.form()["refresh_token"] for r in sandbox.requests_to(X_TOKEN)] == ["dead-refresh-token", env]
    kept = store.get("x", KEY)
    assert kept is not None and kept.access_token == session.access_token


def test_every_refused_refresh_token_ends_in_the_refused_advice(
    sandbox: Sandbox, store: TokenStore, client: Client
) -> None:
    store.put("x", KEY, StoredToken("expired-stored-token", "dead-refresh-token", time.time() - 60))
    ctx = ctx_for(sandbox, store, token=None, refresh_token="another-dead-one")

    def refused(exc: AuthError) -> AuthError:
        return AuthError(f"{exc.message.split(': authorize')[0]}: authorize again", platform="x", code="refused")

    with pytest.raises(AuthError, match="Value passed for the token was invalid.*: authorize again$") as caught:
        authorize(client, x_session(client, sandbox, ctx, refused=refused))
    assert caught.value.code == "refused"
    assert len(sandbox.requests_to(X_TOKEN)) == 2  # each candidate once


def test_env_refresh_wins_sends_the_env_refresh_token_alone(
    sandbox: Sandbox, store: TokenStore, client: Client
) -> None:
    """LinkedIn: a refresh token in the environment is newer than the stored one (not rotated)."""
    env = f"sandbox-refresh-{uuid.uuid4().hex}"
    store.put(
        "linkedin", "oauth2:SOCIALKPI_LINKEDIN_TOKEN", StoredToken("old", "sandbox-refresh-old", time.time() - 60)
    )
    ctx = replace(make_ctx("linkedin", "2414183", sandbox.url, token=None, refresh_token=env), token_store=store)
    session = authorize(
        client,
        OAuthSession.from_context(
            client,
            ctx,
            "linkedin",
            key="oauth2:SOCIALKPI_LINKEDIN_TOKEN",
            exchange=refresh_grant(
                client, sandbox.url + LINKEDIN_TOKEN, client_id="id", client_secret="secret", env_hint="ENV"
            ),
            missing="linkedin: no token",
            env_refresh_wins=True,
        ),
        {"LinkedIn-Version": "202607"},
    )
    assert [r.form()["refresh_token"] for r in sandbox.requests_to(LINKEDIN_TOKEN)] == [env]
    assert session.current is not None and session.current.refresh_token == env  # not rotated
    assert client.auth_headers is not None
    assert client.auth_headers() == {"Authorization": f"Bearer {session.access_token}", "LinkedIn-Version": "202607"}


def test_without_the_app_id_a_due_refresh_says_so_or_never_happens(
    sandbox: Sandbox, store: TokenStore, client: Client
) -> None:
    ctx = ctx_for(sandbox, store, token=EXPIRED_TOKEN, refresh_token=x_refresh())
    session = x_session(client, sandbox, ctx, app_ready=False, app_missing="x: set SOCIALKPI_X_CLIENT_ID")
    authorize(client, session)  # an env token and nothing stored: no refresh yet
    with pytest.raises(AuthError, match="set SOCIALKPI_X_CLIENT_ID"):
        read_user(client, sandbox)  # the 401 makes it due
    quiet = x_session(client, sandbox, ctx, app_ready=False)
    assert not quiet.can_refresh and quiet.refresh() is False
    assert bearer_hooks(quiet)[1] is None
    assert sandbox.requests_to(X_TOKEN) == []


def test_accounts_sharing_a_key_refresh_once(sandbox: Sandbox, store: TokenStore) -> None:
    env = x_refresh()  # single-use: a second exchange of it would be refused

    def run(_: int) -> str:
        with make_client("x") as c:
            ctx = ctx_for(sandbox, store, token=EXPIRED_TOKEN, refresh_token=env)
            authorize(c, x_session(c, sandbox, ctx))
            return str(read_user(c, sandbox)["data"]["username"])

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(run, range(4))) == ["cornerbakery"] * 4
    assert len(sandbox.requests_to(X_TOKEN)) == 1


def test_the_token_endpoints_own_401_does_not_reenter_the_refresh_hook(
    sandbox: Sandbox, store: TokenStore, client: Client
) -> None:
    """Pinterest answers a wrong client secret with 401 code 283: the refresh must fail, not recurse or hang."""
    session = pinterest_session(client, sandbox, store, client_secret="wrong-secret")
    authorize(client, session)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.get_json(sandbox.url + "/v5/user_account")
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the refresh re-entered itself"
    assert len(errors) == 1 and isinstance(errors[0], AuthError)
    assert len(sandbox.requests_to(PINTEREST_TOKEN)) == 1
    assert client.auth_headers is not None and client.refresh is not None  # restored after the exchange


# -- when the refresh token itself ends ----------------------------------------------------------


def linkedin_session(client: Client, sb: Sandbox, store: TokenStore, refresh: str) -> OAuthSession:
    ctx = replace(make_ctx("linkedin", "2414183", sb.url, token=None, refresh_token=refresh), token_store=store)
    return OAuthSession.from_context(
        client,
        ctx,
        "linkedin",
        key="oauth2:SOCIALKPI_LINKEDIN_TOKEN",
        exchange=refresh_grant(client, sb.url + LINKEDIN_TOKEN, client_id="id", client_secret="secret", env_hint="E"),
        missing="linkedin: no token",
        env_refresh_wins=True,
    )


def test_linkedins_refresh_token_end_is_kept(sandbox: Sandbox, store: TokenStore, client: Client) -> None:
    """https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens: the exchange
    returns ``refresh_token_expires_in``; refreshing issues a
    new access token "but the refresh token keeps its original expiry (no sliding)"."""
    refresh = f"sandbox-refresh-{uuid.uuid4().hex}"
    before = time.time()
    first = authorize(client, linkedin_session(client, sandbox, store, refresh)).current
    assert first is not None and first.refresh_expires_at is not None
    assert before + 365 * 86400 - 5 <= first.refresh_expires_at <= time.time() + 365 * 86400 + 5
    stored = store.get("linkedin", "oauth2:SOCIALKPI_LINKEDIN_TOKEN")
    assert stored is not None and stored.refresh_expires_at == first.refresh_expires_at  # kept in the file


def test_pinterest_refresh_token_end_is_read_from_refresh_token_expires_at(
    sandbox: Sandbox, store: TokenStore, client: Client
) -> None:
    """https://developers.pinterest.com/docs/api/v5/ (oauth/token): Pinterest answers ``refresh_token_expires_in`` and
    ``..._at``."""
    session = pinterest_session(client, sandbox, store, client_secret=sb_pinterest.CLIENT_SECRET)
    assert session.refresh()
    (answer,) = [r for r in sandbox.requests_to(PINTEREST_TOKEN)]
    assert answer.form()["grant_type"] == "refresh_token"
    kept = store.get("pinterest", sb_pinterest.USERNAME)
    assert kept is not None and kept.refresh_expires_at is not None
    assert abs(kept.refresh_expires_at - (time.time() + 5184000)) < 5  # the 60 days the sandbox answers


@pytest.mark.parametrize(
    ("answer", "want"),
    [
        ({"refresh_token_expires_in": 31536000}, 1_000_000.0 + 31536000),  # LinkedIn (https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens)
        # Pinterest (https://developers.pinterest.com/docs/api/v5/, /oauth/token) sends both; the absolute time wins
        ({"refresh_token_expires_in": 5184000, "refresh_token_expires_at": 1_005_000_000}, 1_005_000_000.0),
        ({"refresh_expires_in": 31536000}, 1_000_000.0 + 31536000),  # TikTok (https://developers.tiktok.com/doc/oauth-user-access-token-management)
        ({"expires_in": 7200, "refresh_token": "r"}, None),  # X, Google: nothing said
        ({"refresh_expires_in": "soon"}, None),
        ({"refresh_expires_in": True}, None),
    ],
)
def test_refresh_expiry_reads_each_platforms_field(answer: dict[str, Any], want: float | None) -> None:
    assert refresh_expiry(answer, 1_000_000.0) == want


def test_a_refresh_that_says_nothing_keeps_the_known_end_of_the_same_refresh_token(
    store: TokenStore, client: Client
) -> None:
    store.put(
        "x", KEY, StoredToken("expired-access-9f2c", "same-refresh-9f2c", time.time() - 60, refresh_expires_at=2e9)
    )
    session = stored_pair_session(
        client, store, lambda refresh: StoredToken("new-access-9f2c", refresh, time.time() + 3600)
    )
    assert session.refresh()
    kept = store.get("x", KEY)
    assert kept is not None and kept.access_token == "new-access-9f2c" and kept.refresh_expires_at == 2e9


def test_a_rotated_refresh_token_does_not_inherit_the_old_ones_end(store: TokenStore, client: Client) -> None:
    store.put(
        "x", KEY, StoredToken("expired-access-9f2c", "old-refresh-9f2c", time.time() - 60, refresh_expires_at=2e9)
    )
    session = stored_pair_session(
        client, store, lambda _: StoredToken("new-access-9f2c", "rotated-refresh-9f2c", time.time() + 3600)
    )
    assert session.refresh()
    kept = store.get("x", KEY)
    assert kept is not None and kept.refresh_token == "rotated-refresh-9f2c" and kept.refresh_expires_at is None


def test_a_token_file_written_before_refresh_expiry_was_kept_still_reads(store: TokenStore) -> None:
    store.path.write_text('{"x/a": {"access_token": "t", "refresh_token": "r", "expires_at": 5.0}}', encoding="utf-8")
    assert store.get("x", "a") == StoredToken("t", "r", 5.0, refresh_expires_at=None)


# -- small helpers ---------------------------------------------------------------------------------


def test_without_auth_restores_the_hooks_after_an_error(client: Client) -> None:
    def headers() -> dict[str, str]:
        return {"Authorization": "Bearer x"}

    def hook() -> bool:
        return True

    client.auth_headers, client.refresh = headers, hook
    with pytest.raises(RuntimeError), without_auth(client):
        assert client.auth_headers is None and client.refresh is None
        raise RuntimeError
    assert client.auth_headers is headers and client.refresh is hook


def test_wrong_owner_names_both_accounts_and_the_variable() -> None:
    err = wrong_owner("tiktok", "someoneelse", "cornerbakery", "SOCIALKPI_TIKTOK_TOKEN")
    assert isinstance(err, PermissionDenied) and err.code == "wrong_account" and err.platform == "tiktok"
    assert err.message == (
        "tiktok: the token belongs to 'someoneelse', not to the configured account 'cornerbakery': put the token "
        "of 'cornerbakery' in SOCIALKPI_TIKTOK_TOKEN (or the account's token_env), or set id = 'someoneelse'"
    )
