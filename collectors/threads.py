"""Threads profiles through the Threads API (graph.threads.net).

Docs: https://developers.facebook.com/documentation/threads/insights,
https://developers.facebook.com/docs/threads/get-started/long-lived-tokens/,
https://developers.facebook.com/documentation/threads/threads-profiles and
https://developers.facebook.com/docs/graph-api/guides/error-handling (Meta's error envelope, which Threads shares).

Environment (read by the command line, passed in as ``ctx.credentials``):
    SOCIALKPI_THREADS_TOKEN      required: a long-lived Threads user access token (60 days) with
                                 threads_basic and threads_manage_insights (+ threads_profile_discovery for
                                 competitors); an account's ``token_env`` names another variable
    SOCIALKPI_THREADS_BASE_URL   optional: replaces https://graph.threads.net (the sandbox)
    SOCIALKPI_THREADS_TOKEN_URL  optional: replaces https://graph.threads.net/refresh_access_token

Tokens: a long-lived token dies 60 days after it was issued unless refreshed while still valid (and at
least 24 h old) with ``grant_type=th_refresh_token``.  The collector refreshes it itself: on the first
run (its age is unknown), then whenever fewer than 30 days are left, and once after an auth error.  The
new token is kept in the 0600 token store beside the warehouse, under the name of the variable the token
came from (so accounts sharing a token share its refreshes), and wins over the variable while it is fresh.
A refused refresh of a still-working token (too young) is not an error; a dead token says what to do.

A connected account (``socialkpi connect threads``: ``ctx.credentials.source == "store"``) uses the
token-store entry at ``ctx.credentials.store_key`` instead (the own account's id; competitors share the
default connection's entry): its end is known, so it is refreshed only when fewer than 30 days are left
(not on the first run: a token just connected is under 24 h old), the refreshed token replaces it in that
entry, and a token past its known end fails at once with "run `socialkpi connect threads` again" (an expired
token "can no longer be refreshed").

Metrics (docs/metrics.md): followers <- ``followers_count`` (only "now": dated today in the business's
time zone); profile_views <- ``views`` (profile views, a daily series); engagements <- ``likes`` +
``replies`` + ``reposts`` + ``quotes``.  Whose day: the Pacific day (``end_time`` minus one day, read in
America/Los_Angeles).  ``likes`` and the others are totals over since..until, so each Pacific day is asked
on its own; days that have not ended in Los Angeles, and days before 2024-04-13 (the API's floor), are
not asked.

Competitors (``competitor = true``, account id = the username): followers <- ``follower_count`` of
``GET /profile_lookup`` (Profile Discovery API: permission ``threads_profile_discovery`` with Advanced
Access after App Review; public profiles of adults with enough followers only).  Its 7-day counters are
windows, not days, and are not stored.

Numbers: JSON numbers, whole and not negative (collectors.values.Counts; a string is refused).
What the answer declares: each entry's ``period``, ``day`` in Threads' answers (the ``views`` series and
the ``total_value`` metrics alike); another period (``lifetime``) would be a total that is no day's, and is
refused naming it.  No optional endpoint: followers and the daily metrics come from the same
threads_insights edge and permission.
"""

from __future__ import annotations

import logging
import re
import time as clock
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from collectors.common import each_day, token_env
from collectors.context import CollectContext, Collected
from collectors.errors import AuthError, BadRequest, CollectorError, PayloadError, PermissionDenied, Verdict
from collectors.http import Client
from collectors.instagram import classify_meta
from collectors.meta import ask_metrics, last_complete_pacific_day, pacific_bounds, pacific_day
from collectors.oauth_session import _lock_for
from collectors.observation import Observation
from collectors.redaction import register_secret
from collectors.tokens import StoredToken, without_auth
from collectors.values import Counts, expect

log = logging.getLogger("socialkpi.threads")

