"""socialkpi.toml written by ``socialkpi init`` and changed by ``socialkpi connect``, its comments and layout kept.

tomlkit (https://tomlkit.readthedocs.io: "a 1.0.0-compliant TOML library [that] preserves all comments,
indentations, whitespace and internal element ordering") reads the file and writes it back with only the
new ``[[accounts]]`` tables added, so what the owner wrote by hand stays as it was.  The file is replaced
atomically by :func:`warehouse.files.write_atomically` (the writer of every file socialkpi writes for the
user): only over a regular file (a symbolic link is refused, not followed), written beside it, fsync, rename.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from collectors.observation import Account
from warehouse.files import write_atomically


@dataclass(frozen=True)
class Changes:
    added: list[Account]
    kept: list[Account]  # already listed: left as they are (their token was renewed)


def add_accounts(path: Path, accounts: Sequence[Account]) -> Changes:
    """Add ``accounts`` to the socialkpi.toml at ``path``; an account already listed (same platform and id)
    is not added again.  Everything else in the file stays byte for byte.

    A name's control characters are written escaped (``\\x1b``, ``\\n``: :func:`collectors.redaction.escape_controls`),
    as the name is shown: tomlkit would quote them, but ``socialkpi status``, a terminal or a log line would
    then get them raw.  The accounts returned carry the names as written."""
    from dataclasses import replace

    import tomlkit

    from collectors.redaction import escape_controls

    accounts = [replace(a, name=escape_controls(a.name)) if escape_controls(a.name) != a.name else a for a in accounts]

    text = path.read_text(encoding="utf-8")
    doc = tomlkit.parse(text)
    existing = doc.get("accounts")
    listed: set[tuple[str, str]] = set()
    if existing is not None:
        for entry in existing:
            listed.add((str(entry.get("platform", "")), str(entry.get("id", ""))))
    added: list[Account] = []
    kept: list[Account] = []
    for account in accounts:
        key = (account.platform, account.id)
        if key in listed:
            kept.append(account)
            continue
        listed.add(key)
        added.append(account)
    if not added:
        return Changes(added, kept)
    if existing is None:
        existing = tomlkit.aot()
        doc.add("accounts", existing)
    for account in added:
        table = tomlkit.table()
        table.add("platform", account.platform)
        table.add("id", account.id)
        table.add("name", account.name)
        table.add("competitor", account.competitor)
        existing.append(table)
    out = tomlkit.dumps(doc)
    if not text.endswith("\n\n") and out.startswith(text) and not out[len(text) :].startswith("\n"):
        out = text + ("\n" if text.endswith("\n") else "\n\n") + out[len(text) :].lstrip("\n")
    write_atomically(path, out, flag=None)
    return Changes(added, kept)


def init_text(*, name: str, timezone: str, currency: str, hours_per_week: float | None) -> str:
    """The socialkpi.toml that ``socialkpi init`` writes: the answers, and commented hints for the rest."""
    import tomlkit

    def q(text: str) -> str:
        return str(tomlkit.string(text).as_string())

    hours = (
        f"weekly_hours = {hours_per_week:g}                # all platforms together; spread evenly over the platforms "
        "you have accounts on,\n                                 # unless [costs.hours_per_week] says one's share\n"
        if hours_per_week is not None
        else "# weekly_hours = 6              # hours a week on social media, all platforms together\n"
    )
    return (
        "# socialkpi configuration, written by `socialkpi init`.  Secrets never go in this file:\n"
        "# `socialkpi connect PLATFORM` keeps tokens in the token store beside the warehouse (mode 0600).\n"
        "\n"
        "[business]\n"
        f"name = {q(name)}\n"
        f"timezone = {q(timezone)}      # the day follower counts are dated by\n"
        "\n"
        "[warehouse]\n"
        'path = "data/socialkpi.duckdb"   # SOCIALKPI_DB overrides\n'
        "\n"
        "[collect]\n"
        "history_days = 90                # how far back the first collect goes\n"
        "\n"
        "[costs]\n"
        f"currency = {q(currency)}\n"
        "hourly_rate = 25                 # what an hour of your time is worth\n"
        "tool_cost_per_month = 0\n"
        f"{hours}"
        "# [costs.hours_per_week]         # per platform; `socialkpi log-time` records the real hours\n"
        "# instagram = 2\n"
        "\n"
        "# Accounts: `socialkpi connect PLATFORM` adds them below (docs/connect.md); by hand:\n"
        "# [[accounts]]\n"
        '# platform = "facebook"\n'
        '# id = "104512345678901"\n'
        '# name = "Corner Bakery"\n'
        "# competitor = false\n"
    )
