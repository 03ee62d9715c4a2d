"""The acceptance run of issue 4, end to end with real parts.

Three outlets served from the loopback feed server; a real SMTP server (aiosmtpd) for email and real
HTTP receivers for Slack and a signed webhook; `python -m monitor run` as a subprocess on a SQLite
file. Routine news first (no alert), then a corroborated strike (one escalation alert by each
notifier), SIGKILL and restart (nothing sent twice), then talks and returning envoys (one
de-escalation alert by each notifier), SIGTERM (exit 0), and finally `monitor replay` over the items
the daemon stored must reproduce the alerts it delivered, in the same order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from monitor.notify.email import message_id
from tests.support.feedserver import FeedServer
from tests.support.receivers import HttpReceiver, SmtpReceiver

pytestmark = pytest.mark.slow

INTERVAL = 2  # seconds between polls of each feed
ARRIVAL_BOUND = 40.0  # seconds: a generous bound for "arrived", not a measurement
POLL_TIMEOUT = 2  # seconds (poll.timeout); a poll's lease lasts its fetch deadline (2x) plus 60 s
LEASE_BOUND = 2 * POLL_TIMEOUT + 60 + ARRIVAL_BOUND  # a lease left by the killed daemon, then the poll
HOOK_SECRET = "e2e-hook-secret"
REPO = Path(__file__).resolve().parents[1]

OUTLETS = {"Dawn Wire": "/dawn.xml", "Tehran Desk": "/tehran.xml", "Gulf Herald": "/gulf.xml"}

ROUTINE = {
    "Dawn Wire": [
        "Pakistan cricket team wins series against Sri Lanka",
        "Karachi stock exchange closes higher on bank shares",
    ],
    "Tehran Desk": [
        "Tehran metro opens new line to the airport",
        "Iranian wrestlers take three golds at Asian championships",
    ],
    "Gulf Herald": [
        "Dubai airport passenger numbers hit record in October",
        "Oman announces new visa rules for tourists",
    ],
}
STRIKE = "Iran launches missile and drone strikes on militant bases in Pakistan"
RECALL = "Pakistan recalls ambassador from Iran after strikes"
DEESCALATE = "Iran and Pakistan agree to de-escalate, return ambassadors"
TALKS = "Pakistan, Iran foreign ministers agree to work together on security after talks"


@dataclass(frozen=True)
class Headline:
    title: str
    published: datetime
    slug: str


def rss(outlet: str, headlines: list[Headline]) -> bytes:
    host = outlet.lower().replace(" ", "-") + ".example.org"
    items = "".join(
        f"<item><title>{escape(h.title)}</title>"
        f"<link>https://{host}/news/{h.slug}</link>"
        f"<guid isPermaLink='false'>{host}-{h.slug}</guid>"
        f"<description>{escape(h.title)}.</description>"
        f"<pubDate>{format_datetime(h.published, usegmt=True)}</pubDate></item>"
        for h in reversed(headlines)  # newest first, as feeds list them
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{outlet}</title>'
        f"<link>https://{host}/</link><description>{outlet} world news</description>{items}"
        "</channel></rss>"
    ).encode()


class Outlets:
    """What each outlet's feed carries; every change is served at once."""

    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.carried: dict[str, list[Headline]] = {name: [] for name in OUTLETS}

    def publish_between_polls(self, outlets: tuple[str, ...], *titles: str) -> None:
        """Put `titles` on every one of `outlets` together, just after a poll of each.

        Outlets carrying one story at the same moment: the daemon's next tick finds it on all of
        them (the polls of a tick are scored together), as replay finds it in one slice.
        """
        seen = {name: len(self.server.requests_for(OUTLETS[name])) for name in outlets}
        deadline = time.monotonic() + ARRIVAL_BOUND
        while any(len(self.server.requests_for(OUTLETS[n])) == seen[n] for n in outlets):
            assert time.monotonic() < deadline, "the daemon stopped polling"
            time.sleep(0.02)
        time.sleep(INTERVAL / 4)  # those requests are answered; the next tick is INTERVAL away
        at = datetime.now(UTC)
        for name in outlets:
            self.publish(name, *titles, at=at)

    def publish(self, outlet: str, *titles: str, at: datetime | None = None) -> None:
        when = (at or datetime.now(UTC)).replace(microsecond=0)
        for title in titles:
            slug = hashlib.sha1(title.encode()).hexdigest()[:10]
            self.carried[outlet].append(Headline(title, when, slug))
        self.server.serve(OUTLETS[outlet], rss(outlet, self.carried[outlet]), "application/rss+xml")


