"""Slack notifier against a real HTTP receiver on loopback."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from monitor.notify.base import DeliveryError
from monitor.notify.render import Renderer, slack_escape
from monitor.notify.sample import sample_alert
from monitor.notify.slack import SlackNotifier
from tests.support.receivers import HttpReceiver, Reply

NOW = datetime(2026, 5, 7, 21, 30, tzinfo=UTC)
HOOK_PATH = "/services/T000/B000/XXXXsecretXXXX"


def notifier(receiver: HttpReceiver) -> SlackNotifier:
    return SlackNotifier(name="desk-slack", url=receiver.url + HOOK_PATH, renderer=Renderer(), timeout=5.0)


async def test_it_posts_blocks_with_fallback_text_and_idempotency_key(http_receiver: HttpReceiver) -> None:
    await notifier(http_receiver).send(sample_alert(NOW, uid="u1"))
    [request] = http_receiver.received()
    assert request.path == HOOK_PATH
    assert request.headers["idempotency-key"] == "u1.desk-slack"
    payload = request.json()
    assert payload["text"] == "[ESCALATION] Iran–Pakistan: elevated -> high"  # same as the email subject
    types = [b["type"] for b in payload["blocks"]]
    assert types[0] == "header" and "section" in types and "divider" in types
    assert payload["blocks"][0]["text"]["text"] == "[ESCALATION] Iran–Pakistan: elevated -> high"
    story = json.dumps(payload["blocks"])
    assert "<https://example.org/sample-story|TEST ALERT: sample headline" in story


async def test_it_neutralises_mentions_and_links_in_feed_text(http_receiver: HttpReceiver) -> None:
    base = sample_alert(NOW)
    hostile = "<!channel> <!here> <@U123> <http://evil.example|click> & @here"
    evidence = dataclasses.replace(
        base.evidence[0], title=hostile, sources=("<!everyone>",), link="https://x.example/a|b>c"
    )
    await notifier(http_receiver).send(dataclasses.replace(base, evidence=(evidence,)))
    blocks = json.dumps(http_receiver.received()[0].json()["blocks"], ensure_ascii=False)
    for raw in ("<!channel>", "<!here>", "<@U123>", "<http://evil.example|click>", "<!everyone>", " @here"):
        assert raw not in blocks
    assert "&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &lt;http://evil.example|click&gt; &amp;" in blocks
    assert "<https://x.example/a%7Cb%3Ec|" in blocks  # the link target cannot break the markup


def test_slack_escape_follows_slacks_rules() -> None:
    assert slack_escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert slack_escape("<@U1>") == "&lt;@U1&gt;"


@pytest.mark.parametrize(
    ("status", "body"), [(404, "no_service"), (403, "invalid_token"), (410, "channel_is_archived")]
)
async def test_it_treats_dead_hooks_as_permanent(http_receiver: HttpReceiver, status: int, body: str) -> None:
    http_receiver.reply_with(Reply(status=status, body=body))
    with pytest.raises(DeliveryError) as caught:
        await notifier(http_receiver).send(sample_alert(NOW))
    assert caught.value.permanent
    assert f"HTTP {status} {body}" in str(caught.value)
    assert HOOK_PATH not in str(caught.value) and "XXXXsecretXXXX" not in str(caught.value)


async def test_rate_limit_is_transient_and_honours_retry_after(http_receiver: HttpReceiver) -> None:
    http_receiver.reply_with(Reply(status=429, body="rate_limited", headers={"Retry-After": "120"}))
    with pytest.raises(DeliveryError) as caught:
        await notifier(http_receiver).send(sample_alert(NOW))
    assert not caught.value.permanent
    assert caught.value.retry_after == 120


async def test_server_error_is_transient(http_receiver: HttpReceiver) -> None:
    http_receiver.reply_with(500)
    with pytest.raises(DeliveryError) as caught:
        await notifier(http_receiver).send(sample_alert(NOW))
    assert not caught.value.permanent
