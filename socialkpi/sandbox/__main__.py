"""``python -m socialkpi.sandbox [--port N]``: the sandbox on its own, to try ``socialkpi connect`` offline.

It prints the variables that point every platform at it (with the sandbox app's client id and secret), for
a shell to ``eval`` or for a ``.env`` of a trial folder; then ``socialkpi connect PLATFORM`` shows the
sandbox's consent page, where Allow and Deny answer as the platform would.  Ctrl+C stops it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from collectors import PLATFORMS
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.oauth import CLIENT_ID, CLIENT_SECRET
from socialkpi.sandbox.world import TOKEN

GOOGLE = ("ga4", "google_business", "youtube")
KEY_PLATFORMS = ("plausible", "matomo", "umami")  # socialkpi connect reads SOCIALKPI_<P>_TOKEN, no OAuth app


def environment(url: str, google_client: Path | None = None) -> dict[str, str]:
    """The variables that send every platform, its consent page and its token endpoint to the sandbox at ``url``."""
    env: dict[str, str] = {}
    for platform in sorted(PLATFORMS):
        prefix = f"SOCIALKPI_{platform.upper()}_"
        env[prefix + "BASE_URL"] = url
        if platform in KEY_PLATFORMS:  # no app: the key the owner makes (Umami would read a client id as a login)
            env[prefix + "TOKEN"] = TOKEN
            continue
        env[prefix + "CLIENT_ID"] = CLIENT_ID
        env[prefix + "CLIENT_SECRET"] = CLIENT_SECRET
    if google_client is not None:
        env["SOCIALKPI_GOOGLE_CLIENT_SECRETS"] = str(google_client)
    return env


def google_client_file(url: str, folder: Path) -> Path:
    """A Desktop OAuth client JSON as Google's console downloads it, its endpoints on the sandbox."""
    path = folder / "sandbox-google-client.json"
    installed = {
        "client_id": CLIENT_ID,
        "project_id": "socialkpi-sandbox",
        "auth_uri": f"{url}/o/oauth2/auth",
        "token_uri": f"{url}/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_secret": CLIENT_SECRET,
        "redirect_uris": ["http://localhost"],
    }
    path.write_text(json.dumps({"installed": installed}, indent=2), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m socialkpi.sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    sandbox = Sandbox().start(args.port)
    try:
        folder = Path(tempfile.mkdtemp(prefix="socialkpi-sandbox-"))
        env = environment(sandbox.url, google_client_file(sandbox.url, folder))
        sys.stdout.write(f"# socialkpi sandbox on {sandbox.url} (Ctrl+C stops it); in another shell:\n")
        for key, value in env.items():
            sys.stdout.write(f"export {key}={value}\n")
        sys.stdout.flush()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        sandbox.stop()


if __name__ == "__main__":
    sys.exit(main())
