"""Replay archived items through the daemon's own dedup -> classify -> tension -> alerting code.

The clock is simulated: items are taken in published order and processed in slices of the poll
interval, each slice at its end time, as the daemon would have seen them had it polled then. Between
slices, pairs are also ticked at the times their dwell, decay or quiet period falls due, so grouping,
dwell and back-to-calm behave as live. The database is whatever the caller gives (the command uses a
fresh temporary SQLite file); all database work of one slice is one transaction.

Input lines (the format of shared/corpus): {"published": ISO 8601, "source", "title", "summary",
"link"} and optionally "id" (else the link, else a content hash, as for a live feed entry).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from monitor.db.models import Feed
from monitor.db.session import Database
from monitor.domain import Alert, Entry
from monitor.track import Classifier, PairStates, Router, TrackSettings, track

MAX_FEED_NAME = 200


class ReplayInputError(ValueError):
    """A bad input line; the message starts with `path:line:`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayItem:
    id: str | None
    published: datetime
    source: str
    title: str
    summary: str
    link: str | None


def _parse_time(text: Any) -> datetime:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("'published' must be an ISO 8601 time")
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_line(text: str) -> ReplayItem:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    for key in ("published", "source", "title"):
        if key not in data:
            raise ValueError(f"missing {key!r}")
    title = data["title"]
    source = data["source"]
    if not isinstance(title, str) or not title.strip():
        raise ValueError("'title' must be non-empty text")
    if not isinstance(source, str) or not source.strip():
        raise ValueError("'source' must be non-empty text")
    summary = data.get("summary") or ""
    link = data.get("link") or None
    ident = data.get("id")
    if not isinstance(summary, str) or (link is not None and not isinstance(link, str)):
        raise ValueError("'summary' and 'link' must be text")
    return ReplayItem(
        id=str(ident) if ident not in (None, "") else None,
        published=_parse_time(data["published"]),
        source=source.strip()[:MAX_FEED_NAME],
        title=title.strip(),
        summary=summary.strip(),
        link=link.strip() if link else None,
    )


