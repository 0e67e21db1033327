"""WordPress.com and Jetpack Stats: a blog's views and visitors, and the views social networks referred.

API: WordPress.com REST v1.1 ``/sites/{site}/stats/visits`` and ``/stats/referrers``
https://developer.wordpress.com/docs/api/1.1/get/sites/%24site/stats/

Environment (read by the command line, passed in as ``ctx.credentials``):
    SOCIALKPI_WORDPRESS_TOKEN     required: a WordPress.com OAuth2 access token of a user who can view the
                                  site's stats (an app at developer.wordpress.com/apps, code flow: the token
                                  does not expire and there is no refresh token; implicit-flow tokens last
                                  two weeks).  Sent as ``Authorization: Bearer``.
    SOCIALKPI_WORDPRESS_BASE_URL  optional: replaces https://public-api.wordpress.com (the sandbox)

The account id is the site: its WordPress.com domain or numeric blog id (a Jetpack site: its
WordPress.com blog id, or its domain once Jetpack is connected).

Metrics (docs/metrics.md), dated by the ``period`` the API returns (the site's time zone, ``utc_offset``):
    page_views ← ``views``, visitors ← ``visitors`` of ``/stats/visits?unit=day`` (the day's own distinct
    count: never summed).  WordPress has no visits metric.
    From ``/stats/referrers?period=day``: each referrer group is mapped with collectors.referrers.network_for
    (its name, e.g. "Facebook", then its group key and url); social_visits ← the referred views of the social
    groups, visits_from_<network> ← per network.  WordPress counts a referral once per view that arrived from
    the referrer (the landing view: an arrival, not the pages read after it), so these are arrivals from
    social; there is no social_page_views.
Days: a day in the range the API does not list is 0 once over (before the collection day); a running
day with no views yet is left out.  visits_from_<network> is written for every network seen in the range,
0 on its other days.

Numbers: WordPress.com sends a count as a JSON number or as a numeric string, even within one answer
(``["2023-12-20", 5, 2, 0, 0]`` then ``["2023-12-22", "1", 1, 0, 0]`` in the /stats/visits response kept by the
WordPress iOS app's tests); both are read (collectors.values.Counts).  Each answer's ``unit`` (visits),
``period`` (referrers) and ``date`` must be the ones asked (day, and the chunk's last day): anything else
is refused rather than dated wrongly.
Optional: ``/stats/referrers`` (the social breakdown).  Refused for a permission (403) or as an unknown
method (404 ``unknown_method``: a Jetpack site or plan without it), its metrics are skipped with the reason
and the views and visitors are still written (collectors.optional).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from collectors.common import chunks, each_day, token_env
from collectors.context import CollectContext, Collected
from collectors.errors import AuthError, PayloadError, PermissionDenied, Verdict, header, parse_retry_after
from collectors.http import Client
from collectors.observation import Observation
from collectors.optional import optional
from collectors.referrers import metric_for, network_for
from collectors.values import Counts, expect

PLATFORM = "wordpress"
API_ROOT = "https://public-api.wordpress.com"
VISITS_ENDPOINT = "/rest/v1.1/sites/{site}/stats/visits"
REFERRERS_ENDPOINT = "/rest/v1.1/sites/{site}/stats/referrers"
CHUNK_DAYS = 30  # periods per call (the size WordPress.com's own charts ask for)
FIELDS = {"views": "page_views", "visitors": "visitors"}
AUTH_CODES = frozenset({"invalid_token", "authorization_required", "token_expired"})
COUNT = Counts(PLATFORM, text=True)  # 5 on one row, "1" on the next (module docstring)


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Read ``{"error": "<identifier>", "message": "<text>"}`` (https://developer.wordpress.com/docs/api/1.1/get/sites/%24site/stats/)."""
    if status < 400:
        return None
    code = body.get("error") if isinstance(body, dict) else None
    code = code if isinstance(code, str) else ""
    message = str(body.get("message") or code) if isinstance(body, dict) else f"HTTP {status}"
    detail = f"{message or f'HTTP {status}'} ({code or status})"
    if code in AUTH_CODES or status == 401:
        return Verdict(
            "auth",
            f"{detail}: authorize the app again at public-api.wordpress.com/oauth2/authorize (code flow tokens do "
            "not expire; implicit-flow tokens last two weeks) and put the token in SOCIALKPI_WORDPRESS_TOKEN",
            code="token_refused",
        )
    if code == "unauthorized" or status == 403:
        return Verdict("permission", f"{detail}: the token's user needs stats access to this site", code="no_stats")
    if code == "unknown_method":  # an endpoint this site does not serve (404): not a missing blog
        return Verdict("bad_request", f"{detail}: WordPress.com does not serve this stats endpoint", code=code)
    if code == "invalid_blog" or status == 404:
        return Verdict(
            "bad_request",
            f"{detail}: check the site in socialkpi.toml; a self-hosted site needs Jetpack connected with Stats on",
            code="invalid_blog",
        )
    if status == 429:
        return Verdict("throttled", detail, parse_retry_after(header(headers, "Retry-After")))
    if status >= 500:
        return Verdict("server", detail, parse_retry_after(header(headers, "Retry-After")))
    return Verdict("bad_request", detail, code=code or "bad_request")


