"""The poll cycle with real parts: the loopback feed server, real SQLite files and PostgreSQL schemas,
an injected clock (no scheduler, no waiting)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from monitor.app import App
from monitor.config import Config, parse_config
from monitor.db.models import Delivery, Feed, Item, Story
from monitor.dedup import item_key
from monitor.feeds.fetch import Fetcher
from monitor.feeds.parse import parse_feed
from monitor.notify.sample import sample_alert
from monitor.outbox import enqueue_alert
from monitor.pipeline import (
    PollReport,
    available_notifiers,
    fetch_limits,
    poll_all,
    poll_feed,
    release_dead_holders,
    run_cycle,
    sync_feeds,
    worker_id,
)
from tests.support.feedserver import BBC, FeedServer
from tests.support.receivers import HttpReceiver
from tests.test_owner import owner_of

DATA = Path(__file__).resolve().parent / "data" / "feeds"
T0 = datetime(2026, 2, 18, 12, 0, tzinfo=UTC)
REAL = {
    "BBC World": "real_news/bbc_news_world.rss.xml",
    "Al Jazeera": "real_news/aljazeera_all.rss.xml",
    "Dawn": "real_news/dawn_world.rss.xml",
    "DW": "real_news/dw_deutsche_welle.rss.xml",
    "NYT World": "real_news/nyt_world.rss.xml",
    "TPM": "real_news/talkingpointsmemo_all.atom.xml",
}


def make_config(
    tmp_path: Path,
    db_url: str,
    feeds: Mapping[str, str],
    *,
    interval: str = "5m",
    max_backoff: str = "1h",
    extra: str = "",
) -> Config:
    """A config for these feeds (name -> URL): short timeouts, a 1 MB cap, no jitter."""
    lines = [
        f"database: {db_url!r}",
        "poll:",
        f"  interval: {interval}",
        "  timeout: 1s",
        "  connect_timeout: 1s",
        "  max_body: 1MB",
        f"  max_backoff: {max_backoff}",
        "  jitter: 0s",
        "feeds:",
    ]
    for name, url in feeds.items():
        lines += [f"  - name: {name!r}", f"    url: {url!r}"]
    text = "\n".join(lines) + "\n" + extra
    path = tmp_path / "monitor.yaml"
    path.write_text(text)
    return parse_config(text, path)


def expected_keys(relative: str, url: str) -> set[str]:
    """The identities of a real feed's entries, as our parser and dedup see them."""
    parsed = parse_feed((DATA / relative).read_bytes(), {"content-type": "application/rss+xml"}, url)
    return {item_key(entry) for entry in parsed.entries}


@pytest.fixture
def real_feeds(feed_server: FeedServer) -> dict[str, str]:
    return {name: feed_server.url(f"/feeds/{path}") for name, path in REAL.items()}


@pytest.fixture
def app_factory(tmp_path: Path) -> Iterator[list[App]]:
    opened: list[App] = []
    yield opened
    for app in opened:
        app.close()


def open_app(config: Config, opened: list[App]) -> App:
    app = App.open(config, clock=lambda: T0)
    opened.append(app)
    return app


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(
        fetch_limits(parse_config("poll: {timeout: 1s, connect_timeout: 1s, max_body: 1MB}").poll)
    ) as f:
        yield f


def stored_keys(app: App, feed: str) -> list[str]:
    with app.db.read_session() as session:
        return list(session.scalars(select(Item.key).join(Feed).where(Feed.name == feed)))


def feed_row(app: App, name: str) -> Feed:
    with app.db.read_session() as session:
        return session.scalars(select(Feed).where(Feed.name == name)).one()


def by_feed(reports: list[PollReport]) -> dict[str, PollReport]:
    return {r.feed: r for r in reports}


# --------------------------------------------------------------------------- ingestion, validators, restart