PLATFORM = "threads"
API_ROOT = "https://graph.threads.net"
VERSION = "v1.0"
ME_ENDPOINT = "/{version}/me"
INSIGHTS_ENDPOINT = "/{version}/{user_id}/threads_insights"
PROFILE_LOOKUP_ENDPOINT = "/{version}/profile_lookup"
REFRESH_ENDPOINT = "/refresh_access_token"  # unversioned, on the API host
FIRST_DAY = date(2024, 4, 13)  # since/until do not work before 1712991600 (https://developers.facebook.com/documentation/threads/insights)
REFRESH_WHEN_LEFT = 30 * 86400.0  # seconds of validity left below which a stored token is refreshed
REQUIRED_SCOPES = "threads_basic and threads_manage_insights"
DISCOVERY_HELP = (
    "profile_lookup needs the threads_profile_discovery permission with Advanced Access (App Review); "
    "with standard access only @meta, @threads, @instagram and @facebook can be looked up"
)

DAILY_METRICS: tuple[str, ...] = ("views", "likes", "replies", "reposts", "quotes")
ENGAGEMENT_PARTS: tuple[str, ...] = ("likes", "replies", "reposts", "quotes")
USERNAME_RE = re.compile(r"[A-Za-z0-9._]{1,30}")
COUNT = Counts(PLATFORM)  # JSON numbers


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Meta's envelope, as for Instagram (https://developers.facebook.com/documentation/threads/overview)."""
    return classify_meta(status, headers, body, scopes=REQUIRED_SCOPES)


# -- parsers ------------------------------------------------------------------------------------------


def _data(payload: Any) -> list[Any]:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise PayloadError("threads: the insights answer has no data list", platform=PLATFORM)
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise PayloadError("threads: an insights entry has no name", platform=PLATFORM)
    return data


def _number(value: Any, what: str) -> int:
    return COUNT(value, what)


def _period(entry: Mapping[str, Any]) -> None:
    expect(entry.get("period"), "day", field="period", what=f"threads_insights {entry['name']}", platform=PLATFORM)


def _value_on(entry: Mapping[str, Any], day: date) -> int | None:
    """An entry's value for Pacific ``day``: its ``total_value`` or the ``values`` item of that day."""
    name = entry["name"]
    _period(entry)
    total = entry.get("total_value")
    if isinstance(total, dict):
        return None if total.get("value") is None else _number(total.get("value"), f"the {name} value")
    values = entry.get("values")
    if not isinstance(values, list):
        raise PayloadError(f"threads: {name} has neither total_value nor values", platform=PLATFORM)
    found: int | None = None
    for item in values:
        if not isinstance(item, dict) or not isinstance(item.get("end_time"), str):
            raise PayloadError(f"threads: a {name} value has no end_time", platform=PLATFORM)
        if pacific_day(item["end_time"]) == day and item.get("value") is not None:
            found = _number(item["value"], f"a {name} value")
    return found


def parse_insights(
    payload: Any, *, account_id: str, day: date, requested: Sequence[str], collected_at: datetime
) -> list[Observation]:
    """``GET /{user-id}/threads_insights?metric=views,likes,...`` for one Pacific day -> rows dated ``day``.

    ``views`` (a daily series) gives profile_views; ``likes + replies + reposts + quotes`` (totals over
    the asked day) give engagements.  A requested metric that is missing counts 0 (docs/metrics.md).
    """
    found: dict[str, int] = {}
    for entry in _data(payload):
        if entry["name"] in DAILY_METRICS and entry["name"] not in found:
            value = _value_on(entry, day)
            if value is not None:
                found[entry["name"]] = value
    rows: list[Observation] = []
    if "views" in requested:
        rows.append(
            Observation(PLATFORM, account_id, "profile_views", day, found.get("views", 0), "views", collected_at)
        )
    parts = [m for m in ENGAGEMENT_PARTS if m in requested]
    if parts:
        total = sum(found.get(m, 0) for m in parts)
        rows.append(Observation(PLATFORM, account_id, "engagements", day, total, "+".join(parts), collected_at))
    return rows


