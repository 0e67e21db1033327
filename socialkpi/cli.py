"""The ``socialkpi`` command: collect, export, dashboard, demo, status.

Exit statuses (README, "Exit statuses of `socialkpi collect`"): 0 success; 1 some source failed,
everything else saved; 2 bad usage or configuration (one line naming the key and the fix, never a
traceback); 75 another collect holds the lock.  Heavy modules (requests, duckdb, pandas, streamlit) are
imported inside the subcommands so that ``socialkpi --help`` stays fast.

Here: the parser, the dispatch, the guard on standard output, and the small commands (collect, export,
import-csv).  The others run in their own modules, imported only when they run: status and doctor in
:mod:`socialkpi.status`, dashboard and demo in :mod:`socialkpi.serve`, then report, alert, init, connect,
backup/restore, log-time and workspace in theirs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from typing import IO, TYPE_CHECKING, Any, NoReturn

from socialkpi.console import err as _err
from socialkpi.console import out as _out
from socialkpi.validation import UsageError
from warehouse.files import OutputError, StreamFull

if TYPE_CHECKING:
    from socialkpi.settings import Settings
    from socialkpi.shards import Shard

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 75
EXIT_PIPE = 128 + 13  # SIGPIPE: standard output's reader went away

log = logging.getLogger("socialkpi")


def _date(value: str) -> date:
    from socialkpi.validation import ConfigError, parse_date

    try:
        return parse_date(value, "date")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("date: ")) from None


def _shard(value: str) -> Shard:
    from socialkpi.shards import parse_shard

    try:
        return parse_shard(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(value: str) -> int:
    from socialkpi.validation import port_arg

    return port_arg(value)


class _Parser(argparse.ArgumentParser):
    def _print_message(self, message: str, file: IO[str] | None = None) -> None:
        """As argparse's, without its silence on a failed write: ``--help > /dev/full`` is exit 2 (main)."""
        if message:
            (file or sys.stderr).write(message)

    def error(self, message: str) -> NoReturn:
        from collectors.redaction import redact_userinfo  # an argument echoed back may be a URL with user:password@

        # self.prog is "socialkpi" or "socialkpi COMMAND": the help to see is that parser's own
        self.exit(EXIT_USAGE, f"socialkpi: error: {redact_userinfo(message)} (see {self.prog} --help)\n")

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """As argparse's, but an argument no parser knows is reported by the command's own parser (argparse
        leaves it to the top one), so the line points to ``socialkpi COMMAND --help``."""
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            self._command_parser(getattr(parsed, "command", None)).error(
                f"unrecognized arguments: {' '.join(extra)}"
            )
        return parsed

    def _command_parser(self, command: str | None) -> argparse.ArgumentParser:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and command in action.choices:
                parser: argparse.ArgumentParser = action.choices[command]
                return parser
        return self


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="socialkpi",
        description="Self-hosted social and website analytics for small businesses.",
        epilog="Configuration: socialkpi.toml (or --config / SOCIALKPI_CONFIG) and .env. See README.md.",
    )
    from socialkpi import __version__

    parser.add_argument("--version", action="version", version=f"socialkpi {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument(
        "--workspace",
        metavar="NAME",
        help="run the command inside workspaces/NAME/ (its socialkpi.toml, .env, warehouse); or SOCIALKPI_WORKSPACE",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("collect", help="pull every configured account into the warehouse (for cron)")
    p.add_argument("--platform", action="append", default=[], metavar="ID", help="only this platform (repeatable)")
    p.add_argument("--account", action="append", default=[], metavar="ID", help="only this account id (repeatable)")
    p.add_argument("--since", type=_date, metavar="DATE", help="first day to fetch (YYYY-MM-DD): a backfill")
    p.add_argument("--until", type=_date, metavar="DATE", help="last day to fetch (YYYY-MM-DD); default yesterday")
    p.add_argument(
        "--shard",
        type=_shard,
        metavar="K/N",
        help="only shard K of N (1 <= K <= N) of the accounts, by a stable hash of platform and id: "
        "N workers share a collect (docs/agencies.md)",
    )
    p.add_argument("--config", metavar="PATH", help="socialkpi.toml to use")
    p.add_argument("--quiet", action="store_true", help="only warnings, errors and the summary")

    p = sub.add_parser("export", help="write a CSV (or an Excel workbook) of observations or KPI snapshots")
    p.add_argument("--table", choices=("observations", "kpis"), default="observations")
    p.add_argument("--since", type=_date, metavar="DATE")
    p.add_argument("--until", type=_date, metavar="DATE")
    p.add_argument("--period", choices=("week", "month"), default="month", help="kpis: one row per week or month")
    p.add_argument("--out", default="-", metavar="PATH", help="file to write, or - for standard output (default)")
    p.add_argument(
        "--format",
        choices=("csv", "xlsx"),
        default="csv",
        help="csv (default) or xlsx: an Excel workbook with dates, numbers and text typed (opens right in any locale)",
    )
    p.add_argument("--config", metavar="PATH")

    p = sub.add_parser("dashboard", help="serve the dashboard on http://127.0.0.1:8501")
    p.add_argument("--port", type=_port, default=8501, help="1 to 65535 (default 8501)")
    p.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; any other needs SOCIALKPI_DASHBOARD_PASSWORD)",
    )
    p.add_argument("--config", metavar="PATH")

    p = sub.add_parser("demo", help="build a demo warehouse through the built-in sandbox and serve the dashboard")
    p.add_argument("--no-dashboard", action="store_true", help="only build the demo warehouse")
    p.add_argument("--db", default="data/demo.duckdb", metavar="PATH", help="demo warehouse (default data/demo.duckdb)")
    p.add_argument("--port", type=_port, default=8501, help="1 to 65535 (default 8501)")

    p = sub.add_parser("status", help="last runs, freshness per account, what failed and why")
    p.add_argument("--config", metavar="PATH")

    p = sub.add_parser("import-csv", help="load manual metrics (newsletter, Yelp, ...) from a CSV as platform manual")
    p.add_argument("file", metavar="FILE", help="CSV with the columns of the observations export")
    p.add_argument("--config", metavar="PATH")

    from socialkpi import alerts, backup, connect, init, report, timelog

    timelog.add_parser(sub)
    report.add_parser(sub)
    alerts.add_parser(sub)
    init.add_parser(sub)
    connect.add_parser(sub)
    backup.add_parser(sub)

    p = sub.add_parser("doctor", help="check the configuration and every credential with one cheap call each")
    p.add_argument("--platform", action="append", default=[], metavar="ID", help="only this platform (repeatable)")
    p.add_argument("--config", metavar="PATH")

    from socialkpi import workspaces

    workspaces.add_parsers(sub)
    return parser


