"""Email notifier against a real aiosmtpd server on loopback."""

from __future__ import annotations

import dataclasses
import ssl
from datetime import UTC, datetime

import pytest

from monitor.domain import Direction, Evidence, Level
from monitor.notify.base import DeliveryError
from monitor.notify.email import EmailNotifier, message_id
from monitor.notify.render import Renderer, headline
from monitor.notify.sample import sample_alert
from tests.support.receivers import SMTP_PASSWORD, SMTP_USER, SmtpReceiver

NOW = datetime(2026, 5, 7, 21, 30, tzinfo=UTC)
HOSTILE = 'Strike <script>alert("x")</script> & "friends" near border'


def hostile_alert() -> object:
    base = sample_alert(NOW, uid="a1b2c3")
    evidence = dataclasses.replace(base.evidence[0], title=HOSTILE, link="https://news.example/x?a=1&b=2")
    return dataclasses.replace(base, evidence=(evidence,))


def notifier(receiver: SmtpReceiver, **kwargs: object) -> EmailNotifier:
    options: dict[str, object] = {
        "name": "desk-email",
        "host": receiver.host,
        "port": receiver.port,
        "from_": "monitor@example.org",
        "to": ["desk@example.org"],
        "renderer": Renderer(timezone="Asia/Karachi"),
        "timeout": 5.0,
    }
    options.update(kwargs)
    return EmailNotifier(**options)  # type: ignore[arg-type]


async def test_it_delivers_multipart_mail_with_stable_message_id(smtp_receiver: SmtpReceiver) -> None:
    alert = sample_alert(NOW, uid="a1b2c3")
    await notifier(smtp_receiver).send(alert)
    [mail] = smtp_receiver.received()
    msg = mail.parsed()
    assert mail.rcpt_tos == ["desk@example.org"]
    assert msg["Subject"] == "[ESCALATION] Iran–Pakistan: elevated -> high"
    assert msg["Message-ID"] == "<a1b2c3.desk-email@crisis-monitor>" == message_id("a1b2c3", "desk-email")
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    plain = text.get_content()
    assert "2026-05-07 21:30 UTC" in plain and "2026-05-08 02:30 Asia/Karachi" in plain  # both zones
    assert "cross-border shelling" in plain and "Sample Wire, Example News" in plain
    assert "https://example.org/sample-story" in plain and "+6.5" in plain and "80%" in plain


async def test_it_escapes_hostile_titles_in_html(smtp_receiver: SmtpReceiver) -> None:
    await notifier(smtp_receiver).send(hostile_alert())  # type: ignore[arg-type]
    msg = smtp_receiver.received()[0].parsed()
    html_part = msg.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;friends&#34;" in html
    assert 'href="https://news.example/x?a=1&amp;b=2"' in html
    text_part = msg.get_body(preferencelist=("plain",))
    assert text_part is not None and HOSTILE in text_part.get_content()  # plain text stays plain


async def test_de_escalation_subject_and_test_marking(smtp_receiver: SmtpReceiver) -> None:
    alert = dataclasses.replace(
        sample_alert(NOW), direction=Direction.DE_ESCALATION, level=Level.CALM, previous_level=Level.HIGH
    )
    assert headline(alert) == "[DE-ESCALATION] Iran–Pakistan: high -> calm"
    await notifier(smtp_receiver).send(alert, test=True)
    msg = smtp_receiver.received()[0].parsed()
    assert msg["Subject"] == "[TEST] [DE-ESCALATION] Iran–Pakistan: high -> calm"
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and "THIS IS A TEST ALERT" in body.get_content()


async def test_it_caps_evidence_and_title_length(smtp_receiver: SmtpReceiver) -> None:
    base = sample_alert(NOW)
    many = tuple(
        dataclasses.replace(base.evidence[0], id=f"s{i}", title=f"story {i} " + "x" * 1000) for i in range(25)
    )
    await notifier(smtp_receiver).send(dataclasses.replace(base, evidence=many))
    text = smtp_receiver.received()[0].parsed().get_body(preferencelist=("plain",))
    assert text is not None
    content = text.get_content()
    assert "story 9 " in content and "story 10 " not in content and "and 15 more stories" in content
    assert "x" * 400 not in content


async def test_it_authenticates_over_starttls(smtp_tls_receiver: SmtpReceiver) -> None:
    assert smtp_tls_receiver.cert_file is not None
    context = ssl.create_default_context(cafile=str(smtp_tls_receiver.cert_file))
    sender = notifier(
        smtp_tls_receiver, starttls=True, username=SMTP_USER, password=SMTP_PASSWORD, ssl_context=context
    )
    await sender.send(sample_alert(NOW))
    assert len(smtp_tls_receiver.received()) == 1
    assert smtp_tls_receiver.logins == [(SMTP_USER, SMTP_PASSWORD)]


