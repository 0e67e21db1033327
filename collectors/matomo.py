"""Matomo: a website's page views, visits and visitors, and the visits social networks sent.

API: Matomo Reporting API, ``POST https://<matomo-host>/index.php``
https://developer.matomo.org/api-reference/reporting-api

Environment (read by the command line, passed in as ``ctx.credentials``):
    SOCIALKPI_MATOMO_TOKEN     required: a token_auth (Administration > Personal > Security > "Create new
                               token"; a user with View access to the site is enough).  Sent in the POST
                               body, never in the URL, so tokens marked "Only allow secure requests" work.
    SOCIALKPI_MATOMO_BASE_URL  required: where Matomo answers, e.g. ``https://stats.example.com`` or
                               ``https://<name>.matomo.cloud`` (``/index.php`` is appended)

The account id is the site's ``idSite`` (digits; Administration > Websites > Manage).

Metrics (docs/metrics.md), dated by Matomo's date keys (the website's time zone), ``period=day``:
    visits ← VisitsSummary.get ``nb_visits``; visitors ← ``nb_uniq_visitors`` (Matomo's per-day
    distinct count: never summed); page_views ← Actions.get ``nb_pageviews``;
    social_visits ← Referrers.getReferrerType ``nb_visits`` of the social-network row
    (``referrerType==social``); social_page_views ← Actions.get ``nb_pageviews`` with
    ``segment=referrerType==social``; visits_from_<network> ← Referrers.getSocials ``nb_visits`` per
    network label, mapped with collectors.referrers.network_for (a social network it does not know,
    e.g. "Vkontakte", is ``other``: everything getSocials lists is social).
Days: Matomo answers ``[]`` for a day without data: a 0 once the day is over (before the collection
day); a running day is written only when Matomo has archived something for it.
Networks: visits_from_<network> is written for every network seen in the asked range, 0 on its other
days; a network that sent nothing in the range has no row.
Errors: ``{"result": "error", "message": ...}`` is read at any HTTP status (older Matomo sends 200).
Numbers: Matomo's PHP sends a count as a JSON number or as a numeric string (collectors.values.Counts).
Period: a multi-day answer is keyed by its periods, and the keys say which period was answered
(``2025-10-01`` a day, ``2025-10`` a month, ``2025`` a year, ``2025-10-27,2025-11-02`` a week or range): any
key that is not a day is refused as a period mismatch (period=day is asked), never dated on its first day.
Optional: the social segment of Actions.get, Referrers.getReferrerType and Referrers.getSocials (the
social breakdown).  Refused for a permission or as a method that does not exist or is not available (a
plugin turned off), their metrics are skipped with the reason and the visits, visitors and page views are
still written (collectors.optional).  VisitsSummary.get and Actions.get are required.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import partial
from typing import Any

from collectors.common import each_day, token_env
from collectors.context import CollectContext, Collected
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied, Verdict, header, parse_retry_after
from collectors.http import Client
from collectors.observation import Observation
from collectors.optional import optional
from collectors.redaction import register_secret
from collectors.referrers import metric_for, network_for
from collectors.values import Counts, expect

PLATFORM = "matomo"
ENDPOINT = "/index.php"
SOCIAL_SEGMENT = "referrerType==social"
SOCIAL_REFERER_TYPE = 7  # Matomo's Common::REFERRER_TYPE_SOCIAL_NETWORK
DATE_KEY = re.compile(r"\d{4}-\d{2}-\d{2}")
PERIOD_KEYS = (  # what a key of a multi-period answer says was answered
    (re.compile(r"\d{4}-\d{2}"), "month"),
    (re.compile(r"\d{4}"), "year"),
    (re.compile(r"\d{4}-\d{2}-\d{2},\d{4}-\d{2}-\d{2}"), "week or range"),
)
COUNT = Counts(PLATFORM, text=True)  # "some versions send numeric strings"
AUTH_TEXT = re.compile(r"unable to authenticate|token_auth|token is (invalid|expired)|not (a )?valid token", re.I)
ACCESS_TEXT = re.compile(r"can't access this resource|requires '(view|admin|write)' access|no access", re.I)


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Read ``{"result": "error", "message": ...}`` whatever the HTTP status (it long came with HTTP 200:
    https://github.com/matomo-org/matomo/issues/17310 and /18055)."""
    is_error = isinstance(body, dict) and body.get("result") == "error"
    if not is_error:
        if status == 429:
            return Verdict("throttled", f"HTTP {status}", parse_retry_after(header(headers, "Retry-After")))
        return None
    message = str(body.get("message") or f"HTTP {status}")
    if AUTH_TEXT.search(message) or status == 401 and not ACCESS_TEXT.search(message):
        return Verdict(
            "auth",
            f"{message} Create a token under Administration > Personal > Security and put it in "
            "SOCIALKPI_MATOMO_TOKEN (the collector sends it by POST, as secure-only tokens require)",
            code="token_refused",
        )
    if ACCESS_TEXT.search(message):
        return Verdict(
            "permission",
            f"{message} Give the token's user View access to this website (Administration > System > Users), "
            "and check the idSite in socialkpi.toml",
            code="no_view_access",
        )
    if status == 429 or "too many requests" in message.lower():
        return Verdict("throttled", message, parse_retry_after(header(headers, "Retry-After")), code="throttled")
    if status >= 500:
        return Verdict("server", message, parse_retry_after(header(headers, "Retry-After")))
    if "does not exist" in message or "not available" in message:
        return Verdict("bad_request", message, code="unknown_method")
    return Verdict("bad_request", message, code="api_error")


