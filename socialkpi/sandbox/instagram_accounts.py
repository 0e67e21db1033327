"""The world's Instagram professional accounts and their numbers: served by the Instagram part
(:mod:`socialkpi.sandbox.instagram`) and listed by the Facebook part under the Pages they are linked to
(``/me/accounts``, :mod:`socialkpi.sandbox.facebook`), which the Instagram part builds on."""

from __future__ import annotations

from datetime import date

from socialkpi.sandbox import world

PLATFORM = "instagram"
OWN_ID = "17841405309211844"  # its linked Instagram professional account
ACCOUNTS = {  # Instagram accounts the sandbox token may read: id -> username
    OWN_ID: "cornerbakerylyon",
    "17841405309211845": "cornerbakery.croixrousse",
}
FOLLOWERS_BASE = 1800.0


def followers_on(account: str, day: date) -> int:
    """``followers_count`` on ``day`` of an own account (by id) or a competitor (by username)."""
    return world.followers(PLATFORM, account, day, FOLLOWERS_BASE)


def media_count_on(account: str, day: date) -> int:
    """``media_count``: about three posts a week since 2023, more for bigger accounts."""
    days = max(0, (day - date(2023, 1, 1)).days)
    return 40 + int(days * 0.42 * (0.6 + 0.4 * world.scale_of(PLATFORM, account)))
