"""The source -> network mapping, on real referrer strings and source names."""

from __future__ import annotations

import pytest

from collectors.referrers import NETWORKS, metric_for, network_for


@pytest.mark.parametrize(
    ("source", "medium", "network"),
    [
        # Facebook's link shim and mobile hosts (GA4 sessionSource values seen in the wild)
        ("l.facebook.com", "referral", "facebook"),
        ("lm.facebook.com", "referral", "facebook"),
        ("m.facebook.com", "referral", "facebook"),
        ("https://www.facebook.com/", None, "facebook"),
        ("android-app://com.facebook.katana", None, "facebook"),
        ("fb", "social", "facebook"),
        ("Facebook", "cpc", "facebook"),
        ("l.instagram.com", "referral", "instagram"),
        ("ig", "social", "instagram"),
        ("android-app://com.instagram.android/", None, "instagram"),
        ("t.co", "referral", "x"),
        ("https://t.co/abc123", None, "x"),
        ("twitter.com", "referral", "x"),
        ("x.com", None, "x"),
        ("lnkd.in", "referral", "linkedin"),
        ("linkedin.com", "referral", "linkedin"),
        ("android-app://com.linkedin.android", None, "linkedin"),
        ("https://www.linkedin.com/feed/", None, "linkedin"),
        ("pin.it", None, "pinterest"),
        ("pinterest.com", "referral", "pinterest"),
        ("fr.pinterest.com", "referral", "pinterest"),
        ("youtube.com", "referral", "youtube"),
        ("m.youtube.com", "referral", "youtube"),
        ("youtu.be", None, "youtube"),
        ("tiktok.com", "referral", "tiktok"),
        ("www.tiktok.com", None, "tiktok"),
        ("threads.net", "referral", "threads"),
        ("l.threads.com", None, "threads"),
        ("bsky.app", "referral", "bluesky"),
        ("go.bsky.app", None, "bluesky"),
        ("mastodon.social", "referral", "mastodon"),
        ("mastodon", "social", "mastodon"),
        ("out.reddit.com", "referral", "other"),
        ("old.reddit.com", None, "other"),
        ("nextdoor.com", "referral", "other"),
        ("toot.bakers.example", "social", "other"),  # an unknown instance tagged utm_medium=social
        # not social
        ("google", "organic", None),
        ("news.ycombinator.com", "referral", None),
        ("(direct)", "(none)", None),
        ("newsletter", "email", None),
        ("notfacebook.com", "referral", None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_network_for(source: str | None, medium: str | None, network: str | None) -> None:
    assert network_for(source, medium) == network


def test_metric_names() -> None:
    assert [metric_for(n) for n in NETWORKS][:2] == ["visits_from_facebook", "visits_from_instagram"]
    with pytest.raises(ValueError):
        metric_for("myspace")
