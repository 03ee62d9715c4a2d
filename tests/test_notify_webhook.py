"""Webhook notifier against a real HTTP receiver: schema, headers, the HMAC signature, failures."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from monitor.notify.base import DeliveryError
from monitor.notify.sample import sample_alert
from monitor.notify.webhook import WebhookNotifier
from tests.support.receivers import HttpReceiver, Reply

NOW = datetime(2026, 5, 7, 21, 30, tzinfo=UTC)
SECRET = "whsec-test-0123456789"


def notifier(receiver: HttpReceiver, secret: str | None = SECRET) -> WebhookNotifier:
    return WebhookNotifier(
        name="ops-hook", url=receiver.url + "/hook?token=abc123", secret=secret, timeout=5.0
    )


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does, as documented in docs/webhook.md."""
    expected = (
        "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    )
    return hmac.compare_digest(expected, header)


async def test_it_posts_the_documented_schema(http_receiver: HttpReceiver) -> None:
    await notifier(http_receiver).send(sample_alert(NOW, uid="u1"))
    [request] = http_receiver.received()
    body = request.json()
    assert body["schema_version"] == 1 and body["id"] == "u1" and body["test"] is False
    assert body["pair"] == ["IR", "PK"]
    assert body["direction"] == "escalation" and body["reason"] == "escalated"
    assert body["level"] == "high" and body["previous_level"] == "elevated"
    assert body["tension"] == 6.4 and body["previous_tension"] == 3.1
    assert body["at"] == "2026-05-07T21:30:00+00:00"
    [evidence] = body["evidence"]
    assert set(evidence) == {"id", "title", "sources", "published", "link", "score", "confidence", "phrases"}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == "u1.ops-hook"


async def test_the_receiver_verifies_the_signature(http_receiver: HttpReceiver) -> None:
    await notifier(http_receiver).send(sample_alert(NOW))
    [request] = http_receiver.received()
    timestamp = request.headers["x-monitor-timestamp"]
    signature = request.headers["x-monitor-signature"]
    assert verify(SECRET, timestamp, request.body, signature)
    assert not verify("wrong-secret", timestamp, request.body, signature)
    assert not verify(SECRET, timestamp, request.body + b" ", signature)


async def test_no_signature_without_secret(http_receiver: HttpReceiver) -> None:
    await notifier(http_receiver, secret=None).send(sample_alert(NOW))
    headers = http_receiver.received()[0].headers
    assert "x-monitor-signature" not in headers and "x-monitor-timestamp" in headers


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
async def test_it_gives_up_at_once_on_client_errors(http_receiver: HttpReceiver, status: int) -> None:
    http_receiver.reply_with(status)
    with pytest.raises(DeliveryError) as caught:
        await notifier(http_receiver).send(sample_alert(NOW))
    assert caught.value.permanent and f"HTTP {status}" in str(caught.value)
    assert "abc123" not in str(caught.value) and "/hook" not in str(caught.value)


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
async def test_it_retries_server_errors(http_receiver: HttpReceiver, status: int) -> None:
    http_receiver.reply_with(Reply(status=status, headers={"Retry-After": "7"}))
    with pytest.raises(DeliveryError) as caught:
        await notifier(http_receiver).send(sample_alert(NOW))
    assert not caught.value.permanent and caught.value.retry_after == 7


async def test_connection_refused_is_transient(http_receiver: HttpReceiver) -> None:
    sender = notifier(http_receiver)
    http_receiver.server.shutdown()
    http_receiver.server.server_close()
    with pytest.raises(DeliveryError) as caught:
        await sender.send(sample_alert(NOW))
    assert not caught.value.permanent
