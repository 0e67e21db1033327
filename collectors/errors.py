"""The error tree of the HTTP layer, and the classification of a response.

Error classification
    Only the HTTP layer (:class:`collectors.http.Client` with this module) decides what a response means.
    Each platform may pass a *classifier*: a function ``(status, headers, body) -> Verdict | None`` that
    reads that platform's error JSON (Meta's ``error.code``, Google's ``error.status`` ...).  ``None``
    falls back to the HTTP status (:func:`default_classify`).  The registry names each platform's
    classifier and the runner sets it on the account's client (``Client.classify``) before the collector
    runs: a collector never sets it.

    CollectorError            base; ``kind``, ``platform``, ``status``, a sanitized ``url``
    ├── AuthError             token missing, expired or revoked: fix the credential
    ├── PermissionDenied      the token lacks a scope / role / App Review feature
    ├── RateLimited           throttled and retries exhausted (or the reset is too far away)
    ├── BadRequest            the request was refused as invalid (``code`` says why, e.g. a retired metric)
    ├── ServerError           5xx or network failures that outlived the retries
    └── PayloadError          the response is not the JSON shape the collector expects

    Every message is redacted (:func:`collectors.redaction.redact`) and every URL sanitized
    (:func:`collectors.redaction.sanitize_url`) as the error is made.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from collectors.redaction import redact, sanitize_url


class CollectorError(Exception):
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        platform: str = "",
        status: int | None = None,
        url: str = "",
        code: str = "",
        reset_at: datetime | None = None,
    ) -> None:
        self.message = redact(message)
        self.platform = platform
        self.status = status
        self.url = sanitize_url(url) if url else ""
        self.code = code
        self.reset_at = reset_at
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"

    def with_message(self, message: str) -> Self:
        """The same error (class, platform, status, url, code, reset_at) with another message.

        For a collector that adds advice to an error: ``raise exc.with_message(f"{exc.message}; ...")``.
        The new message is redacted like any other.
        """
        return type(self)(
            message,
            platform=self.platform,
            status=self.status,
            url=self.url,
            code=self.code,
            reset_at=self.reset_at,
        )


class AuthError(CollectorError):
    kind = "auth"


class PermissionDenied(CollectorError):
    kind = "permission"


class RateLimited(CollectorError):
    kind = "throttled"


class BadRequest(CollectorError):
    kind = "bad_request"


class ServerError(CollectorError):
    kind = "server"


class PayloadError(CollectorError):
    kind = "payload"


ERRORS: dict[str, type[CollectorError]] = {
    cls.kind: cls for cls in (AuthError, PermissionDenied, RateLimited, BadRequest, ServerError, PayloadError)
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a platform's classifier makes of a response.

    ``kind`` is ``ok`` or one of the error kinds above; ``retry_after`` is seconds to wait
    (throttling); ``code`` a short machine reason (``invalid_metric``, ``quota_exceeded`` ...).
    """

    kind: str
    message: str = ""
    retry_after: float | None = None
    code: str = ""


Classifier = Callable[[int, Mapping[str, str], Any], "Verdict | None"]


def default_classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict:
    """Classify by HTTP status alone."""
    if status < 400:
        return Verdict("ok")
    message = _body_message(body) or f"HTTP {status}"
    if status == 401:
        return Verdict("auth", message)
    if status == 403:
        return Verdict("permission", message)
    if status == 429:
        return Verdict("throttled", message, parse_retry_after(headers.get("Retry-After")))
    if status >= 500:
        return Verdict("server", message, parse_retry_after(headers.get("Retry-After")))
    return Verdict("bad_request", message)


def _body_message(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            return str(body.get("error_description") or body.get("message") or err)
        for key in ("message", "detail", "error_description", "title"):
            if isinstance(body.get(key), str):
                return str(body[key])
    if isinstance(body, str):
        return body
    return ""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def seconds_until_epoch(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds until a reset given as a Unix epoch.

    X's ``x-rate-limit-reset``, Bluesky's ``RateLimit-Reset``.
    """
    if not value:
        return None
    try:
        epoch = float(value)
    except ValueError:
        return None
    current = time.time() if now is None else now
    return max(0.0, epoch - current)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A response header, whatever its case (a classifier gets ``requests``' case-insensitive headers, a
    test a plain dict)."""
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None
