"""A real HTTP/1.1 server on 127.0.0.1 serving feeds, with conditional GET and hostile routes.

    def test_x(feed_server):
        feed_server.serve("/feed.xml", b"<rss ...>")          # set or change a document at run time
        feed_server.redirect("/old.xml", "/feed.xml", 301)     # or 302, 307, 308
        url = feed_server.url("/feed.xml")
        ... feed_server.requests[-1].headers["if-none-match"] ...

Documents get an ETag (hash of the body) and a Last-Modified (time of `serve`), and are answered
304 when If-None-Match matches, or, without If-None-Match, when If-Modified-Since is not older.
Every file under tests/data/feeds/ is served at /feeds/<path> (a `.gz` file at its name without
`.gz`, with Content-Encoding: gzip).

Hostile routes (waits are bounded and end when the server stops, so tests stay fast):
    /hostile/slow?delay=S       headers only after S seconds (default 2): past a small read timeout
    /hostile/drip?every=S       a valid start, then one byte every S seconds (default 0.05) for 30 s
    /hostile/endless            200 without Content-Length, bytes until the client hangs up (max 200 MB)
    /hostile/huge               a 10 MB body with Content-Length
    /hostile/500, /hostile/404  those statuses
    /hostile/429                429 with Retry-After: 120
    /hostile/503                503 with Retry-After as an HTTP date 90 s ahead (Date header sent too)
    /hostile/gone               410
    /hostile/loop-a             302 -> /hostile/loop-b -> 302 -> /hostile/loop-a
    /hostile/moved-301          301 -> /feeds/real_news/bbc_news_world.rss.xml
    /hostile/moved-308          308 -> /hostile/moved-301 (a chain of permanent redirects)
    /hostile/found-302          302 -> /feeds/real_news/bbc_news_world.rss.xml (temporary)
    /hostile/html               an HTML page with status 200
    /hostile/bad-utf8           an RSS feed declared UTF-8 containing invalid bytes
    /hostile/empty              200 with an empty body
    /hostile/hangup             the connection closed without an answer
    /hostile/garbage            an answer that is not HTTP
    /hostile/truncated          Content-Length 1000, 12 bytes, then the connection closed
    /hostile/bad-gzip           Content-Encoding: gzip over bytes that are not gzip
    /hold?delay=S               a small valid feed after S seconds (default 0.2): for concurrency tests

`.max_in_flight` is the highest number of requests handled at the same time and
`.max_connections` of connections open at the same time; `.requests` the
requests seen, as (method, path, headers) tuples with lower-case header names.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "feeds"
BBC = "/feeds/real_news/bbc_news_world.rss.xml"
SMALL_FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Held</title><link>http://example.org/</link>
<item><title>Held item</title><link>http://example.org/held</link><guid>held-1</guid></item>
</channel></rss>
"""
BAD_UTF8_FEED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Bad bytes</title>'
    b"<item><title>Caf\xe9 talks \xff\xfe resume</title><link>http://example.org/cafe</link></item>"
    b"<item><title>Second item</title><link>http://example.org/second</link></item>"
    b"</channel></rss>\n"
)
HTML_PAGE = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body><p>Not a feed</p></body></html>"
TYPES = {".xml": "application/xml", ".rss": "application/rss+xml", ".html": "text/html; charset=utf-8"}


