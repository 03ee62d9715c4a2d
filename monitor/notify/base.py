"""The notifier seam: what every notifier implements, and the one error it may raise.

A notifier turns an Alert into one message to one destination. It either returns (delivered) or raises
DeliveryError, which says whether trying again later can help (`permanent=False`: timeouts, refused
connections, SMTP 4xx, HTTP 5xx and 429) or not (`permanent=True`: authentication refused, invalid
recipient, a webhook answering 404). Error messages are one line and never carry a secret or a webhook
URL: notifiers pass what they hold to `redact` before raising.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from monitor.domain import Alert

REDACTED = "<redacted>"
MAX_ERROR_CHARS = 500


class DeliveryError(Exception):
    """A message was not delivered. `retry_after` (seconds) is the receiver's own hint, if it gave one."""

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


@runtime_checkable
class Notifier(Protocol):
    """One configured destination. `describe()` is safe to print (no secrets, no webhook URL)."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def timeout(self) -> float:
        """Seconds one network operation may take; the delivery worker's claim lease derives from it."""
        ...

    def describe(self) -> str: ...

    async def send(self, alert: Alert, *, test: bool = False) -> None:
        """Deliver one alert; raise DeliveryError on failure. `test` marks a sample alert as such."""
        ...


def one_line(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """Collapse whitespace (newlines included) and cap the length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each secret (longest first) by <redacted>; then make it one line.

    A URL secret is also redacted without its scheme and with its query string, since libraries quote
    URLs in several forms ("hooks.slack.com/services/T/B/X", "https://...?a=b").
    """
    needles: set[str] = set()
    for secret in secrets:
        if not secret or len(secret) < 4:
            continue
        needles.add(secret)
        without_scheme = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", secret)
        if without_scheme != secret and len(without_scheme) >= 4:
            needles.add(without_scheme)
        path = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*", "", secret)
        if len(path) >= 8:  # a Slack hook's path is its token
            needles.add(path)
    for needle in sorted(needles, key=len, reverse=True):
        text = text.replace(needle, REDACTED)
    return one_line(text)


def describe_exception(exc: BaseException) -> str:
    """'ConnectError: [Errno 111] Connection refused', or the class name when the message is empty."""
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
