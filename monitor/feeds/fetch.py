"""Fetch one feed over HTTP: conditional GET, bounded redirects, timeouts, a streamed size cap.

Requests and responses are httpx's (`httpx.Request`, streamed `httpx.Response`, its content
decoders and timeout extensions), sent through one async transport: `httpx-aiohttp`'s, which
keeps httpx's API over aiohttp's connection pool. Measured on loopback 304 polls (bench/README.md):
one httpx AsyncClient on httpcore's own pool costs 2-9 ms of CPU per poll at 50 concurrent
requests; over the aiohttp transport about 0.3 ms, and sending straight to the transport about
0.2 ms (plain aiohttp: 0.12 ms). The fetcher sends to the transport itself, without an
AsyncClient on top, because what the client adds is what a feed fetcher must not do: keep cookies
from one feed for the next, follow redirects on its own (they are followed here, so a chain of
permanent redirects can be reported and loops caught), run auth flows.
Callers see only `Fetcher`, `FetchResult` and `FetchLimits`.

`Fetcher.fetch` never raises for network or HTTP trouble: every problem is a `FetchResult` with
`Outcome.ERROR` (or `GONE`) and a one-line `error` naming the feed URL.
"""

from __future__ import annotations

import asyncio
import email.utils
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from urllib.parse import urljoin, urlsplit, urlunsplit

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from monitor import __version__

PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
ACCEPT_ENCODING = "gzip, deflate"  # what httpx decodes without optional packages
_URL_CACHE_SIZE = 100_000  # parsed URLs kept per fetcher: far more than any config's feeds


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchLimits:
    """How patient and how polite one fetcher is. Built from `config.poll` by the daemon."""

    connect_timeout: float = 10.0  # seconds to open a connection
    read_timeout: float = 30.0  # seconds of silence tolerated while waiting for bytes
    deadline: float = 60.0  # seconds for the whole fetch, redirects included: a slow drip cannot hang
    max_body: int = 5_000_000  # bytes after decompression; the download stops at this cap
    max_redirects: int = 5
    concurrency: int = 50  # requests in flight over all hosts
    per_host: int = 4  # requests in flight to one host (host:port)
    user_agent: str = f"crisis-monitor/{__version__} (+https://github.com/crisis-monitor/monitor)"

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "deadline"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FetchLimits.{name} must be positive, got {getattr(self, name)}")
        for name in ("max_body", "concurrency", "per_host"):
            if getattr(self, name) < 1:
                raise ValueError(f"FetchLimits.{name} must be at least 1, got {getattr(self, name)}")
        if self.max_redirects < 0:
            raise ValueError(f"FetchLimits.max_redirects must not be negative, got {self.max_redirects}")


@dataclass(frozen=True, slots=True)
class Validators:
    """What the server gave us to make the next GET conditional (stored with the feed)."""

    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


class Outcome(enum.StrEnum):
    OK = "ok"  # 2xx with a body to parse
    NOT_MODIFIED = "not-modified"  # 304: nothing to parse
    GONE = "gone"  # 410: retire the feed
    ERROR = "error"  # anything else; `status` set when the server answered


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchResult:
    outcome: Outcome
    url: str  # the URL requested
    permanent_url: str | None = None  # set when only 301/308 redirects led to a good answer: store it
    status: int | None = None  # of the last response, None when no response came
    body: bytes | None = None  # decoded (gzip removed), only for OK
    headers: Mapping[str, str] = field(default_factory=dict)  # of the last response, lower-case names
    validators: Validators = field(default_factory=Validators)  # store for the next conditional GET
    retry_after: timedelta | None = None  # from a 429/503 Retry-After
    error: str | None = None  # one line, starts with the feed URL


def backoff_delay(consecutive_failures: int, interval: timedelta, cap: timedelta) -> timedelta:
    """Delay before the next poll of a feed: the interval, doubled per consecutive failure, capped.

    A broken feed is retried less and less often but never dropped: the delay never exceeds
    max(cap, interval), so it is always polled again.
    """
    if consecutive_failures <= 0:
        return interval
    ceiling = max(cap, interval)
    doublings = min(consecutive_failures, 60)  # past that any cap is reached; avoids overflow
    seconds = interval.total_seconds() * 2.0**doublings
    return ceiling if seconds >= ceiling.total_seconds() else timedelta(seconds=seconds)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Retry-After as delta-seconds or an HTTP date; None when absent or unreadable; never negative."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


