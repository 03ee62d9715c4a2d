"""The outbox: an alert and its deliveries are written in the caller's transaction.

`enqueue_alert` is called in the same transaction as the pair's state change, so either the alert,
the new state and one pending delivery per target notifier are all stored, or none is. The delivery
worker (monitor.delivery) later claims and sends the rows. Nothing here sends anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from monitor.db.models import AlertRow, Delivery
from monitor.db.rows import execute_rows, fetch_rows, inserting
from monitor.domain import Alert, AlertReason, Direction, Evidence, Level, Pair

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"

_alerts = cast(Table, AlertRow.__table__)
_deliveries = cast(Table, Delivery.__table__)


# Every column with a default is given: the statements run on the DB-API cursor, where SQLAlchemy's
# execution context (which fills defaults in) is not involved.
_INSERT_ALERT = inserting(
    _alerts,
    (
        "uid",
        "pair",
        "direction",
        "reason",
        "level",
        "previous_level",
        "tension",
        "previous_tension",
        "at",
        "evidence",
        "created_at",
    ),
).returning(_alerts.c.id)
_INSERT_DELIVERIES = inserting(
    _deliveries, ("alert_id", "notifier", "status", "attempts", "next_attempt_at", "created_at")
)


def enqueue_alert(session: Session, alert: Alert, notifiers: Sequence[str], now: datetime) -> int:
    """Add the alert row and one pending Delivery per notifier (due now); returns the alert row's id.

    Two statements on the session's connection (monitor.db.rows's fetch_rows/execute_rows), executed at
    once, in the caller's transaction; never commits.
    """
    conn = session.connection()
    values = {
        "v_uid": alert.uid,
        "v_pair": alert.pair.key,
        "v_direction": alert.direction.value,
        "v_reason": alert.reason.value,
        "v_level": int(alert.level),
        "v_previous_level": int(alert.previous_level),
        "v_tension": alert.tension,
        "v_previous_tension": alert.previous_tension,
        "v_at": alert.at,
        "v_evidence": [evidence_to_json(e) for e in alert.evidence],
        "v_created_at": now,
    }
    ((alert_id,),) = fetch_rows(conn, _INSERT_ALERT, values)
    deliveries = [
        {
            "v_alert_id": alert_id,
            "v_notifier": name,
            "v_status": PENDING,
            "v_attempts": 0,
            "v_next_attempt_at": now,
            "v_created_at": now,
        }
        for name in dict.fromkeys(notifiers)  # each notifier once, in the given order
    ]
    execute_rows(conn, _INSERT_DELIVERIES, deliveries)
    return int(alert_id)


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
