"""Umami: a website's page views, visits and visitors, and the visits social networks sent.

API: Umami API, self-hosted ``/api`` or Umami Cloud ``https://api.umami.is/v1``
https://umami.is/docs/api/website-stats , https://umami.is/docs/cloud/api-key

How the user picks self-hosted or Cloud: by SOCIALKPI_UMAMI_BASE_URL.
    unset, or ``https://api.umami.is[/v1]`` (any URL ending in ``/v1``)  -> Umami Cloud: SOCIALKPI_UMAMI_TOKEN is
        an API key (Cloud > Settings > API keys), sent as ``x-umami-api-key``; keys do not expire.
    anything else, e.g. ``https://umami.example.com`` (``/api`` is appended unless given) -> self-hosted:
        SOCIALKPI_UMAMI_TOKEN is the bearer token ``POST /api/auth/login`` returns, sent as
        ``Authorization: Bearer``.  Optional: SOCIALKPI_UMAMI_CLIENT_ID and SOCIALKPI_UMAMI_CLIENT_SECRET, the
        username and password of an Umami user who can view the website (a view-only user is enough): the
        collector then logs in itself when it has no token or the token stops working, and keeps the new
        token in the 0600 token file beside the warehouse (a stored token wins over the env token).

The account id is the website id (a UUID: Settings > Websites > Edit).

Metrics (docs/metrics.md): per day, ``GET /websites/{id}/stats`` for that day alone (``startAt``/``endAt``
in epoch ms, the day's bounds in the business's time zone, also sent as ``timezone``), so visitors is
Umami's distinct count for the day, never a sum: page_views ← ``pageviews``, visits ← ``visits``,
visitors ← ``visitors`` (current flat numbers, or the ``{"value", "prev"}`` objects of older servers).
Social: per day ``GET /websites/{id}/metrics?type=referrer`` (``[{"x": referrer domain, "y": n}]``);
each domain is mapped with collectors.referrers.network_for; social_visits ← the sum of ``y`` over social
referrers, visits_from_<network> ← ``y`` per network.  Umami counts ``y`` as distinct visitors per referrer
and day, so a visitor who came twice from one network on one day counts once: the closest Umami gives to
visits per referrer without one request per referrer.  Umami gives no page views per referrer: no
social_page_views.
Days: ``/stats`` answers zeros for a day without data: written as 0 once the day is over (before the
collection day); a running day is written only when it has data.  visits_from_<network> is written for
every network seen in the asked range, 0 on its other days.
Numbers: JSON numbers (collectors.values.Counts; a string, a fraction, a negative are refused).  Neither
answer declares a period or a date (each day is asked alone, by its bounds): there is nothing to check.
Optional: ``/metrics?type=referrer`` (the social breakdown).  Refused for a permission or as a bad request or
an unknown route (a server version without it), it is asked no more that run, its metrics are skipped with
the reason and the day's stats are still written (collectors.optional).  ``/stats`` is required.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote, urlsplit

from collectors.common import each_day, token_env
from collectors.context import CollectContext, Collected
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied, Verdict, header, parse_retry_after
from collectors.http import Client
from collectors.observation import Observation
from collectors.optional import optional
from collectors.redaction import register_secret
from collectors.referrers import metric_for, network_for
from collectors.tokens import StoredToken, without_auth
from collectors.values import Counts

PLATFORM = "umami"
CLOUD_ROOT = "https://api.umami.is/v1"
SELF_HOSTED_PREFIX = "/api"
STATS_ENDPOINT = "/websites/{website_id}/stats"
METRICS_ENDPOINT = "/websites/{website_id}/metrics"
WEBSITE_ENDPOINT = "/websites/{website_id}"
LOGIN_ENDPOINT = "/auth/login"  # self-hosted only
CLOUD_WINDOW = 15.0  # Umami Cloud: 50 calls per 15 s per key
TOTALS = {"pageviews": "page_views", "visits": "visits", "visitors": "visitors"}
COUNT = Counts(PLATFORM)  # JSON numbers (https://umami.is/docs/api/website-stats)
ADVICE = (
    "the token was refused, or this user cannot view the website: set a fresh SOCIALKPI_UMAMI_TOKEN (self-hosted: "
    "from POST /api/auth/login; Cloud: an API key) or, self-hosted, SOCIALKPI_UMAMI_CLIENT_ID and "
    "SOCIALKPI_UMAMI_CLIENT_SECRET (username, password) to log in automatically"
)


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Read ``{"error": {"message", "code", "status"}}`` (or an older plain-text body): the shape of
    src/lib/response.ts in https://github.com/umami-software/umami."""
    if status < 400:
        return None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        message, code = str(err.get("message") or f"HTTP {status}"), str(err.get("code") or "")
    else:
        message, code = (body.strip()[:200] if isinstance(body, str) and body.strip() else f"HTTP {status}"), ""
    if status == 401 or code == "unauthorized":
        return Verdict("auth", f"{message}: {ADVICE}", code="unauthorized")
    if status == 403 or code == "forbidden":
        return Verdict("permission", f"{message}: give this user view access to the website", code="forbidden")
    if status == 429 or code == "too-many-requests":
        wait = parse_retry_after(header(headers, "Retry-After"))
        return Verdict("throttled", message, CLOUD_WINDOW if wait is None else wait, code="too_many_requests")
    if status >= 500:
        return Verdict("server", message, parse_retry_after(header(headers, "Retry-After")))
    if status == 404 or code == "not-found":
        return Verdict(
            "bad_request", f"{message}: no website with this id; check the id in socialkpi.toml", code="not_found"
        )
    return Verdict("bad_request", message, code=code or "bad_request")