def write_config(tmp_path: Path, server: FeedServer, smtp: SmtpReceiver, hook: HttpReceiver) -> Path:
    feeds = "\n".join(f"  - {{name: '{name}', url: '{server.url(path)}'}}" for name, path in OUTLETS.items())
    config = tmp_path / "monitor.yaml"
    config.write_text(
        f"""
database: 'sqlite:///{tmp_path / "monitor.db"}'
timezone: Asia/Karachi
poll: {{interval: {INTERVAL}s, timeout: {POLL_TIMEOUT}s, connect_timeout: 1s, jitter: 0s}}
feeds:
{feeds}
pairs:
  - [PK, IR]
notifiers:
  desk-email: {{type: email, host: 127.0.0.1, port: {smtp.port}, starttls: false,
               from: monitor@example.org, to: [desk@example.org], timeout: 5s}}
  desk-slack: {{type: slack, url_env: E2E_SLACK_URL, timeout: 5s}}
  ops-hook: {{type: webhook, url: '{hook.url}/hook', secret_env: E2E_HOOK_SECRET, timeout: 5s}}
delivery: {{interval: 1s, backoff_initial: 1s, backoff_max: 2s}}
# The defaults are tuned for real time: a fall of level counts once it has lasted min_dwell (30m), and
# an alert reversing the last one's direction within reversal_hold (6h) is suppressed. Left as they
# are, the talks would lower the level silently half an hour into the test and never be reported.
# Scaled to the test's seconds: the fall must still last min_dwell and must still be carried by
# de-escalation news (deescalation_evidence, thresholds, hysteresis and half-life keep their defaults).
alerting:
  min_dwell: 2s
  reversal_hold: 0s
"""
    )
    return config