class Request(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Document:
    body: bytes
    content_type: str
    headers: dict[str, str]
    etag: str
    last_modified: str
    last_modified_ts: float


@dataclass
class _State:
    documents: dict[str, Document] = field(default_factory=dict)
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    in_flight: int = 0
    max_in_flight: int = 0
    connections: int = 0
    max_connections: int = 0


class FeedServer:
    """The server; use as a context manager or through the `feed_server` fixtures."""

    def __init__(self) -> None:
        self._state = _State()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.state = self._state  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="feed-server", daemon=True
        )
        for file in sorted(DATA.rglob("*")):
            if file.is_file():
                self._serve_file(file)

    # -- lifecycle
    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- API
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path if path.startswith('/') else '/' + path}"

    def serve(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/rss+xml",
        headers: Mapping[str, str] | None = None,
    ) -> Document:
        """Set or replace the document at `path`; a new body gets a new ETag and Last-Modified."""
        now = time.time()
        document = Document(
            body=body,
            content_type=content_type,
            headers=dict(headers or {}),
            etag='"' + hashlib.sha256(body).hexdigest()[:20] + '"',
            last_modified=email.utils.formatdate(now, usegmt=True),
            last_modified_ts=float(int(now)),
        )
        with self._state.lock:
            previous = self._state.documents.get(path)
            if previous is not None and previous.body == body:
                return previous  # unchanged: keep the validators
            self._state.documents[path] = document
        return document

    def redirect(self, path: str, location: str, status: int = 301) -> None:
        """Answer `path` with a redirect to `location` (a path or a full URL)."""
        with self._state.lock:
            self._state.redirects[path] = (status, location)

    def remove(self, path: str) -> None:
        with self._state.lock:
            self._state.documents.pop(path, None)
            self._state.redirects.pop(path, None)

    @property
    def requests(self) -> list[Request]:
        with self._state.lock:
            return list(self._state.requests)

    def requests_for(self, path: str) -> list[Request]:
        return [r for r in self.requests if urlsplit(r.path).path == path]

    def clear_requests(self) -> None:
        with self._state.lock:
            self._state.requests.clear()
            self._state.max_in_flight = self._state.in_flight
            self._state.max_connections = self._state.connections

    @property
    def max_in_flight(self) -> int:
        """The most requests handled at the same time."""
        with self._state.lock:
            return self._state.max_in_flight

    @property
    def max_connections(self) -> int:
        """The most TCP connections open at the same time."""
        with self._state.lock:
            return self._state.max_connections

    def _serve_file(self, file: Path) -> None:
        relative = file.relative_to(DATA).as_posix()
        if file.suffix == ".gz":
            inner = Path(relative[: -len(".gz")])
            self.serve(
                f"/feeds/{inner.as_posix()}",
                file.read_bytes(),
                TYPES.get(inner.suffix, "application/xml"),
                {"Content-Encoding": "gzip"},
            )
        else:
            self.serve(f"/feeds/{relative}", file.read_bytes(), TYPES.get(file.suffix, "application/xml"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "feedserver/1"

    @property
    def state(self) -> _State:
        return self.server.state  # type: ignore[attr-defined, no-any-return]

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def handle(self) -> None:
        state = self.state
        with state.lock:
            state.connections += 1
            state.max_connections = max(state.max_connections, state.connections)
        try:
            with contextlib.suppress(OSError):  # the client hung up (timeouts, caps): expected when hostile
                super().handle()
        finally:
            with state.lock:
                state.connections -= 1

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        state = self.state
        headers = {k.lower(): v for k, v in self.headers.items()}
        with state.lock:
            state.requests.append(Request(self.command, self.path, headers))
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            self._route(headers)
        finally:
            with state.lock:
                state.in_flight -= 1

    # -- routing
    def _route(self, headers: dict[str, str]) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        with self.state.lock:
            document = self.state.documents.get(path)
            redirect = self.state.redirects.get(path)
        if redirect is not None:
            self._redirect(*redirect)
            return
        if document is not None:
            self._document(document, headers)
            return
        routes = {
            "/hostile/slow": lambda: self._slow(float(query.get("delay", ["2"])[0])),
            "/hostile/drip": lambda: self._drip(float(query.get("every", ["0.05"])[0])),
            "/hostile/endless": self._endless,
            "/hostile/huge": lambda: self._send(200, b"<" + b"x" * 10_000_000, "application/xml"),
            "/hostile/500": lambda: self._send(500, b"boom", "text/plain"),
            "/hostile/404": lambda: self._send(404, b"no such feed", "text/plain"),
            "/hostile/429": lambda: self._send(429, b"slow down", "text/plain", {"Retry-After": "120"}),
            "/hostile/503": self._unavailable,
            "/hostile/gone": lambda: self._send(410, b"gone", "text/plain"),
            "/hostile/loop-a": lambda: self._redirect(302, "/hostile/loop-b"),
            "/hostile/loop-b": lambda: self._redirect(302, "/hostile/loop-a"),
            "/hostile/moved-301": lambda: self._redirect(301, BBC),
            "/hostile/moved-308": lambda: self._redirect(308, "/hostile/moved-301"),
            "/hostile/found-302": lambda: self._redirect(302, BBC),
            "/hostile/html": lambda: self._send(200, HTML_PAGE, "text/html; charset=utf-8"),
            "/hostile/bad-utf8": lambda: self._send(200, BAD_UTF8_FEED, "application/rss+xml"),
            "/hostile/empty": lambda: self._send(200, b"", "application/rss+xml"),
            "/hostile/hangup": self._hang_up,
            "/hostile/garbage": lambda: self._raw(b"SURPRISE, NOT HTTP\r\n\r\n"),
            "/hostile/truncated": lambda: self._raw(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 1000\r\n\r\n"
                b"<rss version="
            ),
            "/hostile/bad-gzip": lambda: self._send(
                200, b"this is not gzip at all", "application/rss+xml", {"Content-Encoding": "gzip"}
            ),
            "/hold": lambda: self._hold(float(query.get("delay", ["0.2"])[0])),
        }
        handler = routes.get(path)
        if handler is None:
            self._send(404, b"not found", "text/plain")
        else:
            handler()

    def _document(self, document: Document, headers: dict[str, str]) -> None:
        validators = {"ETag": document.etag, "Last-Modified": document.last_modified}
        if _not_modified(document, headers):
            self._send(304, b"", None, validators)
            return
        self._send(200, document.body, document.content_type, {**validators, **document.headers})

    def _send(
        self, status: int, body: bytes, content_type: str | None, extra: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)

    def _redirect(self, status: int, location: str) -> None:
        self._send(status, b"", "text/plain", {"Location": location})

    def _hang_up(self) -> None:
        self.close_connection = True

    def _raw(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        self.close_connection = True

    def _unavailable(self) -> None:
        now = time.time()
        self._send(
            503,
            b"maintenance",
            "text/plain",
            {
                "Date": email.utils.formatdate(now, usegmt=True),
                "Retry-After": email.utils.formatdate(now + 90, usegmt=True),
            },
        )

    def _slow(self, delay: float) -> None:
        if self.state.stopping.wait(min(delay, 30.0)):
            return
        self._send(200, SMALL_FEED, "application/rss+xml")

    def _hold(self, delay: float) -> None:
        if self.state.stopping.wait(min(delay, 30.0)):
            return
        self._send(200, SMALL_FEED, "application/rss+xml")

    def _drip(self, every: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        self.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
        self.wfile.flush()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.state.stopping.wait(every):
            self.wfile.write(b" ")
            self.wfile.flush()
        self.close_connection = True

    def _endless(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"<item><title>again</title></item>" * 2000
        sent = 0
        while sent < 200_000_000 and not self.state.stopping.is_set():
            self.wfile.write(chunk)
            sent += len(chunk)
        self.close_connection = True


def _not_modified(document: Document, headers: Mapping[str, str]) -> bool:
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or document.etag in tags
    since = headers.get("if-modified-since")
    if since:
        try:
            parsed = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError):
            return False
        return document.last_modified_ts <= parsed.timestamp()
    return False


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A fresh server per test: documents and recorded requests start clean."""
    with FeedServer() as server:
        yield server


@pytest.fixture(scope="session")
def feed_server_session() -> Iterator[FeedServer]:
    """One server for the whole run, for tests that only read the default documents."""
    with FeedServer() as server:
        yield server
