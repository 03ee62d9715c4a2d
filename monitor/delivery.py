"""The outbox worker: claim due deliveries atomically, send, record; back off; give up when told to.

One delivery row moves pending -> sending -> sent | failed (or back to pending with a later
next_attempt_at after a transient failure). Each step is its own committed transaction:

1. claim: a conditional UPDATE (pending and due, or sending with an expired claim: a crashed worker)
   that sets status=sending, claimed_by and claimed_until = now + lease; the worker goes on only if
   exactly one row changed, so several workers and daemons on one database never send a row twice;
2. send, outside any transaction (one row at a time per notifier, the notifiers side by side);
3. record: sent (sent_at), or the error (attempts + 1, last_error, next_attempt_at with capped
   exponential backoff, or failed: permanent error, or retry_for since the alert was created spent).

A crash between 1 and 3 leaves the row `sending`; its claim expires and a worker resends it with the
same stable message id, so the receiver can recognise the resend. A crash after 3 cannot resend.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, or_, select, update

from monitor.db.models import AlertRow, Delivery
from monitor.domain import Alert
from monitor.logs import event
from monitor.notify.base import DeliveryError, Notifier, one_line
from monitor.outbox import FAILED, PENDING, SENDING, SENT, alert_from_row
from monitor.owner import Owner, dead_holders

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.db.session import Database

log = logging.getLogger(__name__)

BATCH = 200
LEASE_MARGIN = timedelta(seconds=10)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    retry_for: timedelta = timedelta(hours=24)
    backoff_initial: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(minutes=30)

    @classmethod
    def from_config(cls, config: Config) -> RetryPolicy:
        d = config.delivery
        return cls(retry_for=d.retry_for, backoff_initial=d.backoff_initial, backoff_max=d.backoff_max)

    def backoff(self, attempts: int) -> timedelta:
        """Delay after the `attempts`-th failed attempt: initial, 2x, 4x, ... capped at backoff_max."""
        factor = 1 << min(max(attempts - 1, 0), 30)
        return min(self.backoff_initial * factor, self.backoff_max)


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What to record after a failed attempt."""

    status: str  # pending (retry later) or failed
    next_attempt_at: datetime | None
    message: str


def after_failure(
    policy: RetryPolicy, error: DeliveryError, *, attempts: int, created_at: datetime, now: datetime
) -> Outcome:
    """Pure: retry at a later time, or give up. `attempts` counts the attempt that just failed."""
    if error.permanent:
        return Outcome(status=FAILED, next_attempt_at=None, message=error.message)
    deadline = created_at + policy.retry_for
    if now >= deadline:
        return Outcome(
            status=FAILED,
            next_attempt_at=None,
            message=one_line(f"gave up after {attempts} attempts over {policy.retry_for}: {error.message}"),
        )
    delay = policy.backoff(attempts)
    if error.retry_after is not None:
        delay = max(timedelta(seconds=error.retry_after), timedelta(seconds=1))
    return Outcome(status=PENDING, next_attempt_at=min(now + delay, deadline), message=error.message)


def lease_for(notifier: Notifier) -> timedelta:
    """How long a claim lasts: longer than any send can take (the send is cut off before that)."""
    return timedelta(seconds=2 * notifier.timeout) + LEASE_MARGIN


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryReport:
    due: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    lost: int = 0  # claimed by another worker first
    skipped: int = 0  # notifier no longer configured here


def due_condition(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Delivery.status == PENDING, Delivery.next_attempt_at <= now),
        and_(Delivery.status == SENDING, Delivery.claimed_until < now),
    )


async def deliver_due(
    db: Database,
    notifiers: Mapping[str, Notifier],
    config: Config,
    now: datetime,
    worker_id: str,
) -> DeliveryReport:
    """Claim and send every delivery due at `now`; the scheduler calls this every delivery.interval."""
    return await deliver_due_with(db, notifiers, RetryPolicy.from_config(config), now, worker_id)


async def deliver_due_with(
    db: Database,
    notifiers: Mapping[str, Notifier],
    policy: RetryPolicy,
    now: datetime,
    worker_id: str,
    *,
    batch: int = BATCH,
) -> DeliveryReport:
    started = time.monotonic()

    def elapsed() -> timedelta:
        # Time spent in this call so far: a claim's lease runs from the real moment of the claim,
        # while every recorded time (sent_at, next_attempt_at) is the `now` the caller gave.
        return timedelta(seconds=time.monotonic() - started)

    rows = await asyncio.to_thread(due_rows, db, now, batch)
    counts = Counter({"sent": 0, "retrying": 0, "failed": 0, "lost": 0, "skipped": 0})
    queues: dict[str, list[int]] = defaultdict(list)
    for delivery_id, notifier_name in rows:
        if notifier_name in notifiers:
            queues[notifier_name].append(delivery_id)
        else:
            counts["skipped"] += 1

    async def drain(notifier: Notifier, ids: list[int]) -> None:
        # One send in flight per notifier: a slow or dead destination delays only its own rows.
        for delivery_id in ids:
            counts[await deliver_one(db, notifier, policy, delivery_id, now, worker_id, elapsed())] += 1

    await asyncio.gather(*(drain(notifiers[name], ids) for name, ids in queues.items()))
    return DeliveryReport(due=len(rows), **counts)


