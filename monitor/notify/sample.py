"""The sample alert `monitor test-alert` sends: realistic, and marked as a test wherever it is shown."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from monitor.domain import Alert, AlertReason, Direction, Evidence, Level, Pair


def sample_alert(now: datetime, *, uid: str | None = None) -> Alert:
    return Alert(
        uid=uid or f"test-{uuid.uuid4().hex[:16]}",
        pair=Pair.of("PK", "IR"),
        direction=Direction.ESCALATION,
        reason=AlertReason.ESCALATED,
        level=Level.HIGH,
        previous_level=Level.ELEVATED,
        tension=6.4,
        previous_tension=3.1,
        at=now,
        evidence=(
            Evidence(
                id="sample-1",
                title="TEST ALERT: sample headline about cross-border shelling (not a real event)",
                sources=("Sample Wire", "Example News"),
                published=now - timedelta(minutes=12),
                link="https://example.org/sample-story",
                score=6.5,
                confidence=0.8,
                phrases=("cross-border shelling", "recalled ambassador"),
            ),
        ),
    )
