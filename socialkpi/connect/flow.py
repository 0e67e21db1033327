"""What every ``socialkpi connect`` flow shares: the person at the terminal, the OAuth 2.0 authorization
code flow on a loopback redirect, the code exchange, and the one error that ends a connect (exit 2).

The authorization code flow (RFC 6749 §4.1, https://datatracker.ietf.org/doc/html/rfc6749#section-4.1) as
native apps run it (RFC 8252, https://datatracker.ietf.org/doc/html/rfc8252):

1. a ``state`` of 256 random bits and, where the platform accepts it, a PKCE verifier and its S256
   challenge (RFC 7636, https://datatracker.ietf.org/doc/html/rfc7636#section-4.2: "code_challenge =
   BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))");
2. a one-request HTTP server on ``127.0.0.1:<port>`` only (RFC 8252 §8.3: "loopback redirect URIs
   [...] listen on the loopback network interface"), started before the consent page is shown;
3. the consent page opened in the browser, or with ``--no-browser`` its URL printed alone on one line
   (standard output; everything else goes to standard error), then a wait for the redirect to
   ``/callback``, or for the address the person landed on pasted on standard input (a server the
   browser cannot reach), until ``--timeout``;
4. ``state`` checked (constant-time), ``error=`` turned into one line naming the cause; then the
   platform module exchanges the code (:func:`exchange_code` for the RFC 6749 §4.1.3 form).

Nothing is written before the platform module returns its accounts: a refused consent, a state
mismatch, a used code or a wrong client secret leaves the token store and socialkpi.toml as they were.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import html
import os
import queue
import secrets
import select
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

DEFAULT_PORT = 8765
DEFAULT_TIMEOUT = 300.0
CALLBACK_PATH = "/callback"

# What platforms put in ``error=`` when the person presses Deny / Cancel (RFC 6749 §4.1.2.1: access_denied;
# LinkedIn: user_cancelled_authorize and user_cancelled_login; Facebook adds error_reason=user_denied).
DENIED = frozenset({"access_denied", "user_cancelled_authorize", "user_cancelled_login", "user_denied"})


class ConnectError(Exception):
    """A connect that cannot go on: one line naming the cause and the fix; exit 2, nothing written."""


# -- the person at the terminal ---------------------------------------------------------------------


@dataclass
class Terminal:
    """Standard input and output of ``socialkpi connect``, and how a URL is opened in a browser.

    ``show_url`` prints the URL alone on one line on standard output (scripts read it there); every
    other message goes to standard error.  Questions are read from standard input, also when it is a pipe
    (a script answering); at its end (or with no terminal and no answer) a question is a ConnectError.
    """

    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    open_browser: Callable[[str], Any] = webbrowser.open

    @property
    def interactive(self) -> bool:
        try:
            return bool(self.stdin.isatty())
        except (AttributeError, ValueError):
            return False

    def say(self, text: str = "") -> None:
        """One line on standard error, its control characters escaped (``\\x1b``, ``\\r``, ``\\n``) and a URL's
        user:password@ masked: a flow's message may quote what a platform answered (a name, an error)."""
        from collectors.redaction import escape_controls, redact_userinfo

        self.stderr.write(redact_userinfo(escape_controls(text)) + "\n")
        self.stderr.flush()

    def show_url(self, url: str) -> None:
        self.stdout.write(url + "\n")
        self.stdout.flush()

    def ask(self, prompt: str, *, secret: bool = False, why: str = "") -> str:
        """One answer from standard input (hidden on a terminal when ``secret``)."""
        if secret and self.interactive:
            import getpass

            try:
                return getpass.getpass(prompt, stream=self.stderr).strip()
            except EOFError:
                raise ConnectError(f"no answer to {prompt.strip().rstrip(':')!r}{why}") from None
        self.stderr.write(prompt)
        self.stderr.flush()
        line = self.stdin.readline()
        if not line:
            raise ConnectError(f"no answer to {prompt.strip().rstrip(':')!r} (standard input ended){why}")
        return line.strip()


# -- PKCE and state ---------------------------------------------------------------------------------


def new_state() -> str:
    return secrets.token_urlsafe(32)


