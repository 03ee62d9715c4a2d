"""SIGKILL the real daemon at many moments while it delivers; in the end every alert reached every
receiver, and an alert reached a receiver twice only as a resend carrying the same stable id.

The outbox is seeded directly (the daemon runs with no feeds), the daemon is `python -m monitor run`
with the three notifiers pointing at loopback receivers, and each kill lands a random (seeded) moment
after the receivers have started to see traffic from that run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.db.models import Delivery
from monitor.db.session import Database
from monitor.notify.email import message_id
from monitor.notify.sample import sample_alert
from monitor.outbox import enqueue_alert
from tests.support.receivers import HttpReceiver, SmtpReceiver

pytestmark = pytest.mark.slow

ALERTS = 30
KILLS = {"sqlite": 16, "postgresql": 8}  # each run costs a daemon start (imports, first delivery at +2 s)
SEED = 20261128
HOOK_SECRET = "kill-test-hook-secret"
REPO = Path(__file__).resolve().parents[1]


def write_config(path: Path, db_url: str, smtp: SmtpReceiver, hook: HttpReceiver) -> None:
    path.write_text(
        f"""
database: "{db_url}"
poll: {{interval: 1h}}
notifiers:
  mail: {{type: email, host: 127.0.0.1, port: {smtp.port}, starttls: false,
         from: monitor@example.org, to: [desk@example.org], timeout: 1s}}
  chat: {{type: slack, url_env: KILLTEST_SLACK_URL, timeout: 1s}}
  hook: {{type: webhook, url: "{hook.url}/hook", secret_env: KILLTEST_HOOK_SECRET, timeout: 1s}}
delivery: {{interval: 1s, backoff_initial: 1s, backoff_max: 2s, retry_for: 1h}}
"""
    )


def start_daemon(config: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def counts_by_status(db: Database) -> dict[str, int]:
    with db.read_session() as session:
        return dict(session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())  # type: ignore[arg-type]


def test_sigkill_while_delivering_loses_nothing_and_resends_only_with_the_same_id(
    db_url: str,
    tmp_path: Path,
    smtp_receiver: SmtpReceiver,
    http_receiver: HttpReceiver,
    http_receiver2: HttpReceiver,
) -> None:
    chat, hook = http_receiver, http_receiver2
    for receiver in (smtp_receiver, chat, hook):
        # a window between "received" and "acknowledged" for kills to land in, and enough work (30 alerts x
        # 0.15 s per notifier) that the kills (each within 0.3 s of a run's first send) land before it is done
        receiver.delay = 0.15
    db = Database.open(db_url)
    db.upgrade()
    now = datetime.now(UTC)
    uids = [f"kill-{i:03d}" for i in range(ALERTS)]
    with db.session() as session:
        for uid in uids:
            enqueue_alert(
                session, dataclasses.replace(sample_alert(now), uid=uid), ["mail", "chat", "hook"], now
            )

    config, log = tmp_path / "monitor.yaml", tmp_path / "daemon.log"
    write_config(config, db_url, smtp_receiver, hook)
    env = {
        **os.environ,
        "KILLTEST_SLACK_URL": chat.url + "/services/T/B/kill",
        "KILLTEST_HOOK_SECRET": HOOK_SECRET,
        "PYTHONUNBUFFERED": "1",
    }

    def received() -> int:
        return len(smtp_receiver.received()) + len(chat.received()) + len(hook.received())

    rng = random.Random(SEED)
    wanted = KILLS[db.engine.dialect.name]
    kills = 0
    started: list[subprocess.Popen[bytes]] = []
    try:
        while kills < wanted and counts_by_status(db).get("sent", 0) < 3 * ALERTS:
            before = received()
            daemon = start_daemon(config, log, env)
            started.append(daemon)
            deadline = time.monotonic() + 30
            while received() == before and time.monotonic() < deadline and daemon.poll() is None:
                time.sleep(0.01)
            assert daemon.poll() is None, f"daemon exited early:\n{log.read_text()[-3000:]}"
            if received() == before:  # nothing left this run could send (claims of killed runs pending)
                daemon.kill()
                daemon.wait(10)
                continue
            time.sleep(rng.uniform(0.0, 0.3))
            daemon.send_signal(signal.SIGKILL)
            daemon.wait(10)
            kills += 1
        mid_run = counts_by_status(db)

        offset = log.stat().st_size if log.exists() else 0
        daemon = start_daemon(config, log, env)  # the last run: lets it finish, including expired claims
        started.append(daemon)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (
            counts_by_status(db).get("sent", 0) < 3 * ALERTS or " INFO start " not in log.read_text()[offset:]
        ):
            assert daemon.poll() is None, f"daemon exited early:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    final = counts_by_status(db)
    db.dispose()

    assert kills >= wanted // 2, f"only {kills} kills landed while delivering ({mid_run})"
    assert final == {"sent": 3 * ALERTS}, final

    mails: dict[str, list[str]] = defaultdict(list)
    for mail in smtp_receiver.received():
        msg = mail.parsed()
        mails[msg["X-Monitor-Alert-Id"]].append(msg["Message-ID"])
    chats: dict[str, list[str]] = defaultdict(list)
    for request in chat.received():
        key = request.headers["idempotency-key"]
        chats[key.rsplit(".", 1)[0]].append(key)
    hooks: dict[str, list[str]] = defaultdict(list)
    for request in hook.received():
        timestamp = request.headers["x-monitor-timestamp"]
        expected = hmac.new(HOOK_SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
        assert request.headers["x-monitor-signature"] == f"sha256={expected.hexdigest()}"
        hooks[request.json()["id"]].append(request.headers["idempotency-key"])

    duplicates = Counter[str]()
    for name, seen, stable in (
        ("mail", mails, lambda uid: message_id(uid, "mail")),
        ("chat", chats, lambda uid: f"{uid}.chat"),
        ("hook", hooks, lambda uid: f"{uid}.hook"),
    ):
        assert sorted(seen) == uids, f"{name}: missing {sorted(set(uids) - set(seen))}"
        for uid, ids in seen.items():
            assert set(ids) == {stable(uid)}, f"{name}: alert {uid} arrived with ids {ids}"
            duplicates[name] += len(ids) - 1
    # Each kill interrupts at most one send in flight per notifier (the worker sends one row at a
    # time to each); a resend is only ever of a row not yet recorded as sent, with the same stable id.
    print(f"\nkills={kills} resends={dict(duplicates)} total={sum(duplicates.values())}")
    assert all(count <= kills for count in duplicates.values()), duplicates
