"""Generic webhook: a JSON body of a documented schema (docs/webhook.md), signed when a secret is set.

Headers: `Idempotency-Key` (stable per alert and notifier), `X-Monitor-Timestamp` (Unix seconds) and,
with a secret, `X-Monitor-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

from monitor.domain import Alert
from monitor.notify.base import DeliveryError, redact
from monitor.notify.http import post, status_error
from monitor.notify.render import MAX_EVIDENCE, MAX_PHRASES, MAX_SOURCES, MAX_TITLE, clip, safe_link

SCHEMA_VERSION = 1


def webhook_body(alert: Alert, *, test: bool = False) -> dict[str, Any]:
    """The documented payload (schema_version 1). Feed text is clipped; nothing is HTML-escaped."""
    return {
        "schema_version": SCHEMA_VERSION,
        "id": alert.uid,
        "test": test,
        "pair": alert.pair.as_list(),
        "direction": alert.direction.value,
        "reason": alert.reason.value,
        "level": alert.level.label,
        "previous_level": alert.previous_level.label,
        "tension": round(alert.tension, 4),
        "previous_tension": round(alert.previous_tension, 4),
        "at": alert.at.isoformat(),
        "evidence": [
            {
                "id": e.id,
                "title": clip(e.title, MAX_TITLE),
                "sources": [clip(s, 80) for s in e.sources[:MAX_SOURCES]],
                "published": e.published.isoformat(),
                "link": safe_link(e.link),
                "score": round(e.score, 3),
                "confidence": round(e.confidence, 3),
                "phrases": [clip(p, 80) for p in e.phrases[:MAX_PHRASES]],
            }
            for e in alert.evidence[:MAX_EVIDENCE]
        ],
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """'sha256=<hex>' over b"<timestamp>." + body."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookNotifier:
    kind = "webhook"

    def __init__(self, *, name: str, url: str, secret: str | None = None, timeout: float = 10.0) -> None:
        self._name = name
        self._url = url
        self._secret = secret
        self.timeout = timeout

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.describe()})"

    def describe(self) -> str:
        parts = urlsplit(self._url)
        signed = "signed" if self._secret else "unsigned"
        return f"webhook to {parts.scheme}://{parts.hostname or '?'} (path hidden, {signed})"

    async def send(self, alert: Alert, *, test: bool = False) -> None:
        body = json.dumps(webhook_body(alert, test=test), ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {"Idempotency-Key": f"{alert.uid}.{self.name}", "X-Monitor-Timestamp": timestamp}
        if self._secret:
            headers["X-Monitor-Signature"] = sign(self._secret, timestamp, body)
        try:
            reply = await post(self._url, body, headers, self.timeout)
        except DeliveryError as exc:
            raise self._redacted(exc) from None
        if 200 <= reply.status < 300:
            return
        raise self._redacted(status_error(reply))

    def _redacted(self, exc: DeliveryError) -> DeliveryError:
        return DeliveryError(
            redact(f"{self.name}: {exc.message}", [self._url, self._secret]),
            permanent=exc.permanent,
            retry_after=exc.retry_after,
        )
