"""Mastodon: a public account's follower and post counts, from the account's home instance.

Docs: https://docs.joinmastodon.org/methods/accounts/#lookup (``GET /api/v1/accounts/lookup``),
https://docs.joinmastodon.org/entities/Account/ and https://docs.joinmastodon.org/api/rate-limits/.

Environment (read by the command line, passed in as ``ctx.credentials``):
    SOCIALKPI_MASTODON_TOKEN      optional: a bearer token (Preferences > Development > New application,
                                  scope ``read:accounts``), only for instances that refuse
                                  unauthenticated API calls; Mastodon tokens do not expire
    SOCIALKPI_MASTODON_BASE_URL   optional: replaces ``https://<instance>`` (the sandbox, or a proxy)

Account id: ``user@instance``; the lookup is asked of ``instance`` itself (a remote server's cached
copy can be stale).  Competitors: the same public lookup.

A connection made by ``socialkpi connect mastodon --instance HOST`` (``ctx.credentials.source == "store"``)
holds a token of HOST, its ``base_url`` ``https://HOST`` and ``extra["instance"]`` HOST: both are used only
for accounts on HOST.  A competitor elsewhere, handed the platform's default connection, is looked up on
its own instance with no token (a token is good on the server that issued it only, and is never sent to
another).

Metrics (docs/metrics.md): followers <- ``followers_count``, posts <- ``statuses_count``.  Both are
levels the API only gives as "now": dated by the collection day in the business's time zone
(``ctx.today``).  There is no history endpoint, so ``since``/``until`` do not change the request.
Numbers: JSON integers (collectors.values.Counts; a string, a fraction, a negative are refused).  The
answer declares no period (levels) and there is one call: no optional endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from collectors.common import token_env
from collectors.context import CollectContext, Collected, Credentials
from collectors.errors import AuthError, BadRequest, PayloadError, Verdict, header
from collectors.http import Client
from collectors.observation import Observation
from collectors.values import Counts

PLATFORM = "mastodon"
API_ROOT = "https://{instance}"
LOOKUP_ENDPOINT = "/api/v1/accounts/lookup"
FIELDS: dict[str, str] = {"followers_count": "followers", "statuses_count": "posts"}
COUNT = Counts(PLATFORM)  # the Account entity's Integer fields
_USER = re.compile(r"[A-Za-z0-9_]+")
_INSTANCE = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:\d+)?")


# -- classification ----------------------------------------------------------------------------


def seconds_until_iso(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds until Mastodon's ``X-RateLimit-Reset``: an ISO 8601 timestamp (with microseconds)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (moment - current).total_seconds())


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Read Mastodon's ``{"error": "...", "error_description"?: "..."}`` and its ISO reset header."""
    if status < 400:
        return None
    text = ""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        text = str(body["error"])
        if isinstance(body.get("error_description"), str):
            text = f"{text}: {body['error_description']}"
    message = text or f"HTTP {status}"
    if status == 429:
        wait = seconds_until_iso(header(headers, "X-RateLimit-Reset"))
        return Verdict("throttled", f"{message} (HTTP 429)", retry_after=wait, code="rate_limited")
    if status == 401:
        if "requires an authenticated user" in text:
            return Verdict("auth", message, code="auth_required")
        return Verdict("auth", message, code="token_invalid")
    if status == 403:
        return Verdict("permission", message)
    if status == 404:
        return Verdict("bad_request", message, code="not_found")
    if status == 410:
        return Verdict("bad_request", message, code="gone")
    return None


# -- parsing -----------------------------------------------------------------------------------


def split_account(account_id: str) -> tuple[str, str]:
    """``user@instance`` (a leading ``@`` allowed) -> (user, instance)."""
    user, _, instance = account_id.strip().lstrip("@").partition("@")
    if not _USER.fullmatch(user) or not _INSTANCE.fullmatch(instance):
        raise BadRequest(
            f"mastodon: account id {account_id!r} is not user@instance (e.g. cornerbakery@mastodon.social)",
            platform=PLATFORM,
            code="bad_account_id",
        )
    return user, instance.lower()


