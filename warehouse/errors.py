"""The warehouse's errors, and what a DuckDB error says about the file.

:mod:`warehouse.db` (connections) and :mod:`warehouse.schema` (the tables) both raise them, so they
live below both.  The tree:

- :class:`WarehouseError`: the file cannot be used (foreign file, newer schema, unwritable path)
  - :class:`WarehouseBusy`: another process held it longer than the bounded wait
  - :class:`WarehouseDamaged`: its bytes are not what DuckDB wrote
"""

from __future__ import annotations

import os
import re

import duckdb

RESTORE_ADVICE = "restore it from a backup (socialkpi restore BACKUP_DIR, a folder made by socialkpi backup)"


class WarehouseError(Exception):
    """The warehouse file cannot be used (foreign file, newer schema, unwritable path)."""


class WarehouseBusy(WarehouseError):
    """Another process held the file longer than the bounded wait."""


class WarehouseDamaged(WarehouseError):
    """The file is a DuckDB file whose bytes are not what DuckDB wrote (cut short, overwritten)."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path, self.reason = os.fspath(path), reason
        super().__init__(f"the warehouse file is damaged: {self.path}: {reason}: {RESTORE_ADVICE}")


_QUOTED = re.compile(r'"[^"]*"')


def words(text: str) -> str:
    """A DuckDB message in lower case with its quoted parts (the database path, another process's
    executable) emptied: what its errors are told apart by, whatever the path says."""
    return _QUOTED.sub('""', text).lower()


def is_lock_error(exc: Exception) -> bool:
    """DuckDB's "Could not set lock on file ...: Conflicting lock is held in ..." error.

    The quoted parts (the database path, the other process's executable) are dropped first: a
    path such as ``/srv/locks/socialkpi.duckdb`` must not turn "not a DuckDB file" into a
    30-second wait ending in :class:`WarehouseBusy`.
    """
    text = words(str(exc))
    return "could not set lock" in text or "conflicting lock" in text


def is_damage(exc: BaseException) -> bool:
    """Whether a DuckDB error says the file's bytes are wrong: a block failing its checksum, or a
    read past the end of a file cut short (DuckDB's words; the quoted path is not looked at)."""
    if not isinstance(exc, duckdb.Error):
        return False
    text = words(str(exc))
    return "corrupt database file" in text or "could not read enough bytes" in text