async def test_one_pass_stores_every_item_of_real_feeds_exactly_once(
    tmp_path: Path, db_url: str, real_feeds: dict[str, str], fetcher: Fetcher, app_factory: list[App]
) -> None:
    app = open_app(make_config(tmp_path, db_url, real_feeds), app_factory)
    reports = by_feed(await poll_all(app, fetcher, T0))
    for name, relative in REAL.items():
        keys = expected_keys(relative, real_feeds[name])
        assert keys, f"{relative} parses to no entries"
        report = reports[name]
        assert report.outcome == "ok", report.line()
        assert report.status == 200
        assert report.new == len(keys)
        stored = stored_keys(app, name)
        assert len(stored) == len(set(stored)) == len(keys)
        assert set(stored) == keys
        row = feed_row(app, name)
        assert row.last_success_at == T0
        assert row.consecutive_failures == 0
        assert row.items_seen == len(keys)
        assert row.etag is not None and row.last_modified is not None


async def test_second_pass_sends_validators_and_gets_304s(
    tmp_path: Path,
    db_url: str,
    feed_server: FeedServer,
    real_feeds: dict[str, str],
    fetcher: Fetcher,
    app_factory: list[App],
) -> None:
    app = open_app(make_config(tmp_path, db_url, real_feeds), app_factory)
    first = by_feed(await poll_all(app, fetcher, T0))
    with app.db.read_session() as session:
        count = session.scalar(select(func.count(Item.id)))
    feed_server.clear_requests()

    second = by_feed(await poll_all(app, fetcher, T0 + timedelta(minutes=5)))

    for name, relative in REAL.items():
        assert second[name].outcome == "not-modified", second[name].line()
        assert second[name].status == 304
        (request,) = feed_server.requests_for(f"/feeds/{relative}")
        row = feed_row(app, name)
        assert request.headers["if-none-match"] == row.etag
        assert request.headers["if-modified-since"] == row.last_modified
        assert row.last_success_at == T0 + timedelta(minutes=5)
        assert first[name].new > 0
    with app.db.read_session() as session:
        assert session.scalar(select(func.count(Item.id))) == count


async def test_restart_keeps_validators_and_items(
    tmp_path: Path,
    db_url: str,
    feed_server: FeedServer,
    real_feeds: dict[str, str],
    fetcher: Fetcher,
    app_factory: list[App],
) -> None:
    config = make_config(tmp_path, db_url, real_feeds)
    first = open_app(config, app_factory)
    await poll_all(first, fetcher, T0)
    before = {name: sorted(stored_keys(first, name)) for name in REAL}
    first.close()
    feed_server.clear_requests()

    async with Fetcher(fetch_limits(config.poll)) as new_fetcher:  # a new process, as far as we can tell
        second = open_app(config, app_factory)
        reports = by_feed(await poll_all(second, new_fetcher, T0 + timedelta(hours=1)))

    assert {r.outcome for r in reports.values()} == {"not-modified"}
    for request in feed_server.requests:
        assert "if-none-match" in request.headers, request.path
    assert {name: sorted(stored_keys(second, name)) for name in REAL} == before


async def test_a_changed_feed_stores_only_its_new_entry(
    tmp_path: Path, db_url: str, feed_server: FeedServer, fetcher: Fetcher, app_factory: list[App]
) -> None:
    body = (DATA / REAL["BBC World"]).read_bytes()
    feed_server.serve("/bbc.xml", body)
    app = open_app(make_config(tmp_path, db_url, {"BBC World": feed_server.url("/bbc.xml")}), app_factory)
    first = await poll_feed(app, fetcher, "BBC World", T0)
    extra = (
        b"<item><title>Pakistan and Iran agree to resume border talks</title>"
        b"<link>https://www.bbc.co.uk/news/world-extra-1</link><guid>extra-1</guid>"
        b"<pubDate>Wed, 18 Feb 2026 13:00:00 GMT</pubDate></item></channel>"
    )
    feed_server.serve("/bbc.xml", body.replace(b"</channel>", extra, 1))

    second = await poll_feed(app, fetcher, "BBC World", T0 + timedelta(minutes=5))

    assert second.outcome == "ok"
    assert second.items == first.items + 1
    assert second.new == 1
    assert len(stored_keys(app, "BBC World")) == first.new + 1
    assert feed_row(app, "BBC World").items_seen == first.new + 1