def daemon_env(chat: HttpReceiver) -> dict[str, str]:
    return {
        **os.environ,
        "E2E_SLACK_URL": f"{chat.url}/services/T000/B000/e2e",
        "E2E_HOOK_SECRET": HOOK_SECRET,
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def daemons() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def launch(
    config: Path, log: Path, env: dict[str, str], started: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    started.append(process)
    return process


def wait_for(
    condition: Callable[[], bool],
    what: str,
    process: subprocess.Popen[bytes],
    log: Path,
    limit: float = ARRIVAL_BOUND,
) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            pytest.fail(f"daemon exited with {process.returncode} before {what}:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)
    pytest.fail(f"no {what} within {limit:g}s:\n{log.read_text()[-4000:]}")


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # schema not there yet, or busy
        return []


def count(db: Path, sql: str) -> int:
    rows = query(db, sql)
    return int(rows[0][0]) if rows else 0


@dataclass
class Receivers:
    smtp: SmtpReceiver
    chat: HttpReceiver
    hook: HttpReceiver

    def counts(self) -> tuple[int, int, int]:
        return len(self.smtp.received()), len(self.chat.received()), len(self.hook.received())

    def all_have(self, n: int) -> bool:
        return all(c >= n for c in self.counts())


def check_signature(request: Any) -> None:
    timestamp = request.headers["x-monitor-timestamp"]
    expected = hmac.new(HOOK_SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert request.headers["x-monitor-signature"] == f"sha256={expected.hexdigest()}"


def check_email(msg: EmailMessage, tag: str, titles: list[str]) -> None:
    subject = str(msg["Subject"])
    assert subject.startswith(f"[{tag}] "), subject
    assert "Iran" in subject and "Pakistan" in subject, subject
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None, "both a text and an HTML part"
    plain, markup = text.get_content(), html.get_content()
    for title in titles:
        assert title in plain, f"{title!r} not in the text part"
        assert escape(title) in markup, f"{title!r} not in the HTML part"


def check_slack(request: Any, tag: str, subject: str, titles: list[str]) -> None:
    body = request.json()
    assert body["text"].startswith(f"[{tag}] "), body["text"]
    assert body["text"].startswith(subject.replace("&", "&amp;").replace("<", "&lt;")), (
        body["text"],
        subject,
    )
    assert isinstance(body["blocks"], list) and body["blocks"]
    shown = json.dumps(body["blocks"], ensure_ascii=False)
    for title in titles:
        assert title in shown, f"{title!r} not in the Slack blocks"


def check_hook(request: Any, direction: str, titles: list[str]) -> dict[str, Any]:
    check_signature(request)
    body: dict[str, Any] = request.json()
    assert body["pair"] == ["IR", "PK"]
    assert body["direction"] == direction
    assert request.headers["idempotency-key"] == f"{body['id']}.ops-hook"
    assert {e["title"] for e in body["evidence"]} >= set(titles)
    return body


def test_strike_then_talks_alert_once_each_way_survive_sigkill_and_replay_the_same(
    tmp_path: Path,
    feed_server: FeedServer,
    smtp_receiver: SmtpReceiver,
    http_receiver: HttpReceiver,
    http_receiver2: HttpReceiver,
    daemons: list[subprocess.Popen[bytes]],
) -> None:
    receivers = Receivers(smtp_receiver, http_receiver, http_receiver2)
    outlets = Outlets(feed_server)
    start = datetime.now(UTC)
    for outlet, titles in ROUTINE.items():
        outlets.publish(outlet, *titles, at=start - timedelta(hours=3))
    config = write_config(tmp_path, feed_server, smtp_receiver, http_receiver2)
    db, log = tmp_path / "monitor.db", tmp_path / "daemon.log"
    env = daemon_env(http_receiver)

    # -- 1. routine news only: stored, scored, tracked over several cycles, and no alert
    daemon = launch(config, log, env, daemons)
    wait_for(lambda: count(db, "SELECT count(*) FROM items") == 6, "the routine items", daemon, log)
    wait_for(
        lambda: (
            count(db, "SELECT count(*) FROM stories WHERE classified_at IS NULL") == 0
            and count(db, "SELECT count(*) FROM stories") == 6
        ),
        "the routine stories scored",
        daemon,
        log,
    )
    polled = len(feed_server.requests_for(OUTLETS["Dawn Wire"]))
    wait_for(
        lambda: len(feed_server.requests_for(OUTLETS["Dawn Wire"])) >= polled + 2,
        "two more polls",
        daemon,
        log,
    )
    assert receivers.counts() == (0, 0, 0)
    assert count(db, "SELECT count(*) FROM alerts") == 0

    # -- 2. a corroborated strike on two outlets: one escalation alert by each notifier
    outlets.publish_between_polls(("Dawn Wire", "Tehran Desk"), STRIKE, RECALL)
    wait_for(lambda: receivers.all_have(1), "the escalation alert on every receiver", daemon, log)
    wait_for(
        lambda: count(db, "SELECT count(*) FROM deliveries WHERE status = 'sent'") == 3,
        "the three deliveries recorded as sent",
        daemon,
        log,
    )
    # more cycles pass (polls, decay ticks, delivery passes): nothing else is sent for this burst
    polled = len(feed_server.requests_for(OUTLETS["Dawn Wire"]))
    wait_for(
        lambda: len(feed_server.requests_for(OUTLETS["Dawn Wire"])) >= polled + 3,
        "three more polls",
        daemon,
        log,
    )
    assert receivers.counts() == (1, 1, 1)

    (mail,) = smtp_receiver.received()
    escalation_mail = mail.parsed()
    check_email(escalation_mail, "ESCALATION", [STRIKE, RECALL])
    (chat,) = http_receiver.received()
    check_slack(chat, "ESCALATION", str(escalation_mail["Subject"]), [STRIKE, RECALL])
    (hook,) = http_receiver2.received()
    escalation = check_hook(hook, "escalation", [STRIKE, RECALL])
    assert escalation_mail["Message-ID"] == message_id(escalation["id"], "desk-email")
    assert chat.headers["idempotency-key"] == f"{escalation['id']}.desk-slack"

    # -- 3. SIGKILL, restart: nothing is sent again
    daemon.send_signal(signal.SIGKILL)
    daemon.wait(10)
    offset = log.stat().st_size
    daemon = launch(config, log, env, daemons)
    wait_for(lambda: " INFO start " in log.read_text()[offset:], "the restart", daemon, log)
    polled = {name: len(feed_server.requests_for(path)) for name, path in OUTLETS.items()}
    # Its first delivery pass runs 2 s after start; let several polls, ticks and passes go by. A poll
    # that was in flight at the kill left its feed leased to the dead process: the new daemon polls
    # that feed once the lease runs out (the fetch deadline plus 60 s), hence the longer bound.
    wait_for(
        lambda: all(len(feed_server.requests_for(OUTLETS[n])) >= polled[n] + 3 for n in OUTLETS),
        "three polls of every outlet after the restart",
        daemon,
        log,
        limit=LEASE_BOUND,
    )
    assert receivers.counts() == (1, 1, 1)
    assert count(db, "SELECT count(*) FROM alerts") == 1
    assert " delivered " not in log.read_text()[offset:]

    # -- 4. talks and returning envoys on two outlets: one de-escalation alert by each notifier
    outlets.publish_between_polls(("Dawn Wire", "Tehran Desk"), DEESCALATE, TALKS)
    wait_for(lambda: receivers.all_have(2), "the de-escalation alert on every receiver", daemon, log)
    wait_for(
        lambda: count(db, "SELECT count(*) FROM deliveries WHERE status = 'sent'") == 6,
        "six deliveries recorded as sent",
        daemon,
        log,
    )
    polled = len(feed_server.requests_for(OUTLETS["Dawn Wire"]))
    wait_for(
        lambda: len(feed_server.requests_for(OUTLETS["Dawn Wire"])) >= polled + 3,
        "three more polls",
        daemon,
        log,
    )
    assert receivers.counts() == (2, 2, 2)

    deescalation_mail = smtp_receiver.received()[1].parsed()
    check_email(deescalation_mail, "DE-ESCALATION", [DEESCALATE, TALKS])
    check_slack(
        http_receiver.received()[1], "DE-ESCALATION", str(deescalation_mail["Subject"]), [DEESCALATE, TALKS]
    )
    deescalation = check_hook(http_receiver2.received()[1], "de-escalation", [DEESCALATE, TALKS])
    assert deescalation["id"] != escalation["id"]

    # every message carried its own stable id; each id arrived once
    ids = [m.parsed()["Message-ID"] for m in smtp_receiver.received()]
    ids += [r.headers["idempotency-key"] for r in (*http_receiver.received(), *http_receiver2.received())]
    assert len(ids) == len(set(ids)) == 6

    # -- 5. SIGTERM: drains and exits 0
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(15) == 0, log.read_text()[-4000:]
    assert log.read_text().rstrip().endswith("INFO stopped")

    # -- 6. replay the stored items offline: the same alerts in the same order
    exported = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "items",
            "--config",
            str(config),
            "--format",
            "jsonl",
            "--limit",
            "1000",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    items = [json.loads(line) for line in exported.stdout.splitlines() if line.strip()]
    assert len(items) == 6 + 4 + 4
    archive = tmp_path / "items.jsonl"
    archive.write_text(
        "".join(
            json.dumps(
                {
                    "published": item["published"],
                    "source": item["feed"],
                    "title": item["title"],
                    "summary": item["summary"],
                    "link": item["link"],
                }
            )
            + "\n"
            for item in items
        )
    )
    output = tmp_path / "replayed.jsonl"
    replayed = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "replay",
            "--config",
            str(config),
            "--input",
            str(archive),
            "--output",
            str(output),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replayed.returncode == 0, replayed.stderr

    def shape(alert: dict[str, Any]) -> tuple[Any, ...]:
        return (alert["pair"], alert["direction"], alert["level"], alert["previous_level"], alert["reason"])

    live = [shape(escalation), shape(deescalation)]
    offline = [shape(json.loads(line)) for line in output.read_text().splitlines() if line.strip()]
    assert offline == live
