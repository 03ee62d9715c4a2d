"""The outbox: an alert and its deliveries are written in the caller's transaction.

`enqueue_alert` is called in the same transaction as the pair's state change, so either the alert,
the new state and one pending delivery per target notifier are all stored, or none is. The delivery
worker (monitor.delivery) later claims and sends the rows. Nothing here sends anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from monitor.db.models import AlertRow, Delivery
from monitor.domain import Alert, AlertReason, Direction, Evidence, Level, Pair

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"


def enqueue_alert(session: Session, alert: Alert, notifiers: Sequence[str], now: datetime) -> AlertRow:
    """Add the alert row and one pending Delivery per notifier (due now). Flushes, does not commit."""
    row = AlertRow(
        uid=alert.uid,
        pair=alert.pair.key,
        direction=alert.direction.value,
        reason=alert.reason.value,
        level=int(alert.level),
        previous_level=int(alert.previous_level),
        tension=alert.tension,
        previous_tension=alert.previous_tension,
        at=alert.at,
        evidence=[evidence_to_json(e) for e in alert.evidence],
        created_at=now,
    )
    session.add(row)
    session.flush()
    for name in dict.fromkeys(notifiers):  # each notifier once, in the given order
        session.add(
            Delivery(
                alert_id=row.id,
                notifier=name,
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    session.flush()
    return row


def alert_from_row(row: AlertRow) -> Alert:
    return Alert(
        uid=row.uid,
        pair=Pair.parse(row.pair),
        direction=Direction(row.direction),
        reason=AlertReason(row.reason),
        level=Level(row.level),
        previous_level=Level(row.previous_level),
        tension=row.tension,
        previous_tension=row.previous_tension,
        at=row.at,
        evidence=tuple(evidence_from_json(e) for e in row.evidence or []),
    )


def evidence_to_json(item: Evidence) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "sources": list(item.sources),
        "published": item.published.isoformat(),
        "link": item.link,
        "score": item.score,
        "confidence": item.confidence,
        "phrases": list(item.phrases),
    }


def evidence_from_json(data: dict[str, Any]) -> Evidence:
    return Evidence(
        id=str(data["id"]),
        title=str(data["title"]),
        sources=tuple(str(s) for s in data.get("sources", [])),
        published=datetime.fromisoformat(data["published"]),
        link=data.get("link"),
        score=float(data.get("score", 0.0)),
        confidence=float(data.get("confidence", 0.0)),
        phrases=tuple(str(p) for p in data.get("phrases", [])),
    )