# --------------------------------------------------------------------------- hostile servers

HOSTILE = {
    "Slow": "/hostile/slow?delay=3",
    "Drip": "/hostile/drip?every=0.05",
    "Endless": "/hostile/endless",
    "Huge": "/hostile/huge",
    "Five hundred": "/hostile/500",
    "Too many": "/hostile/429",
    "Loop": "/hostile/loop-a",
    "HTML": "/hostile/html",
    "Empty": "/hostile/empty",
    "Refused": "CLOSED",
}


async def test_each_hostile_feed_gets_a_one_line_error_while_the_others_are_ingested(
    tmp_path: Path, db_url: str, feed_server: FeedServer, fetcher: Fetcher, app_factory: list[App]
) -> None:
    good = {
        "BBC World": feed_server.url(f"/feeds/{REAL['BBC World']}"),
        "Dawn": feed_server.url(f"/feeds/{REAL['Dawn']}"),
    }
    hostile = {name: feed_server.url(path) for name, path in HOSTILE.items() if path != "CLOSED"}
    hostile["Refused"] = "http://127.0.0.1:9/feed.xml"  # discard port: nothing listens
    hostile["Gone"] = feed_server.url("/hostile/gone")
    app = open_app(make_config(tmp_path, db_url, {**good, **hostile}), app_factory)

    reports = by_feed(await poll_all(app, fetcher, T0))

    for name in good:
        assert reports[name].outcome == "ok", reports[name].line()
        assert reports[name].new > 0
        assert stored_keys(app, name)
    for name, url in hostile.items():
        report = reports[name]
        assert report.outcome == ("gone" if name == "Gone" else "error"), report.line()
        assert report.error is not None and url in report.error
        assert "\n" not in report.line()
        row = feed_row(app, name)
        assert row.last_error == report.error
        assert row.last_error_at == T0
        assert stored_keys(app, name) == []
        if name != "Gone":
            assert row.consecutive_failures == 1
            assert row.next_poll_at is not None and row.next_poll_at > T0
            assert row.etag is None  # an unreadable body never becomes a validator
    assert "timeout" in (reports["Slow"].error or "")
    assert "cap" in (reports["Huge"].error or "") and "cap" in (reports["Endless"].error or "")
    assert "loop" in (reports["Loop"].error or "")
    assert "HTTP 500" in (reports["Five hundred"].error or "")


async def test_invalid_utf8_feed_is_recovered_with_a_warning_or_reported_in_one_line(
    tmp_path: Path, db_url: str, feed_server: FeedServer, fetcher: Fetcher, app_factory: list[App]
) -> None:
    url = feed_server.url("/hostile/bad-utf8")
    app = open_app(make_config(tmp_path, db_url, {"Bad bytes": url}), app_factory)
    report = await poll_feed(app, fetcher, "Bad bytes", T0)
    assert "\n" not in report.line()
    if report.outcome == "ok":
        assert report.warning is not None and url in report.warning
        assert feed_row(app, "Bad bytes").last_warning == report.warning
    else:
        assert report.outcome == "error" and report.error is not None and url in report.error


# --------------------------------------------------------------------------- redirects, 410, 429, backoff


async def test_permanent_redirect_updates_current_url(
    tmp_path: Path, db_url: str, feed_server: FeedServer, fetcher: Fetcher, app_factory: list[App]
) -> None:
    moved = feed_server.url("/hostile/moved-308")  # 308 -> 301 -> BBC
    app = open_app(make_config(tmp_path, db_url, {"Moved": moved}), app_factory)

    report = await poll_feed(app, fetcher, "Moved", T0)

    assert report.outcome == "ok" and report.new > 0
    assert report.detail == f"moved permanently to {feed_server.url(BBC)}"
    row = feed_row(app, "Moved")
    assert row.current_url == feed_server.url(BBC)
    assert row.url == moved  # the configured URL is kept: a config change is told apart from a move
    feed_server.clear_requests()
    again = await poll_feed(app, fetcher, "Moved", T0 + timedelta(minutes=5))
    assert again.outcome == "not-modified"
    assert [urlpath(r.path) for r in feed_server.requests] == [BBC]