def pkce_pair(method: str = "S256") -> tuple[str, str]:
    """``(code_verifier, code_challenge)``: a 86-character verifier of unreserved characters (RFC 7636
    §4.1: 43 to 128) and its challenge: ``S256`` as RFC 7636 §4.2, ``S256-hex`` the hex SHA-256 digest
    that TikTok's Login Kit for Desktop asks for, ``plain`` the verifier itself."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    if method == "S256":
        return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    if method == "S256-hex":
        return verifier, digest.hex()
    if method == "plain":
        return verifier, verifier
    raise ValueError(f"unknown PKCE method {method!r}")


# -- the authorization request ----------------------------------------------------------------------


@dataclass(frozen=True)
class Authorization:
    """One platform's consent page: where it is and what it is asked."""

    platform: str
    label: str  # the platform's name as the person knows it: "Facebook", "LinkedIn"
    url: str  # the authorization endpoint (the consent page)
    client_id: str
    scopes: Sequence[str] = ()
    scope_separator: str = " "
    pkce: str | None = "S256"  # None (the platform takes no PKCE) | "S256" | "S256-hex" | "plain"
    redirect_host: str = "localhost"  # X and Google: "127.0.0.1"
    client_id_param: str = "client_id"  # TikTok: "client_key"
    extra: Mapping[str, str] = field(default_factory=dict)  # response_type is "code" unless given here

    def redirect_uri(self, port: int) -> str:
        return f"http://{self.redirect_host}:{port}{CALLBACK_PATH}"


@dataclass(frozen=True)
class Grant:
    """What the redirect brought back, checked: the code and what its exchange must repeat."""

    code: str
    redirect_uri: str
    code_verifier: str | None
    params: Mapping[str, str]  # everything the redirect carried (some platforms add facts: Meta none, WP blog_id)