# -- parsers -----------------------------------------------------------------------------------


def parse_stats(payload: Any, *, account_id: str, day: date, today: date, collected_at: datetime) -> list[Observation]:
    """``/stats`` for one day -> page_views, visits, visitors; nothing for a running day without data."""
    if not isinstance(payload, dict):
        raise PayloadError(f"{PLATFORM}: /stats answered {type(payload).__name__}, not an object", platform=PLATFORM)
    values: dict[str, float] = {}
    for name in TOTALS:
        raw = payload.get(name)
        if isinstance(raw, dict):  # older servers: {"value": n, "prev": m}
            raw = raw.get("value")
        values[name] = COUNT(raw, f"/stats {name}")
    if day >= today and not any(values.values()):
        return []
    return [Observation(PLATFORM, account_id, m, day, values[n], n, collected_at) for n, m in TOTALS.items()]


def parse_referrers(
    payload: Any, *, account_id: str, day: date, today: date, collected_at: datetime
) -> dict[str, float] | None:
    """``/metrics?type=referrer`` for one day -> visits per network (None: a running day without data)."""
    if not isinstance(payload, list):
        raise PayloadError(f"{PLATFORM}: /metrics answered {type(payload).__name__}, not a list", platform=PLATFORM)
    per: dict[str, float] = {}
    for row in payload:
        if not isinstance(row, dict) or "x" not in row:
            raise PayloadError(f"{PLATFORM}: a /metrics row is not {{x, y}}: {row!r:.80}", platform=PLATFORM)
        x, y = row["x"], COUNT(row.get("y"), "a /metrics y")
        network = network_for(x) if isinstance(x, str) else None  # x is null or "" for direct visits
        if network:
            per[network] = per.get(network, 0) + y
    if day >= today and not payload:
        return None
    return per


def social_rows(
    per_day: Mapping[date, Mapping[str, float]], *, account_id: str, collected_at: datetime
) -> list[Observation]:
    """social_visits per day, and visits_from_<network> for the networks seen, 0 on their other days."""
    seen = sorted({n for per in per_day.values() for n, v in per.items() if v})
    rows: list[Observation] = []
    for day in sorted(per_day):
        per = per_day[day]
        rows.append(
            Observation(
                PLATFORM, account_id, "social_visits", day, sum(per.values()), "y[referrer: social]", collected_at
            )
        )
        for network in seen:
            value = per.get(network, 0)
            rows.append(
                Observation(
                    PLATFORM, account_id, metric_for(network), day, value, f"y[referrer: {network}]", collected_at
                )
            )
    return rows


# -- I/O ---------------------------------------------------------------------------------------


def api_root(base_url: str | None) -> tuple[str, bool]:
    """``(root, cloud)``: where the documented paths begin, and whether it is Umami Cloud."""
    if not base_url:
        return CLOUD_ROOT, True
    base = base_url.rstrip("/")
    parts = urlsplit(base)
    if parts.hostname == "api.umami.is":
        return (base if parts.path.endswith("/v1") else base + "/v1"), True
    if parts.path.endswith("/v1"):
        return base, True
    return (base if parts.path.endswith(SELF_HOSTED_PREFIX) else base + SELF_HOSTED_PREFIX), False