async def test_temporary_redirect_keeps_the_stored_url(
    tmp_path: Path, db_url: str, feed_server: FeedServer, fetcher: Fetcher, app_factory: list[App]
) -> None:
    url = feed_server.url("/hostile/found-302")
    app = open_app(make_config(tmp_path, db_url, {"Found": url}), app_factory)
    report = await poll_feed(app, fetcher, "Found", T0)
    assert report.outcome == "ok"
    assert feed_row(app, "Found").current_url == url


async def test_it_retires_feed_on_410_and_stops_polling_it(
    tmp_path: Path, db_url: str, feed_server: FeedServer, fetcher: Fetcher, app_factory: list[App]
) -> None:
    app = open_app(make_config(tmp_path, db_url, {"Gone": feed_server.url("/hostile/gone")}), app_factory)

    report = await poll_feed(app, fetcher, "Gone", T0)

    assert report.outcome == "gone" and report.status == 410
    assert feed_row(app, "Gone").retired_at == T0
    feed_server.clear_requests()
    later = await poll_feed(app, fetcher, "Gone", T0 + timedelta(days=1))
    assert later.outcome == "skipped" and "retired" in (later.detail or "")
    assert feed_server.requests == []


async def test_a_changed_url_in_the_config_revives_a_retired_feed(
    tmp_path: Path, db_url: str, feed_server: FeedServer, fetcher: Fetcher, app_factory: list[App]
) -> None:
    app = open_app(make_config(tmp_path, db_url, {"Gone": feed_server.url("/hostile/gone")}), app_factory)
    await poll_feed(app, fetcher, "Gone", T0)
    config = make_config(tmp_path, db_url, {"Gone": feed_server.url(BBC)})
    revived = App(config=config, db=app.db, clock=app.clock)

    reports = await poll_all(revived, fetcher, T0 + timedelta(minutes=1))

    assert reports[0].outcome == "ok"
    row = feed_row(app, "Gone")
    assert row.retired_at is None and row.url == row.current_url == feed_server.url(BBC)


async def test_429_sets_next_poll_at_from_retry_after(
    tmp_path: Path, db_url: str, feed_server: FeedServer, fetcher: Fetcher, app_factory: list[App]
) -> None:
    # interval 30s: the first backoff is 60s, shorter than the server's Retry-After: 120
    config = make_config(tmp_path, db_url, {"Busy": feed_server.url("/hostile/429")}, interval="30s")
    app = open_app(config, app_factory)

    report = await poll_feed(app, fetcher, "Busy", T0)

    assert report.outcome == "error" and report.status == 429
    assert feed_row(app, "Busy").next_poll_at == T0 + timedelta(seconds=120)
    feed_server.clear_requests()
    early = await poll_feed(app, fetcher, "Busy", T0 + timedelta(seconds=119))
    assert early.outcome == "skipped" and "backing off" in (early.detail or "")
    assert feed_server.requests == []
    due = await poll_feed(app, fetcher, "Busy", T0 + timedelta(seconds=120))
    assert due.outcome == "error" and len(feed_server.requests) == 1


async def test_503_with_an_http_date_retry_after_is_honoured(
    tmp_path: Path, db_url: str, feed_server: FeedServer, fetcher: Fetcher, app_factory: list[App]
) -> None:
    config = make_config(tmp_path, db_url, {"Down": feed_server.url("/hostile/503")}, interval="10s")
    app = open_app(config, app_factory)
    report = await poll_feed(app, fetcher, "Down", T0)
    assert report.outcome == "error" and report.status == 503
    next_poll = feed_row(app, "Down").next_poll_at
    assert next_poll is not None
    assert T0 + timedelta(seconds=85) <= next_poll <= T0 + timedelta(seconds=91)  # 90 s by the server's clock


