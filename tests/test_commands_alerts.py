"""`monitor test-alert`, `monitor status` and `monitor alerts` through the real CLI entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.cli import main
from monitor.db.models import Delivery, Feed, PairState
from monitor.db.session import Database
from monitor.domain import Pair
from monitor.notify.sample import sample_alert
from monitor.outbox import enqueue_alert
from tests.support.receivers import HttpReceiver, Reply, SmtpReceiver

SLACK_PATH = "/services/T1/B1/slacksecret42"
HOOK_SECRET = "hook-signing-secret-99"


@pytest.fixture
def config_file(
    tmp_path: Path,
    smtp_receiver: SmtpReceiver,
    http_receiver: HttpReceiver,
    http_receiver2: HttpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    monkeypatch.setenv("TEST_SLACK_URL", http_receiver.url + SLACK_PATH)
    monkeypatch.setenv("TEST_HOOK_SECRET", HOOK_SECRET)
    path = tmp_path / "monitor.yaml"
    path.write_text(
        f"""
database: sqlite:///{tmp_path / "monitor.db"}
timezone: Asia/Karachi
pairs:
  - [PK, IR]
  - {{pair: [IN, PK], notify: [desk-email]}}
notifiers:
  desk-email: {{type: email, host: 127.0.0.1, port: {smtp_receiver.port}, starttls: false,
               from: monitor@example.org, to: [desk@example.org], timeout: 5s}}
  desk-slack: {{type: slack, url_env: TEST_SLACK_URL, timeout: 5s}}
  ops-hook: {{type: webhook, url: "{http_receiver2.url}/hook", secret_env: TEST_HOOK_SECRET, timeout: 5s}}
