"""``socialkpi collect --shard K/N``: a stable 1/N of the accounts, so N workers share one collect.

An account's shard is a pure function of its platform and its id as written in socialkpi.toml: the
SHA-256 of the UTF-8 bytes of ``platform + "\\0" + account_id``, its first 8 bytes read as a big-endian
unsigned integer, modulo N, plus one.  The same on every machine, in every process and with every
Python version (Python's own ``hash()`` of a string changes from one process to the next), and
independent of the other accounts: adding or removing an account never moves another one (changing N
does, for about (N-1)/N of them).  docs/agencies.md documents it for the scheduler's side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from collectors.observation import Account
from warehouse.lake_config import account_hash

_SHAPE = re.compile(r"([0-9]+)/([0-9]+)", re.ASCII)


def shard_of(platform: str, account_id: str, count: int) -> int:
    """The shard (1 to ``count``) that holds the account ``platform``/``account_id``."""
    if count < 1:
        raise ValueError(f"a shard count is at least 1, not {count}")
    return account_hash(platform, account_id) % count + 1


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1 <= index <= count)."""

    index: int
    count: int

    def holds(self, account: Account) -> bool:
        return shard_of(account.platform, account.id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``K/N`` (decimal, 1 <= K <= N) as a :class:`Shard`; a ``ValueError`` saying what is wrong otherwise."""
    match = _SHAPE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not K/N (shard K of N, for example 2/4)")
    try:
        index, count = int(match[1]), int(match[2])
    except ValueError:  # more digits than Python converts
        raise ValueError(f"{text[:20]!r}...: the numbers are too long") from None
    if count < 1:
        raise ValueError(f"{text!r}: N (the number of shards) must be at least 1")
    if not 1 <= index <= count:
        raise ValueError(f"{text!r}: K must be from 1 to N ({count}); shards are numbered from 1")
    return Shard(index, count)
