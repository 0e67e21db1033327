"""``[warehouse] url`` and ``data_path``: the handle of a lake, without importing DuckDB.

:class:`Lake` is what the commands pass down where a file warehouse passes its path (``DbPath``);
:mod:`warehouse.db` and :mod:`warehouse.access` open it with :mod:`warehouse.lake`.  Its text form
(:meth:`Lake.__str__`, used in messages such as ``socialkpi status``'s "Warehouse:" line) never holds
the password of the connection string.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

SCHEME = "ducklake:postgres:"

_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def without_password(text: str) -> str:
    """``text`` with the value of every ``password=...`` of a libpq string replaced by ``<redacted>``."""
    return _PASSWORD.sub(r"\1<redacted>", text)


@dataclass(frozen=True)
class Lake:
    """A DuckLake catalogued in Postgres (``url``: ``ducklake:postgres:<libpq string>``), Parquet in ``data_path``."""

    url: str = field(repr=False)
    data_path: str

    def __str__(self) -> str:
        return f"lake {without_password(self.url)} (data {self.data_path})"

    def __repr__(self) -> str:
        return f"Lake({str(self)!r})"


def account_hash(platform: str, account_id: str) -> int:
    """The stable hash of an account: the first 8 bytes, big-endian, of the SHA-256 of the UTF-8 bytes of
    ``platform + "\\0" + account_id``.  ``collect --shard`` (:func:`socialkpi.shards.shard_of`) and the
    lake's bucket tables (:func:`warehouse.lake_store.bucket_of`) both take it modulo their count."""
    return int.from_bytes(hashlib.sha256(f"{platform}\0{account_id}".encode()).digest()[:8], "big")


def is_lake(target: object) -> bool:
    return isinstance(target, Lake)
