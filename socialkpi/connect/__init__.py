"""``socialkpi connect PLATFORM``: a platform's own authorization flow, the accounts discovered, written for you.

One module per flow, listed literally in :data:`FLOWS` (several platforms can share one: Meta's Facebook
Login gives Facebook Pages and their Instagram accounts, one Google consent gives GA4, Business Profile and
YouTube).  A flow module has:

* ``connect(session: Session) -> list[Found]``: run the authorization (``session.authorize``), exchange
  the code, discover the accounts the person manages; nothing written;
* ``competitor(session: Session, handle: str) -> Found`` (where the platform has a public lookup):
  resolve someone else's account, or raise :class:`~socialkpi.connect.flow.ConnectError`;
* ``verify(session: Session, chosen: list[Found]) -> list[Found]`` (optional): check the accounts the
  person chose, once chosen and before anything is written (a per-account call such as the collector's
  ``check``), or raise ConnectError.

This module does the rest, the same for every platform: the client credentials (environment, ``.env``,
or asked on a terminal), the choice (``--select``), then the writes in the order that loses nothing: the
tokens first (the token store, 0600, beside the warehouse), socialkpi.toml after (atomically), so a
connect that fails half-way leaves socialkpi.toml as it was, and a second connect of the same account
renews its token and adds no duplicate.
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socialkpi.connect.flow import (
    DEFAULT_PORT,
    DEFAULT_TIMEOUT,
    Authorization,
    ConnectError,
    Grant,
    Terminal,
    authorize,
)

if TYPE_CHECKING:
    from collectors.http import Client
    from collectors.observation import Account
    from collectors.tokens import Connection, StoredToken, TokenStore
    from socialkpi.settings import Settings

# platform id -> the module of its flow (one flow may serve several platforms)
FLOWS: dict[str, str] = {
    "facebook": "socialkpi.connect.meta",
    "instagram": "socialkpi.connect.meta",
    "threads": "socialkpi.connect.threads",
    "x": "socialkpi.connect.x",
    "linkedin": "socialkpi.connect.linkedin",
    "pinterest": "socialkpi.connect.pinterest",
    "tiktok": "socialkpi.connect.tiktok",
    "youtube": "socialkpi.connect.google",
    "google_business": "socialkpi.connect.google",
    "ga4": "socialkpi.connect.google",
    "google": "socialkpi.connect.google",  # one consent for ga4, google_business and youtube
    "mastodon": "socialkpi.connect.mastodon",
    "bluesky": "socialkpi.connect.bluesky",
    "plausible": "socialkpi.connect.web_analytics",
    "matomo": "socialkpi.connect.web_analytics",
    "umami": "socialkpi.connect.web_analytics",
    "wordpress": "socialkpi.connect.wordpress",
}

# The redirect URI to register in each platform's developer app (docs/connect.md: X and Google want 127.0.0.1).
LOOPBACK_127 = frozenset({"x", "youtube", "google_business", "ga4", "google"})
# Meta platforms may share one app's credentials (SOCIALKPI_META_CLIENT_ID / _CLIENT_SECRET).
META = frozenset({"facebook", "instagram", "threads"})


def redirect_uri(platform: str, port: int = DEFAULT_PORT) -> str:
    """The redirect URI to register in the platform's app (Threads takes https only: socialkpi.connect.threads)."""
    if platform == "threads":
        return f"https://127.0.0.1:{port}/callback"
    host = "127.0.0.1" if platform in LOOPBACK_127 else "localhost"
    return f"http://{host}:{port}/callback"


@dataclass
class Found:
    """One account a flow discovered (or a competitor it resolved), with what collecting it needs."""

    account: Account
    detail: str = ""  # shown in the list: "Facebook Page, 4,812 followers"
    token: StoredToken | None = None  # None: a public account (Bluesky, Mastodon without a token)
    client_id: str | None = None  # the OAuth client, kept to renew the token
    client_secret: str | None = None
    base_url: str | None = None  # a self-hosted server (Matomo, Umami, Plausible CE, a Mastodon instance)
    token_url: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # the name and the detail are the platform's words: shown on a terminal and written to socialkpi.toml
        from collectors.redaction import escape_controls

        self.account = shown_account(self.account)
        self.detail = escape_controls(self.detail)


def shown_account(account: Account) -> Account:
    """``account`` with its name's control characters escaped (``\\x1b``, ``\\n``): a name a platform returns
    never moves a terminal's cursor or puts a line of its own in socialkpi.toml."""
    from dataclasses import replace

    from collectors.redaction import escape_controls

    name = escape_controls(account.name)
    return account if name == account.name else replace(account, name=name)


