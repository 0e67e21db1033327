"""The fictional business the sandbox serves: Corner Bakery, Lyon, and a rival across the street.

Every number is a pure function of (account, metric, day): growth over the year, a weekly rhythm
(weekends are busier for a bakery), a few spikes (a local newspaper feature, the Christmas log
cake, a viral reel), so the demo and the tests see the same data on every run.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

_CLOCK: Callable[[], datetime] | None = None


def now() -> datetime:
    """The sandbox's "now" (UTC): the real clock, or the one ``socialkpi demo`` sets to replay past days.

    Every part dates its "now"-only numbers (follower counts ...) and the end of its data by it, so a
    run made "as of" a past day sees what the platform would have answered that day.
    """
    return _CLOCK() if _CLOCK is not None else datetime.now(UTC)


def set_clock(clock: Callable[[], datetime] | None) -> None:
    global _CLOCK
    _CLOCK = clock


TOKEN = "sandbox-token"  # noqa: S105 (a fake token the sandbox accepts)
# the only token the sandbox accepts (any platform)
EXPIRED_TOKEN = "sandbox-expired-token"  # noqa: S105
# answered with the platform's "session expired" error


@dataclass(frozen=True)
class DemoAccount:
    platform: str
    id: str
    name: str
    competitor: bool = False
    scale: float = 1.0  # audience size relative to the shop's main account


DEMO_BUSINESS = {"name": "Corner Bakery", "timezone": "Europe/Paris"}

# Each platform part adds its accounts here (issue 3/4 grow this list).
DEMO_ACCOUNTS: list[DemoAccount] = [
    DemoAccount("facebook", "104512345678901", "Corner Bakery", scale=1.0),
    DemoAccount("facebook", "104512345678902", "Corner Bakery Croix-Rousse", scale=0.45),
    DemoAccount("facebook", "209876543210987", "Rival Patisserie", competitor=True, scale=1.6),
    DemoAccount("ga4", "312345678", "cornerbakery.fr", scale=1.0),
    DemoAccount("instagram", "17841405309211844", "Corner Bakery", scale=1.0),
    # its profile_views is refused: the demo shows a skipped metric
    DemoAccount("instagram", "17841405309211845", "Corner Bakery Croix-Rousse", scale=0.45),
    DemoAccount("instagram", "rivalpatisserie", "Rival Patisserie", competitor=True, scale=1.6),
    DemoAccount("threads", "7812345678901234", "Corner Bakery", scale=1.0),
    DemoAccount("threads", "rivalpatisserie", "Rival Patisserie", competitor=True, scale=1.6),
    DemoAccount("x", "cornerbakery", "Corner Bakery", scale=1.0),
    DemoAccount("x", "rivalpatisserie", "Rival Patisserie", competitor=True, scale=1.6),
    DemoAccount("linkedin", "2414183", "Corner Bakery", scale=1.0),
    DemoAccount("linkedin", "90412345", "Rival Patisserie", competitor=True, scale=1.6),
    DemoAccount("pinterest", "cornerbakerylyon", "Corner Bakery Lyon", scale=0.6),
    DemoAccount("tiktok", "cornerbakery.lyon", "Corner Bakery Lyon", scale=1.2),
    DemoAccount("mastodon", "cornerbakery@mastodon.social", "Corner Bakery", scale=1.0),
    DemoAccount("mastodon", "rivalpatisserie@piaille.fr", "Rival Patisserie", competitor=True, scale=1.4),
    DemoAccount("bluesky", "cornerbakery.bsky.social", "Corner Bakery", scale=1.0),
    DemoAccount("bluesky", "rivalpatisserie.bsky.social", "Rival Patisserie", competitor=True, scale=1.3),
    # the own channel id must stay equal to socialkpi.sandbox.youtube.OWN_CHANNEL
    DemoAccount("youtube", "UCcornerBakeryLyon00001A", "Corner Bakery", scale=1.0),
    DemoAccount("youtube", "UCrivalPatisserie000001B", "Rival Patisserie", competitor=True, scale=1.8),
    DemoAccount("google_business", "4812345678901234567", "Corner Bakery (Lyon)", scale=1.0),
    # one analytics tool per website (website KPIs add the sites up: never track one site with two tools)
    DemoAccount("plausible", "shop.cornerbakery.fr", "Online shop (Plausible)", scale=0.5),
    DemoAccount("matomo", "1", "Catering site (Matomo)", scale=0.3),
    DemoAccount("umami", "6f1c2b7e-3d4a-4e5b-9c8d-1a2b3c4d5e6f", "Baking classes (Umami)", scale=0.2),
    DemoAccount("wordpress", "cornerbakery.blog", "Corner Bakery blog", scale=0.6),
]

SPIKES = {  # (month, day) -> multiplier: press feature, Christmas, Galette des rois, a viral reel
    (3, 14): 3.2,
    (12, 20): 2.4,
    (12, 23): 2.8,
    (1, 6): 2.2,
    (6, 21): 1.9,
    (9, 12): 4.0,
}


def _noise(*key: object) -> float:
    """A deterministic number in [0, 1) from ``key``."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def scale_of(platform: str, account_id: str) -> float:
    for acc in DEMO_ACCOUNTS:
        if acc.platform == platform and acc.id == account_id:
            return acc.scale
    return 0.3 + _noise(platform, account_id) * 0.7  # any other id still gets data


def activity(platform: str, account_id: str, day: date) -> float:
    """A day's activity factor (about 0.6-4): growth, weekday rhythm, noise and spikes."""
    ordinal = day.toordinal()
    growth = 1.0 + 0.35 * ((ordinal - date(2025, 1, 1).toordinal()) / 365.0)
    weekday = (0.85, 0.8, 0.85, 0.95, 1.1, 1.45, 1.3)[day.weekday()]
    season = 1.0 + 0.08 * math.sin(2 * math.pi * (day.timetuple().tm_yday / 365.25))
    spike = SPIKES.get((day.month, day.day), 1.0)
    noise = 0.85 + 0.3 * _noise(platform, account_id, ordinal)
    return max(0.1, growth) * weekday * season * spike * noise


def daily(platform: str, account_id: str, metric: str, day: date, base: float) -> int:
    """A daily count: ``base`` x the account's scale x the day's activity."""
    wobble = 0.9 + 0.2 * _noise(platform, account_id, metric, day.toordinal())
    return int(round(base * scale_of(platform, account_id) * activity(platform, account_id, day) * wobble))


def followers(platform: str, account_id: str, day: date, base: float) -> int:
    """A follower level on ``day``: grows through the year, each account at its own pace
    (0.4-1.6x the average 0.11 % a day), so growth and share of voice differ between accounts."""
    start = date(2024, 1, 1).toordinal()
    days = max(0, day.toordinal() - start)
    scale = scale_of(platform, account_id)
    pace = 0.0011 * (0.4 + 1.2 * _noise(platform, account_id, "pace"))
    level = base * scale * (1.0 + pace * days + 0.02 * math.sin(days / 47.0))
    return int(round(level))
