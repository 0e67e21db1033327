"""The platform registry: a literal table, no discovery, no plugins.

Each entry names the platform's functions as ``"module:function"`` and the facts the runner and the
config check need about it:

* ``collect(client, ctx, *, since, until) -> Collected`` does the work;
* ``classify(status, headers, body) -> Verdict | None`` reads the platform's error answers: the runner
  gives it to the account's :class:`~collectors.http.Client` before ``collect`` or ``check`` runs;
* ``check(client, ctx) -> str``, the cheapest authenticated call, is what ``socialkpi doctor`` runs.

The functions are imported only when they are called for (:func:`load_collector`, :func:`load_classifier`,
:func:`load_check`) so that ``socialkpi --help`` and the config check stay fast (importing requests alone
costs ~0.3 s).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import Protocol

    from collectors.context import CollectContext, Collected
    from collectors.errors import Classifier
    from collectors.http import Client

    class CollectFn(Protocol):
        def __call__(self, client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected: ...

    class CheckFn(Protocol):
        def __call__(self, client: Client, ctx: CollectContext) -> str: ...


@dataclass(frozen=True, slots=True)
class Platform:
    id: str
    label: str
    collect: str  # "module:function" of its collect()
    classify: str | None  # "module:function" of its error classifier (None: the HTTP status alone decides)
    check: str | None  # "module:function" of its credential check (None: doctor says "configured")
    lookback_days: int  # recent days re-fetched on every run (the platform revises them)
    max_history_days: int  # how far back the API answers at all
    concurrency: int  # accounts of this platform collected at once
    needs_token: bool  # an own account needs SOCIALKPI_<PLATFORM>_TOKEN (or Google credentials)
    google: bool = False  # accepts SOCIALKPI_GOOGLE_CREDENTIALS
    competitor_support: str = ""  # "" = supported; otherwise why competitors cannot be collected
    id_pattern: str = r".+"  # what an account id looks like
    id_hint: str = ""
    # How many days before the collect day an own account's daily series end: a collect on day D can have
    # stored nothing yet for a day after D - delay_days, so Data health shows such a day as "not yet
    # available", not missing (warehouse.health.coverage).  0 for the platforms that only give "now"
    # numbers (dated D) and for every competitor (their numbers are "now" only); at least 1 for a daily
    # series, which the runner asks up to yesterday.  Each value cites the platform's documentation.
    delay_days: int = 0

    @property
    def module(self) -> str:
        """The module of :attr:`collect` (the collector)."""
        return self.collect.partition(":")[0]


# The oldest day socialkpi reads or stores: no platform it reads has data before 2004 (Facebook opened in
# February 2004, the others later), so an older date is a typo (socialkpi.settings, warehouse.imports).
EARLIEST_DAY = date(2004, 1, 1)


PLATFORMS: dict[str, Platform] = {
    "facebook": Platform(
        id="facebook",
        label="Facebook Page",
        collect="collectors.facebook:collect",
        classify="collectors.facebook:classify",
        check="collectors.facebook:check",
        lookback_days=3,
        max_history_days=730,
        concurrency=4,
        needs_token=True,
        id_pattern=r"\d{5,20}",
        id_hint="the numeric Page id (Page > About > Page transparency, or Meta Business Suite)",
        # Page Insights serve complete days only, never today (the collector drops a page_follows value dated today;
        # https://developers.facebook.com/docs/graph-api/reference/page/insights/): the newest day is yesterday
        delay_days=1,
    ),
    "instagram": Platform(
        id="instagram",
        label="Instagram",
        collect="collectors.instagram:collect",
        classify="collectors.instagram:classify",
        check="collectors.instagram:check",
        lookback_days=3,
        max_history_days=90,
        concurrency=2,
        needs_token=True,
        id_pattern=r"@?[A-Za-z0-9._]{1,30}",
        id_hint=(
            "own account: the numeric Instagram professional account id (17841...); "
            "competitor: the username (business discovery)"
        ),
        # account insights have "up to 48 h delay" (the Instagram insights reference,
        # https://developers.facebook.com/documentation/instagram-platform/api-reference/instagram-user/insights/), and
        # each value is a Pacific day, asked once it has ended in Los Angeles, which for a business east of California
        # is during its next day: the newest day is two days back
        delay_days=2,
    ),
    "threads": Platform(
        id="threads",
        label="Threads",
        collect="collectors.threads:collect",
        classify="collectors.threads:classify",
        check="collectors.threads:check",
        lookback_days=3,
        max_history_days=730,
        concurrency=2,
        needs_token=True,
        id_pattern=r"@?[A-Za-z0-9._]{1,30}",
        id_hint=(
            "own account: the numeric Threads user id (GET /v1.0/me?fields=id); "
            "competitor: the username (profile_lookup, needs threads_profile_discovery)"
        ),
        # values are dated by the Pacific day (end_time 07:00/08:00 UTC,
        # https://developers.facebook.com/documentation/threads/insights), asked once it
        # has ended in Los Angeles: for a business east of California, two days back
        delay_days=2,
    ),
    "x": Platform(
        id="x",
        label="X (Twitter)",
        collect="collectors.x:collect",
        classify="collectors.x:classify",
        check="collectors.x:check",
        lookback_days=0,
        max_history_days=0,
        concurrency=2,
        needs_token=True,
        id_pattern=r"[A-Za-z0-9_]{1,15}",
        id_hint="the username without @ (x.com/<username>)",
        delay_days=0,  # "now" numbers only, dated the collect day
    ),
    "linkedin": Platform(
        id="linkedin",
        label="LinkedIn Page",
        collect="collectors.linkedin:collect",
        classify="collectors.linkedin:classify",
        check="collectors.linkedin:check",
        lookback_days=4,
        max_history_days=360,
        concurrency=2,
        needs_token=True,
        id_pattern=r"\d{1,12}",
        id_hint="the numeric organization id (the number in linkedin.com/company/<id>/admin/)",
        # page and share statistics come up to yesterday (DAY granularity,
        # https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/page-statistics);
        # follower gains lag about two days more (seen in practice) but the other statistics already date that day
        delay_days=1,
    ),
    "pinterest": Platform(
        id="pinterest",
        label="Pinterest",
        collect="collectors.pinterest:collect",
        classify="collectors.pinterest:classify",
        check="collectors.pinterest:check",
        lookback_days=7,
        max_history_days=89,  # the runner clamps from until=yesterday: today-90, Pinterest's limit
        concurrency=2,
        needs_token=True,
        competitor_support=(
            "Pinterest's API has no public profile lookup: only the token's own account can be collected"
        ),
        id_pattern=r"[A-Za-z0-9_]{3,30}",
        id_hint="the username of the account the token belongs to (pinterest.com/<username>), without @",
        # only READY days are written; recent days come back PROCESSING or ESTIMATE (user_account/analytics'
        # data_status, https://developers.pinterest.com/docs/api/v5/: re-fetch until READY), commonly the two days
        # before today (a 24-48 h processing delay), and the collector stops at the UTC yesterday: the newest day is
        # three days back
        delay_days=3,
    ),
    "tiktok": Platform(
        id="tiktok",
        label="TikTok",
        collect="collectors.tiktok:collect",
        classify="collectors.tiktok:classify",
        check="collectors.tiktok:check",
        lookback_days=0,
        max_history_days=0,  # follower and video counts are "now" only
        concurrency=2,
        needs_token=True,
        competitor_support=(
            "TikTok's Display API only answers for the account that authorized the token "
            "(no competitor endpoint; the Research API is for approved researchers only)"
        ),
        id_pattern=r"@?[A-Za-z0-9_.]{2,24}",
        id_hint="the username of the account that authorized the app (tiktok.com/@<username>)",
        delay_days=0,  # "now" numbers only, dated the collect day
    ),
    "youtube": Platform(
        id="youtube",
        label="YouTube channel",
        collect="collectors.youtube:collect",
        classify="collectors.youtube:classify",
        check="collectors.youtube:check",
        lookback_days=5,
        max_history_days=3650,
        concurrency=2,
        needs_token=True,
        google=True,
        id_pattern=r"UC[A-Za-z0-9_-]{22}",
        id_hint="the channel id UC... (YouTube Studio > Settings > Channel > Advanced settings)",
        # YouTube Analytics returns data "only up to the last day for which all requested metrics are available", the
        # last 1-3 days routinely absent (the Analytics data model doc,
        # https://developers.google.com/youtube/analytics/v1/data_model): the newest day can be three days back
        delay_days=3,
    ),
    "google_business": Platform(
        id="google_business",
        label="Google Business Profile",
        collect="collectors.google_business:collect",
        classify="collectors.google_business:classify",
        check="collectors.google_business:check",
        lookback_days=10,
        max_history_days=540,
        concurrency=2,
        needs_token=True,
        google=True,
        competitor_support="the Business Profile Performance API only answers for listings you own or manage",
        id_pattern=r"\d{5,25}",
        id_hint="the location id: the digits of locations/{id} from the Business Information API",
        # Google publishes no lag; the Performance API lists every date of the range asked (a
        # zero leaves out only the value), so the days up to yesterday come back
        delay_days=1,
    ),
    "mastodon": Platform(
        id="mastodon",
        label="Mastodon",
        collect="collectors.mastodon:collect",
        classify="collectors.mastodon:classify",
        check="collectors.mastodon:check",
        lookback_days=0,
        max_history_days=0,  # levels only: each run samples "now"
        concurrency=4,
        needs_token=False,
        id_pattern=r"@?[A-Za-z0-9_]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:\d+)?",
        id_hint="user@instance, e.g. cornerbakery@mastodon.social (the account's home instance)",
        delay_days=0,  # "now" numbers only, dated the collect day
    ),
    "bluesky": Platform(
        id="bluesky",
        label="Bluesky",
        collect="collectors.bluesky:collect",
        classify="collectors.bluesky:classify",
        check="collectors.bluesky:check",
        lookback_days=0,
        max_history_days=0,
        concurrency=4,
        needs_token=False,
        id_pattern=r"@?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|did:[a-z]+:[A-Za-z0-9._:%-]+",
        id_hint="the handle (cornerbakery.bsky.social) or the DID (did:plc:...)",
        delay_days=0,  # "now" numbers only, dated the collect day
    ),
    "ga4": Platform(
        id="ga4",
        label="Google Analytics 4",
        collect="collectors.ga4:collect",
        classify="collectors.ga4:classify",
        check="collectors.ga4:check",
        lookback_days=3,
        max_history_days=3650,
        concurrency=2,
        needs_token=True,
        google=True,
        competitor_support="a competitor's website analytics are private",
        id_pattern=r"\d{6,12}",
        id_hint="the numeric GA4 property id (Admin > Property details)",
        # today is still being processed (24-48 h, https://support.google.com/analytics/answer/11198161; the collector
        # writes no day from today on in the property's time zone) and the runner asks up to yesterday
        delay_days=1,
    ),
    "plausible": Platform(
        id="plausible",
        label="Plausible Analytics",
        collect="collectors.plausible:collect",
        classify="collectors.plausible:classify",
        check="collectors.plausible:check",
        lookback_days=3,
        max_history_days=3650,
        concurrency=2,
        needs_token=True,
        competitor_support="a competitor's website analytics are private",
        id_pattern=r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
        id_hint="the site's domain exactly as registered in Plausible (Site settings > General), e.g. cornerbakery.fr",
        # near real-time, no processing lag (https://plausible.io/docs/stats-api), but today is partial: the runner asks
        # up to yesterday
        delay_days=1,
    ),
    "matomo": Platform(
        id="matomo",
        label="Matomo",
        collect="collectors.matomo:collect",
        classify="collectors.matomo:classify",
        check="collectors.matomo:check",
        lookback_days=3,
        max_history_days=3650,
        concurrency=2,
        needs_token=True,
        competitor_support="a competitor's website analytics are private",
        id_pattern=r"\d{1,9}",
        id_hint="the numeric idSite (Administration > Websites > Manage)",
        # "today" is re-archived every few minutes and only final tomorrow (Matomo's archiving,
        # https://developer.matomo.org/api-reference/reporting-api): the runner asks up to yesterday
        delay_days=1,
    ),
    "umami": Platform(
        id="umami",
        label="Umami",
        collect="collectors.umami:collect",
        classify="collectors.umami:classify",
        check="collectors.umami:check",
        lookback_days=2,
        max_history_days=3650,
        concurrency=1,
        needs_token=False,  # self-hosted can log in with a username and password instead
        competitor_support="a competitor's website analytics are private",
        id_pattern=r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        id_hint="the website id, a UUID (Settings > Websites > Edit)",
        # real time, but today is partial (https://umami.is/docs/api/website-stats): the runner asks up to yesterday
        delay_days=1,
    ),
    "wordpress": Platform(
        id="wordpress",
        label="WordPress.com / Jetpack Stats",
        collect="collectors.wordpress:collect",
        classify="collectors.wordpress:classify",
        check="collectors.wordpress:check",
        lookback_days=2,
        max_history_days=3650,
        concurrency=2,
        needs_token=True,
        competitor_support="a competitor's website analytics are private",
        id_pattern=r"[A-Za-z0-9.-]+",
        id_hint="the site's domain (cornerbakery.blog, example.wordpress.com) or its numeric WordPress.com blog id",
        # real time, but today is partial (https://developer.wordpress.com/docs/api/1.1/get/sites/%24site/stats/): the
        # runner asks up to yesterday
        delay_days=1,
    ),
}


def load_collector(platform_id: str) -> CollectFn:
    """The ``collect`` function of a registered platform."""
    fn: CollectFn = _load(PLATFORMS[platform_id].collect)
    return fn


def load_classifier(platform_id: str) -> Classifier | None:
    """The error classifier of a registered platform (None: it has none)."""
    ref = PLATFORMS[platform_id].classify
    fn: Classifier | None = _load(ref) if ref else None
    return fn


def load_check(platform_id: str) -> CheckFn | None:
    """The credential check of a registered platform (None: it has none)."""
    ref = PLATFORMS[platform_id].check
    fn: CheckFn | None = _load(ref) if ref else None
    return fn


def _load(ref: str) -> Any:
    """The object a ``"module:name"`` reference names, its module imported now."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def clamp_since(platform_id: str, since: date, until: date) -> date:
    """``since`` moved forward to the oldest day the platform still answers for (and never before
    :data:`EARLIEST_DAY`)."""
    from datetime import timedelta

    oldest = until - timedelta(days=PLATFORMS[platform_id].max_history_days)
    return max(since, oldest, EARLIEST_DAY)


__all__ = ["EARLIEST_DAY", "PLATFORMS", "Platform", "load_check", "load_classifier", "load_collector", "clamp_since"]
