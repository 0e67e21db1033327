"""How each account's credential is described (warehouse.credentials): never a token, always a way to renew it."""

from __future__ import annotations

from warehouse.credentials import CredentialSource, connect_command, describe


def test_the_renew_command_names_a_self_hosted_server() -> None:
    assert connect_command("matomo", server="https://stats.cornerbakery.fr/") == (
        "socialkpi connect matomo --url https://stats.cornerbakery.fr"
    )
    assert (
        connect_command("mastodon", server="https://piaille.fr") == "socialkpi connect mastodon --instance piaille.fr"
    )
    assert connect_command("plausible", server="https://plausible.io") == "socialkpi connect plausible"  # the cloud
    assert connect_command("facebook", server=None) == "socialkpi connect facebook"


def test_each_source_is_described_with_its_fix() -> None:
    public = describe(CredentialSource("bluesky", "cornerbakery.bsky.social", "none"), competitor=False, expiry=None)
    assert public.comes_from == "none needed (public numbers)" and public.renew == "-"
    env = describe(
        CredentialSource("facebook", "104512345678901", "env", variable="SOCIALKPI_FACEBOOK_TOKEN"),
        competitor=False,
        expiry=None,
    )
    assert env.comes_from == ".env / environment: SOCIALKPI_FACEBOOK_TOKEN" and env.ends == "unknown (set by hand)"
    assert env.renew == (
        "update SOCIALKPI_FACEBOOK_TOKEN in .env, or socialkpi connect facebook and remove SOCIALKPI_FACEBOOK_TOKEN"
    )
    rival = describe(
        CredentialSource("instagram", "rivalpatisserie", "connect", store_key="17841405309211844"),
        competitor=True,
        expiry=None,
    )
    assert rival.comes_from == "token store (socialkpi connect), the connection of 17841405309211844"
    assert rival.ends == "does not expire" and rival.renew.startswith("socialkpi connect instagram")
    missing = describe(
        CredentialSource("x", "cornerbakery", "missing"), competitor=False, expiry=None, missing="SOCIALKPI_X_TOKEN: …"
    )
    assert missing.comes_from.startswith("MISSING: SOCIALKPI_X_TOKEN") and missing.renew == "socialkpi connect x"
