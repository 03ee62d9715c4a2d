"""One cycle of the daemon, as plain functions with an injected `now`. No scheduler in here.

    sync_feeds      config feeds -> Feed rows (new ones inserted, a changed URL reset, state kept)
    poll_feed       one feed: claim -> fetch (conditional GET) -> parse -> ingest + health, one transaction
    poll_all        every configured feed, concurrently (the Fetcher bounds global and per-host load)
    track_stage     classify new stories, fold them into pair tension, write alerts + outbox rows
    deliver_stage   send the due outbox rows
    run_cycle       poll_all, then track_stage, then deliver_stage
    release_dead_holders  at start: end the leases and claims of this machine's dead processes
    prune_stage     hourly: delete story lookup keys too old to group anything

A feed problem never raises: it becomes a PollReport with a one-line error naming the feed URL, is
stored on the feed row (last_error, consecutive_failures, next_poll_at) and the other feeds go on.

Blocking work (feedparser, SQLAlchemy) runs in worker threads so that the event loop keeps serving
the fetches in flight. Each feed is claimed with a conditional UPDATE (a lease) before it is
fetched, so two daemons, or the daemon and `monitor poll-once`, never poll one feed at once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session

from monitor.app import App, Classifier
from monitor.classify import classify
from monitor.config import Config, ConfigError, FeedConfig, PollConfig
from monitor.db.models import Feed
from monitor.delivery import DeliveryReport, deliver_due, release_claims
from monitor.feeds.fetch import (
    Fetcher,
    FetchLimits,
    FetchResult,
    Outcome,
    Validators,
    backoff_delay,
    redact,
)
from monitor.feeds.parse import ParsedFeed, parse_feed
from monitor.ingest import ingest_entries, prune_story_keys
from monitor.logs import event
from monitor.notify import Notifier, build_notifier, renderer_for
from monitor.owner import Owner, dead_holders, this_process
from monitor.track import TrackResult, settings_from_config, track

log = logging.getLogger("monitor.pipeline")

LEASE_MARGIN = timedelta(seconds=60)  # a claim outlives the slowest fetch by this much


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True, slots=True, kw_only=True)
class PollReport:
    """What one poll of one feed did: the status line of `poll-once` and the log line of `run`."""

    feed: str
    outcome: str  # ok | not-modified | error | gone | skipped
    status: int | None = None
    items: int = 0  # entries in the document
    new: int = 0  # items stored for the first time
    new_story_ids: tuple[int, ...] = ()
    grown_story_ids: tuple[int, ...] = ()  # existing stories that gained an outlet
    error: str | None = None
    warning: str | None = None
    detail: str | None = None  # why a feed was skipped, where it moved to

    @property
    def failed(self) -> bool:
        return self.outcome in ("error", "gone")

    @property
    def changed_stories(self) -> bool:
        return bool(self.new_story_ids or self.grown_story_ids)

    def line(self, width: int = 0) -> str:
        """`BBC World  ok  200  52 items, 3 new` / `Dawn  error  https://...: read timeout after 30s`."""
        parts = [self.feed.ljust(width), self.outcome]
        if self.status is not None:
            parts.append(str(self.status))
        if self.outcome == "ok":
            parts.append(f"{self.items} items, {self.new} new")
        if self.detail:
            parts.append(self.detail)
        if self.error:
            parts.append(self.error)
        if self.warning:
            parts.append(f"warning: {self.warning}")
        return "  ".join(parts)

    def log_message(self) -> str:
        """`poll feed="BBC World" outcome=ok status=200 items=52 new=3`."""
        counted = self.outcome == "ok"
        return event(
            "poll",
            feed=self.feed,
            outcome=self.outcome,
            status=self.status,
            items=self.items if counted else None,
            new=self.new if counted else None,
            detail=self.detail,
            error=self.error,
            warning=self.warning,
        )


# --------------------------------------------------------------------------- config -> rows


def fetch_limits(poll: PollConfig) -> FetchLimits:
    """The Fetcher's limits from the `poll:` section.

    `timeout` bounds the wait for bytes; a whole fetch, redirects and a slow drip included, gets
    twice that, so no server can hold a poll longer.
    """
    read = poll.timeout.total_seconds()
    return FetchLimits(
        connect_timeout=poll.connect_timeout.total_seconds(),
        read_timeout=read,
        deadline=2 * read,
        max_body=poll.max_body,
        max_redirects=poll.max_redirects,
        concurrency=poll.concurrency,
        per_host=poll.per_host,
    )


def sync_feeds(session: Session, config: Config) -> dict[str, int]:
    """Make the feeds table match the config; returns name -> feed id for the configured feeds.

    A new feed is inserted. A feed whose configured URL changed starts afresh at the new URL
    (validators, backoff and retirement belong to the old one). Everything else is kept: validators,
    health, and rows of feeds no longer configured (their items stay; they are not polled).
    """
    rows = {row.name: row for row in session.scalars(select(Feed))}
    ids: dict[str, int] = {}
    for feed in config.feeds:
        row = rows.get(feed.name)
        if row is None:
            row = Feed(name=feed.name, url=feed.url, current_url=feed.url)
            session.add(row)
        elif row.url != feed.url:
            row.url = feed.url
            row.current_url = feed.url
            row.etag = None
            row.last_modified = None
            row.retired_at = None
            row.consecutive_failures = 0
            row.next_poll_at = None
        session.flush()
        ids[feed.name] = row.id
    return ids


def worker_id() -> str:
    """Who holds a lease: host and process, and what tells the process apart (monitor.owner)."""
    return str(this_process())


def release_dead_holders(app: App, now: datetime, me: str) -> list[str]:
    """End, as of `now`, the feed leases and delivery claims held by processes of this machine that no
    longer run (killed, crashed): a restarted daemon need not wait out its predecessor's leases.
    Returns the dead holders; holders elsewhere, or alive, keep theirs until they expire."""
    mine = Owner.parse(me)
    if mine is None:
        return []
    with app.db.session() as session:
        released = dead_holders(
            session.scalars(select(Feed.lease_owner).where(Feed.lease_until > now).distinct()), mine
        )
        for holder in released:
            session.execute(
                update(Feed)
                .where(Feed.lease_owner == holder, Feed.lease_until > now)
                .values(lease_until=now)
                .execution_options(synchronize_session=False)
            )
    return sorted({*released, *release_claims(app.db, now, mine)})


# --------------------------------------------------------------------------- one feed


@dataclass(frozen=True, slots=True)
class _Claim:
    feed_id: int
    url: str
    validators: Validators


@dataclass(frozen=True, slots=True)
class _Skip:
    reason: str


async def poll_feed(
    app: App, fetcher: Fetcher, feed_name: str, now: datetime, *, owner: str | None = None
) -> PollReport:
    """Poll one configured feed at `now`. Never raises for a feed problem (only on cancellation)."""
    owner = owner or worker_id()
    feed = _configured(app.config, feed_name)
    if feed is None:
        return PollReport(feed=feed_name, outcome="error", error=f"{feed_name}: not in the config")
    lease = timedelta(seconds=fetcher.limits.deadline) + LEASE_MARGIN
    claim: _Claim | _Skip | None = None
    try:
        claim = await asyncio.to_thread(_claim, app, feed, now, now + lease, owner)
        if isinstance(claim, _Skip):
            return PollReport(feed=feed_name, outcome="skipped", detail=claim.reason)
        result = await fetcher.fetch(claim.url, claim.validators)
        parsed = None
        if result.outcome is Outcome.OK:
            parsed = await asyncio.to_thread(parse_feed, result.body or b"", result.headers, claim.url)
        return await asyncio.to_thread(_record, app, feed, claim, result, parsed, now, owner)
    except asyncio.CancelledError:
        if isinstance(claim, _Claim):
            _release(app, claim.feed_id, owner)  # a restart must not wait out our lease
        raise
    except Exception as exc:  # the boundary: one broken feed (or a bug it triggers) never stops the others
        log.exception(event("poll-crashed", feed=feed_name))
        if isinstance(claim, _Claim):
            _release(app, claim.feed_id, owner)
        url = redact(claim.url) if isinstance(claim, _Claim) else redact(feed.url)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        message = f"{url}: internal error: {type(exc).__name__}{': ' + first if first else ''}"
        return PollReport(feed=feed_name, outcome="error", error=message)


def _configured(config: Config, name: str) -> FeedConfig | None:
    return next((f for f in config.feeds if f.name == name), None)


def _claim(app: App, feed: FeedConfig, now: datetime, until: datetime, owner: str) -> _Claim | _Skip:
    """Take the feed's lease if it is due and free (one conditional UPDATE); otherwise say why not."""
    with app.db.session() as session:
        claimed = _take_lease(session, feed.name, now, until, owner)
        if claimed is not None:
            return claimed
        row = session.scalars(select(Feed).where(Feed.name == feed.name)).one_or_none()
        if row is None:  # configured since the last sync
            sync_feeds(session, app.config)
            claimed = _take_lease(session, feed.name, now, until, owner)
            assert claimed is not None, f"feed {feed.name} inserted but not claimable"
            return claimed
        if row.retired_at is not None:
            return _Skip(f"retired since {_iso(row.retired_at)} (HTTP 410); change its URL to revive it")
        if row.next_poll_at is not None and row.next_poll_at > now:
            return _Skip(
                f"backing off until {_iso(row.next_poll_at)} after {row.consecutive_failures} failure(s)"
            )
        return _Skip(f"being polled by {row.lease_owner} until {_iso(row.lease_until)}")