# -- parsers -----------------------------------------------------------------------------------


def _by_day(payload: Any, method: str, since: date, until: date) -> dict[date, Any]:
    """``{"YYYY-MM-DD": <object or list>}`` -> {day: value} for the days inside since..until."""
    if not isinstance(payload, dict):
        raise PayloadError(f"{PLATFORM}: {method} answered {type(payload).__name__}, not an object", platform=PLATFORM)
    if payload.get("result") == "error":
        raise PayloadError(
            f"{PLATFORM}: {method} answered an error: {payload.get('message')!r:.160}", platform=PLATFORM
        )
    out: dict[date, Any] = {}
    for key, value in payload.items():
        if not isinstance(key, str) or not DATE_KEY.fullmatch(key):
            period = next((p for pattern, p in PERIOD_KEYS if isinstance(key, str) and pattern.fullmatch(key)), None)
            if period is None:
                raise PayloadError(
                    f"{PLATFORM}: {method} is not keyed by date (key {key!r:.30}); ask with a date range",
                    platform=PLATFORM,
                )
            expect(f"{period} ({key})", "day", field="period", what=method, platform=PLATFORM)
        try:
            day = date.fromisoformat(key)
        except ValueError:
            raise PayloadError(f"{PLATFORM}: {method} has an impossible date {key!r}", platform=PLATFORM) from None
        if not isinstance(value, dict | list):
            raise PayloadError(f"{PLATFORM}: {method} {key} is {type(value).__name__}", platform=PLATFORM)
        if since <= day <= until:
            out[day] = value
    return out


def _number(row: Mapping[str, Any], field: str, method: str) -> int:
    """A count of ``row`` (a field left out is 0), read by the shared reader (collectors.values)."""
    return COUNT(row.get(field, 0), f"{method} {field}")


def _fill(
    values: dict[date, dict[str, float]],
    mapping: Mapping[str, str],
    *,
    account_id: str,
    answered: set[date],
    since: date,
    until: date,
    today: date,
    collected_at: datetime,
    source: str = "{}",
) -> list[Observation]:
    """Rows for every day of the range that is over, or that Matomo has data for."""
    out: list[Observation] = []
    for day in each_day(since, until):
        if day >= today and day not in answered:
            continue
        for field, metric in mapping.items():
            value = values.get(day, {}).get(field, 0)
            out.append(Observation(PLATFORM, account_id, metric, day, value, source.format(field), collected_at))
    return out