def _prepare(client: Client, ctx: CollectContext) -> str:
    """The auth hooks on the client; the API root."""
    creds, account = ctx.credentials, ctx.account.id
    root, cloud = api_root(creds.base_url)
    env = token_env(ctx)
    if cloud:
        if not creds.token:
            raise AuthError(f"{PLATFORM}: no Umami Cloud API key; create one under Settings > API keys and set {env}")
        key = creds.token
        client.use_token(key, header="x-umami-api-key", prefix="")
        return root
    username, password = creds.client_id, creds.client_secret
    register_secret(password)
    stored = ctx.token_store.get(PLATFORM, account) if ctx.token_store else None
    state = {"token": stored.access_token if stored else creds.token or ""}
    register_secret(state["token"])

    def login() -> str:
        token = _login(client, root, username or "", password or "")
        if ctx.token_store:
            ctx.token_store.put(PLATFORM, account, StoredToken(access_token=token))
        return token

    if not state["token"]:
        if not (username and password):
            raise AuthError(
                f"{PLATFORM}: no token for the self-hosted server; set {env} to the token POST /api/auth/login "
                "returns, or SOCIALKPI_UMAMI_CLIENT_ID and SOCIALKPI_UMAMI_CLIENT_SECRET (username and password)"
            )
        state["token"] = login()

    def refresh() -> bool:  # the server refused the token: log in again, or fall back to the env token
        if username and password:
            state["token"] = login()
            return True
        if creds.token and state["token"] != creds.token:
            state["token"] = creds.token
            return True
        return False

    client.auth_headers = lambda: {"Authorization": f"Bearer {state['token']}"}
    client.refresh = refresh
    return root


def _login(client: Client, root: str, username: str, password: str) -> str:
    """``POST /api/auth/login``; a refusal becomes an AuthError that says what to do."""
    try:
        with without_auth(client):  # no stale bearer, and no refresh loop inside a login
            body = client.post_json(root + LOGIN_ENDPOINT, json_body={"username": username, "password": password})
    except (AuthError, BadRequest, PermissionDenied) as exc:
        raise AuthError(
            f"{PLATFORM}: the server refused to log in user {username!r} ({_reason(exc.message)}): "
            "check SOCIALKPI_UMAMI_CLIENT_ID (username) and SOCIALKPI_UMAMI_CLIENT_SECRET (password)",
            platform=PLATFORM,
            status=exc.status,
        ) from None
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise AuthError(f"{PLATFORM}: /api/auth/login answered without a token", platform=PLATFORM)
    register_secret(token)
    return token


def _reason(message: str) -> str:
    return message.removeprefix(f"{PLATFORM}: ").split(": ")[0][:80]


def day_bounds(day: date, tz: Any) -> tuple[int, int]:
    """``startAt``/``endAt`` (epoch ms) of ``day`` in the time zone ``tz``, both ends included."""
    start = datetime.combine(day, time.min, tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000) - 1


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Per day of since..until: the day's stats and its referrers, for website ``ctx.account.id``."""
    if ctx.account.competitor:
        raise PermissionDenied(f"{PLATFORM}: a competitor's website analytics are private", platform=PLATFORM)
    if not re.fullmatch(r"[0-9a-fA-F-]{32,36}", ctx.account.id):
        raise BadRequest(f"{PLATFORM}: the account id must be the website's UUID, not {ctx.account.id!r:.40}")
    root = _prepare(client, ctx)
    website = quote(ctx.account.id, safe="")
    out = Collected()
    tz_name = str(ctx.business_tz)
    social: dict[date, dict[str, float]] = {}
    referrers = optional(
        out,
        "metrics?type=referrer",
        metrics="social_visits and visits_from_<network>",
        unsupported={"bad-request", "bad_request", "not_found"},  # Umami's code, or an older plain-text 400; a 404
    )
    for day in each_day(since, until):
        start, end = day_bounds(day, ctx.business_tz)
        window = {"startAt": start, "endAt": end, "timezone": tz_name}
        kw: dict[str, Any] = {
            "account_id": ctx.account.id,
            "day": day,
            "today": ctx.today,
            "collected_at": ctx.collected_at,
        }
        stats = client.get_json(root + STATS_ENDPOINT.format(website_id=website), params=window)
        out.observations += parse_stats(stats, **kw)
        answer = referrers.fetch(
            partial(
                client.get_json,
                root + METRICS_ENDPOINT.format(website_id=website),
                params={**window, "type": "referrer"},
            )
        )
        per = None if answer is None else parse_referrers(answer, **kw)
        if per is not None:
            social[day] = per
    referrers.keep(social_rows(social, account_id=ctx.account.id, collected_at=ctx.collected_at))
    out.observations += referrers.rows()
    return out


def check(client: Client, ctx: CollectContext) -> str:
    """``GET /websites/{id}``: proves the credential can read this website; names it."""
    root = _prepare(client, ctx)
    _, cloud = api_root(ctx.credentials.base_url)
    site = client.get_json(root + WEBSITE_ENDPOINT.format(website_id=quote(ctx.account.id, safe="")))
    if not isinstance(site, dict) or "id" not in site:
        raise PayloadError(f"{PLATFORM}: /websites/{{id}} answered no website", platform=PLATFORM)
    how = "Umami Cloud API key (keys do not expire)" if cloud else f"self-hosted token on {urlsplit(root).netloc}"
    return f"{how} can read website {site.get('name')!r} ({site.get('domain')})"
