"""How the shared platform suite (tests/test_platforms.py) serves each registered platform from the sandbox.

The accounts and the credentials come from what the sandbox already knows: the demo business's accounts
(:data:`socialkpi.sandbox.world.DEMO_ACCOUNTS`: the first own account of the platform, and its first competitor
when the platform supports competitors) and the environment the demo points every platform at the sandbox with
(:func:`socialkpi.demo.demo_settings`: ``SOCIALKPI_<PLATFORM>_BASE_URL`` and ``SOCIALKPI_<PLATFORM>_TOKEN`` =
:data:`socialkpi.sandbox.world.TOKEN`).  What only a test needs is below, one :class:`Serving` per platform:
the endpoint to script faults on, and the platform's own throttled answers (the shape its documentation gives).

A platform registered in :data:`collectors.PLATFORMS` without an entry here fails every test of the suite,
saying what to add.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from socialkpi.sandbox import Reply
from socialkpi.sandbox import bluesky as sb_bluesky
from socialkpi.sandbox import google_business as sb_gbp
from socialkpi.sandbox import matomo as sb_matomo
from socialkpi.sandbox import pinterest as sb_pinterest
from socialkpi.sandbox import tiktok as sb_tiktok
from socialkpi.sandbox import youtube as sb_youtube

FarThrottle = Callable[[], tuple[Reply, datetime]]


@dataclass(frozen=True)
class Serving:
    """What the suite needs to know about one platform beyond what the sandbox knows."""

    data: str  # path regex of an endpoint every collect of an own account asks (and cannot do without)
    # the platform's throttled answer whose wait is short enough to be waited out (the suite's policy caps a
    # wait at 50 ms); None when the platform never signals so short a wait (its file tests the wait)
    near: Callable[[], Reply] | None
    # a throttled answer whose reset is far away, and the reset time it means: the account fails at once
    far: FarThrottle
    docs: str  # where the throttled answers' shape comes from: the platform's doc (URL and its words)
    near_covered_by: str = ""  # when ``near`` is None: the test of the platform's file that waits one out
    # words the reasons must hold, from the platform's answer or the collector's advice: when a far throttle
    # fails the account, when the token is refused (world.EXPIRED_TOKEN), and when no token is set at all
    far_says: tuple[str, ...] = ()
    refused_says: tuple[str, ...] = ()
    no_token_says: tuple[str, ...] = ()
    sends_token: bool = True  # False: a public API the collector never sends the token to
    # requests to ``data`` one collect sends together (GA4's three runReport of a property, Facebook's three
    # insights groups: collectors/ga4.py and facebook.py send them at once): each is asked once, so up to this many
    at_once: int = 1
    # path regex of the one endpoint whose documentation puts the token in the URL (no header is accepted); the
    # suite's "no secret in a URL" check leaves it out (the log still must not show it: the filter redacts it)
    token_in_url: str = ""


def _in(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def _next_midnight(tz: str) -> datetime:
    from zoneinfo import ZoneInfo

    local = datetime.now(ZoneInfo(tz))
    return datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), ZoneInfo(tz)).astimezone(UTC)


# -- Meta (Facebook, Instagram, Threads): the error envelope and the Business Use Case header ------------

BUC = "X-Business-Use-Case-Usage"


def _meta_error(code: int, message: str) -> dict[str, object]:
    return {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf12345"}}


def _buc(owner: str, kind: str, minutes: int) -> dict[str, str]:
    usage = {"type": kind, "call_count": 100, "total_cputime": 40, "total_time": 60}
    return {BUC: json.dumps({owner: [{**usage, "estimated_time_to_regain_access": minutes}]})}


FB_PAGE, IG_OWN, THREADS_OWN = "104512345678901", "17841405309211844", "7812345678901234"


def _meta_far(owner: str, kind: str, code: int, minutes: int) -> FarThrottle:
    def far() -> tuple[Reply, datetime]:
        return Reply(400, _meta_error(code, "There have been too many calls"), _buc(owner, kind, minutes)), _in(
            minutes * 60
        )

    return far


META_DOCS = (
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting/: throttled calls answer error codes "
    "4, 17, 32, 613, 80001-80014 (not necessarily HTTP 429), with the X-Business-Use-Case-Usage header's "
    '"estimated_time_to_regain_access" (minutes)'
)

# -- the table ----------------------------------------------------------------------------------------------

SERVING: dict[str, Serving] = {
    "facebook": Serving(
        at_once=3,
        refused_says=("Session has expired", "Page access token"),
        data=rf"/{FB_PAGE}/insights$",
        near=lambda: Reply(400, _meta_error(80001, "(#80001) rate limited"), _buc(FB_PAGE, "pages", 0)),
        far=_meta_far(FB_PAGE, "pages", 80001, 12),
        docs=META_DOCS,
    ),
    "instagram": Serving(
        far_says=("resets at",),
        data=rf"/{IG_OWN}/insights$",
        near=lambda: Reply(
            400,
            _meta_error(80002, "There have been too many calls to this Instagram account."),
            _buc(IG_OWN, "instagram", 0),
        ),
        far=_meta_far(IG_OWN, "instagram", 80002, 30),
        docs=META_DOCS,
    ),
    "threads": Serving(
        data=r"/threads_insights$",
        near=lambda: Reply(
            400, _meta_error(4, "(#4) Application request limit reached"), {"X-App-Usage": '{"call_count":100}'}
        ),
        far=_meta_far(THREADS_OWN, "threads", 80002, 45),
        docs=META_DOCS + "; Threads uses the Graph API's limits (https://developers.facebook.com/docs/threads)",
        # https://developers.facebook.com/docs/threads/get-started/long-lived-tokens: "GET
        # https://graph.threads.net/refresh_access_token?grant_type=th_refresh_token&access_token=<LONG_LIVED_ACCESS_TOKEN>"
        token_in_url=r"^/refresh_access_token$",
    ),
    "x": Serving(
        far_says=("Too Many Requests",),
        refused_says=("Unauthorized",),
        no_token_says=("SOCIALKPI_X_REFRESH_TOKEN",),
        data=r"/2/users/by/username/",
        near=lambda: Reply(
            429,
            {"title": "Too Many Requests", "type": "about:blank", "status": 429, "detail": "Too Many Requests"},
            {"x-rate-limit-reset": str(int(time.time())), "x-rate-limit-remaining": "0"},
        ),
        far=lambda: _x_far(14 * 60),
        docs=(
            'https://docs.x.com/x-api/fundamentals/rate-limits: HTTP 429 "Too Many Requests", with '
            'x-rate-limit-reset: "the remaining window before the rate limit resets, in UTC epoch seconds"'
        ),
    ),
    "linkedin": Serving(
        far_says=("DAY limit", "00:00 UTC"),
        refused_says=("EXPIRED_ACCESS_TOKEN", "SOCIALKPI_LINKEDIN_REFRESH_TOKEN"),
        data=r"/rest/organizationalEntityFollowerStatistics",
        near=lambda: Reply(429, {"status": 429, "code": "TOO_MANY_REQUESTS", "message": "Too many requests"}),
        far=lambda: (
            Reply(
                429,
                {
                    "status": 429,
                    "serviceErrorCode": 101,
                    "code": "TOO_MANY_REQUESTS",
                    "message": "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
                },
            ),
            _next_midnight("UTC"),
        ),
        docs=(
            'https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits: "Rate limited '
            'requests will receive a 429 response"; daily limits "reset at midnight UTC"'
        ),
    ),
    "pinterest": Serving(
        far_says=("rate limit",),
        refused_says=("Authentication failed",),
        no_token_says=("SOCIALKPI_PINTEREST_REFRESH_TOKEN",),
        data=r"/v5/user_account/analytics",
        near=lambda: sb_pinterest.throttled(reset_seconds=0),
        far=lambda: (sb_pinterest.throttled(reset_seconds=67000), _in(67000)),
        docs=(
            "https://developers.pinterest.com/docs/reference/rate-limits/: HTTP 429 with X-RateLimit-Limit, "
            "X-RateLimit-Remaining and X-RateLimit-Reset (seconds until the reset)"
        ),
    ),
    "tiktok": Serving(
        far_says=("rate limit was exceeded",),
        refused_says=("access token is invalid", "SOCIALKPI_TIKTOK_REFRESH_TOKEN"),
        no_token_says=("SOCIALKPI_TIKTOK_REFRESH_TOKEN",),
        data=r"/v2/user/info/",
        near=sb_tiktok.throttled,
        far=lambda: _with_retry_after(sb_tiktok.throttled(), 3600),
        docs=(
            'https://developers.tiktok.com/doc/tiktok-api-v2-rate-limit: "rate_limit_exceeded" with HTTP 429 when '
            "over the per-minute limit (no header documented: a proxy in front may add a Retry-After)"
        ),
    ),
    "youtube": Serving(
        far_says=("quota", "midnight Pacific"),
        refused_says=("invalid authentication credentials", "SOCIALKPI_YOUTUBE_REFRESH_TOKEN"),
        no_token_says=("SOCIALKPI_YOUTUBE_REFRESH_TOKEN", "or SOCIALKPI_GOOGLE_CREDENTIALS"),
        data=r"/youtube/v3/channels",
        near=lambda: sb_youtube.google_error(403, "User Rate Limit Exceeded", "userRateLimitExceeded"),
        far=lambda: (sb_youtube.quota_exceeded(), _next_midnight("America/Los_Angeles")),
        docs=(
            'https://developers.google.com/youtube/v3/docs/errors: 403 quotaExceeded "The request cannot be '
            'completed because you have exceeded your quota"; https://developers.google.com/youtube/v3/'
            'getting-started#quota: "Daily quotas reset at midnight Pacific Time"'
        ),
    ),
    "google_business": Serving(
        refused_says=("invalid authentication credentials", "SOCIALKPI_GOOGLE_BUSINESS_REFRESH_TOKEN"),
        no_token_says=("or SOCIALKPI_GOOGLE_CREDENTIALS",),
        data=r":fetchMultiDailyMetricsTimeSeries",
        near=lambda: sb_gbp.throttled(retry_after=0),
        far=lambda: (sb_gbp.throttled(retry_after=600), _in(600)),
        docs=(
            'https://developers.google.com/my-business/content/limits: "Quota exceeded" answers HTTP 429 '
            "RESOURCE_EXHAUSTED (requests per minute)"
        ),
    ),
    "mastodon": Serving(
        far_says=("Too many requests",),
        refused_says=("The access token is invalid",),
        data=r"/api/v1/accounts/lookup",
        near=lambda: _mastodon_429(0),
        far=lambda: (_mastodon_429(240), _in(240)),
        docs=(
            'https://docs.joinmastodon.org/api/rate-limits/: X-RateLimit-Reset, "Timestamp for when the rate '
            'limit will reset" (ISO 8601), and HTTP 429 {"error": "Too many requests"}'
        ),
    ),
    "bluesky": Serving(
        far_says=("RateLimitExceeded",),
        data=r"/xrpc/app\.bsky\.actor\.getProfile",
        near=lambda: sb_bluesky.throttled(reset_in=0),
        far=lambda: (sb_bluesky.throttled(reset_in=600), _in(600)),
        docs=(
            "https://docs.bsky.app/docs/advanced-guides/rate-limits: HTTP 429 RateLimitExceeded with "
            "RateLimit-Remaining and RateLimit-Reset (epoch seconds)"
        ),
        sends_token=False,
    ),
    "ga4": Serving(
        at_once=3,
        no_token_says=("SOCIALKPI_GA4_TOKEN or SOCIALKPI_GOOGLE_CREDENTIALS",),
        data=r":runReport$",
        near=None,  # GA4's shortest quota wait is 30 s (concurrent requests)
        near_covered_by="tests/test_ga4.py::test_concurrency_quota_waits_30_s_then_succeeds",
        far=lambda: (
            Reply(
                429,
                {
                    "error": {
                        "code": 429,
                        "message": "Exhausted property tokens per day. Please wait until tomorrow.",
                        "status": "RESOURCE_EXHAUSTED",
                    }
                },
            ),
            _next_midnight("America/Los_Angeles"),
        ),
        docs=(
            'https://developers.google.com/analytics/devguides/reporting/data/v1/quotas: "Core Tokens Per '
            'Property Per Day"; an exhausted quota answers 429 RESOURCE_EXHAUSTED'
        ),
    ),
    "plausible": Serving(
        far_says=("600 requests per hour",),
        no_token_says=("API Keys and set SOCIALKPI_PLAUSIBLE_TOKEN",),
        data=r"^/api/v2/query$",
        near=lambda: Reply(429, {"error": "Too many requests"}, {"Retry-After": "0"}),
        far=lambda: (
            Reply(429, {"error": "Too many API requests. Your API key is limited to 600 requests per hour."}),
            _in(3600),
        ),
        docs=(
            'https://plausible.io/docs/stats-api: "600 requests per hour" per key; the 429 body is '
            '{"error": "Too many API requests. Your API key is limited to 600 requests per hour."}'
        ),
    ),
    "matomo": Serving(
        no_token_says=("Administration > Personal > Security and set SOCIALKPI_MATOMO_TOKEN",),
        data=r"^/index\.php$",
        near=lambda: sb_matomo.throttled(0),
        far=lambda: (sb_matomo.throttled(3600), _in(3600)),
        docs="Matomo documents no throttle (https://developer.matomo.org/api-reference/reporting-api): a hosting "
        "proxy's 429 with Retry-After",
    ),
    "umami": Serving(
        refused_says=("SOCIALKPI_UMAMI_CLIENT_ID",),
        data=r"/websites/[^/]+/stats$",
        near=lambda: _with_retry_after(_umami_429(), 0)[0],
        far=lambda: _with_retry_after(_umami_429(), 900),
        docs=(
            'https://umami.is/docs/cloud/api-key: "limited to 50 calls per 15 seconds"; over it, HTTP 429 '
            "(a Retry-After, when sent, is honoured)"
        ),
    ),
    "wordpress": Serving(
        refused_says=("put the token in SOCIALKPI_WORDPRESS_TOKEN",),
        no_token_says=("developer.wordpress.com/apps",),
        data=r"/stats/visits$",
        near=lambda: Reply(429, {"error": "rate_limited", "message": "Too many requests"}, {"Retry-After": "0"}),
        far=lambda: (
            Reply(429, {"error": "rate_limited", "message": "Too many requests"}, {"Retry-After": "3600"}),
            _in(3600),
        ),
        docs='https://developer.wordpress.com/docs/api/: errors are {"error", "message"}; 429 with Retry-After',
    ),
}


def _x_far(seconds: int) -> tuple[Reply, datetime]:
    reset = int(time.time()) + seconds
    body = {"title": "Too Many Requests", "type": "about:blank", "status": 429, "detail": "Too Many Requests"}
    return Reply(429, body, {"x-rate-limit-reset": str(reset)}), datetime.fromtimestamp(reset, UTC)


def _with_retry_after(reply: Reply, seconds: int) -> tuple[Reply, datetime]:
    reply.headers["Retry-After"] = str(seconds)
    return reply, _in(seconds)


def _umami_429() -> Reply:
    return Reply(429, {"error": {"code": "too-many-requests", "message": "Too many requests", "status": 429}})


def _mastodon_429(seconds: float) -> Reply:
    # by the real clock (the sandbox's rate_headers date the reset by its own clock, which the suite sets back)
    reset = (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    return Reply(429, {"error": "Too many requests"}, headers)
