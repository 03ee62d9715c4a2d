"""The outbox worker over real databases (SQLite file and PostgreSQL) and real loopback receivers."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.config import parse_config
from monitor.db.models import AlertRow, Delivery
from monitor.db.session import Database
from monitor.delivery import DeliveryReport, RetryPolicy, after_failure, deliver_due, deliver_due_with
from monitor.domain import Alert
from monitor.notify.base import DeliveryError, Notifier
from monitor.notify.email import EmailNotifier
from monitor.notify.render import Renderer
from monitor.notify.sample import sample_alert
from monitor.notify.webhook import WebhookNotifier
from monitor.outbox import alert_from_row, enqueue_alert
from tests.support.receivers import SMTP_USER, HttpReceiver, Reply, SmtpReceiver

T0 = datetime(2026, 5, 7, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    retry_for=timedelta(hours=24), backoff_initial=timedelta(seconds=30), backoff_max=timedelta(minutes=30)
)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.open(db_url)
    database.upgrade()
    yield database
    database.dispose()


def enqueue(db: Database, alert: Alert, notifiers: list[str], now: datetime = T0) -> None:
    with db.session() as session:
        enqueue_alert(session, alert, notifiers, now)


def delivery(db: Database, notifier: str, uid: str = "a1") -> Delivery:
    with db.read_session() as session:
        row = session.scalars(
            select(Delivery).join(AlertRow).where(AlertRow.uid == uid, Delivery.notifier == notifier)
        ).one()
        session.expunge(row)
        return row


def email_to(receiver: SmtpReceiver, name: str = "mail", **kwargs: object) -> EmailNotifier:
    return EmailNotifier(
        name=name,
        host=receiver.host,
        port=receiver.port,
        from_="monitor@example.org",
        to=["desk@example.org"],
        renderer=Renderer(),
        timeout=5.0,
        **kwargs,  # type: ignore[arg-type]
    )


def hook_to(receiver: HttpReceiver, name: str = "hook") -> WebhookNotifier:
    return WebhookNotifier(name=name, url=receiver.url + "/hook", secret="k" * 16, timeout=5.0)


async def run(
    db: Database, notifiers: dict[str, Notifier], now: datetime, worker: str = "w1"
) -> DeliveryReport:
    return await deliver_due_with(db, notifiers, POLICY, now, worker)


def test_outbox_round_trips_the_alert(db: Database) -> None:
    alert = sample_alert(T0, uid="a1")
    enqueue(db, alert, ["mail", "hook", "mail"])
    with db.read_session() as session:
        row = session.scalars(select(AlertRow)).one()
        assert alert_from_row(row) == alert
        assert sorted((d.notifier, d.status, d.attempts) for d in row.deliveries) == [
            ("hook", "pending", 0),
            ("mail", "pending", 0),
        ]


def test_enqueue_is_part_of_the_callers_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as session:
        enqueue_alert(session, sample_alert(T0, uid="a1"), ["mail"], T0)
        raise RuntimeError("the state change failed")
    with db.read_session() as session:
        assert session.scalars(select(AlertRow)).all() == []
        assert session.scalars(select(Delivery)).all() == []


async def test_smtp_outage_then_recovery_delivers_once_after_backoff(
    db: Database, smtp_receiver: SmtpReceiver
) -> None:
    notifiers: dict[str, Notifier] = {"mail": email_to(smtp_receiver)}
    enqueue(db, sample_alert(T0, uid="a1"), ["mail"])
    smtp_receiver.stop()

    report = await run(db, notifiers, T0)
    assert (report.due, report.retrying, report.sent) == (1, 1, 0)
    row = delivery(db, "mail")
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at == T0 + timedelta(seconds=30)
    assert row.last_error is not None and "refused" in row.last_error.lower()

    smtp_receiver.start()
    assert (await run(db, notifiers, T0 + timedelta(seconds=29))).due == 0  # still backing off
    assert smtp_receiver.received() == []

    report = await run(db, notifiers, T0 + timedelta(seconds=30))
    assert report.sent == 1
    row = delivery(db, "mail")
    assert row.status == "sent" and row.attempts == 2 and row.sent_at is not None
    assert row.claimed_by is None

    assert (await run(db, notifiers, T0 + timedelta(hours=1))).due == 0
    assert len(smtp_receiver.received()) == 1


async def test_smtp_4xx_backs_off_exponentially(db: Database, smtp_receiver: SmtpReceiver) -> None:
    notifiers: dict[str, Notifier] = {"mail": email_to(smtp_receiver)}
    enqueue(db, sample_alert(T0, uid="a1"), ["mail"])
    smtp_receiver.refuse = True
    now = T0
    waits = []
    for _ in range(4):
        await run(db, notifiers, now)
        row = delivery(db, "mail")
        waits.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert "451" in (delivery(db, "mail").last_error or "")


async def test_failing_webhook_then_ok_is_delivered_once(db: Database, http_receiver: HttpReceiver) -> None:
    http_receiver.reply_with(500)
    notifiers: dict[str, Notifier] = {"hook": hook_to(http_receiver)}
    enqueue(db, sample_alert(T0, uid="a1"), ["hook"])
    assert (await run(db, notifiers, T0)).retrying == 1
    assert delivery(db, "hook").last_error == "hook: HTTP 500 ok"
    assert (await run(db, notifiers, T0 + timedelta(seconds=30))).sent == 1
    assert (await run(db, notifiers, T0 + timedelta(days=1))).due == 0
    requests = http_receiver.received()
    assert len(requests) == 2  # one failed try, one success
    assert {r.headers["idempotency-key"] for r in requests} == {"a1.hook"}


async def test_permanent_404_fails_at_once_and_is_never_retried(
    db: Database, http_receiver: HttpReceiver
) -> None:
    http_receiver.reply_with(404)
    notifiers: dict[str, Notifier] = {"hook": hook_to(http_receiver)}
    enqueue(db, sample_alert(T0, uid="a1"), ["hook"])
    assert (await run(db, notifiers, T0)).failed == 1
    row = delivery(db, "hook")
    assert row.status == "failed" and row.attempts == 1 and row.last_error == "hook: HTTP 404 ok"
    assert (await run(db, notifiers, T0 + timedelta(days=2))).due == 0
    assert len(http_receiver.received()) == 1


async def test_authentication_failure_fails_at_once(db: Database, smtp_auth_receiver: SmtpReceiver) -> None:
    smtp_auth_receiver.fail_auth = True
    notifiers: dict[str, Notifier] = {
        "mail": email_to(smtp_auth_receiver, username=SMTP_USER, password="pw-x")
    }
    enqueue(db, sample_alert(T0, uid="a1"), ["mail"])
    assert (await run(db, notifiers, T0)).failed == 1
    row = delivery(db, "mail")
    assert row.status == "failed" and "authentication refused" in (row.last_error or "")


async def test_rate_limit_honours_retry_after(db: Database, http_receiver: HttpReceiver) -> None:
    http_receiver.reply_with(Reply(status=429, headers={"Retry-After": "600"}))
    notifiers: dict[str, Notifier] = {"hook": hook_to(http_receiver)}
    enqueue(db, sample_alert(T0, uid="a1"), ["hook"])
    await run(db, notifiers, T0)
    assert delivery(db, "hook").next_attempt_at == T0 + timedelta(minutes=10)


async def test_it_gives_up_after_retry_for(db: Database, http_receiver: HttpReceiver) -> None:
    http_receiver.default = Reply(status=503)
    notifiers: dict[str, Notifier] = {"hook": hook_to(http_receiver)}
    enqueue(db, sample_alert(T0, uid="a1"), ["hook"])
    now = T0
    for _ in range(100):
        await run(db, notifiers, now)
        row = delivery(db, "hook")
        if row.status != "pending":
            break
        assert row.next_attempt_at <= T0 + POLICY.retry_for  # never scheduled past the deadline
        now = row.next_attempt_at
    assert row.status == "failed"
    assert now == T0 + POLICY.retry_for
    assert (row.last_error or "").startswith(f"gave up after {row.attempts} attempts")


async def test_a_crashed_workers_claim_is_resumed_only_after_it_expires(
    db: Database, http_receiver: HttpReceiver
) -> None:
    notifiers: dict[str, Notifier] = {"hook": hook_to(http_receiver)}
    enqueue(db, sample_alert(T0, uid="a1"), ["hook"])
    with db.session() as session:  # what a worker killed mid-send leaves behind
        row = session.scalars(select(Delivery)).one()
        row.status, row.claimed_by, row.claimed_until = "sending", "dead-worker", T0 + timedelta(seconds=30)
    assert (await run(db, notifiers, T0 + timedelta(seconds=10))).due == 0
    assert http_receiver.received() == []
    assert (await run(db, notifiers, T0 + timedelta(seconds=31))).sent == 1
    assert [r.headers["idempotency-key"] for r in http_receiver.received()] == ["a1.hook"]


async def test_sent_rows_are_never_resent(db: Database, http_receiver: HttpReceiver) -> None:
    notifiers: dict[str, Notifier] = {"hook": hook_to(http_receiver)}
    enqueue(db, sample_alert(T0, uid="a1"), ["hook"])
    await run(db, notifiers, T0)
    for worker in ("w2", "w3"):
        assert (await run(db, notifiers, T0 + timedelta(days=3), worker)).due == 0
    assert len(http_receiver.received()) == 1


async def test_rows_for_unconfigured_notifiers_wait(db: Database, http_receiver: HttpReceiver) -> None:
    enqueue(db, sample_alert(T0, uid="a1"), ["gone"])
    report = await run(db, {"hook": hook_to(http_receiver)}, T0)
    assert report.skipped == 1 and delivery(db, "gone").status == "pending"


async def test_deliver_due_reads_the_policy_from_config(db: Database, http_receiver: HttpReceiver) -> None:
    config = parse_config("delivery: {backoff_initial: 5m, retry_for: 1h}\n", Path("t.yaml"))
    http_receiver.reply_with(500)
    enqueue(db, sample_alert(T0, uid="a1"), ["hook"])
    report = await deliver_due(db, {"hook": hook_to(http_receiver)}, config, T0, "w1")
    assert report.retrying == 1
    assert delivery(db, "hook").next_attempt_at == T0 + timedelta(minutes=5)


def test_backoff_is_capped_exponential() -> None:
    assert [POLICY.backoff(n).total_seconds() for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1800,
        1800,
    ]
    permanent = after_failure(POLICY, DeliveryError("x", permanent=True), attempts=1, created_at=T0, now=T0)
    assert permanent.status == "failed" and permanent.next_attempt_at is None


def test_racing_workers_never_send_a_row_twice(
    db_url: str, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    """Six workers, each with its own engine and event loop in its own thread, over the same rows."""
    setup = Database.open(db_url)
    setup.upgrade()
    count = 40
    for i in range(count):
        enqueue(setup, dataclasses.replace(sample_alert(T0), uid=f"race-{i}"), ["hook", "mail"])
    setup.dispose()
    http_receiver.delay = 0.005
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def worker(index: int) -> None:
        database = Database.open(db_url)
        notifiers: dict[str, Notifier] = {"hook": hook_to(http_receiver), "mail": email_to(smtp_receiver)}
        try:
            start.wait()
            reports.append(asyncio.run(run(database, notifiers, T0, f"w{index}")))
        except BaseException as exc:
            errors.append(exc)
        finally:
            database.dispose()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    hooks = Counter(r.json()["id"] for r in http_receiver.received())
    mails = Counter(m.parsed()["X-Monitor-Alert-Id"] for m in smtp_receiver.received())
    assert hooks == Counter({f"race-{i}": 1 for i in range(count)})
    assert mails == Counter({f"race-{i}": 1 for i in range(count)})
    assert sum(r.sent for r in reports) == 2 * count
    assert sum(r.lost for r in reports) > 0  # the workers really competed for the same rows
