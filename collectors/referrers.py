"""Which social network sent a visit: referrer hosts, app referrers, source names and UTM tags.

The web collectors (ga4, plausible, matomo, umami) call :func:`network_for` on whatever the tool
gives as a visit's source (a referrer URL or host, GA4's ``sessionSource``, a ``utm_source``) and
its medium, and store per-network visits as the metrics ``visits_from_<network>`` (docs/metrics.md).

Networks: facebook, instagram, linkedin, pinterest, x, youtube, tiktok, threads, mastodon, bluesky,
and other (a social site not in that list: reddit, nextdoor, tumblr, whatsapp, ...).  ``None`` means
not social.  Rules, in order:

1. A host (from a URL, an ``android-app://`` referrer or a bare domain) matched on its registrable
   suffix: ``l.facebook.com``, ``lm.facebook.com``, ``m.facebook.com``, ``fb.me`` -> facebook;
   ``t.co``, ``twitter.com``, ``x.com`` -> x; ``lnkd.in``, ``linkedin.com``,
   ``com.linkedin.android`` -> linkedin; ``out.reddit.com`` -> other ...
2. A source *name* as analytics tools and UTM tags write it (``fb``, ``ig``, ``instagram``,
   ``twitter``, ``yt``, ``Facebook Ads`` ...), case-insensitive.
3. A well-known Mastodon instance host -> mastodon (other instances are unknowable from the host
   alone: tag links with ``utm_source=mastodon``).
4. Otherwise, a social medium (``social``, ``social-network``, ``social-media``, ``sm``,
   ``social network``, ``social media``: GA4's Organic Social rule) -> other.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

NETWORKS = (
    "facebook",
    "instagram",
    "linkedin",
    "pinterest",
    "x",
    "youtube",
    "tiktok",
    "threads",
    "mastodon",
    "bluesky",
    "other",
)

# host suffix -> network (matched on the host or any parent domain)
HOSTS: dict[str, str] = {
    "facebook.com": "facebook",
    "fb.com": "facebook",
    "fb.me": "facebook",
    "fb.watch": "facebook",
    "messenger.com": "facebook",
    "com.facebook.katana": "facebook",
    "com.facebook.orca": "facebook",
    "instagram.com": "instagram",
    "com.instagram.android": "instagram",
    "linkedin.com": "linkedin",
    "lnkd.in": "linkedin",
    "com.linkedin.android": "linkedin",
    "pinterest.com": "pinterest",
    "pinterest.fr": "pinterest",
    "pinterest.co.uk": "pinterest",
    "pinterest.de": "pinterest",
    "pin.it": "pinterest",
    "com.pinterest": "pinterest",
    "t.co": "x",
    "twitter.com": "x",
    "x.com": "x",
    "com.twitter.android": "x",
    "youtube.com": "youtube",
    "youtu.be": "youtube",
    "com.google.android.youtube": "youtube",
    "tiktok.com": "tiktok",
    "com.zhiliaoapp.musically": "tiktok",
    "threads.net": "threads",
    "threads.com": "threads",
    "com.instagram.barcelona": "threads",
    "bsky.app": "bluesky",
    "bsky.social": "bluesky",
    "go.bsky.app": "bluesky",
    "mastodon.social": "mastodon",
    "mastodon.online": "mastodon",
    "mstdn.social": "mastodon",
    "fosstodon.org": "mastodon",
    "mas.to": "mastodon",
    "hachyderm.io": "mastodon",
    "joinmastodon.org": "mastodon",
    "reddit.com": "other",
    "redd.it": "other",
    "nextdoor.com": "other",
    "nextdoor.co.uk": "other",
    "tumblr.com": "other",
    "snapchat.com": "other",
    "whatsapp.com": "other",
    "wa.me": "other",
    "vk.com": "other",
    "quora.com": "other",
    "discord.com": "other",
    "telegram.org": "other",
    "t.me": "other",
    "yelp.com": "other",
}

# source names (analytics tools, UTM conventions) -> network
NAMES: dict[str, str] = {
    "facebook": "facebook",
    "fb": "facebook",
    "facebook ads": "facebook",
    "meta": "facebook",
    "messenger": "facebook",
    "instagram": "instagram",
    "ig": "instagram",
    "instagram stories": "instagram",
    "linkedin": "linkedin",
    "pinterest": "pinterest",
    "twitter": "x",
    "x": "x",
    "x.com": "x",
    "youtube": "youtube",
    "yt": "youtube",
    "tiktok": "tiktok",
    "threads": "threads",
    "mastodon": "mastodon",
    "fediverse": "mastodon",
    "bluesky": "bluesky",
    "bsky": "bluesky",
    "reddit": "other",
    "nextdoor": "other",
    "tumblr": "other",
    "snapchat": "other",
    "whatsapp": "other",
}

SOCIAL_MEDIUM = re.compile(r"^(social|social-network|social-media|sm|social network|social media)$", re.I)


def host_of(source: str) -> str:
    """The host of a referrer URL, an ``android-app://`` referrer, or a bare domain (lower case)."""
    text = source.strip().lower()
    if "://" in text:
        parts = urlsplit(text)
        host = parts.hostname or ""
    else:
        host = text.split("/", 1)[0].split(":", 1)[0]
    return host.removeprefix("www.").rstrip(".")


def network_for(source: str | None, medium: str | None = None) -> str | None:
    """The social network a visit came from, ``"other"`` for another social site, or None."""
    if source:
        text = source.strip().lower()
        by_name = NAMES.get(text)
        if by_name:
            return by_name
        host = host_of(text)
        labels = host.split(".")
        for i in range(len(labels) - 1):
            hit = HOSTS.get(".".join(labels[i:]))
            if hit:
                return hit
        hit = HOSTS.get(host)
        if hit:
            return hit
    if medium and SOCIAL_MEDIUM.match(medium.strip()):
        return "other"
    return None


def metric_for(network: str) -> str:
    """The metric name of visits from ``network``: ``visits_from_facebook`` ..."""
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}")
    return f"visits_from_{network}"
