"""Workspaces: one install, many businesses (docs/agencies.md).

A workspace is a folder ``workspaces/NAME/`` of the directory socialkpi is started in (the install),
holding one business's socialkpi.toml, ``.env`` and warehouse.  ``socialkpi --workspace NAME COMMAND``
(or ``SOCIALKPI_WORKSPACE=NAME``) runs COMMAND as if it had been started in that folder, the way
``git -C`` and ``make -C`` do: its socialkpi.toml, its ``.env``, its ``data/``, and relative paths on
the command line (``--out report.html``) are relative to the workspace too.

- A name is 1 to 64 letters, digits, ``.``, ``_`` or ``-``, starting with a letter or a digit: no
  ``/``, no ``..``, no hidden folder, nothing a shell or a file name would read twice.  Anything else,
  or a workspace that does not exist, is refused with exit 2 and one line saying what to do.
- ``SOCIALKPI_CONFIG`` and ``SOCIALKPI_DB`` in the real environment would point every workspace at the
  same file: with a workspace they are refused (exit 2); in a workspace's own ``.env`` they are its own.
- ``collect --all-workspaces`` and ``report --all-workspaces`` run the command once per workspace, in
  name order, each in a child process of its own (``socialkpi --workspace NAME ...``): a fresh
  interpreter with the environment this process was given and that workspace's ``.env``, nothing of
  another workspace's (no ``.env``, token, cache or module state carries over), and a crash of one
  (a segfault, a kill) is that workspace's failure only.  The parent reads no ``.env`` at all.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from socialkpi.settings import Settings

FOLDER = "workspaces"  # under the install (the current directory)
ENV = "SOCIALKPI_WORKSPACE"
DASHBOARD_ENV = "SOCIALKPI_WORKSPACES"  # socialkpi dashboard -> dashboard.py: the workspaces folder to offer
NAME_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_HELP = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or a digit"
# These name one file: in the real environment they would send every workspace to it
SHARED_FILES = ("SOCIALKPI_CONFIG", "SOCIALKPI_DB")
LOCK_NAME = ".all-workspaces"  # workspaces/.all-workspaces.lock: one collect --all-workspaces at a time
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 75


class WorkspaceError(Exception):
    """A workspace refused (bad name, missing, conflicting options): one line, exit 2."""


# ---------------------------------------------------------------------------------------------
# Names and folders
# ---------------------------------------------------------------------------------------------


def root(cwd: Path | None = None) -> Path:
    """The folder that holds the workspaces: ``workspaces/`` of the install (the current directory)."""
    return (cwd or Path.cwd()) / FOLDER


def check_name(name: str, where: str = "--workspace") -> str:
    if not NAME_RULE.fullmatch(name):
        raise WorkspaceError(f"{where} {name!r}: not a workspace name: use {NAME_HELP}")
    return name


def folder(name: str, where: str = "--workspace", *, base: Path | None = None) -> Path:
    """``workspaces/NAME`` (absolute), which must exist as a folder."""
    check_name(name, where)
    path = root(base) / name
    if not path.is_dir():
        if os.path.lexists(path):
            raise WorkspaceError(
                f"{where} {name!r}: {path} is not a folder: move it away, then `socialkpi workspace add {name}`"
            )
        raise WorkspaceError(
            f"{where} {name!r}: no workspace {FOLDER}/{name} in {path.parent.parent}: create it with "
            f"`socialkpi workspace add {name}` (`socialkpi workspace list` shows the others)"
        )
    return path


def listing(base: Path | None = None) -> tuple[list[str], list[str]]:
    """(the workspaces, sorted by name; the folders under ``workspaces/`` whose name is not one, skipped).
    Hidden entries (``.all-workspaces.lock``, ``.git``) and files are not workspaces and are not named."""
    top = root(base)
    try:
        entries = sorted(os.scandir(top), key=lambda e: e.name)
    except FileNotFoundError:
        return [], []
    except NotADirectoryError:
        raise WorkspaceError(f"{top} is not a folder: move it away (socialkpi keeps its workspaces there)") from None
    names, skipped = [], []
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        (names if NAME_RULE.fullmatch(entry.name) else skipped).append(entry.name)
    return names, skipped


def warn_skipped(skipped: Sequence[str]) -> None:
    for name in skipped:
        sys.stderr.write(f"socialkpi: warning: {FOLDER}/{name!r} is skipped: a workspace name is {NAME_HELP}\n")


def selected(args: argparse.Namespace, environ: Mapping[str, str]) -> Path | None:
    """The workspace folder ``args`` run in (``--workspace``, else ``SOCIALKPI_WORKSPACE``), or None.

    ``socialkpi workspace ...`` and ``--all-workspaces`` look after every workspace: with ``--workspace``
    they are refused, and ``SOCIALKPI_WORKSPACE`` does not apply to them.  An empty
    ``SOCIALKPI_WORKSPACE`` is no workspace (``SOCIALKPI_WORKSPACE= socialkpi ...`` unsets it)."""
    flag = getattr(args, "workspace", None)
    every = args.command == "workspace" or getattr(args, "all_workspaces", False)
    if every:
        if flag is not None:
            what = "socialkpi workspace" if args.command == "workspace" else f"{args.command} --all-workspaces"
            raise WorkspaceError(f"--workspace {flag!r}: {what} looks after every workspace: leave out --workspace")
        return None
    if flag is not None:
        name, where = flag, "--workspace"
    elif environ.get(ENV):
        name, where = environ[ENV], ENV
    else:
        return None
    path = folder(name, where)
    for variable in SHARED_FILES:
        if environ.get(variable):
            raise WorkspaceError(
                f"{variable} is set in the environment: it would make every workspace use the same file; unset it "
                f"(a workspace's own socialkpi.toml and warehouse are found in {FOLDER}/NAME/, or set it in its .env)"
            )
    return path


@contextmanager
def inside(path: Path) -> Iterator[None]:
    """Run the block as if socialkpi had been started in ``path`` (the current directory is put back after)."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def workspace_settings(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """A workspace's settings as a command run in it reads them (its socialkpi.toml and .env, then the
    environment), without this process's ``SOCIALKPI_CONFIG``/``SOCIALKPI_DB`` (the dashboard's own)."""
    from socialkpi.settings import load_settings

    env = {k: v for k, v in (os.environ if environ is None else environ).items() if k not in SHARED_FILES}
    return load_settings(cwd=path, environ=env, require_config=False)


# ---------------------------------------------------------------------------------------------
# The command line: socialkpi workspace list|add, --all-workspaces
# ---------------------------------------------------------------------------------------------


def add_parsers(sub: Any) -> None:
    """``socialkpi workspace list|add NAME``, and ``--all-workspaces`` on collect and report."""
    p = sub.add_parser("workspace", help="list the workspaces (one business each) or add one")
    actions = p.add_subparsers(dest="workspace_action", metavar="ACTION", required=True, parser_class=type(p))
    actions.add_parser("list", help="the workspaces, one name a line (nothing when there are none)")
    add = actions.add_parser("add", help=f"create {FOLDER}/NAME for one business (exit 2 if it exists)")
    add.add_argument("name", metavar="NAME", help=NAME_HELP)
    sub.choices["collect"].add_argument(
        "--all-workspaces",
        action="store_true",
        help=f"collect every workspace of {FOLDER}/ in turn, each in its own process with its own lock; "
        "exit 0 all ok, 1 any failed",
    )
    sub.choices["report"].add_argument(
        "--all-workspaces",
        action="store_true",
        help="one report per workspace: --out is then a folder, DIR/<workspace>.html",
    )


def run_workspace(args: argparse.Namespace) -> int:
    names, skipped = listing()
    if args.workspace_action == "list":
        warn_skipped(skipped)
        for name in names:
            sys.stdout.write(f"{name}\n")
        if not names:
            sys.stderr.write(
                f"socialkpi: note: no workspaces in {root()}: create one with `socialkpi workspace add NAME`\n"
            )
        return EXIT_OK
    name = check_name(args.name, "workspace add")
    path = root() / name
    if os.path.lexists(path):
        raise WorkspaceError(f"workspace add {name!r}: {FOLDER}/{name} already exists: nothing was changed")
    try:
        path.parent.mkdir(exist_ok=True)
        path.mkdir(mode=0o700)  # it will hold the business's .env and tokens
    except OSError as exc:
        raise WorkspaceError(f"workspace add {name!r}: cannot create {path} ({exc.strerror})") from None
    sys.stdout.write(f"created {FOLDER}/{name}. Next: socialkpi --workspace {name} init\n")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# --all-workspaces: the command once per workspace, each in its own process
# ---------------------------------------------------------------------------------------------

MEANING = {
    EXIT_FAILED: "some accounts failed, the rest was saved",
    EXIT_USAGE: "bad usage or configuration, nothing done",
    EXIT_LOCKED: "another collect holds its lock, nothing done",
}
REPORT_MEANING = {EXIT_USAGE: "bad usage or configuration, nothing written"}


@dataclass(frozen=True)
class Outcome:
    """How one workspace's child ended: its exit status and the line that says most about it."""

    name: str
    code: int
    line: str = ""  # its last error line, or else its last line of output

    @property
    def ok(self) -> bool:
        return self.code == EXIT_OK

    def describe(self, meaning: Mapping[int, str]) -> str:
        if self.ok:
            state = "ok"
        elif self.code < 0:
            state = f"CRASHED (killed by signal {-self.code})"
        elif self.code in meaning:
            state = f"FAILED (exit {self.code}: {meaning[self.code]})"
        else:
            state = f"CRASHED (exit {self.code})"
        return f"workspace {self.name}: {state}" + (f": {self.line}" if self.line else "")


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a workspace's child: exactly this process's (the user's shell or cron), without
    ``SOCIALKPI_WORKSPACE`` (the child gets ``--workspace``); with the source tree on ``PYTHONPATH`` when
    socialkpi runs from one (as the demo's sandbox process: an installed package needs nothing)."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items() if k != ENV}
    tree = Path(__file__).resolve().parents[1]
    if tree.name not in ("site-packages", "dist-packages"):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree), env.get("PYTHONPATH", "")) if p)
    return env