def due_rows(db: Database, now: datetime, batch: int) -> list[tuple[int, str]]:
    with db.read_session() as session:
        return [
            (delivery_id, notifier)
            for delivery_id, notifier in session.execute(
                select(Delivery.id, Delivery.notifier)
                .where(due_condition(now))
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(batch)
            )
        ]


def load_claimed(db: Database, delivery_id: int) -> tuple[Alert, datetime, int]:
    """The alert to send, when it was created, and the number of this attempt."""
    with db.read_session() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        alert_row = session.get(AlertRow, delivery.alert_id)
        assert alert_row is not None
        return alert_from_row(alert_row), alert_row.created_at, delivery.attempts + 1


def record(db: Database, delivery_id: int, worker_id: str, values: dict[str, object]) -> bool:
    """Write the outcome if this worker still holds the claim."""
    mine = and_(Delivery.id == delivery_id, Delivery.claimed_by == worker_id, Delivery.status == SENDING)
    with db.session() as session:
        result = session.execute(
            update(Delivery).where(mine).values(**values).execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def release_claims(db: Database, now: datetime, me: Owner) -> list[str]:
    """End, as of `now`, the claims of holders on this machine that no longer run (monitor.owner): their rows
    are due again (resent with the same stable id, as after a claim's expiry). Returns those holders."""
    live_claim = and_(Delivery.status == SENDING, Delivery.claimed_until > now)
    with db.session() as session:
        released = dead_holders(session.scalars(select(Delivery.claimed_by).where(live_claim).distinct()), me)
        for holder in released:
            session.execute(
                update(Delivery)
                .where(live_claim, Delivery.claimed_by == holder)
                .values(claimed_until=now)
                .execution_options(synchronize_session=False)
            )
    return released


def claim(db: Database, delivery_id: int, now: datetime, worker_id: str, lease: timedelta) -> bool:
    """The conditional UPDATE; True if this worker now owns the row."""
    with db.session() as session:
        result = session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, due_condition(now))
            .values(status=SENDING, claimed_by=worker_id, claimed_until=now + lease, last_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


async def deliver_one(
    db: Database,
    notifier: Notifier,
    policy: RetryPolicy,
    delivery_id: int,
    now: datetime,
    worker_id: str,
    late: timedelta = timedelta(0),
) -> str:
    """Claim, send and record one row. Returns sent, retrying, failed or lost."""
    lease = lease_for(notifier)
    if not await asyncio.to_thread(claim, db, delivery_id, now, worker_id, lease + late):
        return "lost"
    alert, created_at, attempts = await asyncio.to_thread(load_claimed, db, delivery_id)
    try:
        await asyncio.wait_for(notifier.send(alert), timeout=(lease - LEASE_MARGIN).total_seconds())
        error: DeliveryError | None = None
    except DeliveryError as exc:
        error = exc
    except TimeoutError:
        error = DeliveryError(f"{notifier.name}: timed out", permanent=False)
    except Exception as exc:  # a bug in a notifier must not kill the worker; keep the row retrying
        log.exception(event("notifier-crashed", alert=alert.uid, notifier=notifier.name))
        error = DeliveryError(f"{notifier.name}: internal error {type(exc).__name__}", permanent=False)
        del exc
    if error is None:
        values: dict[str, object] = {
            "status": SENT,
            "sent_at": now,
            "attempts": attempts,
            "claimed_by": None,
            "claimed_until": None,
        }
        result = "sent"
        log.info(
            event("delivered", alert=alert.uid, pair=alert.pair.key, notifier=notifier.name, attempt=attempts)
        )
    else:
        outcome = after_failure(policy, error, attempts=attempts, created_at=created_at, now=now)
        values = {
            "status": outcome.status,
            "attempts": attempts,
            "last_error": outcome.message,
            "claimed_by": None,
            "claimed_until": None,
        }
        if outcome.next_attempt_at is not None:
            values["next_attempt_at"] = outcome.next_attempt_at
        result = "failed" if outcome.status == FAILED else "retrying"
        fields = {"alert": alert.uid, "pair": alert.pair.key, "notifier": notifier.name, "attempt": attempts}
        if outcome.status == FAILED:  # logged once: the row leaves the outbox for good
            log.error(event("delivery-failed", **fields, error=outcome.message))
        else:
            next_at = outcome.next_attempt_at.isoformat() if outcome.next_attempt_at else None
            log.warning(event("delivery-retry", **fields, next_attempt=next_at, error=outcome.message))
    if not await asyncio.to_thread(record, db, delivery_id, worker_id, values):
        log.warning(event("delivery-claim-lost", alert=alert.uid, notifier=notifier.name, outcome=result))
    return result
