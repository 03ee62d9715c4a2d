"""Test fixtures: real receivers on loopback for the notifiers.

`smtp_receiver`: an aiosmtpd server on 127.0.0.1 that records every message and can be told to refuse
(4xx), to fail authentication, to reject a recipient (5xx), to stop (connection refused) and to start
again on the same port; optionally STARTTLS with a self-signed certificate and AUTH.

`http_receiver`: a threaded HTTP server on 127.0.0.1 recording each request (path, headers, body) and
answering from a script of replies (e.g. 500, 500, 200), then 200 by default.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

SMTP_USER = "monitor"
SMTP_PASSWORD = "s3cret-smtp-pass"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    def parsed(self) -> email.message.EmailMessage:
        msg = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        return msg


class _Handler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.receiver.refuse:
            return "451 4.3.0 Temporary failure, try again later"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.receiver.reject:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        with self.receiver.lock:
            self.receiver.messages.append(
                ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), content)
            )
        if self.receiver.delay:  # recorded but not yet acknowledged: a sender killed now will resend
            await asyncio.sleep(self.receiver.delay)
        return "250 Message accepted"


@dataclass
class SmtpReceiver:
    """A real SMTP server. Mutate `refuse`, `reject`, `fail_auth` at any time; stop()/start() it."""

    port: int
    tls_context: ssl.SSLContext | None = None  # STARTTLS
    implicit_tls: ssl.SSLContext | None = None  # TLS from the first byte (SMTPS, port 465 style)
    require_auth: bool = False
    cert_file: Path | None = None
    refuse: bool = False
    fail_auth: bool = False
    delay: float = 0.0  # seconds between receiving a message and acknowledging it
    reject: set[str] = field(default_factory=set)
    messages: list[ReceivedMail] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    host = "127.0.0.1"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        password = auth_data.password.decode()
        with self.lock:
            self.logins.append((login, password))
        ok = not self.fail_auth and login == SMTP_USER and password == SMTP_PASSWORD
        return AuthResult(success=ok, handled=False)

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self.require_auth:
            kwargs.update(
                authenticator=self._authenticate,
                # aiosmtpd warns when AUTH is required without TLS; on plain loopback AUTH is offered
                # (and checked when used) but not required.
                auth_required=self.tls_context is not None,
                auth_require_tls=self.tls_context is not None,
            )
        if self.tls_context is not None:
            kwargs.update(tls_context=self.tls_context, require_starttls=True)
        if self.implicit_tls is not None:
            kwargs["ssl_context"] = self.implicit_tls
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self) -> list[ReceivedMail]:
        with self.lock:
            return list(self.messages)


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 via the openssl command line (skips when absent)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not found: cannot make a certificate for the STARTTLS test")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    """Plain SMTP on loopback, no auth."""
    receiver = SmtpReceiver(port=free_port())
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp_auth_receiver() -> Iterator[SmtpReceiver]:
    """SMTP requiring AUTH (user monitor / SMTP_PASSWORD) on a plain loopback connection."""
    receiver = SmtpReceiver(port=free_port(), require_auth=True)
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp_tls_receiver(tmp_path: Path) -> Iterator[SmtpReceiver]:
    """SMTP with STARTTLS required (self-signed certificate in `cert_file`) and AUTH required."""
    cert, key = make_self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    receiver = SmtpReceiver(port=free_port(), tls_context=context, require_auth=True, cert_file=cert)
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtps_receiver(tmp_path: Path) -> Iterator[SmtpReceiver]:
    """SMTP over implicit TLS (self-signed certificate in `cert_file`), no auth."""
    cert, key = make_self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    receiver = SmtpReceiver(port=free_port(), implicit_tls=context, cert_file=cert)
    receiver.start()
    yield receiver
    receiver.stop()


# --------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class HttpReceiver:
    """A real HTTP server. `script` replies are used in order, then `default`."""

    server: ThreadingHTTPServer
    script: list[Reply] = field(default_factory=list)
    default: Reply = field(default_factory=Reply)
    delay: float = 0.0  # seconds to wait before answering (to widen the mid-send window)
    requests: list[ReceivedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def reply_with(self, *replies: Reply | int) -> None:
        with self.lock:
            self.script.extend(r if isinstance(r, Reply) else Reply(status=r) for r in replies)

    def received(self) -> list[ReceivedRequest]:
        with self.lock:
            return list(self.requests)

    def _next(self, request: ReceivedRequest) -> Reply:
        with self.lock:
            self.requests.append(request)
            return self.script.pop(0) if self.script else self.default


def _handler_for(receiver_box: list[HttpReceiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver = receiver_box[0]
            request = ReceivedRequest(
                path=self.path, headers={k.lower(): v for k, v in self.headers.items()}, body=body
            )
            reply = receiver._next(request)  # recorded first: a sender killed during the delay resends
            if receiver.delay:
                time.sleep(receiver.delay)
            payload = reply.body.encode()
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender went away (killed mid-request): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a sender killed mid-request (the kill test does that on purpose)
        super().handle_error(request, client_address)


def start_http_receiver() -> tuple[HttpReceiver, threading.Thread]:
    box: list[HttpReceiver] = []
    server = _QuietServer(("127.0.0.1", 0), _handler_for(box))
    server.daemon_threads = True
    receiver = HttpReceiver(server=server)
    box.append(receiver)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="http-receiver", daemon=True)
    thread.start()
    return receiver, thread


def stop_http_receiver(receiver: HttpReceiver, thread: threading.Thread) -> None:
    receiver.server.shutdown()
    receiver.server.server_close()
    thread.join(5)


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver, thread = start_http_receiver()
    yield receiver
    stop_http_receiver(receiver, thread)


@pytest.fixture
def http_receiver2() -> Iterator[HttpReceiver]:
    """A second, independent receiver (Slack and webhook side by side)."""
    receiver, thread = start_http_receiver()
    yield receiver
    stop_http_receiver(receiver, thread)
