"""Fetching over real HTTP on 127.0.0.1: conditional GET, redirects, caps, timeouts, statuses, limits."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor.feeds.fetch import (
    Fetcher,
    FetchLimits,
    Outcome,
    Validators,
    backoff_delay,
    parse_retry_after,
    redact,
)
from monitor.feeds.parse import parse_feed
from tests.support.feedserver import BBC, FeedServer

FAST = FetchLimits(connect_timeout=2, read_timeout=0.5, deadline=3, max_body=1_000_000)
FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Desk</title><link>http://example.org/</link>
<item><title>Talks resume</title><link>http://example.org/1?utm_source=rss</link><guid>g1</guid></item>
</channel></rss>
"""


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(FAST) as f:
        yield f


async def test_it_fetches_a_feed_and_returns_its_validators(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    document = feed_server.serve("/desk.xml", FEED)

    result = await fetcher.fetch(feed_server.url("/desk.xml"), Validators())

    assert result.outcome is Outcome.OK
    assert result.status == 200
    assert result.body == FEED
    assert result.validators == Validators(etag=document.etag, last_modified=document.last_modified)
    assert result.permanent_url is None and result.error is None
    assert result.headers["content-type"] == "application/rss+xml"


async def test_it_names_the_project_in_the_user_agent(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.serve("/desk.xml", FEED)

    await fetcher.fetch(feed_server.url("/desk.xml"), Validators())

    agent = feed_server.requests[-1].headers["user-agent"]
    assert agent.startswith("crisis-monitor/") and "github.com/crisis-monitor" in agent


async def test_it_sends_validators_and_gets_not_modified(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.serve("/desk.xml", FEED)
    url = feed_server.url("/desk.xml")
    first = await fetcher.fetch(url, Validators())

    second = await fetcher.fetch(url, first.validators)

    sent = feed_server.requests[-1].headers
    assert sent["if-none-match"] == first.validators.etag
    assert sent["if-modified-since"] == first.validators.last_modified
    assert second.outcome is Outcome.NOT_MODIFIED
    assert second.status == 304 and second.body is None
    assert second.validators == first.validators


async def test_it_gets_not_modified_from_last_modified_alone(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    document = feed_server.serve("/desk.xml", FEED)

    result = await fetcher.fetch(
        feed_server.url("/desk.xml"), Validators(last_modified=document.last_modified)
    )

    assert result.outcome is Outcome.NOT_MODIFIED
    assert result.validators.last_modified == document.last_modified


async def test_it_refetches_when_the_feed_changed(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.serve("/desk.xml", FEED)
    url = feed_server.url("/desk.xml")
    first = await fetcher.fetch(url, Validators())
    changed = FEED.replace(b"Talks resume", b"Talks collapse")
    document = feed_server.serve("/desk.xml", changed)

    second = await fetcher.fetch(url, first.validators)

    assert second.outcome is Outcome.OK
    assert second.body == changed
    assert second.validators.etag == document.etag != first.validators.etag


async def test_it_decompresses_a_gzipped_body(feed_server: FeedServer, fetcher: Fetcher) -> None:
    result = await fetcher.fetch(
        feed_server.url("/feeds/odd_real_world/invalid_characters_gzipped.xml"), Validators()
    )

    assert "gzip" in feed_server.requests[-1].headers["accept-encoding"]
    assert result.outcome is Outcome.OK
    assert result.body is not None and result.body.lstrip().startswith(b"<?xml")
    parsed = parse_feed(result.body, result.headers, result.url)
    assert len(parsed.entries) == 25 and parsed.title == "NSHipster"


async def test_it_fetches_and_parses_a_real_feed(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.url(BBC)

    result = await fetcher.fetch(url, Validators())
    assert result.body is not None
    parsed = parse_feed(result.body, result.headers, url)

    assert len(parsed.entries) == 33
    assert parsed.entries[0].title == "US civil rights leader Jesse Jackson dies aged 84"


# -- redirects


async def test_it_reports_the_new_url_after_a_301(feed_server: FeedServer, fetcher: Fetcher) -> None:
    result = await fetcher.fetch(feed_server.url("/hostile/moved-301"), Validators())

    assert result.outcome is Outcome.OK
    assert result.url == feed_server.url("/hostile/moved-301")
    assert result.permanent_url == feed_server.url(BBC)
    assert result.body is not None and b"BBC News" in result.body


async def test_it_reports_the_end_of_a_chain_of_permanent_redirects(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    result = await fetcher.fetch(feed_server.url("/hostile/moved-308"), Validators())

    assert result.outcome is Outcome.OK
    assert result.permanent_url == feed_server.url(BBC)
    assert [r.path for r in feed_server.requests] == ["/hostile/moved-308", "/hostile/moved-301", BBC]


async def test_it_keeps_the_stored_url_after_a_temporary_302(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    result = await fetcher.fetch(feed_server.url("/hostile/found-302"), Validators())

    assert result.outcome is Outcome.OK
    assert result.permanent_url is None


async def test_it_does_not_move_the_feed_when_a_permanent_chain_has_a_temporary_hop(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    feed_server.serve("/final.xml", FEED)
    feed_server.redirect("/old.xml", "/middle.xml", 301)
    feed_server.redirect("/middle.xml", feed_server.url("/final.xml"), 302)

    result = await fetcher.fetch(feed_server.url("/old.xml"), Validators())

    assert result.outcome is Outcome.OK and result.body == FEED
    assert result.permanent_url is None


async def test_it_sends_validators_after_a_redirect(feed_server: FeedServer, fetcher: Fetcher) -> None:
    first = await fetcher.fetch(feed_server.url("/hostile/moved-301"), Validators())

    second = await fetcher.fetch(feed_server.url("/hostile/moved-301"), first.validators)

    assert second.outcome is Outcome.NOT_MODIFIED
    assert second.permanent_url == feed_server.url(BBC)


async def test_it_detects_a_redirect_loop(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.url("/hostile/loop-a")

    result = await fetcher.fetch(url, Validators())

    assert result.outcome is Outcome.ERROR
    assert result.error is not None and result.error.startswith(f"{url}: redirect loop: ")
    assert len(feed_server.requests) == 2


async def test_it_stops_after_max_redirects(feed_server: FeedServer) -> None:
    async with Fetcher(FetchLimits(max_redirects=1, read_timeout=1)) as fetcher:
        result = await fetcher.fetch(feed_server.url("/hostile/moved-308"), Validators())

    assert result.outcome is Outcome.ERROR
    assert result.error is not None and "more than 1 redirects" in result.error
    assert len(feed_server.requests) == 2


# -- statuses


async def test_it_retires_feed_on_410(feed_server: FeedServer, fetcher: Fetcher) -> None:
    result = await fetcher.fetch(feed_server.url("/hostile/gone"), Validators(etag='"x"'))

    assert result.outcome is Outcome.GONE
    assert result.status == 410


async def test_it_reports_a_500_as_an_error_with_its_status(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.url("/hostile/500")
    sent = Validators(etag='"kept"')

    result = await fetcher.fetch(url, sent)

    assert result.outcome is Outcome.ERROR
    assert result.status == 500
    assert result.error == f"{url}: HTTP 500 Internal Server Error"
    assert result.validators == sent  # a failure must not forget the stored validators
    assert result.retry_after is None


async def test_it_reports_a_404_as_an_error(feed_server: FeedServer, fetcher: Fetcher) -> None:
    result = await fetcher.fetch(feed_server.url("/hostile/404"), Validators())

    assert result.outcome is Outcome.ERROR and result.status == 404


async def test_it_honours_retry_after_seconds_on_429(feed_server: FeedServer, fetcher: Fetcher) -> None:
    result = await fetcher.fetch(feed_server.url("/hostile/429"), Validators())

    assert result.outcome is Outcome.ERROR
    assert result.status == 429
    assert result.retry_after == timedelta(seconds=120)
    assert result.error is not None and result.error.endswith("HTTP 429 Too Many Requests, retry after 120s")


async def test_it_honours_a_retry_after_date_on_503(feed_server: FeedServer, fetcher: Fetcher) -> None:
    result = await fetcher.fetch(feed_server.url("/hostile/503"), Validators())

    assert result.outcome is Outcome.ERROR
    assert result.status == 503
    assert result.retry_after == timedelta(seconds=90)


async def test_it_returns_an_empty_200_for_the_parser_to_reject(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.url("/hostile/empty")

    result = await fetcher.fetch(url, Validators())

    assert result.outcome is Outcome.OK and result.body == b""
    assert parse_feed(result.body, result.headers, url).error == f"{url}: empty body, not a feed"


async def test_it_returns_an_html_page_for_the_parser_to_reject(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.url("/hostile/html")

    result = await fetcher.fetch(url, Validators())

    assert result.outcome is Outcome.OK and result.body is not None
    parsed = parse_feed(result.body, result.headers, url)
    assert parsed.entries == ()
    assert parsed.error == f"{url}: an HTML page, not a feed (content-type text/html)"


async def test_it_keeps_the_items_of_a_feed_with_invalid_utf8(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.url("/hostile/bad-utf8")

    result = await fetcher.fetch(url, Validators())

    assert result.body is not None
    parsed = parse_feed(result.body, result.headers, url)
    assert [e.link for e in parsed.entries] == ["http://example.org/cafe", "http://example.org/second"]
    assert parsed.warning is not None and parsed.error is None


# -- hostile bodies and timeouts


async def test_it_gives_up_on_a_slow_response_with_a_read_timeout(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.url("/hostile/slow?delay=3")

    result = await fetcher.fetch(url, Validators())

    assert result.outcome is Outcome.ERROR
    assert result.status is None
    assert result.error == f"{url}: read timeout after 0.5s"


async def test_it_keeps_the_sent_validators_when_the_fetch_fails(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    sent = Validators(etag='"v1"', last_modified="Tue, 17 Feb 2026 18:55:33 GMT")

    slow = await fetcher.fetch(feed_server.url("/hostile/slow?delay=3"), sent)
    looped = await fetcher.fetch(feed_server.url("/hostile/loop-a"), sent)

    assert slow.validators == sent and looped.validators == sent


async def test_it_gives_up_on_a_slow_drip_at_the_deadline(feed_server: FeedServer) -> None:
    url = feed_server.url("/hostile/drip?every=0.05")
    async with Fetcher(FetchLimits(read_timeout=1, deadline=0.5)) as fetcher:
        result = await fetcher.fetch(url, Validators())

    assert result.outcome is Outcome.ERROR
    assert result.error == f"{url}: deadline of 0.5s exceeded"


async def test_the_deadline_covers_every_hop_of_a_redirect_chain(feed_server: FeedServer) -> None:
    feed_server.redirect("/to-drip", "/hostile/drip?every=0.05", 302)
    url = feed_server.url("/to-drip")
    async with Fetcher(FetchLimits(read_timeout=1, deadline=0.5)) as fetcher:
        result = await fetcher.fetch(url, Validators())

    assert result.error is not None
    assert result.error.startswith(f"{url}: deadline of 0.5s exceeded (at ")


async def test_it_aborts_a_body_over_the_cap(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.url("/hostile/huge")

    result = await fetcher.fetch(url, Validators())

    assert result.outcome is Outcome.ERROR
    assert result.body is None
    assert result.error == f"{url}: body of 10000001 bytes exceeds the 1000000-byte cap"


async def test_it_aborts_an_endless_body_at_the_cap(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.url("/hostile/endless")

    result = await fetcher.fetch(url, Validators())

    assert result.outcome is Outcome.ERROR
    assert result.error == f"{url}: body exceeds the 1000000-byte cap"


async def test_it_caps_a_gzip_bomb_after_decompression(feed_server: FeedServer, fetcher: Fetcher) -> None:
    bomb = gzip.compress(b"<rss>" + b" " * 20_000_000)
    feed_server.serve("/bomb.xml", bomb, headers={"Content-Encoding": "gzip"})
    url = feed_server.url("/bomb.xml")

    result = await fetcher.fetch(url, Validators())

    assert len(bomb) < 100_000
    assert result.error == f"{url}: body exceeds the 1000000-byte cap"


async def test_it_reports_a_refused_connection(fetcher: Fetcher) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/feed.xml"

    result = await fetcher.fetch(url, Validators())

    assert result.outcome is Outcome.ERROR
    assert result.error is not None and result.error.startswith(f"{url}: cannot connect: ")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/hostile/hangup", "server closed the connection"),
        ("/hostile/garbage", "bad HTTP response: "),
        ("/hostile/truncated", "broken or undecodable body: "),
        ("/hostile/bad-gzip", "broken or undecodable body: "),
    ],
)
async def test_it_names_what_went_wrong_with_a_broken_answer(
    feed_server: FeedServer, fetcher: Fetcher, path: str, message: str
) -> None:
    url = feed_server.url(path)

    result = await fetcher.fetch(url, Validators())

    assert result.outcome is Outcome.ERROR and result.body is None
    assert result.error is not None and result.error.startswith(f"{url}: {message}")
    assert "\n" not in result.error


@pytest.mark.parametrize("url", ["ftp://example.org/feed", "not a url", "http:///nohost"])
async def test_it_reports_an_unusable_url_without_raising(fetcher: Fetcher, url: str) -> None:
    result = await fetcher.fetch(url, Validators())

    assert result.outcome is Outcome.ERROR
    assert result.error is not None and result.error.startswith(f"{url}: invalid URL")


async def test_it_keeps_passwords_out_of_errors(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.url("/hostile/500").replace("http://", "http://reader:s3cret@")

    result = await fetcher.fetch(url, Validators())

    assert result.error is not None and "s3cret" not in result.error
    assert "reader:***@" in result.error


# -- concurrency limits


async def test_it_limits_requests_in_flight_per_host(feed_server: FeedServer) -> None:
    url = feed_server.url("/hold?delay=0.15")
    async with Fetcher(FetchLimits(per_host=2, concurrency=50)) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(url, Validators()) for _ in range(8)))

    assert all(r.outcome is Outcome.OK for r in results)
    assert feed_server.max_in_flight == 2
    assert feed_server.max_connections <= 2


async def test_it_limits_requests_in_flight_over_all_hosts(feed_server: FeedServer) -> None:
    with FeedServer() as other:
        urls = [s.url("/hold?delay=0.15") for s in (feed_server, other) for _ in range(5)]
        async with Fetcher(FetchLimits(per_host=3, concurrency=4)) as fetcher:
            results = await asyncio.gather(*(fetcher.fetch(u, Validators()) for u in urls))

        assert all(r.outcome is Outcome.OK for r in results)
        assert feed_server.max_in_flight <= 3 and other.max_in_flight <= 3
        assert feed_server.max_in_flight + other.max_in_flight >= 4  # both hosts were busy at some point


async def test_it_forgets_idle_hosts(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.serve("/desk.xml", FEED)

    await fetcher.fetch(feed_server.url("/desk.xml"), Validators())

    assert fetcher._hosts == {}


# -- pure helpers


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, 5), (1, 10), (2, 20), (3, 40), (4, 60), (50, 60), (10_000, 60)],
)
def test_backoff_doubles_per_failure_up_to_the_cap(failures: int, expected: int) -> None:
    delay = backoff_delay(failures, timedelta(minutes=5), cap=timedelta(hours=1))

    assert delay == timedelta(minutes=expected)


def test_backoff_never_drops_below_the_interval_when_the_cap_is_smaller() -> None:
    assert backoff_delay(3, timedelta(hours=2), cap=timedelta(hours=1)) == timedelta(hours=2)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 2, 18, 12, 0, tzinfo=UTC)

    assert parse_retry_after("120", now) == timedelta(seconds=120)
    assert parse_retry_after("Wed, 18 Feb 2026 12:05:00 GMT", now) == timedelta(minutes=5)
    assert parse_retry_after("Wed, 18 Feb 2026 11:00:00 GMT", now) == timedelta(0)
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_redact_hides_only_the_password() -> None:
    assert redact("https://u:pw@x.org/f?a=1") == "https://u:***@x.org/f?a=1"
    assert redact("https://x.org/f") == "https://x.org/f"


def test_fetch_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="per_host"):
        FetchLimits(per_host=0)
    with pytest.raises(ValueError, match="read_timeout"):
        FetchLimits(read_timeout=0)