def parse_followers(payload: Any, *, account_id: str, day: date, collected_at: datetime) -> list[Observation]:
    """``threads_insights?metric=followers_count`` -> today's followers (the current total; no range)."""
    for entry in _data(payload):
        if entry["name"] == "followers_count":
            _period(entry)
            total = entry.get("total_value")
            if not isinstance(total, dict):
                raise PayloadError("threads: followers_count has no total_value", platform=PLATFORM)
            value = _number(total.get("value"), "followers_count")
            return [Observation(PLATFORM, account_id, "followers", day, value, "followers_count", collected_at)]
    return []


def parse_profile_lookup(payload: Any, *, account_id: str, day: date, collected_at: datetime) -> list[Observation]:
    """``GET /profile_lookup?username=`` -> a competitor's followers today (``follower_count``)."""
    if not isinstance(payload, dict):
        raise PayloadError("threads: the profile_lookup answer is not an object", platform=PLATFORM)
    value = payload.get("follower_count")
    if value is None:
        return []
    return [
        Observation(
            PLATFORM, account_id, "followers", day, _number(value, "follower_count"), "follower_count", collected_at
        )
    ]


def parse_refresh(payload: Any, *, now: float) -> StoredToken:
    """``GET /refresh_access_token`` -> ``{"access_token", "token_type": "bearer", "expires_in"}``."""
    token = payload.get("access_token") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token:
        raise PayloadError("threads: the refresh answered without an access_token", platform=PLATFORM)
    register_secret(token)
    expires_in = payload.get("expires_in")
    expires_at = (
        now + float(expires_in) if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) else None
    )
    return StoredToken(access_token=token, refresh_token=None, expires_at=expires_at)


# -- tokens -------------------------------------------------------------------------------------------


class _Tokens:
    """The token in use: a fresh stored one, else the variable's; refreshed as the docstring says.

    ``key`` is the token-store entry: the variable's name for a ``.env`` token, the connection's
    ``store_key`` for a connected account (``connected``).
    """

    def __init__(self, client: Client, ctx: CollectContext) -> None:
        creds = ctx.credentials
        self.client, self.ctx = client, ctx
        self.env_name = token_env(ctx)
        self.connected = creds.source == "store" and bool(creds.store_key)
        self.key = creds.store_key if self.connected and creds.store_key else self.env_name
        self.env_token = None if self.connected else creds.token
        register_secret(creds.token)
        stored = ctx.token_store.get(PLATFORM, self.key) if ctx.token_store else None
        self.refresh_tried = False
        self.age_unknown = False  # a token of unknown age is refreshed on first use
        if self.connected:
            token = stored or (StoredToken(creds.token) if creds.token else None)
            if token is None:
                raise AuthError(
                    f"threads: the connection {self.key} has no token; run `socialkpi connect threads` again",
                    platform=PLATFORM,
                )
            self.token, self.source, self.expires_at = token.access_token, "store", token.expires_at
            self.age_unknown = token.expires_at is None
            if token.expires_at is not None and token.expires_at <= clock.time():
                ended = datetime.fromtimestamp(token.expires_at, UTC)
                raise AuthError(
                    f"threads: the connected token ended on {ended:%Y-%m-%d} (a long-lived Threads token lasts 60 "
                    "days and can only be refreshed while still valid); run `socialkpi connect threads` again",
                    platform=PLATFORM,
                    code="refresh_refused",
                )
        elif stored is not None and stored.fresh(margin=0):
            self.token, self.source, self.expires_at = stored.access_token, "store", stored.expires_at
        elif self.env_token:
            self.token, self.source, self.expires_at = self.env_token, "env", None
            self.age_unknown = True
        else:
            raise AuthError(
                f"threads: no access token; set {self.env_name} to a long-lived Threads user token",
                platform=PLATFORM,
            )
        self.seen = {self.token}  # tokens used in this run (a refused one is never taken back from the store)
        root = (creds.base_url or API_ROOT).rstrip("/")
        self.refresh_url = creds.token_url or root + REFRESH_ENDPOINT

    def advice(self) -> str:
        return _connect_advice() if self.connected else _renew_advice(self.env_name)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def install(self) -> None:
        self.client.auth_headers = self.headers  # never access_token= in a data URL
        self.client.refresh = self.on_auth_error

    def refresh_if_due(self) -> None:
        """Before any data call: refresh a token of unknown age, or one with under 30 days left."""
        due = self.age_unknown or (self.expires_at is not None and self.expires_at - clock.time() < REFRESH_WHEN_LEFT)
        if not due:
            return
        self.refresh_tried = True
        try:
            self._refresh()
        except CollectorError as exc:  # too young (< 24 h), or dead: the data calls will tell
            log.info("threads: token not refreshed now (%s); using it as it is", exc.message)

    def on_auth_error(self) -> bool:
        """The client's refresh hook: fall back from a stored token to the variable's, else refresh once."""
        if self.source == "store" and self.env_token and self.env_token != self.token:
            log.info("threads: the stored token was refused; using %s", self.env_name)
            self.token, self.source, self.expires_at = self.env_token, "env", None
            self.seen.add(self.token)
            self.age_unknown = True
            self.refresh_tried = False
            self.refresh_if_due()
            return True
        if self.refresh_tried:
            return False
        self.refresh_tried = True
        try:
            self._refresh()
        except CollectorError as exc:
            reason = exc.message.removeprefix("threads: ")
            raise AuthError(
                f"threads: the token is no longer valid and could not be refreshed ({reason}); {self.advice()}",
                platform=PLATFORM,
                status=exc.status,
                code="refresh_refused",
            ) from None
        return True

    def _refresh(self) -> None:
        with _lock_for(f"{PLATFORM}/{self.key}"):
            stored = self.ctx.token_store.get(PLATFORM, self.key) if self.ctx.token_store else None
            if (
                stored is not None
                and stored.access_token not in self.seen
                and stored.expires_at is not None
                and stored.expires_at - clock.time() > REFRESH_WHEN_LEFT
            ):  # another account sharing this entry renewed it a moment ago
                new = stored
            else:
                with without_auth(self.client):  # no bearer, no recursion
                    # The documented form carries the token itself as access_token= (redacted in any message).
                    payload = self.client.get_json(
                        self.refresh_url, params={"grant_type": "th_refresh_token", "access_token": self.token}
                    )
                new = parse_refresh(payload, now=clock.time())
                if self.ctx.token_store is not None:
                    self.ctx.token_store.put(PLATFORM, self.key, new)
        self.token, self.source, self.expires_at = new.access_token, "store", new.expires_at
        self.seen.add(new.access_token)
        self.age_unknown = False


