"""What a command prints: a line on standard output, or ``socialkpi: error: ...`` on standard error.

A URL's ``user:password@`` is never printed, whatever the line (:func:`collectors.redaction.redact_userinfo`).
Shared by the command line (:mod:`socialkpi.cli`) and the collect it runs (:func:`socialkpi.runner.collect`).
"""

from __future__ import annotations

import sys


def err(message: str) -> None:
    from collectors.redaction import redact_userinfo

    sys.stderr.write(f"socialkpi: error: {redact_userinfo(message)}\n")


def out(text: str = "") -> None:
    from collectors.redaction import redact_userinfo  # a URL's user:password@ is never printed, whatever the line

    sys.stdout.write(redact_userinfo(text) + "\n")
