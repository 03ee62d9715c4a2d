"""Email over SMTP: STARTTLS or implicit TLS, optional authentication, multipart text + HTML.

smtplib runs in a worker thread (one connection per message). The Message-ID is derived from the alert
uid and the notifier name, so a resend after a crash mid-send carries the same id and the receiving
side can recognise it.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate

from monitor.domain import Alert
from monitor.notify.base import DeliveryError, describe_exception, redact
from monitor.notify.render import Renderer

MESSAGE_ID_DOMAIN = "crisis-monitor"


def message_id(uid: str, notifier: str) -> str:
    """'<uid.notifier@crisis-monitor>': stable across retries and restarts."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "-", f"{uid}.{notifier}")
    return f"<{clean}@{MESSAGE_ID_DOMAIN}>"


def smtp_error(exc: BaseException) -> DeliveryError:
    """Map an smtplib / socket failure to a DeliveryError (the message still needs redaction)."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(
            f"authentication refused: {_reply(exc.smtp_code, exc.smtp_error)}", permanent=True
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"server does not support it: {exc}", permanent=True)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"{rcpt} ({_reply(code, msg)})" for rcpt, (code, msg) in exc.recipients.items()]
        permanent = all(500 <= code < 600 for code, _ in exc.recipients.values())
        return DeliveryError(f"recipients refused: {', '.join(parts)}", permanent=permanent)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return DeliveryError(
            f"sender {exc.sender} refused: {_reply(exc.smtp_code, exc.smtp_error)}",
            permanent=500 <= exc.smtp_code < 600,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return DeliveryError(
            f"server replied {_reply(exc.smtp_code, exc.smtp_error)}",
            permanent=500 <= exc.smtp_code < 600,
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(f"TLS certificate rejected: {exc.verify_message}", permanent=True)
    if isinstance(exc, TimeoutError):
        return DeliveryError("timed out", permanent=False)
    # SMTPServerDisconnected, ConnectionRefusedError, other OSError, SSL handshake failures.
    return DeliveryError(describe_exception(exc), permanent=False)


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}".strip()


class EmailNotifier:
    """Sends each alert as one email to all recipients."""

    kind = "email"

    def __init__(
        self,
        *,
        name: str,
        host: str,
        port: int,
        from_: str,
        to: Sequence[str],
        renderer: Renderer,
        starttls: bool = False,
        tls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if starttls and tls:
            raise ValueError(f"notifier {name}: choose starttls or tls (implicit TLS), not both")
        if not to:
            raise ValueError(f"notifier {name}: no recipients")
        self._name = name
        self.host = host
        self.port = port
        self.from_ = from_
        self.to = tuple(to)
        self.starttls = starttls
        self.tls = tls
        self.username = username
        self._password = password
        self.timeout = timeout
        self._renderer = renderer
        self._ssl_context = ssl_context

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"EmailNotifier({self.describe()})"

    def describe(self) -> str:
        security = "implicit TLS" if self.tls else "STARTTLS" if self.starttls else "plain"
        auth = f", auth as {self.username}" if self.username else ""
        return f"email via {self.host}:{self.port} ({security}{auth}) to {', '.join(self.to)}"

    def build(self, alert: Alert, *, test: bool = False) -> EmailMessage:
        rendered = self._renderer.email(alert, test=test)
        msg = EmailMessage()
        msg["Subject"] = rendered.subject
        msg["From"] = self.from_
        msg["To"] = ", ".join(self.to)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = message_id(alert.uid, self.name)
        msg["X-Monitor-Alert-Id"] = alert.uid
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(rendered.text)
        msg.add_alternative(rendered.html, subtype="html")
        return msg

    async def send(self, alert: Alert, *, test: bool = False) -> None:
        msg = self.build(alert, test=test)
        try:
            await asyncio.to_thread(self._send_sync, msg)
        except DeliveryError as exc:
            raise DeliveryError(
                redact(f"{self.name}: {exc.message}", [self._password]), permanent=exc.permanent
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            error = smtp_error(exc)
            raise DeliveryError(
                redact(f"{self.name}: {error.message}", [self._password]), permanent=error.permanent
            ) from None

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context if self._ssl_context is not None else ssl.create_default_context()

    def _send_sync(self, msg: EmailMessage) -> None:
        smtp: smtplib.SMTP
        if self.tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self._password or "")
            refused = smtp.send_message(msg, from_addr=self.from_, to_addrs=list(self.to))
        if refused:
            parts = [f"{rcpt} ({_reply(code, text)})" for rcpt, (code, text) in refused.items()]
            raise DeliveryError(
                f"delivered to {len(self.to) - len(refused)} of {len(self.to)} recipients; "
                f"refused: {', '.join(parts)}",
                permanent=True,
            )