@dataclass
class Session:
    """What a flow module is given: the settings, the terminal, the options, and the shared steps."""

    platform: str
    settings: Settings
    terminal: Terminal
    port: int = DEFAULT_PORT
    timeout: float = DEFAULT_TIMEOUT
    no_browser: bool = False
    instance: str | None = None  # connect mastodon --instance HOST
    url: str | None = None  # connect plausible|matomo|umami --url URL
    select: str | None = None  # --select as given (a flow that cannot list accounts may take ids from it)
    policy: Any = None  # a collectors.http.RetryPolicy (tests: fast retries)

    @property
    def env(self) -> Mapping[str, str]:
        return self.settings.env

    def var(self, name: str) -> str | None:
        """``SOCIALKPI_<PLATFORM>_<name>`` from the environment or ``.env``."""
        return self.env.get(f"SOCIALKPI_{self.platform.upper()}_{name}") or None

    def client(self, classify: Callable[..., Any] | None = None) -> Client:
        from collectors.http import Client, RetryPolicy

        return Client(self.platform, policy=self.policy or RetryPolicy(attempts=3), classify=classify)

    def base_url(self, default: str) -> str:
        """The API root: ``SOCIALKPI_<PLATFORM>_BASE_URL``, else ``default``."""
        return (self.var("BASE_URL") or default).rstrip("/")

    def endpoint(self, kind: str, default: str) -> str:
        """An OAuth endpoint: ``SOCIALKPI_<PLATFORM>_<kind>_URL`` (kind ``AUTH`` or ``TOKEN``) replaces it;
        else, with ``_BASE_URL`` set (a proxy, the sandbox), the same path under that root; else ``default``."""
        from urllib.parse import urlsplit

        override = self.var(f"{kind}_URL")
        if override:
            return override
        base = self.var("BASE_URL")
        if base:
            parts = urlsplit(default)
            return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
        return default

    def app(self, *, secret: bool = True, where: str = "") -> tuple[str, str | None]:
        """The OAuth client's id (and secret): ``SOCIALKPI_<PLATFORM>_CLIENT_ID``/``_CLIENT_SECRET`` (for Meta
        platforms also ``SOCIALKPI_META_...``), else asked on a terminal; a ConnectError without either."""
        from collectors.redaction import register_secret

        names = [f"SOCIALKPI_{self.platform.upper()}"]
        if self.platform in META:
            names.append("SOCIALKPI_META")
        client_id = next((self.env[f"{n}_CLIENT_ID"] for n in names if self.env.get(f"{n}_CLIENT_ID")), None)
        client_secret = next(
            (self.env[f"{n}_CLIENT_SECRET"] for n in names if self.env.get(f"{n}_CLIENT_SECRET")), None
        )
        hint = f" ({where})" if where else ""
        if not client_id or (secret and not client_secret):
            if not self.terminal.interactive:
                wanted = f"{names[0]}_CLIENT_ID" + (f" and {names[0]}_CLIENT_SECRET" if secret else "")
                raise ConnectError(
                    f"{self.platform}: the app's credentials are missing: set {wanted} in .env{hint}; "
                    f"docs/connect.md says how to create the app (redirect URI {self.redirect_uri()})"
                )
            self.terminal.say(
                f"socialkpi needs your {self.platform} app's credentials{hint} (docs/connect.md; the redirect URI "
                f"to register is {self.redirect_uri()}). Put them in .env as {names[0]}_CLIENT_ID"
                + (f" and {names[0]}_CLIENT_SECRET" if secret else "")
                + " to skip this question."
            )
            client_id = client_id or self.terminal.ask("Client id: ")
            if secret and not client_secret:
                client_secret = self.terminal.ask("Client secret: ", secret=True)
        register_secret(client_secret)
        if not client_id or (secret and not client_secret):
            raise ConnectError(f"{self.platform}: no client id or secret given: nothing was written")
        return client_id, client_secret

    def secret(self, name: str, prompt: str, *, where: str) -> str:
        """``SOCIALKPI_<PLATFORM>_<name>`` (a key or token), else asked (hidden) on a terminal."""
        from collectors.redaction import register_secret

        value = self.var(name)
        if not value:
            if not self.terminal.interactive:
                raise ConnectError(
                    f"{self.platform}: set SOCIALKPI_{self.platform.upper()}_{name} ({where}), or run this on a "
                    "terminal to be asked for it"
                )
            self.terminal.say(f"{where}.")
            value = self.terminal.ask(prompt, secret=True)
        if not value:
            raise ConnectError(f"{self.platform}: nothing given for {prompt.strip().rstrip(':')}: nothing was written")
        register_secret(value)
        return value

    def redirect_uri(self) -> str:
        return redirect_uri(self.platform, self.port)

    def authorize(self, auth: Authorization) -> Grant:
        """The consent page of ``auth``, its answer checked (:func:`socialkpi.connect.flow.authorize`)."""
        return authorize(auth, self.terminal, port=self.port, timeout=self.timeout, no_browser=self.no_browser)