def socialkpi_command(name: str, argv: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "socialkpi.cli", "--workspace", name, *argv]


_WRITE = threading.Lock()


def _relay(stream: IO[str], to: IO[str], prefix: str, seen: list[str], *, errors_only: bool) -> None:
    """Copy the child's lines to ``to``, each after ``prefix``; keep the last meaningful one in ``seen``.
    A reader gone away (a closed pipe) stops the copy, never the draining (the child must not block)."""
    broken = False
    for line in stream:
        text = line.rstrip("\n")
        if text.strip() and (not errors_only or text.startswith("socialkpi: error: ")):
            seen[:] = [text.removeprefix("socialkpi: error: ")]
        if broken:
            continue
        try:
            with _WRITE:
                to.write(f"{prefix}{text}\n")
                to.flush()
        except Exception:  # a closed pipe, a full disk (StreamFull), a closed file: stop copying, keep draining
            broken = True


def run_child(name: str, command: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> Outcome:
    """Run one workspace's command to its end, its output relayed line by line after ``[NAME] ``."""
    try:
        proc = subprocess.Popen(  # noqa: S603 (our own command line, no shell)
            list(command), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
        )  # fmt: skip
    except OSError as exc:
        return Outcome(name, EXIT_USAGE, f"could not start ({exc.strerror})")
    assert proc.stdout is not None and proc.stderr is not None
    last_out: list[str] = []
    last_err: list[str] = []
    prefix = f"[{name}] "
    relays = [
        threading.Thread(
            target=_relay, args=(proc.stdout, sys.stdout, prefix, last_out), kwargs={"errors_only": False}
        ),
        threading.Thread(target=_relay, args=(proc.stderr, sys.stderr, prefix, last_err), kwargs={"errors_only": True}),
    ]
    for relay in relays:
        relay.start()
    try:
        code = proc.wait()
    except BaseException:  # Ctrl+C: this workspace's child ends with us
        proc.terminate()
        proc.wait()
        raise
    finally:
        for relay in relays:
            relay.join()
        proc.stdout.close()
        proc.stderr.close()
    line = (last_err or last_out or [""])[0] if code != EXIT_OK else (last_out or [""])[0]
    return Outcome(name, code, line)


def run_each(
    names: Sequence[str],
    command: Callable[[str], Sequence[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> list[Outcome]:
    """``command(name)`` for every workspace, one after the other; whatever one does, the next runs."""
    environment = child_environment() if env is None else dict(env)
    here = cwd or Path.cwd()
    return [run_child(name, command(name), env=environment, cwd=here) for name in names]


def summary(outcomes: Sequence[Outcome], meaning: Mapping[int, str]) -> int:
    """One line per workspace, then the totals (the last line); exit 0 when every one is ok, else 1."""
    for outcome in outcomes:
        sys.stdout.write(outcome.describe(meaning) + "\n")
    failed = sum(not o.ok for o in outcomes)
    sys.stdout.write(f"all workspaces: {len(outcomes) - failed} ok, {failed} failed (of {len(outcomes)})\n")
    return EXIT_FAILED if failed else EXIT_OK


def _every(command: str) -> list[str]:
    names, skipped = listing()
    warn_skipped(skipped)
    if not names:
        raise WorkspaceError(
            f"{command} --all-workspaces: no workspaces in {root()}: create one with `socialkpi workspace add NAME`"
        )
    return names


# Secrets the environment would give every workspace alike (the environment wins over .env and the token store)
_ACCOUNT_SECRET = re.compile(r"SOCIALKPI_[A-Z0-9_]+_(TOKEN|REFRESH_TOKEN)|SOCIALKPI_GOOGLE_CREDENTIALS")


def shared_secrets(environ: Mapping[str, str]) -> list[str]:
    """The names (never the values) of account credentials set in the environment itself: every workspace
    sees them, and they win over its own ``.env`` and token store."""
    return sorted(k for k, v in environ.items() if v and _ACCOUNT_SECRET.fullmatch(k) and not k.endswith("_URL"))


def collect_all(args: argparse.Namespace) -> int:
    """``socialkpi collect --all-workspaces``: every workspace in name order, each as
    ``socialkpi --workspace NAME collect`` (its own process, .env and lock); 0 all ok, 1 any not ok,
    75 when another ``collect --all-workspaces`` is running."""
    from socialkpi.lock import LockHeld, RunLock

    for flag, given in (("--config", args.config), ("--platform", args.platform), ("--account", args.account)):
        if given:
            raise WorkspaceError(
                f"collect --all-workspaces: {flag} belongs to one workspace: "
                f"socialkpi --workspace NAME collect {flag} ..."
            )
    if getattr(args, "shard", None) is not None:
        raise WorkspaceError(
            "collect --all-workspaces: --shard splits the accounts of one warehouse between workers, and every "
            "workspace has a warehouse of its own: shard one workspace (socialkpi --workspace NAME collect "
            "--shard K/N), or share the clients out by workspace"
        )
    names = _every("collect")
    for variable in shared_secrets(os.environ):
        sys.stderr.write(
            f"socialkpi: warning: {variable} is set in the environment: every workspace gets it, and it wins over "
            "each workspace's .env and token store (keep account credentials in each workspace's .env)\n"
        )
    argv = [*(["-v"] if args.verbose else []), "collect"]
    argv += [
        *(["--since", str(args.since)] if args.since else []),
        *(["--until", str(args.until)] if args.until else []),
    ]
    argv += ["--quiet"] if args.quiet else []
    try:
        with RunLock(root() / LOCK_NAME):
            outcomes = run_each(names, lambda name: socialkpi_command(name, argv))
    except LockHeld:
        sys.stderr.write("socialkpi: error: another socialkpi collect --all-workspaces is running; nothing was done\n")
        return EXIT_LOCKED
    return summary(outcomes, MEANING)


def report_all(args: argparse.Namespace) -> int:
    """``socialkpi report --all-workspaces --out DIR``: ``DIR/<workspace>.html`` for every workspace, each
    from ``socialkpi --workspace NAME report`` (its own process); 0 all written, 1 any not."""
    if args.config:
        raise WorkspaceError("report --all-workspaces: --config belongs to one workspace: leave it out")
    if args.mail_to is not None:
        raise WorkspaceError(
            "report --all-workspaces: --mail-to would send every client's report to the same address: "
            "mail each one with socialkpi --workspace NAME report --mail-to ADDR"
        )
    if args.out is None:
        raise WorkspaceError("report --all-workspaces: give --out DIR, the folder for DIR/<workspace>.html")
    names = _every("report")
    out = Path(args.out).expanduser().absolute()
    if os.path.lexists(out) and not out.is_dir():
        raise WorkspaceError(
            f"--out {args.out}: not a folder: with --all-workspaces --out is the folder of the reports"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"--out {args.out}: cannot create the folder ({exc.strerror})") from None
    argv = [*(["-v"] if args.verbose else []), "report", "--period", args.period]

    def command(name: str) -> list[str]:
        return socialkpi_command(name, [*argv, "--out", str(out / f"{name}.html")])

    return summary(run_each(names, command), REPORT_MEANING)


def run_all(args: argparse.Namespace) -> int:
    return collect_all(args) if args.command == "collect" else report_all(args)


# ---------------------------------------------------------------------------------------------
# The dashboard: the picker and the overview across workspaces
# ---------------------------------------------------------------------------------------------


def offer_to_dashboard(environ: os._Environ[str] | dict[str, str]) -> None:
    """Tell dashboard.py (``SOCIALKPI_WORKSPACES``) the workspaces folder of the current directory when it
    holds a workspace: started at the install, the dashboard offers the picker; started in a workspace
    (``--workspace NAME dashboard``), that workspace alone."""
    names, _ = listing()
    if names:
        environ[DASHBOARD_ENV] = str(root())
    else:
        environ.pop(DASHBOARD_ENV, None)


@dataclass(frozen=True)
class Choice:
    """One entry of the dashboard's picker: a workspace (or the install's own warehouse) and its file."""

    label: str
    db_path: str | None  # None: its configuration cannot be read (``problem``)
    problem: str | None = None
    business: str = ""


OWN = "(this folder)"


def dashboard_choices(folder_path: str | Path, own_db: str | Path | None = None) -> list[Choice]:
    """The workspaces under ``folder_path`` (name order), each with the warehouse its socialkpi.toml names;
    then the install's own warehouse ``own_db`` when that file exists (a business of the agency's own)."""
    from socialkpi.validation import ConfigError

    top = Path(folder_path)
    names, _ = listing(top.parent) if top.name == FOLDER else ([], [])
    choices = []
    for name in names:
        try:
            settings = workspace_settings(top / name)
        except ConfigError as exc:
            choices.append(Choice(name, None, f"its configuration cannot be read: {exc}"))
            continue
        choices.append(Choice(name, str(settings.db_path), None, settings.business_name))
    if own_db is not None and Path(own_db).is_file():
        choices.append(Choice(OWN, str(own_db)))
    return choices


def overview(choices: Sequence[Choice], *, days: int = 28) -> pd.DataFrame:
    """The overview table across ``choices`` (:func:`warehouse.overview.overview_frame`)."""
    from warehouse import overview as queries

    rows = [(c.label, c.business, c.db_path, c.problem) for c in choices]
    return queries.overview_frame(rows, days=days)
