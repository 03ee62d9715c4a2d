"""Slack incoming webhook: Block Kit blocks plus a plain-text fallback `text`.

The fallback text starts like the email subject ('[ESCALATION] Iran–Pakistan: elevated -> high').
All feed text is escaped per Slack's rules (see render.slack_escape) and clipped. The webhook URL is
the credential: it never appears in errors or in describe().
"""

from __future__ import annotations

import json
from typing import Any

from monitor.domain import Alert
from monitor.notify.base import DeliveryError, redact
from monitor.notify.http import post, status_error
from monitor.notify.render import Renderer, clip, slack_escape, slack_link

# Replies Slack documents for incoming webhooks that no retry can fix.
PERMANENT_REPLIES = frozenset(
    {
        "invalid_token",
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "channel_not_found",
        "channel_is_archived",
        "action_prohibited",
        "posting_to_general_channel_denied",
        "invalid_payload",
        "user_not_found",
    }
)


def idempotency_key(uid: str, notifier: str) -> str:
    return f"{uid}.{notifier}"


def slack_payload(alert: Alert, renderer: Renderer, *, test: bool = False) -> dict[str, Any]:
    ctx = renderer.context(alert, test=test)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(ctx["headline"], 150)}},
    ]
    if test:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "*Test alert* sent by `monitor test-alert`."}],
            }
        )
    blocks.append(
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": renderer.render("slack_summary.txt", ctx)[:2900]},
        }
    )
    if ctx["evidence"]:
        blocks.append({"type": "divider"})
    for item in ctx["evidence"]:
        title = slack_link(item["link"], item["title"]) if item["link"] else slack_escape(item["title"])
        sources = ", ".join(item["sources"]) + (f" +{item['more_sources']}" if item["more_sources"] else "")
        lines = [
            f"*{title}*",
            f"{slack_escape(sources)} · {slack_escape(item['time']['local'])} ({item['time']['utc']})",
            f"score {item['score']} · confidence {item['confidence']}",
        ]
        if item["phrases"]:
            lines.append("phrases: " + slack_escape("; ".join(item["phrases"])))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}})
    if ctx["more_evidence"]:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"… and {ctx['more_evidence']} more stories"}],
            }
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"crisis monitor · alert {alert.uid}"}]}
    )
    # The fallback text reads exactly like the email subject. It is built from trusted parts only
    # (gazetteer country names, level labels), so only '&' and '<' need escaping: the '>' of '->'
    # starts no Slack control sequence.
    text = ctx["headline"].replace("&", "&amp;").replace("<", "&lt;")
    return {"text": text, "blocks": blocks, "unfurl_links": False}


class SlackNotifier:
    kind = "slack"

    def __init__(self, *, name: str, url: str, renderer: Renderer, timeout: float = 10.0) -> None:
        self._name = name
        self._url = url
        self._renderer = renderer
        self.timeout = timeout

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"SlackNotifier({self.describe()})"

    def describe(self) -> str:
        return "slack incoming webhook (URL hidden)"

    async def send(self, alert: Alert, *, test: bool = False) -> None:
        body = json.dumps(slack_payload(alert, self._renderer, test=test), ensure_ascii=False).encode()
        headers = {"Idempotency-Key": idempotency_key(alert.uid, self.name)}
        try:
            reply = await post(self._url, body, headers, self.timeout)
        except DeliveryError as exc:
            raise self._redacted(exc) from None
        if 200 <= reply.status < 300:
            return
        raise self._redacted(status_error(reply, permanent_bodies=PERMANENT_REPLIES))

    def _redacted(self, exc: DeliveryError) -> DeliveryError:
        return DeliveryError(
            redact(f"{self.name}: {exc.message}", [self._url]),
            permanent=exc.permanent,
            retry_after=exc.retry_after,
        )