_QUICK_EXIT: list[bool] = []


def quick_exit() -> None:
    """At interpreter exit, skip the garbage collector's last passes over every object (``gc.freeze``).

    With requests, DuckDB and pyarrow loaded, the interpreter's shutdown spent ~100-200 ms walking their
    objects for cycles (measured: ``socialkpi collect``'s imports, 100-134 ms after the atexit handlers;
    20 ms frozen).  Nothing of ours needs those passes: connections and files are closed by their ``with``
    blocks, and logging flushes in its own atexit handler, which runs after this one.  Registered once.
    """
    if not _QUICK_EXIT:
        import atexit
        import gc

        atexit.register(gc.freeze)
        _QUICK_EXIT.append(True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status.  Standard output that cannot take the output ends the command
    quietly: a reader gone away (``socialkpi status | head -1``) is exit 141 (128 + SIGPIPE, as any
    command stopped by its reader) with nothing on standard error; a full disk or a device that refuses it
    (``> /dev/full``) is one line and exit 2.  Never a traceback, never Python's own complaint at exit."""
    quick_exit()
    real = sys.stdout
    if real is not None:
        sys.stdout = _GuardedStdout(real)  # type: ignore[assignment]
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # here, not at interpreter exit, where a failure would print a traceback
    except BrokenPipeError:
        _drop_stdout(real)
        return EXIT_PIPE
    except OutputError as exc:  # an --out path refused, or standard output full
        from collectors.redaction import redact

        if isinstance(exc, StreamFull):
            _drop_stdout(real)
        _err(redact(str(exc)))
        return EXIT_USAGE
    finally:
        sys.stdout = real


class _GuardedStdout:
    """``sys.stdout`` while a command runs: a write or flush that fails other than on a closed pipe (a full
    disk, ``/dev/full``) raises :class:`StreamFull` instead of an ``OSError`` from anywhere in the code."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StreamFull(f"cannot write to standard output ({exc.strerror}): the output is incomplete") from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StreamFull(f"cannot write to standard output ({exc.strerror}): the output is incomplete") from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _drop_stdout(real: IO[str] | None) -> None:
    """Point file descriptor 1 at /dev/null, so that nothing still buffered fails again when Python exits."""
    if real is None or real is not sys.__stdout__:
        return  # a replaced stdout (tests, an embedding program) is not ours to close
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, real.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    _setup_logging(verbose=args.verbose, quiet=getattr(args, "quiet", False))
    handler = {
        "collect": cmd_collect,
        "export": cmd_export,
        "dashboard": _dashboard,
        "demo": _demo,
        "status": _status,
        "doctor": _doctor,
        "import-csv": cmd_import_csv,
        "log-time": _log_time,
        "report": _report,
        "alert": _alert,
        "init": _init,
        "connect": _connect,
        "backup": _backup,
        "restore": _restore,
        "workspace": _workspace,
    }[args.command]
    if getattr(args, "all_workspaces", False):
        handler = _all_workspaces
    from collectors.tokens import TokenFileError
    from socialkpi import workspaces
    from socialkpi.settings import file_only_command
    from socialkpi.validation import ConfigError
    from warehouse.db import WarehouseError

    refusing = file_only_command.set(args.command if args.command in FILE_ONLY else None)
    try:
        inside = workspaces.selected(args, os.environ)
        if inside is None:
            return handler(args)
        with workspaces.inside(inside):
            return handler(args)
    except (ConfigError, UsageError, WarehouseError, TokenFileError, workspaces.WorkspaceError) as exc:
        from collectors.redaction import redact

        _err(redact(str(exc)))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    finally:
        file_only_command.reset(refusing)


# Commands that work on the DuckDB file only: with a [warehouse] url (the lake) they exit 2 naming it.
FILE_ONLY = frozenset({"import-csv", "log-time", "report", "alert", "backup", "restore"})


def _setup_logging(*, verbose: bool, quiet: bool) -> None:
    from collectors.redaction import RedactingFilter

    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    root.addHandler(handler)
    level = logging.DEBUG if verbose else logging.WARNING if quiet or sys.stderr.isatty() else logging.INFO
    root.setLevel(level)
    for noisy in ("urllib3", "google", "streamlit"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _settings(args: argparse.Namespace, *, require_config: bool = True) -> Settings:
    from socialkpi.settings import load_settings

    return load_settings(getattr(args, "config", None), require_config=require_config)


# ---------------------------------------------------------------------------------------------
# collect
# ---------------------------------------------------------------------------------------------


def cmd_collect(args: argparse.Namespace) -> int:
    from socialkpi.runner import collect

    settings = _settings(args)
    shard: Shard | None = args.shard
    return collect(
        settings,
        platforms=args.platform,
        account_ids=args.account,
        only=shard.holds if shard else None,
        only_name=f"shard {shard}",
        since=args.since,
        until=args.until,
    )


# ---------------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    settings = _settings(args, require_config=False)
    from warehouse import export

    if settings.lake is None and not settings.db_path.exists():  # (the lake says so when it has no tables)
        raise UsageError(f"no warehouse at {settings.db_path}: run `socialkpi collect` (or `make demo`) first")
    if args.since and args.until and args.since > args.until:
        raise UsageError(f"--since {args.since} is after --until {args.until}")
    if args.out == "-":
        out: object = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else sys.stdout
        sys.stdout.flush()  # nothing buffered may come after the CSV
    else:
        from warehouse.files import check_output

        out = args.out
        check_output(args.out, stdout_hint=True)  # refused before the warehouse is read
    if getattr(args, "format", "csv") == "xlsx":
        return _export_xlsx(args, settings, out)
    if args.table == "observations":
        rows = export.write_observations_csv(settings.warehouse, out, since=args.since, until=args.until)
    else:
        rows = export.write_kpis_csv(settings.warehouse, out, since=args.since, until=args.until, period=args.period)
    if args.out != "-":
        log.info("wrote %d row(s) to %s", rows, args.out)
    return EXIT_OK


def _export_xlsx(args: argparse.Namespace, settings: Settings, out: object) -> int:
    """``export --format xlsx``: the same rows as the CSV, as an Excel workbook (warehouse.export_xlsx)."""
    from warehouse import export_xlsx

    if args.out == "-":
        if sys.stdout.isatty():
            raise UsageError("--format xlsx writes a binary workbook: give --out FILE.xlsx (or redirect the output)")
        if not hasattr(out, "buffer") and not hasattr(out, "raw") and hasattr(out, "encoding"):
            raise UsageError("--format xlsx needs a binary standard output: give --out FILE.xlsx")
    if args.table == "observations":
        rows = export_xlsx.write_observations_xlsx(settings.warehouse, out, since=args.since, until=args.until)  # type: ignore[arg-type]
    else:
        rows = export_xlsx.write_kpis_xlsx(  # type: ignore[arg-type]
            settings.warehouse, out, since=args.since, until=args.until, period=args.period
        )
    if args.out != "-":
        log.info("wrote %d row(s) to %s", rows, args.out)
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from socialkpi import status

    return status.cmd_status(args)


def _doctor(args: argparse.Namespace) -> int:
    from socialkpi import status

    return status.cmd_doctor(args)


def _dashboard(args: argparse.Namespace) -> int:
    from socialkpi import serve

    return serve.cmd_dashboard(args)


def _demo(args: argparse.Namespace) -> int:
    from socialkpi import serve

    return serve.cmd_demo(args)


def _report(args: argparse.Namespace) -> int:
    from socialkpi import report

    return report.run(args)


def _alert(args: argparse.Namespace) -> int:
    from socialkpi import alerts

    return alerts.run(args)


def _init(args: argparse.Namespace) -> int:
    from socialkpi import init

    return init.run(args)


def _connect(args: argparse.Namespace) -> int:
    from socialkpi.connect import run

    return run(args)


def _backup(args: argparse.Namespace) -> int:
    from socialkpi import backup

    return backup.run_backup(args)


def _restore(args: argparse.Namespace) -> int:
    from socialkpi import backup

    return backup.run_restore(args)


def _workspace(args: argparse.Namespace) -> int:
    from socialkpi import workspaces

    return workspaces.run_workspace(args)


def _all_workspaces(args: argparse.Namespace) -> int:
    from socialkpi import workspaces

    return workspaces.run_all(args)


def _log_time(args: argparse.Namespace) -> int:
    from socialkpi import timelog

    return timelog.run(args)


def cmd_import_csv(args: argparse.Namespace) -> int:
    settings = _settings(args, require_config=False)
    from datetime import UTC, datetime

    from warehouse.imports import ImportRejected, import_csv

    try:
        result = import_csv(
            settings.db_path, args.file, today=datetime.now(UTC).astimezone(settings.timezone).date()
        )
    except ImportRejected as exc:
        _err(str(exc))
        for line, reason in exc.errors:
            if line:  # line 0 is the file itself, said once above
                sys.stderr.write(f"  line {line}: {reason}\n")
        return EXIT_USAGE
    _out(f"imported {result.rows} row(s) from {args.file}: {result.written} new or changed")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