def flow_module(platform: str) -> Any:
    if platform not in FLOWS:
        raise ConnectError(f"unknown platform {platform!r}: use one of {', '.join(sorted(FLOWS))}")
    return importlib.import_module(FLOWS[platform])


# -- the choice ------------------------------------------------------------------------------------------


def choose(found: Sequence[Found], select: str | None, terminal: Terminal, platform: str) -> list[Found]:
    """The accounts to add: ``--select all`` or ``--select ID[,ID...]``, else asked on a terminal."""
    if not found:
        raise ConnectError(
            f"{platform}: the authorization gives access to no account socialkpi can collect: "
            "nothing was written (docs/connect.md: which role the account needs)"
        )
    from collectors.redaction import escape_controls

    if select is None:
        terminal.say(f"{len(found)} account(s) found:")
        for n, item in enumerate(found, 1):
            detail = f"  ({escape_controls(item.detail)})" if item.detail else ""
            account = shown_account(item.account)
            terminal.say(f"  {n}. {account.platform:<15} {account.id:<26} {account.name}{detail}")
        if len(found) == 1 and not terminal.interactive:
            return list(found)
        if not terminal.interactive:
            raise ConnectError(
                f"{platform}: several accounts found and no --select: pass --select all or --select ID[,ID...]; "
                "nothing was written"
            )
        answer = terminal.ask("Add which? (numbers or ids, separated by commas, or 'all'): ")
        return _pick(found, answer, platform, numbers=True)
    return _pick(found, select, platform, numbers=False)


def _pick(found: Sequence[Found], answer: str, platform: str, *, numbers: bool) -> list[Found]:
    answer = answer.strip()
    if answer.lower() == "all":
        return list(found)
    chosen: list[Found] = []
    for part in (p.strip() for p in answer.split(",")):
        if not part:
            continue
        hit = None
        if numbers and part.isdigit() and 1 <= int(part) <= len(found) and len(part) < 4:
            hit = found[int(part) - 1]
        else:
            wanted = part.removeprefix("@").lower()
            hit = next((f for f in found if f.account.id.removeprefix("@").lower() == wanted), None)
        if hit is None:
            known = ", ".join(f.account.id for f in found)
            raise ConnectError(f"{platform}: {part!r} is not among the accounts found ({known}): nothing was written")
        if hit not in chosen:
            chosen.append(hit)
    if not chosen:
        raise ConnectError(f"{platform}: no account chosen: nothing was written")
    return chosen


# -- the writes ---------------------------------------------------------------------------------------


def save(settings: Settings, chosen: Sequence[Found]) -> tuple[list[Account], list[Account]]:
    """Tokens first (one write of the token store), then socialkpi.toml (atomically); (added, already listed)."""
    import re

    from collectors import PLATFORMS
    from collectors.tokens import Connection, TokenStore
    from socialkpi.connect.config import add_accounts

    assert settings.config_path is not None
    for f in chosen:
        spec = PLATFORMS[f.account.platform]
        if not re.fullmatch(spec.id_pattern, f.account.id):
            raise ConnectError(
                f"{f.account.platform}: the platform answered an account id socialkpi cannot use "
                f"({f.account.id[:60]!r}, expected {spec.id_hint}): nothing was written"
            )
    store = TokenStore.beside(settings.db_path)
    now = time.time()
    connections: list[Connection] = [
        Connection(
            platform=f.account.platform,
            key=f.account.id,
            token=f.token,
            client_id=f.client_id,
            client_secret=f.client_secret,
            base_url=f.base_url,
            token_url=f.token_url,
            connected_at=now,
            extra=dict(f.extra),
        )
        for f in chosen
        if f.token is not None
    ]
    if connections:
        defaults = _defaults(store, connections, chosen)
        store.save_connections(connections, defaults=defaults)
    changes = add_accounts(settings.config_path, [shown_account(f.account) for f in chosen])
    return changes.added, changes.kept


def _defaults(store: TokenStore, connections: Sequence[Connection], chosen: Sequence[Found]) -> list[Connection]:
    """Per platform, the connection competitors are read with: the first own account connected, unless the
    platform has one already."""
    out: list[Connection] = []
    own = {(f.account.platform, f.account.id) for f in chosen if not f.account.competitor}
    for conn in connections:
        first = all(d.platform != conn.platform for d in out)
        if (conn.platform, conn.key) in own and first and not store.has_default(conn.platform):
            out.append(conn)
    return out