def _renew_advice(env_name: str) -> str:
    return (
        "a long-lived Threads token lasts 60 days and can only be refreshed while still valid: create a new "
        "one (Threads app > User Token Generator, or exchange a short-lived token with grant_type="
        f"th_exchange_token) and put it in {env_name}"
    )


def _connect_advice() -> str:
    return (
        "a long-lived Threads token lasts 60 days and can only be refreshed while still valid: run "
        "`socialkpi connect threads` again"
    )


def _with_advice(exc: AuthError, tokens: _Tokens) -> AuthError:
    if exc.code == "refresh_refused":
        return exc
    return exc.with_message(f"{exc.message}; {tokens.advice()}")


# -- I/O ----------------------------------------------------------------------------------------------


def _username(ctx: CollectContext) -> str:
    name = ctx.account.id.strip().removeprefix("@")
    if not USERNAME_RE.fullmatch(name):
        raise BadRequest(
            f"threads: {ctx.account.id!r} is not a Threads username: a competitor account's id is its username",
            platform=PLATFORM,
        )
    return name


def _user_id(ctx: CollectContext) -> str:
    if not ctx.account.id.isdigit():
        raise BadRequest(
            f"threads: {ctx.account.id!r} is not a Threads user id (digits: GET /v1.0/me?fields=id), or set "
            "competitor = true for someone else's username",
            platform=PLATFORM,
        )
    return ctx.account.id


