"""One HTTP POST for the Slack and webhook notifiers, with failures mapped to DeliveryError.

The URL is a secret (a Slack incoming-webhook URL is its own credential; a webhook URL may carry a
token), so it never appears in an error: callers redact with it.
"""

from __future__ import annotations

import email.utils
import functools
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from monitor.notify.base import DeliveryError, describe_exception

USER_AGENT = "crisis-monitor/0.1 (+https://github.com/crisis-monitor)"
MAX_BODY_SHOWN = 200


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    text: str
    retry_after: float | None


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Built once: creating a verifying context per request costs tens of milliseconds of CPU."""
    return ssl.create_default_context()


async def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
    """POST and read the (short) reply. Transport failures raise a transient DeliveryError."""
    sent_headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json", **headers}
    # The transport is used without an httpx.Client on purpose: the client logs every request's full
    # URL at INFO, and a Slack webhook URL is a credential. Without a client, nothing follows redirects.
    transport = httpx.AsyncHTTPTransport(verify=tls_context(), trust_env=False)
    try:
        async with transport:
            request = httpx.Request(
                "POST",
                url,
                content=body,
                headers=sent_headers,
                extensions={"timeout": httpx.Timeout(timeout).as_dict()},
            )
            response = await transport.handle_async_request(request)
            try:
                content = await response.aread()
            finally:
                await response.aclose()
    except httpx.TimeoutException:
        raise DeliveryError("timed out", permanent=False) from None
    except httpx.InvalidURL as exc:
        raise DeliveryError(f"invalid URL: {exc}", permanent=True) from None
    except httpx.UnsupportedProtocol:
        raise DeliveryError("unsupported URL scheme", permanent=True) from None
    except httpx.TransportError as exc:
        raise DeliveryError(describe_exception(exc), permanent=False) from None
    text = content[: MAX_BODY_SHOWN * 4].decode("utf-8", "replace")
    return Reply(
        status=response.status_code,
        text=text[:MAX_BODY_SHOWN],
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date. None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def status_error(reply: Reply, *, permanent_bodies: frozenset[str] = frozenset()) -> DeliveryError:
    """Map a non-2xx reply: 408/425/429/5xx are transient, other 4xx and 3xx permanent."""
    body = " ".join(reply.text.split())[:MAX_BODY_SHOWN]
    message = f"HTTP {reply.status}" + (f" {body}" if body else "")
    if body in permanent_bodies:
        return DeliveryError(message, permanent=True)
    if reply.status in (408, 425, 429) or reply.status >= 500:
        return DeliveryError(message, permanent=False, retry_after=reply.retry_after)
    if 300 <= reply.status < 400:
        return DeliveryError(f"{message} (unexpected redirect; configure the final URL)", permanent=True)
    return DeliveryError(message, permanent=True)