async def test_it_sends_over_implicit_tls(smtps_receiver: SmtpReceiver) -> None:
    assert smtps_receiver.cert_file is not None
    context = ssl.create_default_context(cafile=str(smtps_receiver.cert_file))
    await notifier(smtps_receiver, tls=True, ssl_context=context).send(sample_alert(NOW))
    assert len(smtps_receiver.received()) == 1


async def test_untrusted_certificate_is_a_permanent_error(smtp_tls_receiver: SmtpReceiver) -> None:
    sender = notifier(smtp_tls_receiver, starttls=True, username=SMTP_USER, password=SMTP_PASSWORD)
    with pytest.raises(DeliveryError) as caught:
        await sender.send(sample_alert(NOW))
    assert caught.value.permanent
    assert "certificate" in str(caught.value)
    assert smtp_tls_receiver.received() == []


async def test_authentication_failure_is_permanent(smtp_auth_receiver: SmtpReceiver) -> None:
    smtp_auth_receiver.fail_auth = True
    sender = notifier(smtp_auth_receiver, username=SMTP_USER, password=SMTP_PASSWORD)
    with pytest.raises(DeliveryError) as caught:
        await sender.send(sample_alert(NOW))
    assert caught.value.permanent
    assert "authentication refused: 535" in str(caught.value)
    assert SMTP_PASSWORD not in str(caught.value)
    assert smtp_auth_receiver.received() == []


async def test_it_authenticates_on_plain_loopback(smtp_auth_receiver: SmtpReceiver) -> None:
    await notifier(smtp_auth_receiver, username=SMTP_USER, password=SMTP_PASSWORD).send(sample_alert(NOW))
    assert len(smtp_auth_receiver.received()) == 1


async def test_invalid_recipient_is_permanent(smtp_receiver: SmtpReceiver) -> None:
    smtp_receiver.reject.add("nobody@example.org")
    with pytest.raises(DeliveryError) as caught:
        await notifier(smtp_receiver, to=["nobody@example.org"]).send(sample_alert(NOW))
    assert caught.value.permanent
    assert "nobody@example.org (550" in str(caught.value)


async def test_temporary_refusal_is_transient(smtp_receiver: SmtpReceiver) -> None:
    smtp_receiver.refuse = True
    with pytest.raises(DeliveryError) as caught:
        await notifier(smtp_receiver).send(sample_alert(NOW))
    assert not caught.value.permanent
    assert "451" in str(caught.value)


async def test_server_down_is_transient(smtp_receiver: SmtpReceiver) -> None:
    smtp_receiver.stop()
    with pytest.raises(DeliveryError) as caught:
        await notifier(smtp_receiver).send(sample_alert(NOW))
    assert not caught.value.permanent
    assert "refused" in str(caught.value).lower()


def test_evidence_without_link_and_unknown_country_render() -> None:
    base = sample_alert(NOW)
    evidence = Evidence(
        id="e", title="t", sources=(), published=NOW, link="javascript:alert(1)", score=1, confidence=0.5
    )
    rendered = Renderer().email(dataclasses.replace(base, evidence=(evidence,)))
    assert "javascript:" not in rendered.html and "javascript:" not in rendered.text


def test_user_templates_override_package_ones(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "email_subject.txt").write_text("ALERT {{ pair.key }} {{ level }}")
    rendered = Renderer(templates_dir=folder).email(sample_alert(NOW))
    assert rendered.subject == "ALERT IR-PK high"
    assert "Evidence" in rendered.text  # the other templates still come from the package


def test_a_broken_user_template_is_a_permanent_error_naming_it(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "email.txt").write_text("line one\n{{ no_such_field }}\n")
    (folder / "email.html").write_text("<p>\n{% if %}</p>\n")
    with pytest.raises(DeliveryError) as caught:
        Renderer(templates_dir=folder).email(sample_alert(NOW))
    assert caught.value.permanent and "template email.txt: 'no_such_field' is undefined" in str(caught.value)
    (folder / "email.txt").unlink()
    with pytest.raises(DeliveryError) as caught:
        Renderer(templates_dir=folder).email(sample_alert(NOW))
    assert caught.value.permanent and str(caught.value).startswith(f"template {folder / 'email.html'}:2:")


def test_subject_names_the_pair_in_the_order_the_config_wrote_it(tmp_path: object) -> None:
    from pathlib import Path

    from monitor.config import parse_config
    from monitor.notify import renderer_for

    alert = sample_alert(NOW)  # the sample is an IR-PK alert
    config = parse_config("pairs:\n  - [PK, IR]\n", Path("monitor.yaml"))
    rendered = renderer_for(config).email(alert)
    assert rendered.subject.startswith("[ESCALATION] Pakistan–Iran: ")
    assert Renderer().email(alert).subject.startswith("[ESCALATION] Iran–Pakistan: ")