def _lookup(client: Client, root: str, username: str) -> Any:
    try:
        return client.get_json(root + PROFILE_LOOKUP_ENDPOINT.format(version=VERSION), params={"username": username})
    except PermissionDenied as exc:
        raise exc.with_message(f"{exc.message.split('; the token needs')[0]}; {DISCOVERY_HELP}") from None
    except BadRequest as exc:
        raise exc.with_message(
            f"{exc.message}; profile_lookup finds public profiles of adults with at least 1,000 followers, by "
            f"their exact username"
        ) from None


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Today's followers; for an own account also daily profile views and engagements for since..until."""
    root, out = (ctx.credentials.base_url or API_ROOT).rstrip("/"), Collected()
    if ctx.account.competitor:
        username = _username(ctx)
    else:
        user_id = _user_id(ctx)
    tokens = _Tokens(client, ctx)
    tokens.install()
    try:
        tokens.refresh_if_due()
        if ctx.account.competitor:
            payload = _lookup(client, root, username)
            out.observations += parse_profile_lookup(
                payload, account_id=ctx.account.id, day=ctx.today, collected_at=ctx.collected_at
            )
        else:
            url = root + INSIGHTS_ENDPOINT.format(version=VERSION, user_id=user_id)
            payload = client.get_json(url, params={"metric": "followers_count"})
            out.observations += parse_followers(
                payload, account_id=user_id, day=ctx.today, collected_at=ctx.collected_at
            )
            refused: set[str] = set()
            first, last = max(since, FIRST_DAY), min(until, last_complete_pacific_day(ctx.collected_at))
            for day in each_day(first, last):
                _insights_day(client, ctx, url, day, refused, out)
    except AuthError as exc:
        raise _with_advice(exc, tokens) from None
    return out


def _insights_day(client: Client, ctx: CollectContext, url: str, day: date, refused: set[str], out: Collected) -> None:
    """The day's metrics in one call; a metric refused as retired is asked no more and recorded.

    After a refusal each metric is asked alone; the answers of the day are parsed together, so that
    engagements stays one row (the sum of the parts still served).
    """
    since_ts, until_ts = pacific_bounds(day)

    def fetch(batch: list[str]) -> Any:
        return client.get_json(url, params={"metric": ",".join(batch), "since": since_ts, "until": until_ts})

    entries: list[Any] = []
    answered: list[str] = []
    for batch, payload in ask_metrics(fetch, DAILY_METRICS, refused, out, api="Threads API"):
        entries += _data(payload)
        answered += batch
    if answered:
        out.observations += parse_insights(
            {"data": entries}, account_id=ctx.account.id, day=day, requested=answered, collected_at=ctx.collected_at
        )


def check(client: Client, ctx: CollectContext) -> str:
    """The cheapest proof that the credential works, for ``socialkpi doctor``; never refreshes."""
    root = (ctx.credentials.base_url or API_ROOT).rstrip("/")
    username = _username(ctx) if ctx.account.competitor else None
    tokens = _Tokens(client, ctx)
    client.auth_headers = tokens.headers
    try:
        if username is not None:
            rows = parse_profile_lookup(
                _lookup(client, root, username), account_id=username, day=ctx.today, collected_at=ctx.collected_at
            )
            detail = f"profile discovery of @{username} works"
            if rows:
                detail += f" ({rows[0].value:.0f} followers)"
        else:
            me = client.get_json(root + ME_ENDPOINT.format(version=VERSION), params={"fields": "id,username"})
            name = me.get("username") if isinstance(me, dict) else None
            ident = me.get("id") if isinstance(me, dict) else None
            detail = f"token valid for @{name}" if name else "token valid"
            if ident is not None and str(ident) != _user_id(ctx):
                raise BadRequest(
                    f"threads: the token belongs to user {ident}, not to {ctx.account.id}: put {ident} as the id",
                    platform=PLATFORM,
                )
    except AuthError as exc:
        raise _with_advice(exc, tokens) from None
    if tokens.source == "store" and tokens.expires_at is not None:
        expires = datetime.fromtimestamp(tokens.expires_at, UTC)
        what = "connected token (socialkpi connect threads)" if tokens.connected else "refreshed token"
        return f"{detail}, {what} expires {expires:%Y-%m-%d} (refreshed automatically)"
    return f"{detail}, expiry unknown until the first collect refreshes it"
