"""DuckDB's settings for every connection of the project (names as in ``duckdb_settings()``).

Extension auto-install and auto-load stay off: a path naming an SQLite or Parquet file must never make
DuckDB download an extension, and the lake's extensions are LOADed from their wheels' files
(:mod:`warehouse.lake`).  Its own module so that :mod:`warehouse.db` and the lake's modules, which it
opens, share it without importing each other.
"""

from __future__ import annotations

from typing import Any

# storage_compatibility_version: DuckDB 2.0's default; DuckDB 1.5.5 (the lake extra) defaults to
# v0.10.2, whose files and write-ahead logs carry no database identifier, and then replays a stale
# .wal into whatever file now has its name.  (1.5.5 opens 2.0's files not at all, 2.0 opens 1.5.5's.)
DUCKDB_CONFIG: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "storage_compatibility_version": "latest",
}