# -- parsers -----------------------------------------------------------------------------------


def _day(text: Any, what: str) -> date:
    try:
        if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"{PLATFORM}: {what} {text!r:.30} is not YYYY-MM-DD", platform=PLATFORM) from None


def parse_visits(
    payload: Any,
    *,
    account_id: str,
    since: date,
    until: date,
    today: date,
    collected_at: datetime,
    asked: date | None = None,
) -> list[Observation]:
    """``/stats/visits?unit=day`` (``fields`` header + positional ``data`` rows) -> page_views, visitors.

    ``asked`` is the ``date`` the request sent: the answer's ``date`` must be it, and its ``unit`` day
    (None: a saved answer, whose ``date`` is not checked).
    """
    if not isinstance(payload, dict):
        raise PayloadError(f"{PLATFORM}: stats/visits answered {type(payload).__name__}", platform=PLATFORM)
    fields, data = payload.get("fields"), payload.get("data")
    if not isinstance(fields, list) or not isinstance(data, list):
        raise PayloadError(f"{PLATFORM}: stats/visits has no fields/data of unit=day", platform=PLATFORM)
    _declares(payload, "unit", "stats/visits", asked)
    if "period" not in fields or set(FIELDS) - set(fields):
        raise PayloadError(
            f"{PLATFORM}: stats/visits fields {fields!r:.80} lack period/views/visitors", platform=PLATFORM
        )
    at = {name: fields.index(name) for name in ("period", *FIELDS)}
    values: dict[date, dict[str, float]] = {}
    for row in data:
        if not isinstance(row, list) or len(row) != len(fields):
            raise PayloadError(
                f"{PLATFORM}: a stats/visits row does not match the fields: {row!r:.80}", platform=PLATFORM
            )
        day = _day(row[at["period"]], "period")
        values[day] = {name: COUNT(row[at[name]], f"stats/visits {name} on {day}") for name in FIELDS}
    out: list[Observation] = []
    for day in each_day(since, until):
        got = values.get(day, {})
        if day >= today and not any(got.values()):
            continue
        out += [Observation(PLATFORM, account_id, m, day, got.get(n, 0), n, collected_at) for n, m in FIELDS.items()]
    return out


def _declares(payload: dict[str, Any], field: str, what: str, asked: date | None) -> None:
    """The answer's ``unit``/``period`` must be day, and its ``date`` the one asked (collectors.values.expect)."""
    expect(payload.get(field), "day", field=field, what=what, platform=PLATFORM)
    if asked is not None:
        expect(payload.get("date"), asked.isoformat(), field="date", what=what, platform=PLATFORM)


def network_of_group(group: Mapping[str, Any]) -> str | None:
    """The social network of a referrer group: by its name, then its group key, then its url."""
    for key in ("name", "group", "url"):
        value = group.get(key)
        if isinstance(value, str) and value:
            network = network_for(value)
            if network:
                return network
    return None