def read_items(path: Path) -> list[ReplayItem]:
    """Every item of a JSON Lines file, in published order (stable for equal times)."""
    items: list[ReplayItem] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    items.append(parse_line(line))
                except (ValueError, TypeError) as err:
                    raise ReplayInputError(f"{path}:{number}: {err}") from None
    except OSError as err:
        raise ReplayInputError(f"{path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise ReplayInputError(f"{path}: not UTF-8 text ({err.reason})") from None
    items.sort(key=lambda item: item.published)
    return items


def entry_of(item: ReplayItem) -> Entry:
    return Entry(
        guid=item.id, link=item.link, title=item.title, summary=item.summary, published=item.published
    )


class IngestResultLike(Protocol):
    @property
    def new_story_ids(self) -> Sequence[int]: ...

    @property
    def grown_story_ids(self) -> Sequence[int]: ...


# All feeds of one slice at once: (feed, its entries) pairs -> new and grown story ids.
Ingest = Callable[[Session, Sequence[tuple[Feed, Sequence[Entry]]], datetime], IngestResultLike]


def _default_ingest(
    session: Session, batches: Sequence[tuple[Feed, Sequence[Entry]]], now: datetime
) -> IngestResultLike:
    from monitor.ingest import FeedEntries, ingest_many

    result: IngestResultLike = ingest_many(
        session, [FeedEntries(feed=feed, entries=entries) for feed, entries in batches], now
    )
    return result


@dataclass(slots=True)
class ReplayReport:
    items: int = 0
    slices: int = 0
    ticks: int = 0
    stories: int = 0
    alerts: list[Alert] = field(default_factory=list)


def slice_end(at: datetime, width: timedelta, origin: datetime) -> datetime:
    """The end of the slice holding `at`: slices are [origin + k*width, origin + (k+1)*width)."""
    k = (at - origin) // width
    return origin + (k + 1) * width


FOREVER = datetime.max.replace(tzinfo=UTC)


def open_scratch_db(path: Path) -> Database:
    """A fresh SQLite database at `path` with the schema, tuned for a throwaway replay.

    Nothing of a replay needs to survive a power cut or to be read while it runs, so SQLite skips its
    fsyncs (synchronous=OFF) and keeps its rollback journal in memory instead of a write-ahead log
    (journal_mode=MEMORY): a commit then writes each changed page once, to the database file, where
    WAL wrote it to the log and again at each checkpoint (full wklnd replay: ~1 s less CPU of ~14).
    """
    db = Database.open(f"sqlite:///{path}")
    db.upgrade()
    db.engine.dispose()  # connections opened from here on get the listener below

    def throwaway(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA journal_mode=MEMORY")
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    event.listen(db.engine, "connect", throwaway)
    return db


def replay(
    db: Database,
    items: Sequence[ReplayItem],
    settings: TrackSettings,
    classifier: Classifier,
    router: Router,
    *,
    slice_width: timedelta = timedelta(minutes=5),
    commit_every: int = 1000,
    ingest: Ingest = _default_ingest,
    on_alert: Callable[[Alert], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Run `items` (published order) through ingest and track on a simulated clock.

    One transaction holds the slices of about `commit_every` items (each alert is still written with
    the state change that caused it); nothing else writes to the database meanwhile, so pairs are
    loaded only when they have new stories or fall due.
    """
    report = ReplayReport()
    if not items:
        return report
    origin = items[0].published.replace(minute=0, second=0, microsecond=0)
    feeds: dict[str, Feed] = {}
    due: datetime | None = None  # None until the first full pass has loaded every pair
    last_tick = origin
    session = db.sessions()
    states = PairStates()  # nothing else writes meanwhile: each pair's row is read once
    pending = 0

    def run_track(at: datetime, story_ids: Collection[int]) -> None:
        nonlocal due, last_tick
        result = track(
            session, settings, classifier, router, at, story_ids=story_ids, idle_until=due, states=states
        )
        due, last_tick = result.next_due or FOREVER, at
        for alert in result.alerts:
            report.alerts.append(alert)
            if on_alert is not None:
                on_alert(alert)

    def tick_until(limit: datetime) -> None:
        """Tick the pairs at each due time before `limit` (no new stories)."""
        while due is not None and due < limit:
            at = max(slice_end(due, slice_width, origin), last_tick + slice_width)
            if at >= limit:
                return
            run_track(at, ())
            report.ticks += 1

    try:
        feeds.update(_feeds(session, {item.source for item in items}))
        for now, batch in _slices(items, slice_width, origin):
            # Pairs whose dwell, decay or quiet period falls due before this slice: tick them on time.
            tick_until(now)
            by_source: dict[str, list[Entry]] = {}
            for item in batch:
                by_source.setdefault(item.source, []).append(entry_of(item))
            batches: list[tuple[Feed, Sequence[Entry]]] = []
            for source, entries in by_source.items():
                batches.append((feeds[source], entries))
            result = ingest(session, batches, now)
            story_ids = {*result.new_story_ids, *result.grown_story_ids}
            run_track(now, story_ids)
            report.items += len(batch)
            report.slices += 1
            report.stories += len(story_ids)
            pending += len(batch)
            if pending >= commit_every:
                session.commit()
                pending = 0
            if on_progress is not None:
                on_progress(report.items)
        # A shift still waiting out its dwell when the archive ends is judged; nothing later is invented.
        # Its dwell ends by end + min_dwell and is ticked at the slice end after that, which is
        # end + min_dwell + width when the dwell ends on a boundary: the limit (exclusive) is one more.
        end = slice_end(items[-1].published, slice_width, origin)
        tick_until(end + settings.tension.min_dwell + 2 * slice_width)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    return report


def _slices(
    items: Sequence[ReplayItem], width: timedelta, origin: datetime
) -> Iterator[tuple[datetime, list[ReplayItem]]]:
    batch: list[ReplayItem] = []
    end: datetime | None = None
    for item in items:
        item_end = slice_end(item.published, width, origin)
        if end is not None and item_end != end:
            yield end, batch
            batch = []
        end = item_end
        batch.append(item)
    if end is not None and batch:
        yield end, batch


def _feeds(session: Session, sources: Iterable[str]) -> dict[str, Feed]:
    """One Feed row per source outlet (created in one statement when missing), by name."""
    known = {feed.name: feed for feed in session.scalars(select(Feed))}
    missing = sorted(set(sources) - set(known))
    if missing:
        rows = []
        for name in missing:
            url = f"replay://{hashlib.sha1(name.encode()).hexdigest()[:16]}"
            rows.append({"name": name, "url": url, "current_url": url})
        session.execute(insert(Feed), rows)
        known = {feed.name: feed for feed in session.scalars(select(Feed))}
    return known


def alert_json(alert: Alert) -> dict[str, Any]:
    """The output line of `monitor replay` for one alert."""
    return {
        "pair": alert.pair.as_list(),
        "direction": alert.direction.value,
        "at": _iso(alert.at),
        "level": alert.level.label,
        "previous_level": alert.previous_level.label,
        "tension": round(alert.tension, 3),
        "reason": alert.reason.value,
        "evidence": [
            {
                "id": e.id,
                "title": e.title,
                "source": e.sources[0] if e.sources else "",
                "published": _iso(e.published),
                "link": e.link,
            }
            for e in alert.evidence
        ],
    }


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def write_alerts(alerts: Iterable[Alert], handle: Any) -> None:
    for alert in alerts:
        handle.write(json.dumps(alert_json(alert), ensure_ascii=False) + "\n")
