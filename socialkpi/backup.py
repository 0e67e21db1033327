"""``socialkpi backup [--out DIR]`` and ``socialkpi restore DIR``: what to do with a damaged warehouse.

A backup is a new folder (default ``backups/<UTC time>/`` beside the warehouse, mode 0700)::

    warehouse/               DuckDB's EXPORT DATABASE (FORMAT parquet): schema.sql, load.sql, one
                             Parquet file per table
    <name>.tokens.json       the token store of ``socialkpi connect`` (0600), when there is one
    socialkpi.toml           the configuration in use, when there is one
    manifest.json            what was saved: the warehouse's path, schema version, rows per table

It is taken under the run lock (:class:`socialkpi.lock.RunLock`: exit 75 while a collect runs) on
one read-only DuckDB connection, whose single transaction is a consistent snapshot while the
dashboard keeps reading.  Exporting reads every row, so a damaged file is refused
(:class:`warehouse.db.WarehouseDamaged`) rather than saved as if it were whole.  The folder is
written as ``.<name>.partial-<pid>`` and renamed into place when complete: a backup that failed
leaves nothing.

Restoring imports the backup into a new DuckDB file beside the warehouse, checks its rows per
table against the manifest, then renames it over the warehouse; the file it replaces (damaged, or
not) is kept as ``<warehouse>.replaced-<UTC time>`` with its ``.wal``.  The token store is put
back only where there is none (tokens renewed since the backup must not be replaced by older
ones); socialkpi.toml is never overwritten.  Exit statuses: 0 done; 2 bad usage (one line);
75 a collect holds the lock.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_USAGE, EXIT_LOCKED = 0, 2, 75
MANIFEST = "manifest.json"
EXPORT = "warehouse"
FORMAT = 1


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "backup",
        help="copy the warehouse (as Parquet), the token store and socialkpi.toml to a new folder",
        description=(
            "Save the warehouse (DuckDB's EXPORT DATABASE to Parquet, a consistent snapshot taken while no "
            "collect runs), the token store of socialkpi connect and socialkpi.toml into a new folder, and "
            "print the command that restores it."
        ),
    )
    p.add_argument("--out", metavar="DIR", help="folder to create (default: backups/<UTC time>/ beside the warehouse)")
    p.add_argument("--config", metavar="PATH", help="socialkpi.toml to use")
    p = subparsers.add_parser(
        "restore",
        help="put back the warehouse from a folder made by socialkpi backup",
        description=(
            "Replace the warehouse with the one saved in DIR by socialkpi backup. The file replaced is kept "
            "beside it as <warehouse>.replaced-<UTC time>; the token store is put back only if there is none."
        ),
    )
    p.add_argument("folder", metavar="DIR", help="a folder made by socialkpi backup")
    p.add_argument("--config", metavar="PATH", help="socialkpi.toml to use")


class _Usage(Exception):
    """A mistake of the user's (a folder that exists, a folder that is no backup): one line, exit 2."""


def _one_line(work: Any) -> int:
    try:
        return int(work())
    except _Usage as exc:
        sys.stderr.write(f"socialkpi: error: {exc}\n")
        return EXIT_USAGE


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ")


def _sql_string(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_private(source: Path, target: Path, mode: int, *, follow: bool = True) -> None:
    """Copy ``source`` to a new file ``target`` created with ``mode`` (never readable by others first,
    never through a link at ``target``; ``follow=False``: nor at ``source``)."""
    flags = os.O_RDONLY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    with os.fdopen(os.open(source, flags), "rb") as fh:
        data = fh.read()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)  # whatever the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _restore_command(folder: Path, config: str | None) -> str:
    words = ["socialkpi", "restore", str(folder)] + (["--config", config] if config else [])
    return shlex.join(words)


def _run_locked(db: Path, what: str, work: Any) -> int:
    from socialkpi.lock import LockHeld, RunLock

    try:
        with RunLock(db):
            return int(work())
    except LockHeld as exc:
        sys.stderr.write(f"socialkpi: error: {exc}; {what}\n")
        return EXIT_LOCKED


# ---------------------------------------------------------------------------------------------
# backup
# ---------------------------------------------------------------------------------------------