def _take_lease(session: Session, name: str, now: datetime, until: datetime, owner: str) -> _Claim | None:
    claimed = session.execute(
        update(Feed)
        .where(
            Feed.name == name,
            Feed.retired_at.is_(None),
            or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now),
            or_(Feed.lease_until.is_(None), Feed.lease_until <= now),
        )
        .values(lease_owner=owner, lease_until=until)
        .returning(Feed.id, Feed.current_url, Feed.etag, Feed.last_modified)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if claimed is None:
        return None
    feed_id, url, etag, last_modified = claimed
    return _Claim(feed_id, url, Validators(etag, last_modified))


def _release(app: App, feed_id: int, owner: str) -> None:
    with app.db.session() as session:
        session.execute(
            update(Feed)
            .where(Feed.id == feed_id, Feed.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )


def _record(
    app: App,
    feed: FeedConfig,
    claim: _Claim,
    result: FetchResult,
    parsed: ParsedFeed | None,
    now: datetime,
    owner: str,
) -> PollReport:
    """Store what the poll found, items and health in one transaction, and release the lease."""
    with app.db.session() as session:
        if result.outcome is Outcome.NOT_MODIFIED:  # the common case: one UPDATE, no ORM load
            session.execute(
                update(Feed)
                .where(Feed.id == claim.feed_id)
                .values(
                    last_polled_at=now,
                    last_success_at=now,
                    consecutive_failures=0,
                    next_poll_at=None,
                    etag=result.validators.etag,
                    last_modified=result.validators.last_modified,
                    current_url=result.permanent_url or Feed.current_url,
                    lease_owner=case((Feed.lease_owner == owner, None), else_=Feed.lease_owner),
                    lease_until=case((Feed.lease_owner == owner, None), else_=Feed.lease_until),
                )
                .execution_options(synchronize_session=False)
            )
            detail = _moved(claim.url, result)
            return PollReport(feed=feed.name, outcome="not-modified", status=result.status, detail=detail)
        row = session.get_one(Feed, claim.feed_id)
        row.last_polled_at = now
        if row.lease_owner == owner:
            row.lease_owner = None
            row.lease_until = None
        if result.outcome is Outcome.OK and parsed is not None and parsed.error is None:
            report = _store_items(session, row, feed, result, parsed, now)
        elif result.outcome is Outcome.OK:
            assert parsed is not None
            # Unrecoverable body: nothing stored, validators kept, so the next poll re-reads it.
            report = _failure(row, feed, app.config, result, _about(claim.url, parsed.error), now)
        elif result.outcome is Outcome.GONE:
            row.retired_at = now
            row.last_error = result.error or f"{redact(claim.url)}: HTTP 410 Gone"
            row.last_error_at = now
            row.next_poll_at = None
            report = PollReport(
                feed=feed.name,
                outcome="gone",
                status=result.status,
                error=row.last_error,
                detail="retired: no more polls",
            )
        else:
            report = _failure(row, feed, app.config, result, result.error, now)
        return report


def _store_items(
    session: Session, row: Feed, feed: FeedConfig, result: FetchResult, parsed: ParsedFeed, now: datetime
) -> PollReport:
    ingested = ingest_entries(session, row, parsed.entries, now, outlet=feed.name)
    detail = _moved(row.current_url, result)
    _succeeded(row, result, now)
    row.last_warning = parsed.warning
    return PollReport(
        feed=feed.name,
        outcome="ok",
        status=result.status,
        items=len(parsed.entries),
        new=ingested.new_items,
        new_story_ids=tuple(ingested.new_story_ids),
        grown_story_ids=tuple(ingested.grown_story_ids),
        warning=parsed.warning,
        detail=detail,
    )


def _moved(current_url: str, result: FetchResult) -> str | None:
    if result.permanent_url and result.permanent_url != current_url:
        return f"moved permanently to {redact(result.permanent_url)}"
    return None


def _succeeded(row: Feed, result: FetchResult, now: datetime) -> None:
    row.last_success_at = now
    row.consecutive_failures = 0
    row.next_poll_at = None
    row.etag = result.validators.etag
    row.last_modified = result.validators.last_modified
    if result.permanent_url:
        row.current_url = result.permanent_url


def _failure(
    row: Feed, feed: FeedConfig, config: Config, result: FetchResult, error: str | None, now: datetime
) -> PollReport:
    """Record a failed poll: the error, one more consecutive failure, the next poll after backoff."""
    row.consecutive_failures += 1
    delay = backoff_delay(row.consecutive_failures, config.feed_interval(feed), config.poll.max_backoff)
    if result.retry_after is not None:
        delay = max(delay, result.retry_after)
    row.next_poll_at = now + delay
    row.last_error = error or f"{redact(row.current_url)}: failed (no detail)"
    row.last_error_at = now
    return PollReport(
        feed=feed.name,
        outcome="error",
        status=result.status,
        error=row.last_error,
        detail=None,
    )


def _about(url: str, message: str | None) -> str:
    """One line that names the feed URL."""
    text = (message or "failed").strip().splitlines()[0] if (message or "").strip() else "failed"
    shown = redact(url)
    return text if text.startswith(shown) or text.startswith(url) else f"{shown}: {text}"


def _iso(when: datetime | None) -> str:
    return "?" if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- all feeds, whole cycle


async def poll_all(
    app: App, fetcher: Fetcher, now: datetime, *, owner: str | None = None
) -> list[PollReport]:
    """Poll every configured feed once, concurrently; one report per feed in config order."""
    await asyncio.to_thread(_sync, app)
    owner = owner or worker_id()
    return list(
        await asyncio.gather(*(poll_feed(app, fetcher, f.name, now, owner=owner) for f in app.config.feeds))
    )


def _sync(app: App) -> None:
    with app.db.session() as session:
        sync_feeds(session, app.config)


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleReport:
    polls: list[PollReport] = field(default_factory=list)
    track: TrackResult | None = None
    delivery: DeliveryReport | None = None  # None when no notifier is configured


def available_notifiers(config: Config) -> tuple[dict[str, Notifier], list[str]]:
    """The notifiers whose secrets can be read now, and one line per notifier that cannot.

    A notifier with a missing secret is left out (its deliveries wait in the outbox until it is
    fixed and the daemon restarted) rather than stopping the daemon from recording alerts.
    """
    renderer = renderer_for(config)
    ready: dict[str, Notifier] = {}
    problems: list[str] = []
    for name, spec in config.notifiers.items():
        try:
            ready[name] = build_notifier(name, spec, renderer)
        except ConfigError as exc:
            problems.append(f"notifier {name} disabled: {' '.join(exc.errors)}")
    return ready, problems


def classifier_for(config: Config) -> Classifier:
    """`classify`, with the transformer stage when the config asks for it (loaded now, so that a missing
    extra is a start-up error, not a failing cycle); ConfigError naming the config line if it cannot load."""
    if not config.classifier.transformer:
        return classify
    from monitor.classify import transformer

    try:
        stage = transformer.Stage.load()
    except transformer.Unavailable as exc:
        raise ConfigError(
            [f"{config.where('classifier', 'transformer')}: classifier.transformer: {exc}"]
        ) from None
    return functools.partial(classify, second=stage)


def prune_stage(app: App, now: datetime) -> int:
    """Delete the story lookup keys past their retention (monitor.ingest.KEY_RETENTION); how many."""
    with app.db.session() as session:
        return prune_story_keys(session, now)


def track_stage(app: App, now: datetime, story_ids: Collection[int] | None = None) -> TrackResult:
    """Classify new stories, update pair tension, write alerts and their outbox rows, one transaction.

    `story_ids` limits the work to those stories; None takes every story not yet counted.
    """
    with app.db.session() as session:
        return track(
            session,
            settings_from_config(app.config),
            app.classifier,
            app.config.notifiers_for,
            now,
            story_ids=story_ids,
        )


async def deliver_stage(
    app: App, notifiers: Mapping[str, Notifier], now: datetime, owner: str | None = None
) -> DeliveryReport | None:
    """Send the outbox rows due at `now` (nothing to do without notifiers)."""
    if not notifiers:
        return None
    return await deliver_due(app.db, notifiers, app.config, now, owner or worker_id())


async def run_cycle(
    app: App,
    fetcher: Fetcher,
    notifiers: Mapping[str, Notifier],
    now: datetime,
    *,
    owner: str | None = None,
) -> CycleReport:
    """The whole flow once: poll every feed, then score and alert, then deliver."""
    polls = await poll_all(app, fetcher, now, owner=owner)
    tracked = await asyncio.to_thread(track_stage, app, now)
    delivery = await deliver_stage(app, notifiers, now, owner)
    return CycleReport(polls=polls, track=tracked, delivery=delivery)
