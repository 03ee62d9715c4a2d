"""Logging for the daemon and commands: one line per event, UTC time, `key=value` fields.

    2026-11-28T02:00:00Z INFO poll feed="BBC World" outcome=ok status=200 items=52 new=3

`event(name, **fields)` renders the message part; values with spaces or quotes are quoted, None
is left out. Secrets never get here: callers pass feed names, outcomes and already redacted errors.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(message)s"
QUIET = ("apscheduler", "httpx", "httpcore", "aiohttp", "asyncio", "alembic")


class UTCFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record is emitted (redirected or captured stderr)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def setup_logging(verbose: bool = False) -> None:
    """Configure the root logger: our one handler on stderr (replacing one set up earlier)."""
    handler = StderrHandler()
    handler.setFormatter(UTCFormatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, StderrHandler):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)


def quote(value: object) -> str:
    text = str(value).replace("\n", " ").replace("\r", " ")
    if text and not any(c in text for c in ' "=\t'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def event(name: str, **fields: object) -> str:
    """`poll feed="BBC World" outcome=ok`: the event name, then the fields that are not None."""
    parts = [name]
    parts.extend(f"{key}={quote(value)}" for key, value in fields.items() if value is not None)
    return " ".join(parts)