def run_backup(args: argparse.Namespace) -> int:
    """``socialkpi backup``: 0 with the restore command printed; 2 with one line; 75 while a collect runs."""
    return _one_line(lambda: _backup(args))


def _backup(args: argparse.Namespace) -> int:
    from socialkpi.settings import load_settings

    settings = load_settings(getattr(args, "config", None), require_config=False)
    db: Path = settings.db_path
    if not db.exists():
        raise _Usage(f"no warehouse at {db}: nothing to back up (run socialkpi collect first)")
    now = datetime.now(UTC)
    out = Path(args.out).absolute() if args.out else db.parent / "backups" / _stamp(now)
    if out.exists() or out.is_symlink():
        raise _Usage(f"--out: {out} already exists: name a new folder (a backup never writes into one)")
    return _run_locked(db, "no backup was made", lambda: _backup_locked(settings, out, now, args))


def _backup_locked(settings: Any, out: Path, now: datetime, args: argparse.Namespace) -> int:
    import duckdb

    from collectors.tokens import TokenStore
    from warehouse.db import is_damage, reading
    from warehouse.schema import check_readable

    db: Path = settings.db_path
    TokenStore.beside(db).check()  # a link or a FIFO there: TokenFileError (exit 2) before anything is made
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    with reading(db) as con:  # opening reads the file through: a damaged one is refused before a folder is made
        version = check_readable(con)
        try:
            out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial.mkdir(mode=0o700)
        except OSError as exc:
            raise _Usage(f"--out: cannot create a folder in {out.parent}: {exc.strerror}") from None
        try:
            try:
                manifest = _write_backup(con, settings, version, partial, now)
                os.rename(partial, out)
            except OSError as exc:
                raise _Usage(f"cannot write the backup in {out.parent}: {exc.strerror or exc}") from None
            except duckdb.Error as exc:
                if is_damage(exc):
                    raise  # reading() says the warehouse is damaged
                first = str(exc).splitlines()[0]
                raise _Usage(f"cannot write the backup in {out.parent}: {first}") from None
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    with contextlib.suppress(OSError):
        _fsync(out.parent)
    rows = sum(manifest["tables"].values())
    saved = ["the warehouse"] + (["the token store"] if manifest["tokens"] else [])
    saved += ["socialkpi.toml"] if manifest["config"] else []
    sys.stdout.write(
        f"backup of {db} in {out}: {', '.join(saved)} ({rows} row(s) in {len(manifest['tables'])} tables, as Parquet)\n"
    )
    sys.stdout.write(f"restore with: {_restore_command(out, getattr(args, 'config', None))}\n")
    return EXIT_OK