async def test_backoff_grows_with_each_failure_and_is_capped(
    tmp_path: Path, db_url: str, feed_server: FeedServer, fetcher: Fetcher, app_factory: list[App]
) -> None:
    config = make_config(
        tmp_path, db_url, {"Broken": feed_server.url("/hostile/500")}, interval="1m", max_backoff="5m"
    )
    app = open_app(config, app_factory)
    now = T0
    delays = []
    for _ in range(5):
        report = await poll_feed(app, fetcher, "Broken", now)
        assert report.outcome == "error"
        row = feed_row(app, "Broken")
        assert row.next_poll_at is not None
        delays.append(row.next_poll_at - now)
        now = row.next_poll_at
    assert delays == [timedelta(minutes=m) for m in (2, 4, 5, 5, 5)]
    assert feed_row(app, "Broken").consecutive_failures == 5

    feed_server.redirect("/hostile/500", BBC, status=302)  # the server recovers
    recovered = await poll_feed(app, fetcher, "Broken", now)
    assert recovered.outcome == "ok"
    row = feed_row(app, "Broken")
    assert row.consecutive_failures == 0 and row.next_poll_at is None
    assert row.last_error is not None  # history kept; health is consecutive_failures


async def test_unparseable_body_stores_nothing_and_keeps_old_validators(
    tmp_path: Path, db_url: str, feed_server: FeedServer, fetcher: Fetcher, app_factory: list[App]
) -> None:
    feed_server.serve("/flaky.xml", (DATA / REAL["Dawn"]).read_bytes())
    app = open_app(make_config(tmp_path, db_url, {"Flaky": feed_server.url("/flaky.xml")}), app_factory)
    first = await poll_feed(app, fetcher, "Flaky", T0)
    etag = feed_row(app, "Flaky").etag
    feed_server.serve("/flaky.xml", b"<html><body>Maintenance</body></html>", content_type="text/html")

    report = await poll_feed(app, fetcher, "Flaky", T0 + timedelta(minutes=5))

    assert report.outcome == "error" and report.status == 200
    assert report.error is not None and feed_server.url("/flaky.xml") in report.error
    row = feed_row(app, "Flaky")
    assert row.etag == etag
    assert row.consecutive_failures == 1
    assert len(stored_keys(app, "Flaky")) == first.new


# --------------------------------------------------------------------------- config sync, leases, cycle