def parse_visits_summary(
    payload: Any, *, account_id: str, since: date, until: date, today: date, collected_at: datetime
) -> list[Observation]:
    """``VisitsSummary.get`` keyed by date -> visits and visitors (``[]`` is a day without visits)."""
    mapping = {"nb_visits": "visits", "nb_uniq_visitors": "visitors"}
    values, answered = _objects(payload, "VisitsSummary.get", mapping, since, until)
    return _fill(values, mapping, account_id=account_id, answered=answered, since=since, until=until,
                 today=today, collected_at=collected_at)  # fmt: skip


def parse_actions(
    payload: Any,
    *,
    account_id: str,
    since: date,
    until: date,
    today: date,
    collected_at: datetime,
    social: bool = False,
) -> list[Observation]:
    """``Actions.get`` keyed by date -> page_views (or social_page_views for the social segment)."""
    mapping = {"nb_pageviews": "social_page_views" if social else "page_views"}
    values, answered = _objects(payload, "Actions.get", mapping, since, until)
    source = "{}[" + SOCIAL_SEGMENT + "]" if social else "{}"
    return _fill(values, mapping, account_id=account_id, answered=answered, since=since, until=until,
                 today=today, collected_at=collected_at, source=source)  # fmt: skip


def _objects(
    payload: Any, method: str, mapping: Mapping[str, str], since: date, until: date
) -> tuple[dict[date, dict[str, float]], set[date]]:
    values: dict[date, dict[str, float]] = {}
    answered: set[date] = set()
    for day, value in _by_day(payload, method, since, until).items():
        if isinstance(value, list):
            if value:
                raise PayloadError(f"{PLATFORM}: {method} {day} is a non-empty list", platform=PLATFORM)
            continue  # [] : nothing archived for that day
        answered.add(day)
        values[day] = {field: _number(value, field, method) for field in mapping}
    return values, answered


def _table(payload: Any, method: str, since: date, until: date) -> dict[date, list[dict[str, Any]]]:
    out: dict[date, list[dict[str, Any]]] = {}
    for day, rows in _by_day(payload, method, since, until).items():
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise PayloadError(f"{PLATFORM}: {method} {day} is not a list of rows", platform=PLATFORM)
        out[day] = rows
    return out


def parse_referrer_type(
    payload: Any, *, account_id: str, since: date, until: date, today: date, collected_at: datetime
) -> list[Observation]:
    """``Referrers.getReferrerType`` keyed by date -> social_visits (the social-network row's nb_visits).

    The row is recognised by its ``segment`` / ``referer_type``, not its label (labels are translated).
    """
    method = "Referrers.getReferrerType"
    values: dict[date, dict[str, float]] = {}
    answered: set[date] = set()
    for day, rows in _table(payload, method, since, until).items():
        if rows:
            answered.add(day)
        for row in rows:
            if row.get("segment") == SOCIAL_SEGMENT or row.get("referer_type") == SOCIAL_REFERER_TYPE:
                values[day] = {"nb_visits": _number(row, "nb_visits", method)}
    return _fill(values, {"nb_visits": "social_visits"}, account_id=account_id, answered=answered, since=since,
                 until=until, today=today, collected_at=collected_at, source="{}[Social networks]")  # fmt: skip


def parse_socials(
    payload: Any, *, account_id: str, since: date, until: date, today: date, collected_at: datetime
) -> list[Observation]:
    """``Referrers.getSocials`` keyed by date -> visits_from_<network> for the networks seen in the range."""
    method = "Referrers.getSocials"
    values: dict[date, dict[str, float]] = {}
    answered: set[date] = set()
    for day, rows in _table(payload, method, since, until).items():
        if rows:
            answered.add(day)
        per = values.setdefault(day, {})
        for row in rows:
            label = row.get("label")
            if not isinstance(label, str):
                raise PayloadError(f"{PLATFORM}: a {method} row has no label", platform=PLATFORM)
            network = network_for(label) or "other"  # getSocials lists social networks only
            per[network] = per.get(network, 0) + _number(row, "nb_visits", method)
    seen = sorted({n for per in values.values() for n, v in per.items() if v})
    mapping = {n: metric_for(n) for n in seen}
    return _fill(values, mapping, account_id=account_id, answered=answered, since=since, until=until,
                 today=today, collected_at=collected_at, source="nb_visits[getSocials {}]")  # fmt: skip