def _write_backup(con: Any, settings: Any, version: int, folder: Path, now: datetime) -> dict[str, Any]:
    import duckdb

    from collectors.tokens import TokenStore
    from socialkpi import __version__

    db: Path = settings.db_path
    names = [
        str(name)
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' ORDER BY ALL"
        ).fetchall()
    ]
    con.execute("BEGIN TRANSACTION")  # the counts and the export: one snapshot
    counts = {name: int(con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]) for name in names}
    con.execute(f"EXPORT DATABASE {_sql_string(folder / EXPORT)} (FORMAT parquet)")
    con.execute("COMMIT")
    tokens = TokenStore.beside(db).path
    token_name = None
    if tokens.is_file() and not tokens.is_symlink():
        token_name = tokens.name
        _copy_private(tokens, folder / token_name, 0o600, follow=False)
    config_name = None
    if settings.config_path is not None and Path(settings.config_path).is_file():
        config_name = "socialkpi.toml"
        _copy_private(Path(settings.config_path), folder / config_name, 0o600)
    manifest = {
        "socialkpi_backup": FORMAT,
        "created_at": now.isoformat(timespec="seconds"),
        "warehouse": str(db),
        "schema_version": version,
        "socialkpi": __version__,
        "duckdb": duckdb.__version__,
        "tables": counts,
        "tokens": token_name,
        "config": config_name,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    for path in [folder / MANIFEST, *sorted((folder / EXPORT).iterdir())]:
        _fsync(path)
    _fsync(folder / EXPORT)
    _fsync(folder)
    return manifest


# ---------------------------------------------------------------------------------------------
# restore
# ---------------------------------------------------------------------------------------------


def _read_manifest(folder: Path) -> dict[str, Any]:

    not_one = f"{folder} is not a folder made by socialkpi backup"
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _Usage(f"{not_one} (no {MANIFEST}): name the folder that socialkpi backup printed") from None
    except (OSError, ValueError) as exc:
        raise _Usage(f"{not_one} ({MANIFEST} unreadable: {exc}): name another backup") from None
    if not isinstance(data, dict) or data.get("socialkpi_backup") != FORMAT or not isinstance(data.get("tables"), dict):
        raise _Usage(f"{not_one} ({MANIFEST} is not a socialkpi backup's): name another backup")
    if not (folder / EXPORT / "schema.sql").is_file():
        raise _Usage(f"{not_one} ({EXPORT}/schema.sql is missing): name another backup")
    return data


def run_restore(args: argparse.Namespace) -> int:
    """``socialkpi restore DIR``: 0 restored; 2 with one line (nothing changed); 75 while a collect runs."""
    return _one_line(lambda: _restore_from(args))


def _restore_from(args: argparse.Namespace) -> int:
    from socialkpi.settings import load_settings

    settings = load_settings(getattr(args, "config", None), require_config=False)
    folder = Path(args.folder).absolute()
    manifest = _read_manifest(folder)
    db: Path = settings.db_path
    return _run_locked(db, "nothing was restored", lambda: _restore(settings, folder, manifest))


def _restore(settings: Any, folder: Path, manifest: dict[str, Any]) -> int:
    from collectors.tokens import TokenStore
    from warehouse.db import WarehouseError, connect, forget
    from warehouse.schema import check_readable

    db: Path = settings.db_path
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _Usage(f"cannot create the warehouse folder {db.parent}: {exc.strerror}") from None
    new = db.with_name(f".{db.name}.restoring-{os.getpid()}")
    for leftover in (new, Path(f"{new}.wal")):
        leftover.unlink(missing_ok=True)
    try:
        con = connect(new, read_only=False)
        try:
            con.execute(f"IMPORT DATABASE {_sql_string(folder / EXPORT)}")
            check_readable(con)
            for table, expected in manifest["tables"].items():
                got = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                if got != expected:
                    raise _Usage(
                        f"the backup {folder} is incomplete: {table} has {got} row(s), its manifest says "
                        f"{expected}: name another backup"
                    )
        finally:
            con.close()
    except BaseException as exc:
        for leftover in (new, Path(f"{new}.wal")):
            leftover.unlink(missing_ok=True)
        if isinstance(exc, (_Usage, WarehouseError, KeyboardInterrupt)):
            raise
        import duckdb

        if isinstance(exc, duckdb.Error):
            first = str(exc).splitlines()[0]
            raise _Usage(f"the backup {folder} cannot be imported ({first}): name another backup") from None
        raise
    _fsync(new)
    kept = None
    wal = Path(f"{db}.wal")
    if db.exists() or wal.exists():
        kept = db.with_name(f"{db.name}.replaced-{_stamp(datetime.now(UTC))}")
        if db.exists():
            os.rename(db, kept)
        if wal.exists():
            os.rename(wal, f"{kept}.wal")  # a log left beside the new file would not belong to it
    os.rename(new, db)
    forget(db)
    with contextlib.suppress(OSError):
        _fsync(db.parent)
    rows = sum(int(n) for n in manifest["tables"].values())
    sys.stdout.write(f"restored {db} from {folder} ({rows} row(s) in {len(manifest['tables'])} tables)\n")
    if kept is not None:
        sys.stdout.write(f"  the file it replaced is kept as {kept}: delete it once you are satisfied\n")
    token_name = manifest.get("tokens")
    live = TokenStore.beside(db).path
    if isinstance(token_name, str) and (folder / token_name).is_file():
        if os.path.lexists(live):
            sys.stdout.write(
                f"  kept the current token store {live} (it may hold tokens renewed since the backup; "
                f"the backup's is {folder / token_name})\n"
            )
        else:
            _copy_private(folder / token_name, live, 0o600)
            sys.stdout.write(f"  restored the token store {live}\n")
    if manifest.get("config"):
        sys.stdout.write(f"  socialkpi.toml as it was then: {folder / 'socialkpi.toml'} (not copied)\n")
    return EXIT_OK