def test_sync_feeds_inserts_new_feeds_and_resets_one_whose_url_changed(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = make_config(tmp_path, sqlite_url, {"A": "http://a.example/feed", "B": "http://b.example/feed"})
    app = App.open(config)
    try:
        with app.db.session() as session:
            ids = sync_feeds(session, config)
            a = session.get_one(Feed, ids["A"])
            a.etag, a.consecutive_failures, a.items_seen = '"x"', 3, 10
            b = session.get_one(Feed, ids["B"])
            b.etag, b.retired_at = '"y"', T0
        changed = make_config(
            tmp_path,
            sqlite_url,
            {"A": "http://a.example/feed", "B": "http://b2.example/feed", "C": "http://c/"},
        )
        with app.db.session() as session:
            again = sync_feeds(session, changed)
        assert again["A"] == ids["A"] and again["B"] == ids["B"] and set(again) == {"A", "B", "C"}
        a_row, b_row = feed_row(app, "A"), feed_row(app, "B")
        assert (a_row.etag, a_row.consecutive_failures, a_row.items_seen) == ('"x"', 3, 10)
        assert (b_row.url, b_row.current_url, b_row.etag, b_row.retired_at) == (
            "http://b2.example/feed",
            "http://b2.example/feed",
            None,
            None,
        )
    finally:
        app.close()


async def test_two_pollers_never_fetch_one_feed_at_once(
    tmp_path: Path, sqlite_url: str, feed_server: FeedServer, fetcher: Fetcher, app_factory: list[App]
) -> None:
    import asyncio

    app = open_app(
        make_config(tmp_path, sqlite_url, {"Held": feed_server.url("/hold?delay=0.5")}), app_factory
    )
    await poll_all(app, fetcher, T0 - timedelta(hours=1))  # creates the row
    feed_server.clear_requests()

    one, two = await asyncio.gather(
        poll_feed(app, fetcher, "Held", T0, owner="daemon-1"),
        poll_feed(app, fetcher, "Held", T0, owner="daemon-2"),
    )

    outcomes = sorted([one.outcome, two.outcome])
    assert outcomes[1] == "skipped" and outcomes[0] in ("ok", "not-modified")
    skipped = one if one.outcome == "skipped" else two
    assert "being polled by daemon-" in (skipped.detail or "")
    assert len(feed_server.requests) == 1
    row = feed_row(app, "Held")
    assert row.lease_owner is None and row.lease_until is None  # released after the poll


async def test_run_cycle_polls_then_scores_the_new_stories(
    tmp_path: Path, db_url: str, real_feeds: dict[str, str], fetcher: Fetcher, app_factory: list[App]
) -> None:
    feeds = {"BBC World": real_feeds["BBC World"], "Dawn": real_feeds["Dawn"]}
    app = open_app(
        make_config(tmp_path, db_url, feeds, extra="pairs:\n  - [PK, IR]\n  - [IN, PK]\n"), app_factory
    )

    cycle = await run_cycle(app, fetcher, {}, T0)

    assert [r.outcome for r in cycle.polls] == ["ok", "ok"]
    assert cycle.track is not None
    with app.db.read_session() as session:
        stories = session.scalar(select(func.count(Story.id)))
        unclassified = session.scalar(select(func.count(Story.id)).where(Story.classified_at.is_(None)))
    assert stories and cycle.track.classified == stories
    assert unclassified == 0
    assert cycle.delivery is None  # no notifier configured

    again = await run_cycle(app, fetcher, {}, T0 + timedelta(minutes=5))
    assert again.track is not None and again.track.classified == 0 and again.track.alerts == ()


# --------------------------------------------------------------------------- the status line


def test_status_lines_name_the_feed_and_outcome() -> None:
    ok = PollReport(feed="BBC World", outcome="ok", status=200, items=52, new=3)
    assert ok.line() == "BBC World  ok  200  52 items, 3 new"
    assert ok.log_message() == 'poll feed="BBC World" outcome=ok status=200 items=52 new=3'
    error = PollReport(
        feed="Dawn", outcome="error", error="https://dawn.example/feed: read timeout after 30s"
    )
    assert error.line(6) == "Dawn    error  https://dawn.example/feed: read timeout after 30s"
    assert error.log_message() == (
        'poll feed=Dawn outcome=error error="https://dawn.example/feed: read timeout after 30s"'
    )
    assert PollReport(feed="X", outcome="not-modified", status=304).line() == "X  not-modified  304"


def urlpath(path: str) -> str:
    return path.split("?", 1)[0]


# --------------------------------------------------------------------------- delivery stage


def test_a_notifier_whose_secret_is_missing_is_left_out_and_named(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONITOR_TEST_UNSET_SLACK_URL", raising=False)
    extra = (
        "notifiers:\n"
        "  desk-slack: {type: slack, url_env: MONITOR_TEST_UNSET_SLACK_URL}\n"
        "  ops-hook: {type: webhook, url: 'http://127.0.0.1:9/hook'}\n"
    )
    config = make_config(tmp_path, sqlite_url, {}, extra=extra)

    ready, problems = available_notifiers(config)

    assert set(ready) == {"ops-hook"}
    (problem,) = problems
    assert problem.startswith("notifier desk-slack disabled: ") and "MONITOR_TEST_UNSET_SLACK_URL" in problem


async def test_run_cycle_delivers_due_outbox_rows(
    tmp_path: Path, db_url: str, http_receiver: HttpReceiver, fetcher: Fetcher, app_factory: list[App]
) -> None:
    extra = f"notifiers:\n  ops-hook: {{type: webhook, url: '{http_receiver.url}/hook'}}\n"
    app = open_app(make_config(tmp_path, db_url, {}, extra=extra), app_factory)
    with app.db.session() as session:
        enqueue_alert(session, sample_alert(T0, uid="cycle-test-1"), ["ops-hook"], T0)
    notifiers, problems = available_notifiers(app.config)
    assert problems == []

    cycle = await run_cycle(app, fetcher, notifiers, T0 + timedelta(seconds=1))

    assert cycle.delivery is not None and cycle.delivery.sent == 1
    (request,) = http_receiver.received()
    assert request.path == "/hook"
    assert request.headers["idempotency-key"]
    again = await run_cycle(app, fetcher, notifiers, T0 + timedelta(minutes=1))
    assert again.delivery is not None and again.delivery.due == 0
    assert len(http_receiver.received()) == 1


async def test_a_restart_takes_over_the_leases_and_claims_of_a_killed_process_at_once(
    tmp_path: Path, db_url: str, feed_server: FeedServer, http_receiver: HttpReceiver, fetcher: Fetcher,
    app_factory: list[App],
) -> None:  # fmt: skip
    import subprocess
    import sys

    extra = f"notifiers:\n  ops-hook: {{type: webhook, url: '{http_receiver.url}/hook'}}\n"
    feeds = {"Killed": feed_server.url(f"/feeds/{REAL['Dawn']}"), "Alive": feed_server.url(BBC)}
    app = open_app(make_config(tmp_path, db_url, feeds, extra=extra), app_factory)
    with app.db.session() as session:
        sync_feeds(session, app.config)
        enqueue_alert(session, sample_alert(T0, uid="claimed-by-the-dead"), ["ops-hook"], T0)
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        alive, dead = str(owner_of(running)), str(owner_of(killed))
        killed.kill()
        killed.wait()
        until = T0 + timedelta(minutes=2)
        with app.db.session() as session:
            for name, holder in (("Killed", dead), ("Alive", alive)):
                session.execute(
                    update(Feed).where(Feed.name == name).values(lease_owner=holder, lease_until=until)
                )
            session.execute(update(Delivery).values(status="sending", claimed_by=dead, claimed_until=until))

        released = release_dead_holders(app, T0, worker_id())

        assert released == [dead]
        reports = by_feed(await poll_all(app, fetcher, T0 + timedelta(seconds=1)))
        assert reports["Killed"].outcome == "ok"
        assert reports["Alive"].outcome == "skipped" and alive in (reports["Alive"].detail or "")
        notifiers, _ = available_notifiers(app.config)
        cycle = await run_cycle(app, fetcher, notifiers, T0 + timedelta(seconds=2))
        assert cycle.delivery is not None and cycle.delivery.sent == 1
        assert len(http_receiver.received()) == 1
    finally:
        running.kill()
        running.wait()


async def test_the_daemons_hourly_prune_deletes_story_keys_past_retention(
    tmp_path: Path, db_url: str, fetcher: Fetcher, app_factory: list[App]
) -> None:
    from monitor.db.models import StoryKey
    from monitor.domain import Entry
    from monitor.ingest import KEY_RETENTION, ingest_entries
    from monitor.scheduler import Daemon

    app = open_app(make_config(tmp_path, db_url, {}), app_factory)
    old = T0 - KEY_RETENTION - timedelta(hours=1)
    with app.db.session() as session:
        feed = Feed(name="Dawn", url="https://example.org/dawn", current_url="https://example.org/dawn")
        session.add(feed)
        session.flush()
        for title, published in (("Iran and Pakistan agree to return their ambassadors", old),
                                 ("Pakistan recalls its ambassador from Tehran after strikes", T0)):  # fmt: skip
            ingest_entries(
                session,
                feed,
                [Entry(guid=title, link=None, title=title, summary="", published=published)],
                T0,
            )

    with app.db.read_session() as session:
        before = list(session.scalars(select(StoryKey.created_at)))
    assert any(when < T0 - KEY_RETENTION for when in before)  # the control: expired keys are there

    await Daemon(app, fetcher, {}).prune()

    with app.db.read_session() as session:
        kept = list(session.scalars(select(StoryKey.created_at)))
    assert kept and all(when >= T0 - KEY_RETENTION for when in kept)
    assert len(kept) == sum(when >= T0 - KEY_RETENTION for when in before)