"""
    )
    return path


def test_test_alert_reports_each_notifier(
    config_file: Path,
    smtp_receiver: SmtpReceiver,
    http_receiver: HttpReceiver,
    http_receiver2: HttpReceiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    http_receiver2.reply_with(Reply(status=404, body="no such hook"))
    assert main(["test-alert", "--config", str(config_file)]) == 1
    out = capsys.readouterr().out
    assert "desk-email  delivered" in out
    assert "desk-slack  delivered" in out
    assert "ops-hook    failed (permanent): ops-hook: HTTP 404 no such hook" in out
    assert SLACK_PATH not in out and HOOK_SECRET not in out
    [mail] = smtp_receiver.received()
    assert mail.parsed()["Subject"].startswith("[TEST] [ESCALATION] Pakistan–Iran")  # as the config writes it
    assert http_receiver.received()[0].json()["text"].startswith("[TEST] [ESCALATION]")
    assert http_receiver2.received()[0].json()["test"] is True


def test_test_alert_can_pick_one_notifier(
    config_file: Path,
    smtp_receiver: SmtpReceiver,
    http_receiver: HttpReceiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["test-alert", "--config", str(config_file), "--notifier", "desk-slack"]) == 0
    assert capsys.readouterr().out.strip() == "desk-slack  delivered"
    assert smtp_receiver.received() == [] and len(http_receiver.received()) == 1


def test_test_alert_rejects_an_unknown_notifier(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test-alert", "--config", str(config_file), "--notifier", "pager"]) == 1
    assert (
        "no notifier named 'pager' (configured: desk-email, desk-slack, ops-hook)" in capsys.readouterr().err
    )


def test_test_alert_names_a_missing_secret(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TEST_SLACK_URL")
    assert main(["test-alert", "--config", str(config_file), "--notifier", "desk-slack"]) == 1
    assert "TEST_SLACK_URL is not set" in capsys.readouterr().out


def seed(config_file: Path, tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    db.upgrade()
    t0 = datetime(2026, 5, 7, 12, 0, tzinfo=UTC)
    with db.session() as session:
        enqueue_alert(session, sample_alert(t0, uid="al-1"), ["desk-email", "desk-slack", "ops-hook"], t0)
        other = sample_alert(t0 + timedelta(hours=1), uid="al-2")
        enqueue_alert(
            session, type(other)(**{**_fields(other), "pair": Pair.of("IN", "PK")}), ["desk-email"], t0
        )
        session.add(PairState(pair="IR-PK", tension=6.4, level=2, updated_at=t0))
        session.add(
            Feed(
                name="Broken Feed",
                url="http://x.example/rss",
                current_url="http://x.example/rss",
                consecutive_failures=3,
                last_error="HTTP 500",
            )
        )
        session.add(Feed(name="Fine Feed", url="http://y.example/rss", current_url="http://y.example/rss"))
        session.flush()
        for d in session.scalars(select(Delivery)):
            if d.notifier == "ops-hook":
                d.status, d.attempts, d.last_error, d.last_attempt_at = "failed", 1, "ops-hook: HTTP 404", t0
            elif d.notifier == "desk-email" and d.alert.uid == "al-1":
                d.status, d.attempts, d.sent_at = "sent", 1, t0
    db.dispose()


def _fields(alert: object) -> dict[str, object]:
    return {name: getattr(alert, name) for name in alert.__slots__}  # type: ignore[attr-defined]


def test_status_shows_pairs_notifiers_failures_and_feeds(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(config_file, tmp_path)
    assert main(["status", "--config", str(config_file)]) == 0
    out = " ".join(capsys.readouterr().out.split(" "))  # one space between columns, lines kept
    out = "\n".join(" ".join(line.split()) for line in out.splitlines())
    assert "IR-PK Pakistan–Iran high 6.40" in out  # the pair as the config writes it
    assert "escalation elevated -> high (escalated)" in out
    assert "desk-email email 2026-05-07T12:00:00Z" in out
    assert "ops-hook webhook never" in out and "ops-hook: HTTP 404" in out
    assert "al-1 IR-PK ops-hook 1" in out  # failed deliveries listed
    assert "Broken Feed" in out and "Fine Feed" not in out
    assert SLACK_PATH not in out and HOOK_SECRET not in out


def test_alerts_lists_deliveries_as_table_and_jsonl(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(config_file, tmp_path)
    assert main(["alerts", "--config", str(config_file), "--format", "jsonl"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in records] == ["al-2", "al-1"]
    first = records[1]
    assert (
        first["pair"] == ["IR", "PK"]
        and first["level"] == "high"
        and first["evidence"][0]["id"] == "sample-1"
    )
    assert {d["notifier"]: d["status"] for d in first["deliveries"]} == {
        "desk-email": "sent",
        "desk-slack": "pending",
        "ops-hook": "failed",
    }
    assert main(["alerts", "--config", str(config_file), "--pair", "PK-IR"]) == 0
    table = capsys.readouterr().out
    assert len(table.splitlines()) == 2  # header and al-1
    assert "IN-PK" not in table and "ops-hook: failed (1) ops-hook: HTTP 404" in table


def test_alerts_rejects_a_bad_pair(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "--config", str(config_file), "--pair", "PKIR"]) == 1
    assert "not a pair of country codes" in capsys.readouterr().err


async def test_a_webhook_answering_404_shows_as_failed_in_status(
    config_file: Path,
    tmp_path: Path,
    smtp_receiver: SmtpReceiver,
    http_receiver2: HttpReceiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from monitor.config import load_config
    from monitor.delivery import deliver_due
    from monitor.notify import build_notifiers

    config = load_config(config_file)
    db = Database.open(config.database)
    db.upgrade()
    t0 = datetime.now(UTC)
    with db.session() as session:
        enqueue_alert(session, sample_alert(t0, uid="real-1"), config.notifiers_for(Pair.of("PK", "IR")), t0)
    http_receiver2.default = Reply(status=404, body="gone")
    report = await deliver_due(db, build_notifiers(config), config, t0, "w1")
    db.dispose()
    assert (report.sent, report.failed) == (2, 1)
    assert main(["status", "--config", str(config_file)]) == 0
    out = "\n".join(" ".join(line.split()) for line in capsys.readouterr().out.splitlines())
    assert "real-1 IR-PK ops-hook 1" in out and "ops-hook: HTTP 404 gone" in out
    assert "desk-email email " in out and "desk-email email never" not in out