# -- I/O ---------------------------------------------------------------------------------------


def _prepare(client: Client, ctx: CollectContext) -> tuple[str, dict[str, str]]:
    """The endpoint URL and the form fields every call carries (the token among them)."""
    env = token_env(ctx)
    token, base = ctx.credentials.token, ctx.credentials.base_url
    if not base:
        raise BadRequest(
            f"{PLATFORM}: no server address; set SOCIALKPI_MATOMO_BASE_URL to your Matomo "
            "(https://stats.example.com or https://<name>.matomo.cloud)",
            platform=PLATFORM,
        )
    if not token:
        raise AuthError(
            f"{PLATFORM}: no token_auth; create one under Administration > Personal > Security and set {env}",
            platform=PLATFORM,
        )
    if not re.fullmatch(r"\d+", ctx.account.id):
        raise BadRequest(f"{PLATFORM}: the account id must be the numeric idSite, not {ctx.account.id!r:.40}")
    register_secret(token)
    root = base.rstrip("/")
    url = root if root.endswith(ENDPOINT) else root + ENDPOINT
    form = {"module": "API", "format": "JSON", "idSite": ctx.account.id, "token_auth": token}
    return url, form


def _call(client: Client, url: str, form: Mapping[str, str], method: str, **params: str) -> Any:
    # Reporting API calls are reads: retrying the POST is safe.  The token stays in the body.
    return client.post_json(url, data={**form, "method": method, **params})


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Daily visits, visitors, page views and social traffic of idSite ``ctx.account.id``, since..until."""
    if ctx.account.competitor:
        raise PermissionDenied(f"{PLATFORM}: a competitor's website analytics are private", platform=PLATFORM)
    url, form = _prepare(client, ctx)
    out = Collected()
    days = {"period": "day", "date": f"{since.isoformat()},{until.isoformat()}", "format_metrics": "0"}
    table = {**days, "filter_limit": "-1"}
    kw: dict[str, Any] = {
        "account_id": ctx.account.id,
        "since": since,
        "until": until,
        "today": ctx.today,
        "collected_at": ctx.collected_at,
    }
    out.observations += parse_visits_summary(_call(client, url, form, "VisitsSummary.get", **days), **kw)
    out.observations += parse_actions(_call(client, url, form, "Actions.get", **days), **kw)
    breakdowns: list[tuple[str, str, dict[str, str], Callable[..., list[Observation]]]] = [
        ("Actions.get", "social_page_views", {**days, "segment": SOCIAL_SEGMENT}, partial(parse_actions, social=True)),
        ("Referrers.getReferrerType", "social_visits", table, parse_referrer_type),
        ("Referrers.getSocials", "visits_from_<network>", table, parse_socials),
    ]
    for method, metrics, params, parse in breakdowns:
        label = f"{method} [{SOCIAL_SEGMENT}]" if "segment" in params else method
        endpoint = optional(out, label, metrics=metrics, unsupported={"unknown_method"})
        answer = endpoint.fetch(partial(_call, client, url, form, method, **params))
        if answer is not None:
            endpoint.keep(parse(answer, **kw))
        out.observations += endpoint.rows()
    return out


def check(client: Client, ctx: CollectContext) -> str:
    """``SitesManager.getSiteFromId``: proves the token has View access to the site; names it."""
    url, form = _prepare(client, ctx)
    site = _call(client, url, form, "SitesManager.getSiteFromId")
    if not isinstance(site, dict) or "idsite" not in site:
        raise PayloadError(f"{PLATFORM}: SitesManager.getSiteFromId answered no site", platform=PLATFORM)
    name, main_url, tz = site.get("name"), site.get("main_url"), site.get("timezone")
    return f"token valid (sent by POST): site {site['idsite']} {name!r} ({main_url}, days in {tz})"