def redact(url: str) -> str:
    """The URL without a password in its userinfo (feed URLs may carry credentials)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class _Failure(Exception):
    """A problem already phrased for the operator (without the URL prefix)."""


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes | None


class Fetcher:
    """Owns the HTTP client and the global and per-host concurrency limits.

    async with Fetcher(FetchLimits()) as fetcher:
        result = await fetcher.fetch(url, Validators(etag=...))
    """

    def __init__(self, limits: FetchLimits) -> None:
        self.limits = limits
        self._global = asyncio.Semaphore(limits.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._host_users: dict[str, int] = {}
        self._transport: AiohttpTransport | None = None
        self._timeout = {
            "connect": limits.connect_timeout,
            "read": limits.read_timeout,
            "write": limits.read_timeout,
            "pool": None,  # waiting for a slot is bounded by the deadline, not by the pool
        }
        self._headers = {
            "User-Agent": limits.user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        self._urls: dict[str, httpx.URL] = {}

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(
            limit=self.limits.concurrency, limit_per_host=self.limits.per_host, ttl_dns_cache=300
        )
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # no cookies carried from one feed to the next
            trust_env=False,
            raise_for_status=False,
        )
        self._transport = AiohttpTransport(client=session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
        self._transport = None

    async def fetch(self, url: str, validators: Validators) -> FetchResult:
        """GET `url` conditionally, following up to `max_redirects` redirects. Never raises for I/O."""
        visited = [url]
        all_permanent = True
        current = url
        spent = [0.0]  # seconds on the wire so far (waiting for a free slot does not count)
        for _ in range(self.limits.max_redirects + 1):
            try:
                answer = await self._request_once(current, validators, spent)
            except _Failure as failure:
                return self._error(url, current, str(failure), validators)
            if answer.status not in REDIRECTS:
                moved = current if current != url and all_permanent else None
                return self._result(url, answer, validators, moved)
            location = answer.headers.get("location")
            if not location:
                return self._error(
                    url, current, f"HTTP {answer.status} redirect without a Location", validators, answer
                )
            target = urljoin(current, location.strip())
            if urlsplit(target).scheme not in ("http", "https"):
                return self._error(
                    url, current, f"redirect to a non-HTTP URL {redact(target)}", validators, answer
                )
            if target in visited:
                chain = " -> ".join(redact(u) for u in [*visited, target])
                return self._error(url, current, f"redirect loop: {chain}", validators, answer)
            all_permanent = all_permanent and answer.status in PERMANENT_REDIRECTS
            visited.append(target)
            current = target
        return self._error(url, current, f"more than {self.limits.max_redirects} redirects", validators)

    async def _request_once(self, url: str, validators: Validators, spent: list[float]) -> _Answer:
        """One GET, body read only for non-redirects; holds a per-host and a global slot meanwhile.

        `spent` carries the seconds already used by earlier hops; the deadline covers them all.
        """
        try:
            host = _host_key(url)
        except ValueError as exc:
            raise _Failure(f"invalid URL: {exc}") from exc
        async with self._host_slot(host), self._global:
            budget = self.limits.deadline - spent[0]
            if budget <= 0:
                raise _Failure(f"deadline of {self.limits.deadline:g}s exceeded")
            loop = asyncio.get_running_loop()
            started = loop.time()
            try:
                async with asyncio.timeout(budget):
                    return await self._exchange(url, validators)
            except (httpx.HTTPError, httpx.InvalidURL, aiohttp.ClientError, OSError, ValueError) as exc:
                if isinstance(exc, TimeoutError) and not isinstance(exc, aiohttp.ClientError):
                    raise _Failure(f"deadline of {self.limits.deadline:g}s exceeded") from exc
                raise _Failure(self._describe(exc)) from exc
            finally:
                spent[0] += loop.time() - started

    async def _exchange(self, url: str, validators: Validators) -> _Answer:
        if self._transport is None:
            raise RuntimeError("use Fetcher as an async context manager")
        headers = self._headers | validators.request_headers()
        request = httpx.Request("GET", self._url(url), headers=headers, extensions={"timeout": self._timeout})
        response = await self._transport.handle_async_request(request)
        try:
            status = response.status_code
            received = dict(response.headers.items())  # lower-case names, repeated fields joined
            if status in REDIRECTS or not 200 <= status < 300:
                return _Answer(status, received, None)
            return _Answer(status, received, await self._read_capped(response, received))
        finally:
            await response.aclose()

    def _url(self, url: str) -> httpx.URL:
        """`url` parsed once per fetcher: a feed is polled again and again."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    async def _read_capped(self, response: httpx.Response, headers: Mapping[str, str]) -> bytes:
        cap = self.limits.max_body
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap and "content-encoding" not in headers:
            raise _Failure(f"body of {int(declared)} bytes exceeds the {cap}-byte cap")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():  # decoded (gzip, deflate) by httpx
            size += len(chunk)
            if size > cap:
                raise _Failure(f"body exceeds the {cap}-byte cap")
            chunks.append(chunk)
        return b"".join(chunks)

    def _host_slot(self, host: str) -> _HostSlot:
        return _HostSlot(self, host)

    def _describe(self, exc: BaseException) -> str:
        """One line for a transport failure.

        The transport re-raises aiohttp's errors as httpx's, not always as the same kind (a dropped
        connection arrives as `httpx.ConnectTimeout`), so the aiohttp error it chained is read first.
        """
        if isinstance(exc, httpx.HTTPError) and isinstance(exc.__cause__, aiohttp.ClientError):
            exc = exc.__cause__
        if isinstance(exc, httpx.DecodingError):
            return f"broken or undecodable body: {_first_line(exc)}"
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return f"invalid URL: {_first_line(exc)}"
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return f"connect timeout after {self.limits.connect_timeout:g}s"
        if isinstance(exc, aiohttp.ServerTimeoutError):
            return f"read timeout after {self.limits.read_timeout:g}s"
        if isinstance(exc, aiohttp.ClientConnectorError):
            return f"cannot connect: {exc.os_error.strerror or exc.os_error}"
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return "server closed the connection"
        if isinstance(exc, aiohttp.ClientPayloadError):
            return f"broken or undecodable body: {_first_line(exc)}"
        if isinstance(exc, aiohttp.ClientResponseError):
            return f"bad HTTP response: {_first_line(exc.message)}"
        if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
            return f"invalid URL: {_first_line(exc)}"
        return f"{type(exc).__name__}: {_first_line(exc)}"

    def _result(self, url: str, answer: _Answer, sent: Validators, permanent_url: str | None) -> FetchResult:
        status = answer.status
        headers = answer.headers
        if status == 304:
            kept = Validators(
                etag=headers.get("etag") or sent.etag,
                last_modified=headers.get("last-modified") or sent.last_modified,
            )
            return FetchResult(
                outcome=Outcome.NOT_MODIFIED,
                url=url,
                permanent_url=permanent_url,
                status=status,
                headers=headers,
                validators=kept,
            )
        if 200 <= status < 300:
            return FetchResult(
                outcome=Outcome.OK,
                url=url,
                permanent_url=permanent_url,
                status=status,
                body=answer.body or b"",
                headers=headers,
                validators=Validators(etag=headers.get("etag"), last_modified=headers.get("last-modified")),
            )
        if status == 410:
            return FetchResult(
                outcome=Outcome.GONE,
                url=url,
                status=status,
                headers=headers,
                validators=sent,
                error=f"{redact(url)}: HTTP 410 Gone",
            )
        retry_after = None
        if status in (429, 503):
            retry_after = parse_retry_after(headers.get("retry-after"), _response_now(headers))
        wait = f", retry after {int(retry_after.total_seconds())}s" if retry_after is not None else ""
        return FetchResult(
            outcome=Outcome.ERROR,
            url=url,
            status=status,
            headers=headers,
            validators=sent,
            retry_after=retry_after,
            error=f"{redact(url)}: HTTP {status} {_reason(status)}{wait}",
        )

    def _error(
        self, url: str, current: str, message: str, sent: Validators, answer: _Answer | None = None
    ) -> FetchResult:
        """A failure keeps the validators that were sent: the stored ones stay valid."""
        via = f" (at {redact(current)})" if current != url else ""
        return FetchResult(
            outcome=Outcome.ERROR,
            url=url,
            status=answer.status if answer else None,
            headers=answer.headers if answer else {},
            validators=sent,
            error=f"{redact(url)}: {message}{via}",
        )