# -- the command -------------------------------------------------------------------------------------------


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "connect",
        help="connect an account: the platform's consent page, then your accounts added to socialkpi.toml",
        description=(
            "Runs PLATFORM's authorization in your browser, discovers the accounts you manage and adds the chosen "
            "ones to socialkpi.toml; their tokens go to the token store beside the warehouse (mode 0600). "
            "Redirect URI to register in the platform's developer app: "
            f"{redirect_uri('facebook')} ({redirect_uri('x')} for X and Google, {redirect_uri('threads')} for "
            "Threads; --port changes the port). See docs/connect.md."
        ),
        epilog="platforms: " + ", ".join(sorted(FLOWS)) + " ('google' = ga4, google_business and youtube at once)",
    )
    p.add_argument("platform", metavar="PLATFORM", choices=sorted(FLOWS))
    p.add_argument("--no-browser", action="store_true", help="print the authorization URL instead of opening it")
    p.add_argument("--select", metavar="all|ID[,ID...]", help="the accounts to add without asking")
    from socialkpi.validation import number_arg, port_arg

    p.add_argument(
        "--port", type=port_arg, default=DEFAULT_PORT, help=f"loopback port of the redirect (default {DEFAULT_PORT})"
    )
    p.add_argument(
        "--timeout",
        type=number_arg("connect --timeout"),
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help="give up after S seconds (default 300, at most a day)",
    )
    p.add_argument("--competitor", metavar="HANDLE", help="add someone else's public account (a handle or URL)")
    p.add_argument("--instance", metavar="HOST", help="mastodon: the instance the account lives on")
    p.add_argument("--url", metavar="URL", help="plausible, matomo, umami: your self-hosted server")
    p.add_argument("--config", metavar="PATH")


def run(args: argparse.Namespace, *, terminal: Terminal | None = None, policy: Any = None) -> int:
    """``socialkpi connect``: 0 connected; 2 with one line on standard error when anything failed (nothing
    written)."""
    from collectors.errors import CollectorError
    from collectors.redaction import redact
    from collectors.tokens import TokenFileError
    from socialkpi.validation import ConfigError
    from warehouse.files import OutputError

    terminal = terminal or Terminal()
    try:
        return _run(args, terminal, policy)
    except (ConnectError, ConfigError, TokenFileError, OutputError) as exc:
        terminal.say(f"socialkpi: error: {redact(str(exc))}")
    except CollectorError as exc:  # a discovery call failed after the consent
        terminal.say(f"socialkpi: error: {redact(exc.message)}: nothing was written")
    return 2


def _run(args: argparse.Namespace, terminal: Terminal, policy: Any) -> int:
    from socialkpi.settings import load_settings
    from socialkpi.validation import ConfigError

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        if exc.key == "socialkpi.toml" and "no configuration" in str(exc):
            raise ConnectError("no socialkpi.toml here: run `socialkpi init` first (or pass --config PATH)") from None
        raise
    from collectors.tokens import TokenStore

    TokenStore.beside(settings.db_path).check()  # a link or a non-regular file there: refused before the consent
    if settings.config_path is not None:  # a file that could not be replaced is refused before the consent
        from warehouse.files import check_output

        check_output(settings.config_path, flag=None)
    module = flow_module(args.platform)
    session = Session(
        platform=args.platform,
        settings=settings,
        terminal=terminal,
        port=args.port,
        timeout=args.timeout,
        no_browser=args.no_browser,
        instance=args.instance,
        url=args.url,
        select=args.select,
        policy=policy,
    )
    if args.competitor:
        lookup = getattr(module, "competitor", None)
        if lookup is None:
            raise ConnectError(f"{args.platform}: competitors cannot be looked up on this platform")
        found = lookup(session, args.competitor)
        found.account = shown_account(_competitor(found.account))
        terminal.say(
            f"Found {found.account.platform} {found.account.id}: {found.account.name}"
            + (f" ({found.detail})" if found.detail else "")
        )
        added, kept = save(settings, [found])
    else:
        chosen = choose(module.connect(session), args.select, terminal, args.platform)
        verify = getattr(module, "verify", None)
        if verify is not None:
            chosen = verify(session, chosen)
        added, kept = save(settings, chosen)
    for account in added:
        terminal.say(f"added   {account.platform} {account.id} ({account.name})")
    for account in kept:
        terminal.say(f"renewed {account.platform} {account.id} ({account.name}): already in socialkpi.toml")
    terminal.say(
        f"{len(added)} account(s) added, {len(kept)} renewed in {settings.config_path}. Next: socialkpi collect"
    )
    return 0


def _competitor(account: Account) -> Account:
    from dataclasses import replace

    return account if account.competitor else replace(account, competitor=True)


__all__ = [
    "FLOWS", "Found", "shown_account", "Session", "ConnectError", "Authorization", "run", "add_parser", "redirect_uri",
    "Path",
]