def authorization_url(auth: Authorization, *, redirect_uri: str, state: str, challenge: str | None) -> str:
    query: dict[str, str] = {
        "response_type": "code",
        auth.client_id_param: auth.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if auth.scopes:
        query["scope"] = auth.scope_separator.join(auth.scopes)
    if challenge is not None:
        query["code_challenge"] = challenge
        query["code_challenge_method"] = "plain" if auth.pkce == "plain" else "S256"
    query.update(auth.extra)
    sep = "&" if urlsplit(auth.url).query else "?"
    return auth.url + sep + urlencode(query)


def authorize(auth: Authorization, terminal: Terminal, *, port: int, timeout: float, no_browser: bool) -> Grant:
    """Show ``auth``'s consent page and wait for its answer; the checked :class:`Grant`."""
    state = new_state()
    verifier, challenge = pkce_pair(auth.pkce) if auth.pkce else (None, None)
    with Receiver(port) as receiver:
        redirect_uri = auth.redirect_uri(receiver.port)
        url = authorization_url(auth, redirect_uri=redirect_uri, state=state, challenge=challenge)
        show_consent(terminal, url, label=auth.label, redirect_uri=redirect_uri, no_browser=no_browser)
        params = receiver.wait(terminal, timeout=timeout, label=auth.label)
    return check_redirect(params, auth=auth, state=state, redirect_uri=redirect_uri, code_verifier=verifier)


def show_consent(terminal: Terminal, url: str, *, label: str, redirect_uri: str, no_browser: bool) -> None:
    """The consent page's address: alone on a line of standard output, and opened in the browser unless
    ``no_browser``; what to do meanwhile on standard error."""
    if no_browser:
        terminal.say(f"Open this address in a browser (on any machine), sign in to {label} and press Allow:")
        terminal.show_url(url)
        terminal.say(
            f"Waiting for the redirect to {redirect_uri}; if the browser cannot reach this machine, paste the "
            "address it lands on here and press Enter."
        )
        return
    terminal.say(f"Opening {label}'s consent page in your browser; if it does not open, use this address:")
    terminal.show_url(url)
    with contextlib.suppress(Exception):  # no browser at all: the address above still works
        terminal.open_browser(url)
    terminal.say("Waiting for your answer in the browser (or paste the address it lands on here).")


def check_redirect(
    params: Mapping[str, str], *, auth: Authorization, state: str, redirect_uri: str, code_verifier: str | None
) -> Grant:
    """The :class:`Grant` of a redirect's parameters, or the ConnectError that names what is wrong.

    ``state`` is checked first, also on an error answer: an answer to another authorization (an old tab)
    or a forged one is never taken for this one's.
    """
    got = params.get("state", "")
    if not hmac.compare_digest(got.encode(), state.encode()):
        raise ConnectError(
            f"{auth.platform}: the answer's state does not match this authorization (an address from an older "
            f"attempt, or not from {auth.label}): nothing was written; run `socialkpi connect {auth.platform}` again"
        )
    error = params.get("error")
    if error:
        said = params.get("error_description") or params.get("error_reason") or ""
        said = f": {said[:200]}" if said else ""
        if error in DENIED or params.get("error_reason") == "user_denied":
            raise ConnectError(
                f"{auth.platform}: the consent was refused on {auth.label} ({error}{said}): nothing was written; "
                f"run `socialkpi connect {auth.platform}` again and press Allow"
            )
        raise ConnectError(
            f"{auth.platform}: {auth.label} refused the authorization ({error}{said}): nothing was written; "
            "check the app's redirect URI and permissions (docs/connect.md)"
        )
    code = params.get("code", "")
    if not code:
        raise ConnectError(
            f"{auth.platform}: the address has no code= (paste the whole address the browser landed on): "
            "nothing was written"
        )
    from collectors.redaction import register_secret

    register_secret(code)
    return Grant(code=code, redirect_uri=redirect_uri, code_verifier=code_verifier, params=dict(params))


def redirect_params(text: str) -> dict[str, str] | None:
    """The query of a pasted redirect address (a whole URL, or only its ``?...`` part); None when the text
    carries neither ``code=`` nor ``error=``.  A fragment is dropped (Threads appends ``#_``)."""
    text = text.strip().strip("'\"<>")
    if not text:
        return None
    parts = urlsplit(text)
    query = parts.query if parts.scheme or parts.netloc or parts.path.startswith("/") else text.lstrip("?")
    query = query.split("#", 1)[0]
    params = dict(parse_qsl(query, keep_blank_values=True))
    if "code" in params or "error" in params:
        return {k: v.removesuffix("#_") for k, v in params.items()}
    return None


# -- the loopback receiver --------------------------------------------------------------------------

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>socialkpi</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:4em auto"><h1>{title}</h1><p>{text}</p></body></html>"""


class Receiver:
    """``http://127.0.0.1:<port>/callback``: takes the first redirect that carries ``code=`` or ``error=``."""

    def __init__(self, port: int) -> None:
        self._answers: queue.Queue[dict[str, str]] = queue.Queue()
        answers = self._answers

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = redirect_params("?" + parts.query) if parts.path == CALLBACK_PATH else None
                if params is None:
                    self._page(404, "Not here", "socialkpi waits for the platform's redirect on /callback.")
                    return
                answers.put(params)
                if params.get("error"):
                    self._page(200, "Not connected", "The platform said no. Go back to the terminal to see why.")
                else:
                    self._page(
                        200,
                        "Connected",
                        "socialkpi received the answer: you can close this tab and go back to the terminal.",
                    )

            def _page(self, status: int, title: str, text: str) -> None:
                body = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the query holds the code)
                return

        try:
            self._server = HTTPServer(("127.0.0.1", port), Handler)
        except OSError as exc:
            raise ConnectError(
                f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}): close what uses it or pass --port N "
                "(and register http://localhost:N/callback as the app's redirect URI)"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="connect-callback", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, terminal: Terminal, *, timeout: float, label: str) -> dict[str, str]:
        """The redirect's parameters, from the browser or pasted on standard input, within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        stdin_open = True
        fileno = _fileno(terminal.stdin)
        while True:
            try:
                return self._answers.get(timeout=0.05)
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectError(
                    f"no answer from {label} within {timeout:g} s: nothing was written; run the command again "
                    "(--timeout S gives more time; on a machine without a browser, use --no-browser and paste the "
                    "address the browser lands on)"
                )
            if not stdin_open:
                continue
            if fileno is not None:
                ready, _, _ = select.select([fileno], [], [], min(0.2, left))
                if not ready:
                    continue
            line = terminal.stdin.readline()
            if not line:
                stdin_open = False  # the input ended: only the browser can answer now
                continue
            params = redirect_params(line)
            if params is not None:
                return params
            if line.strip():
                terminal.say(
                    "That is not the address the browser landed on (it has no code=); paste the whole address."
                )


def _fileno(stream: IO[str]) -> int | None:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    if os.name != "posix":
        return None
    if hasattr(stream, "buffer") and getattr(stream.buffer, "peek", None) is not None:
        # peek() on an empty buffer reads the file: on a terminal or an open pipe that blocks until a line
        # comes (the browser's answer would wait for Enter), so the descriptor is non-blocking meanwhile
        with contextlib.suppress(Exception):
            blocking = os.get_blocking(fd)
            os.set_blocking(fd, False)
            try:
                if stream.buffer.peek(0):  # type: ignore[attr-defined]
                    return None  # lines already read ahead into the buffer: read them without select
            finally:
                os.set_blocking(fd, blocking)
    return fd


# -- the code exchange ------------------------------------------------------------------------------


def oauth_classify(status: int, headers: Mapping[str, str], body: Any) -> Any:
    """An RFC 6749 §5.2 error answer (``{"error": "invalid_grant", "error_description": ...}``) as a Verdict
    whose ``code`` is the ``error``; None for anything else (the HTTP status decides)."""
    from collectors.errors import Verdict

    if status < 400 or not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return None
    error = str(body["error"])
    said = str(body.get("error_description") or body.get("message") or error)
    kind = "auth" if error in {"invalid_client", "unauthorized_client"} or status == 401 else "bad_request"
    if status == 429 or error == "temporarily_unavailable":
        kind = "throttled"
    elif status >= 500 or error == "server_error":
        kind = "server"
    return Verdict(kind, f"{error}: {said}", code=error)


def exchange_failed(exc: Exception, *, platform: str, secret_env: str, client_id_env: str) -> ConnectError:
    """A refused code exchange, as the one line that names the cause and the fix."""
    from collectors.errors import AuthError, CollectorError

    said = exc.message if isinstance(exc, CollectorError) else str(exc)
    said = said.removeprefix(f"{platform}: ")
    code = exc.code if isinstance(exc, CollectorError) else ""
    if code in {"invalid_client", "unauthorized_client"} or isinstance(exc, AuthError):
        return ConnectError(
            f"{platform}: the app's client id or secret was refused ({said}): check {client_id_env} and "
            f"{secret_env} (docs/connect.md says where they are); nothing was written"
        )
    if code == "invalid_grant" or (code == "invalid_request" and "code" in said.lower()):
        return ConnectError(
            f"{platform}: the authorization code was refused ({said}): it was already used or has expired, or the "
            f"redirect URI differs from the app's; run `socialkpi connect {platform}` again; nothing was written"
        )
    return ConnectError(f"{platform}: the token exchange failed ({said}); nothing was written")


def exchange_code(
    client: Any,
    token_url: str,
    form: Mapping[str, str],
    *,
    platform: str,
    secret_env: str,
    client_id_env: str,
    basic: tuple[str, str] | None = None,
    method: str = "POST",
) -> dict[str, Any]:
    """Exchange an authorization code (RFC 6749 §4.1.3) at ``token_url``; the token answer as a dict.

    ``basic`` sends ``client_id:client_secret`` as HTTP Basic (X, Pinterest) instead of in the form;
    ``method="GET"`` sends the form as the query (Meta's ``/oauth/access_token``).  Not retried: a code
    is good once.  Every secret in the answer is registered with the redactor before anything else.
    """
    from collectors.errors import CollectorError
    from collectors.redaction import register_secret

    headers: dict[str, str] = {}
    if basic is not None:
        pair = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
        register_secret(pair)
        headers["Authorization"] = f"Basic {pair}"
    for name in ("client_secret", "code", "code_verifier"):
        register_secret(form.get(name))
    saved = client.classify
    client.classify = oauth_classify if saved is None else saved
    try:
        if method == "GET":
            body = client.request_json("GET", token_url, params=dict(form), headers=headers, retry=False)
        else:
            body = client.post_json(token_url, data=dict(form), headers=headers, retry=False)
    except CollectorError as exc:
        raise exchange_failed(exc, platform=platform, secret_env=secret_env, client_id_env=client_id_env) from None
    finally:
        client.classify = saved
    register_answer(body)
    if not isinstance(body, dict):
        raise ConnectError(f"{platform}: the token endpoint answered without a token; nothing was written")
    return body


def register_answer(body: Any) -> None:
    """Register every token of a token answer (also one wrapped in ``data``, as TikTok's) with the redactor."""
    from collectors.redaction import register_secret

    if isinstance(body, dict):
        for key, value in body.items():
            if isinstance(value, str) and ("token" in key or "secret" in key):
                register_secret(value)
            elif isinstance(value, dict):
                register_answer(value)


def expires_at(body: Mapping[str, Any], name: str = "expires_in", *, now: float | None = None) -> float | None:
    """Unix time from a token answer's ``expires_in`` (seconds; a number, or digits in a string)."""
    value = body.get(name)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return (time.time() if now is None else now) + float(value)
    return None