class _HostSlot:
    """Per-host semaphore, created on first use and dropped when no request uses it."""

    def __init__(self, fetcher: Fetcher, host: str) -> None:
        self._fetcher = fetcher
        self._host = host

    async def __aenter__(self) -> None:
        f = self._fetcher
        semaphore = f._hosts.get(self._host)
        if semaphore is None:
            semaphore = f._hosts[self._host] = asyncio.Semaphore(f.limits.per_host)
        f._host_users[self._host] = f._host_users.get(self._host, 0) + 1
        try:
            await semaphore.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._fetcher._hosts[self._host].release()
        self._leave()

    def _leave(self) -> None:
        f = self._fetcher
        users = f._host_users[self._host] - 1
        if users:
            f._host_users[self._host] = users
        else:
            del f._host_users[self._host]
            del f._hosts[self._host]


def _host_key(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {redact(url)}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _response_now(headers: Mapping[str, str]) -> datetime:
    """The server's clock (Date header) if given: Retry-After dates are relative to it."""
    date = headers.get("date")
    if date:
        try:
            parsed = email.utils.parsedate_to_datetime(date)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except (TypeError, ValueError, IndexError):
            pass
    return datetime.now(UTC)


def _reason(status: int) -> str:
    try:
        from http import HTTPStatus

        return HTTPStatus(status).phrase
    except ValueError:
        return "(unknown status)"


def _first_line(value: object, limit: int = 200) -> str:
    """`value` as one line: whitespace collapsed, cut at `limit` characters."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text or "(no detail)"
