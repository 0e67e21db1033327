"""The test plays the person in the browser: open the consent page, press Allow or Deny, follow the redirect.

:func:`press` reads the sandbox's consent page as a browser would (the form's action, its hidden fields, the
pressed button's name and value), posts it, and follows the ``302`` to the redirect URI: the loopback
callback of a waiting ``socialkpi connect``.  :func:`connect` runs ``socialkpi connect`` in this process with a
:class:`~socialkpi.connect.flow.Terminal` whose browser is such a player, and returns its exit status and output.

The connect tests share their folder too: :func:`new_shop` makes a new owner's folder (``socialkpi init``, no
``.env``, only the given variables), :func:`store_of` is its token store, :func:`free_port` a loopback port.
"""

from __future__ import annotations

import io
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from collectors.tokens import TokenStore
from socialkpi.cli import main


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def store_of(folder: Path) -> TokenStore:
    return TokenStore.beside(folder / "data" / "socialkpi.duckdb")


def new_shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> Path:
    """A new owner's folder at ``tmp_path`` (the current directory): no SOCIALKPI_ variable, `socialkpi init`
    (Corner Bakery, Europe/Paris), no .env; then ``env`` set (until the test ends)."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SOCIALKPI_"):
            monkeypatch.delenv(name)
    assert main(["init", "--yes", "--name", "Corner Bakery", "--timezone", "Europe/Paris"]) == 0
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return tmp_path


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, tuple[str, str]] = {}  # label -> (name, value)
        self._button: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type", "text") == "hidden" and "name" in a:
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "button":
            self._button = (a.get("name", ""), a.get("value", ""))

    def handle_data(self, data: str) -> None:
        if self._button is not None and data.strip():
            self.buttons[data.strip()] = self._button

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._button = None


@dataclass
class Pressed:
    page: str  # the consent page's HTML
    location: str  # where the platform redirected
    callback: requests.Response | None  # the loopback callback's answer (None when not followed)


def press(
    url: str, button: str = "Allow", *, follow: bool = True, tamper: Callable[[str], str] | None = None
) -> Pressed:
    """Open ``url``, press ``button`` on its consent page, follow the redirect (changed by ``tamper``)."""
    with requests.Session() as web:
        page = web.get(url, timeout=10)
        assert page.status_code == 200, f"consent page answered {page.status_code}: {page.text[:300]}"
        form = _Form()
        form.feed(page.text)
        assert form.action is not None, f"no form on the consent page: {page.text[:300]}"
        assert button in form.buttons, f"no {button!r} button on the consent page (has {sorted(form.buttons)})"
        name, value = form.buttons[button]
        answer = web.post(
            urljoin(page.url, form.action), data={**form.fields, name: value}, allow_redirects=False, timeout=10
        )
        assert answer.status_code in (301, 302, 303), (
            f"the consent form answered {answer.status_code}: {answer.text[:300]}"
        )
        location = answer.headers["Location"]
        if tamper is not None:
            location = tamper(location)
        callback = web.get(location, timeout=10) if follow else None
        return Pressed(page.text, location, callback)


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    pressed: list[Pressed] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The authorization URL the command printed alone on its line."""
        lines = [line for line in self.stdout.splitlines() if line.startswith("http")]
        assert lines, f"no URL printed: {self.stdout!r} / {self.stderr!r}"
        return lines[0]


def connect(
    argv: Sequence[str],
    *,
    button: str | None = "Allow",
    stdin_text: str = "",
    policy: Any = None,
    tamper: Callable[[str], str] | None = None,
    paste: bool = False,
    on_url: Callable[[str], None] | None = None,
) -> Run:
    """``socialkpi connect ARGV`` in this process; the browser presses ``button`` (None: nobody answers).

    The browser is handed the URL the command opens, or with ``--no-browser`` the one it prints.  With
    ``paste`` the redirect is not followed: the address is pasted on standard input instead (a browser on
    another machine).  Standard input is a real pipe; ``stdin_text`` follows the paste, then it is closed.
    """
    from socialkpi.cli import build_parser
    from socialkpi.connect import run
    from socialkpi.connect.flow import Terminal

    args = build_parser().parse_args(["connect", *argv])
    read_fd, write_fd = os.pipe()
    stdin = os.fdopen(read_fd, "r")
    writer = os.fdopen(write_fd, "w")
    out, err = io.StringIO(), io.StringIO()
    pressed: list[Pressed] = []
    threads: list[threading.Thread] = []
    failures: list[BaseException] = []

    def finish_input() -> None:
        if stdin_text:
            writer.write(stdin_text)
        writer.close()

    def browser(url: str) -> None:
        def play() -> None:
            try:
                if on_url is not None:
                    on_url(url)
                if button is not None:
                    done = press(url, button, tamper=tamper, follow=not paste)
                    pressed.append(done)
                    if paste:
                        writer.write(done.location + "\n")
                        writer.flush()
            except BaseException as exc:  # reported after the command ends
                failures.append(exc)
            finally:
                finish_input()

        thread = threading.Thread(target=play, daemon=True)
        threads.append(thread)
        thread.start()

    class Player(Terminal):
        def show_url(self, url: str) -> None:
            super().show_url(url)
            if args.no_browser and not threads:
                browser(url)

    terminal = Player(stdin=stdin, stdout=out, stderr=err, open_browser=browser)
    try:
        code = run(args, terminal=terminal, policy=policy)
    finally:
        for thread in threads:
            thread.join(10)
        if not threads:
            finish_input()
        stdin.close()
    if failures:
        raise failures[0]
    return Run(code, out.getvalue(), err.getvalue(), pressed)