def parse_referrers(
    payload: Any,
    *,
    account_id: str,
    since: date,
    until: date,
    today: date,
    collected_at: datetime,
    asked: date | None = None,
) -> list[Observation]:
    """``/stats/referrers?period=day`` (``days.{date}.groups[]``) -> social_visits and visits_from_<network>.

    The answer's ``period`` must be day (a ``period=month`` answer keys a month's totals by its first day)
    and its ``date`` the ``asked`` one.
    """
    days = payload.get("days") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or not isinstance(days, dict):
        raise PayloadError(f"{PLATFORM}: stats/referrers has no days object", platform=PLATFORM)
    _declares(payload, "period", "stats/referrers", asked)
    per_day: dict[date, dict[str, float]] = {}
    for key, entry in days.items():
        day = _day(key, "referrers day")
        groups = entry.get("groups") if isinstance(entry, dict) else None
        if not isinstance(groups, list):
            raise PayloadError(f"{PLATFORM}: stats/referrers {key} has no groups list", platform=PLATFORM)
        if not since <= day <= until or (day >= today and not groups):
            continue
        per = per_day.setdefault(day, {})
        for group in groups:
            if not isinstance(group, dict):
                raise PayloadError(f"{PLATFORM}: a referrer group is {type(group).__name__}", platform=PLATFORM)
            network = network_of_group(group)
            if network:
                per[network] = per.get(network, 0) + COUNT(group.get("total"), f"stats/referrers {key} total")
    seen = sorted({n for per in per_day.values() for n, v in per.items() if v})
    out: list[Observation] = []
    for day in each_day(since, until):
        if day not in per_day and day >= today:
            continue
        per = per_day.get(day, {})
        out.append(
            Observation(
                PLATFORM, account_id, "social_visits", day, sum(per.values()), "views[referrers: social]", collected_at
            )
        )
        for network in seen:
            source = f"views[referrers: {network}]"
            out.append(
                Observation(PLATFORM, account_id, metric_for(network), day, per.get(network, 0), source, collected_at)
            )
    return out


# -- I/O ---------------------------------------------------------------------------------------


def _prepare(client: Client, ctx: CollectContext) -> tuple[str, str]:
    env = token_env(ctx)
    token = ctx.credentials.token
    if not token:
        raise AuthError(
            f"{PLATFORM}: no WordPress.com access token; create an app at developer.wordpress.com/apps, authorize "
            f"it (code flow) and set {env}",
            platform=PLATFORM,
        )
    client.use_token(token)
    root = (ctx.credentials.base_url or API_ROOT).rstrip("/")
    return root, quote(ctx.account.id, safe="")


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Daily views and visitors, and referred views from social, of site ``ctx.account.id`` for since..until."""
    if ctx.account.competitor:
        raise PermissionDenied(f"{PLATFORM}: a competitor's website analytics are private", platform=PLATFORM)
    root, site = _prepare(client, ctx)
    out = Collected()
    referrers = optional(
        out,
        "stats/referrers",
        metrics="social_visits and visits_from_<network>",
        unsupported={"unknown_method"},
    )
    for start, end in chunks(since, until, CHUNK_DAYS):
        n = str((end - start).days + 1)
        kw: dict[str, Any] = {
            "account_id": ctx.account.id,
            "since": start,
            "until": end,
            "today": ctx.today,
            "collected_at": ctx.collected_at,
            "asked": end,
        }
        visits = client.get_json(
            root + VISITS_ENDPOINT.format(site=site),
            params={"unit": "day", "quantity": n, "date": end.isoformat(), "stat_fields": "views,visitors"},
        )
        out.observations += parse_visits(visits, **kw)
        answer = referrers.fetch(
            partial(
                client.get_json,
                root + REFERRERS_ENDPOINT.format(site=site),
                params={"period": "day", "date": end.isoformat(), "num": n},
            )
        )
        if answer is not None:
            referrers.keep(parse_referrers(answer, **kw))
    out.observations += referrers.rows()
    # a network first seen in a later chunk has no 0s in earlier ones: fill them so the range is consistent
    out.observations = _fill_networks(out.observations, since, until, ctx)
    return out


def _fill_networks(rows: list[Observation], since: date, until: date, ctx: CollectContext) -> list[Observation]:
    days = sorted({o.observed_on for o in rows if o.metric == "social_visits"})
    networks = {o.metric: o.source_metric for o in rows if o.metric.startswith("visits_from_")}
    have = {(o.metric, o.observed_on) for o in rows}
    extra = [
        Observation(PLATFORM, ctx.account.id, metric, day, 0, source, ctx.collected_at)
        for metric, source in sorted(networks.items())
        for day in days
        if (metric, day) not in have
    ]
    return rows + extra


def check(client: Client, ctx: CollectContext) -> str:
    """One day of ``/stats/visits``: proves the token can read this site's stats."""
    root, site = _prepare(client, ctx)
    payload = client.get_json(
        root + VISITS_ENDPOINT.format(site=site),
        params={"unit": "day", "quantity": "1", "stat_fields": "views,visitors"},
    )
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise PayloadError(f"{PLATFORM}: stats/visits answered no data", platform=PLATFORM)
    offset = payload.get("utc_offset")
    return f"token can read the stats of {ctx.account.id} (site time zone UTC{offset if offset is not None else '?'})"
