"""One test over every notifier and failure: no secret or webhook URL in errors, logs, repr or rows."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from monitor.db.models import Delivery
from monitor.db.session import Database
from monitor.delivery import RetryPolicy, deliver_due_with
from monitor.notify.base import DeliveryError, Notifier
from monitor.notify.email import EmailNotifier
from monitor.notify.render import Renderer
from monitor.notify.sample import sample_alert
from monitor.notify.slack import SlackNotifier
from monitor.notify.webhook import WebhookNotifier
from monitor.outbox import enqueue_alert
from tests.support.receivers import SMTP_USER, HttpReceiver, Reply, SmtpReceiver, free_port

T0 = datetime(2026, 5, 7, 12, 0, tzinfo=UTC)
SMTP_SECRET = "smtp-pw-7f3a9c2e"
SLACK_PATH = "/services/T0SECRET/B0SECRET/slacktoken9d8e7f"
HOOK_TOKEN = "hooktoken4b5c6d"
HMAC_SECRET = "hmac-secret-1a2b3c"
SECRETS = (SMTP_SECRET, SLACK_PATH, "slacktoken9d8e7f", HOOK_TOKEN, HMAC_SECRET)


@dataclass(frozen=True)
class Scenario:
    name: str
    build: Callable[[SmtpReceiver, HttpReceiver], Notifier]
    echoes_secret: bool = False  # the receiver quotes the secret back: it must be shown redacted


def _email(smtp: SmtpReceiver, http: HttpReceiver) -> Notifier:
    smtp.fail_auth = True
    return EmailNotifier(
        name="mail",
        host=smtp.host,
        port=smtp.port,
        from_="m@example.org",
        to=["d@example.org"],
        renderer=Renderer(),
        username=SMTP_USER,
        password=SMTP_SECRET,
        timeout=3,
    )


def _email_down(smtp: SmtpReceiver, http: HttpReceiver) -> Notifier:
    return EmailNotifier(
        name="mail",
        host="127.0.0.1",
        port=free_port(),
        from_="m@example.org",
        to=["d@example.org"],
        renderer=Renderer(),
        username=SMTP_USER,
        password=SMTP_SECRET,
        timeout=3,
    )


def _slack(status: int, echo: bool = False) -> Callable[[SmtpReceiver, HttpReceiver], Notifier]:
    def build(smtp: SmtpReceiver, http: HttpReceiver) -> Notifier:
        body = f"no_service for {http.url}{SLACK_PATH}" if echo else "no_service"
        http.default = Reply(status=status, body=body)
        return SlackNotifier(name="slack", url=http.url + SLACK_PATH, renderer=Renderer(), timeout=3)

    return build


def _slack_timeout(smtp: SmtpReceiver, http: HttpReceiver) -> Notifier:
    http.delay = 1.0
    return SlackNotifier(name="slack", url=http.url + SLACK_PATH, renderer=Renderer(), timeout=0.2)


def _slack_bad_url(smtp: SmtpReceiver, http: HttpReceiver) -> Notifier:
    return SlackNotifier(name="slack", url=f"ftp://hooks.example{SLACK_PATH}", renderer=Renderer(), timeout=3)


def _hook(status: int, echo: bool = False) -> Callable[[SmtpReceiver, HttpReceiver], Notifier]:
    def build(smtp: SmtpReceiver, http: HttpReceiver) -> Notifier:
        body = f"unknown hook /hook?token={HOOK_TOKEN} key {HMAC_SECRET}" if echo else "nope"
        http.default = Reply(status=status, body=body)
        return WebhookNotifier(
            name="hook", url=f"{http.url}/hook?token={HOOK_TOKEN}", secret=HMAC_SECRET, timeout=3
        )

    return build


def _hook_down(smtp: SmtpReceiver, http: HttpReceiver) -> Notifier:
    url = f"http://127.0.0.1:{free_port()}/hook?token={HOOK_TOKEN}"
    return WebhookNotifier(name="hook", url=url, secret=HMAC_SECRET, timeout=3)


SCENARIOS = [
    Scenario("email-auth-refused", _email),
    Scenario("email-server-down", _email_down),
    Scenario("slack-404", _slack(404)),
    Scenario("slack-500-echoing-url", _slack(500, echo=True), echoes_secret=True),
    Scenario("slack-timeout", _slack_timeout),
    Scenario("slack-bad-scheme", _slack_bad_url),
    Scenario("webhook-404-echoing-secrets", _hook(404, echo=True), echoes_secret=True),
    Scenario("webhook-503", _hook(503)),
    Scenario("webhook-down", _hook_down),
]


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database.open(sqlite_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_no_notifier_leaks_a_secret(
    scenario: Scenario,
    db: Database,
    smtp_auth_receiver: SmtpReceiver,
    http_receiver: HttpReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    notifier = scenario.build(smtp_auth_receiver, http_receiver)
    seen = [repr(notifier), str(notifier), notifier.describe()]

    with pytest.raises(DeliveryError) as caught:  # direct send, as `monitor test-alert` does
        await notifier.send(sample_alert(T0))
    seen += [str(caught.value), repr(caught.value), repr(caught.value.args)]
    # No chained exception either: a traceback would print it (httpx errors carry the request URL).
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__

    with db.session() as session:
        enqueue_alert(session, sample_alert(T0, uid="a1"), [notifier.name], T0)
    await deliver_due_with(db, {notifier.name: notifier}, RetryPolicy(), T0, "w1")
    with db.read_session() as session:
        row = session.scalars(select(Delivery)).one()
        assert row.last_error  # the failure was recorded...
        seen.append(row.last_error)
    seen.append(caplog.text)

    everything = "\n".join(seen)
    for secret in SECRETS:
        assert secret not in everything, f"{scenario.name} leaked {secret!r}"
    if scenario.echoes_secret:
        assert "<redacted>" in everything
