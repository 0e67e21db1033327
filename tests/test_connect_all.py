"""Issue 10's "done when", as a script would run it: a new folder, ``socialkpi init --yes``, then
``socialkpi connect <platform> --no-browser --select all`` for each of the 16 platforms against the sandbox
(the person opens the printed address, presses Allow, and pastes the address the browser lands on), then
``socialkpi collect`` with no ``.env`` and no credential in the environment exits 0 for every account.

Every command is a real process; the only variables left for ``collect`` are the ``BASE_URL`` ones that send
each platform's API to the sandbox (an address, not a credential).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

from collectors import PLATFORMS
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.__main__ import environment, google_client_file
from tests.consent import free_port, press

# platform -> the extra flags its connect needs (docs/connect.md)
FLAGS: dict[str, list[str]] = {"mastodon": ["--instance", "mastodon.social"]}
ANSWERS: dict[str, str] = {"bluesky": "cornerbakery.bsky.social\n"}  # Bluesky has no list: the handle is asked


def run(argv: list[str], cwd: Path, env: dict[str, str], answer: str = "") -> subprocess.CompletedProcess[str]:
    """One ``socialkpi`` process; an authorization URL it prints is opened, Allow pressed, the landing
    address pasted on its standard input."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "socialkpi.cli", *argv],
        cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out: list[str] = []
    errors: list[BaseException] = []

    def browser() -> None:
        assert proc.stdout is not None and proc.stdin is not None
        for line in proc.stdout:
            out.append(line)
            if line.startswith("http"):
                try:
                    landed = press(line.strip(), "Allow", follow=False)
                    proc.stdin.write(landed.location + "\n")
                    proc.stdin.flush()
                except BaseException as exc:  # reported below
                    errors.append(exc)
                finally:
                    proc.stdin.close()

    reader = threading.Thread(target=browser, daemon=True)
    reader.start()
    if answer:
        proc.stdin.write(answer)
        proc.stdin.flush()
    err = proc.stderr.read()
    proc.wait(timeout=120)
    reader.join(10)
    if errors:
        raise errors[0]
    return subprocess.CompletedProcess(argv, proc.returncode, "".join(out), err)


def test_init_then_connect_every_platform_then_collect_with_no_env(tmp_path: Path, sandbox: Sandbox) -> None:
    shop = tmp_path / "shop"
    shop.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    done = run(["init", "--yes", "--name", "Corner Bakery", "--timezone", "Europe/Paris"], shop, base)
    assert done.returncode == 0, done.stderr

    app = {**base, **environment(sandbox.url, google_client_file(sandbox.url, tmp_path))}
    connected: dict[str, str] = {}
    for platform in sorted(PLATFORMS):
        argv = ["connect", platform, "--no-browser", "--select", "all", "--port", str(free_port())]
        done = run(argv + FLAGS.get(platform, []), shop, app, ANSWERS.get(platform, ""))
        assert done.returncode == 0, f"connect {platform}: {done.stderr}"
        connected[platform] = done.stderr

    config = tomllib.loads((shop / "socialkpi.toml").read_text(encoding="utf-8"))
    accounts = config["accounts"]
    assert {a["platform"] for a in accounts} == set(PLATFORMS)  # all 16
    assert len({(a["platform"], a["id"]) for a in accounts}) == len(accounts)  # no duplicate
    store = shop / "data" / "socialkpi.duckdb.tokens.json"
    assert store.stat().st_mode & 0o777 == 0o600
    text = (shop / "socialkpi.toml").read_text(encoding="utf-8")
    kept = json.loads(store.read_text(encoding="utf-8"))
    secrets = {e[k] for e in kept.values() for k in ("access_token", "refresh_token", "client_secret") if e.get(k)}
    assert len(secrets) >= 10 and not any(secret in text for secret in secrets)

    assert not (shop / ".env").exists()
    only_addresses = {**base, **{k: v for k, v in app.items() if k.endswith("_BASE_URL")}}
    done = run(["collect"], shop, only_addresses)
    assert done.returncode == 0, done.stderr
    assert f"{len(accounts)} account(s) ok, 0 failed" in done.stdout, done.stdout
    status = run(["status"], shop, only_addresses)
    assert status.returncode == 0 and "MISSING" not in status.stdout
    for a in accounts:
        if a["platform"] not in ("bluesky",):
            assert any(
                a["id"] in line and "token store (socialkpi connect)" in line for line in status.stdout.splitlines()
            ), f"{a['platform']}/{a['id']} is not read from the token store:\n{status.stdout}"