def parse_account(payload: Any, *, account_id: str, day: date, collected_at: datetime) -> list[Observation]:
    """An ``Account`` entity -> followers and posts on ``day`` (levels only given as "now")."""
    if not isinstance(payload, dict):
        raise PayloadError("mastodon: the lookup answer is not an Account object", platform=PLATFORM)
    rows: list[Observation] = []
    for field, metric in FIELDS.items():
        rows.append(
            Observation(PLATFORM, account_id, metric, day, COUNT(payload.get(field), field), field, collected_at)
        )
    return rows


# -- I/O ---------------------------------------------------------------------------------------


def lookup_url(instance: str, base_url: str | None) -> str:
    """``https://<instance>/api/v1/accounts/lookup``; a base URL replaces ``https://<instance>``."""
    return (base_url or API_ROOT.format(instance=instance)).rstrip("/") + LOOKUP_ENDPOINT


def for_instance(creds: Credentials, instance: str) -> tuple[str | None, str | None]:
    """(token, base URL) to look ``instance`` up with: a connection's token and server root only for the
    instance it was made on (``extra["instance"]``); ``SOCIALKPI_MASTODON_BASE_URL`` (a proxy, the sandbox)
    stays."""
    home = creds.extra.get("instance") if creds.source == "store" else None
    if not home or home.lower() == instance:
        return creds.token, creds.base_url
    base_url = creds.base_url
    if base_url and base_url.rstrip("/").lower() == API_ROOT.format(instance=home.lower()):
        base_url = None  # the connection's own server: not this account's
    return None, base_url


def _lookup(client: Client, ctx: CollectContext) -> Any:
    user, instance = split_account(ctx.account.id)
    creds = ctx.credentials
    env = token_env(ctx)
    token, base_url = for_instance(creds, instance)
    if token:
        client.use_token(token)
    try:
        return client.get_json(lookup_url(instance, base_url), params={"acct": user})
    except AuthError as exc:
        if exc.code == "auth_required" or not token:
            advice = (
                f"{instance} refuses unauthenticated API calls: run `socialkpi connect mastodon --instance "
                f"{instance}`, or create an application token with the read:accounts scope (Preferences > "
                f"Development on {instance}) and put it in {env}"
            )
        elif creds.source == "store":
            advice = (
                f"the token socialkpi connect stored was refused (revoked on {instance}?): run "
                f"`socialkpi connect mastodon --instance {instance}` again"
            )
        else:
            advice = f"the token in {env} was refused: create a new application token on {instance}"
        raise exc.with_message(f"{exc.message} ({advice})") from None
    except BadRequest as exc:
        if exc.code == "not_found":
            raise exc.with_message(
                f"mastodon: no account @{user} on {instance} (Record not found): check the id in "
                "socialkpi.toml, and that it is the account's home instance"
            ) from None
        raise


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Today's followers and posts of ``user@instance`` (own account or competitor alike)."""
    out = Collected()
    payload = _lookup(client, ctx)
    if isinstance(payload, dict) and payload.get("suspended") is True:
        out.skipped += [(field, "the account is suspended: its counts are not served") for field in FIELDS]
    else:
        out.observations += parse_account(
            payload, account_id=ctx.account.id, day=ctx.today, collected_at=ctx.collected_at
        )
    return out


def check(client: Client, ctx: CollectContext) -> str:
    """One public lookup: proves the account exists and the instance answers."""
    payload = _lookup(client, ctx)
    rows = parse_account(payload, account_id=ctx.account.id, day=ctx.today, collected_at=ctx.collected_at)
    followers = next(int(r.value) for r in rows if r.metric == "followers")
    token, _ = for_instance(ctx.credentials, split_account(ctx.account.id)[1])
    how = "with the token" if token else "public, no token needed"
    return f"@{ctx.account.id.lstrip('@')} found ({how}): {followers} followers"
