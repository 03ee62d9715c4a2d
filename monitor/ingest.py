"""Store the entries of one fetched feed: each item once, each story once however many outlets carry it.

    entries -> item keys -> which are stored already (one query) -> new ones: signatures -> candidate
    stories by shared lookup key within the time window (one query) -> verified match or a new story
    -> Core inserts (stories, story keys, items) -> grown stories updated

The rules (pure, in monitor.dedup): an item is identified within its feed by `item_key` (guid, else
canonical link, else content hash); two headlines are one story by `same_story`. The caller owns the
transaction: this module executes and flushes, it never commits.

Several daemons may share the database: an item inserted concurrently by another process is skipped by
ON CONFLICT DO NOTHING. Two processes storing the same new story at the same moment may each create
one (neither sees the other's uncommitted keys); later copies join whichever they find.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Insert, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from monitor.db.models import Feed, Item, Story, StoryKey
from monitor.dedup import Signature, item_key, same_story, signature, similarity
from monitor.domain import Entry

__all__ = ["STORY_WINDOW", "IngestResult", "ingest_entries", "item_key"]

STORY_WINDOW = timedelta(hours=48)  # a copy joins a story first published at most this far from it
_CHUNK = 500  # bound parameters per IN (...) list: far below SQLite's and PostgreSQL's limits

_ITEMS: Table = Item.__table__  # type: ignore[assignment]
_STORIES: Table = Story.__table__  # type: ignore[assignment]
_STORY_KEYS: Table = StoryKey.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestResult:
    new_items: int  # entries stored by this call
    seen_items: int  # entries already stored (their last_seen_at updated)
    new_story_ids: tuple[int, ...]  # stories created by this call
    grown_story_ids: tuple[int, ...]  # existing stories that gained a new outlet (corroboration grew)


@dataclass(slots=True, kw_only=True)
class _Draft:
    """A story as this call sees it: loaded from the database, or about to be inserted (id None)."""

    id: int | None
    signature: Signature
    first_published_at: datetime
    sources: list[str]
    title: str = ""
    summary: str = ""
    link: str | None = None
    grown: bool = False  # an existing story that gained an outlet
    dirty: bool = False  # an existing story published earlier than it knew
    items: list[int] = field(default_factory=list)  # indexes into the call's new entries


def ingest_entries(
    session: Session, feed: Feed, entries: Sequence[Entry], now: datetime, *, outlet: str | None = None
) -> IngestResult:
    """Store the entries of `feed` not stored before and group them into stories (see module doc).

    `outlet` is the name counted for corroboration (default: the feed's name). An entry without a
    published time is dated `now`, its first-seen time. Entries already stored, even ones that dropped
    out of the feed and came back, are not new: only their last_seen_at moves. feed.items_seen grows by
    the number of new items. An entry repeated within `entries` counts once.
    """
    if feed.id is None:
        session.flush()
    source = outlet or feed.name
    by_key: dict[str, Entry] = {}
    for entry in entries:
        by_key.setdefault(item_key(entry), entry)

    stored = _stored_keys(session, feed.id, by_key)
    if stored:
        for chunk in _chunks(sorted(stored)):
            session.execute(
                update(_ITEMS)
                .where(_ITEMS.c.feed_id == feed.id, _ITEMS.c.key.in_(chunk))
                .values(last_seen_at=now)
            )
    new = [(key, entry) for key, entry in by_key.items() if key not in stored]
    if not new:
        return IngestResult(new_items=0, seen_items=len(stored), new_story_ids=(), grown_story_ids=())

    times = [entry.published or now for _, entry in new]
    signatures = [signature(entry.title, source) for _, entry in new]
    drafts = _group(session, [entry for _, entry in new], times, signatures, source)

    created = [d for d in drafts if d.id is None]
    _insert_stories(session, created)
    story_of = {i: d.id for d in drafts for i in d.items}
    _execute_insert(
        session,
        _insert_ignoring_duplicates(session, _ITEMS, ["feed_id", "key"]),
        [
            {
                "feed_id": feed.id,
                "key": key,
                "title": entry.title,
                "summary": entry.summary,
                "link": entry.link,
                "published_at": times[i],
                "first_seen_at": now,
                "last_seen_at": now,
                "story_id": story_of[i],
            }
            for i, (key, entry) in enumerate(new)
        ],
    )
    grown = [d for d in drafts if d.grown]
    if dirty := [d for d in drafts if d.grown or d.dirty]:
        session.execute(
            update(_STORIES)
            .where(_STORIES.c.id == bindparam("story_id"))
            .values(
                sources=bindparam("new_sources"),
                source_count=bindparam("new_count"),
                first_published_at=bindparam("new_first"),
            ),
            [
                {
                    "story_id": d.id,
                    "new_sources": d.sources,
                    "new_count": len(d.sources),
                    "new_first": d.first_published_at,
                }
                for d in dirty
            ],
        )
    session.execute(
        update(Feed)
        .where(Feed.id == feed.id)
        .values(items_seen=Feed.items_seen + len(new))
        .execution_options(synchronize_session="evaluate")
    )
    session.flush()
    return IngestResult(
        new_items=len(new),
        seen_items=len(stored),
        new_story_ids=tuple(d.id for d in created if d.id is not None),
        grown_story_ids=tuple(d.id for d in grown if d.id is not None),
    )


def _stored_keys(session: Session, feed_id: int, keys: Iterable[str]) -> set[str]:
    stored: set[str] = set()
    for chunk in _chunks(list(keys)):
        stored.update(
            session.scalars(select(_ITEMS.c.key).where(_ITEMS.c.feed_id == feed_id, _ITEMS.c.key.in_(chunk)))
        )
    return stored


def _group(
    session: Session,
    entries: Sequence[Entry],
    times: Sequence[datetime],
    signatures: Sequence[Signature],
    source: str,
) -> list[_Draft]:
    """Give every new entry a story: an existing one it matches, one made earlier in this call, or its own.

    Returns the drafts that changed: stories to create (id None) and stories that gained an outlet.
    """
    # Lookup keys -> (story, time) for stories in the database near this batch, then for new drafts.
    index: defaultdict[str, list[tuple[_Draft, datetime]]] = defaultdict(list)
    for draft, key, created_at in _candidates(session, signatures, times):
        index[key].append((draft, created_at))

    changed: dict[int, _Draft] = {}  # by id() of the draft: drafts are unhashable and may lack an id
    for i, (entry, at, sig) in enumerate(zip(entries, times, signatures, strict=True)):
        best: _Draft | None = None
        best_score = 0.0
        checked: set[int] = set()
        for key in sig.keys:
            for draft, created_at in index.get(key, ()):
                if id(draft) in checked or abs(created_at - at) > STORY_WINDOW:
                    continue
                checked.add(id(draft))
                if same_story(sig, draft.signature):
                    score = similarity(sig, draft.signature)
                    if score > best_score:
                        best, best_score = draft, score
        if best is None:
            best = _Draft(
                id=None,
                signature=sig,
                first_published_at=at,
                sources=[source],
                title=entry.title,
                summary=entry.summary,
                link=entry.link,
            )
            for key in sig.keys:
                index[key].append((best, at))
        else:
            if source not in best.sources:
                best.sources.append(source)
                best.grown = best.id is not None
            if at < best.first_published_at:
                best.first_published_at = at
                best.dirty = best.id is not None
        best.items.append(i)
        changed[id(best)] = best
    return list(changed.values())


def _candidates(
    session: Session, signatures: Sequence[Signature], times: Sequence[datetime]
) -> Iterator[tuple[_Draft, str, datetime]]:
    """Stories sharing a lookup key with the batch and first published within the window of it."""
    keys = sorted({key for sig in signatures for key in sig.keys})
    if not keys:
        return
    low, high = min(times) - STORY_WINDOW, max(times) + STORY_WINDOW
    hits: list[tuple[int, str, datetime]] = []
    for chunk in _chunks(keys):
        hits.extend(
            session.execute(
                select(_STORY_KEYS.c.story_id, _STORY_KEYS.c.key, _STORY_KEYS.c.created_at).where(
                    _STORY_KEYS.c.key.in_(chunk), _STORY_KEYS.c.created_at.between(low, high)
                )
            )
        )
    drafts: dict[int, _Draft] = {}
    for chunk in _chunks(sorted({story_id for story_id, _, _ in hits})):
        rows = session.execute(
            select(_STORIES.c.id, _STORIES.c.title, _STORIES.c.first_published_at, _STORIES.c.sources).where(
                _STORIES.c.id.in_(chunk)
            )
        )
        for story_id, title, first, sources in rows:
            outlets = [str(s) for s in sources or []]
            drafts[story_id] = _Draft(
                id=story_id,
                signature=signature(title, outlets[0] if outlets else None),
                first_published_at=first,
                sources=outlets,
            )
    for story_id, key, created_at in hits:
        if story_id in drafts:
            yield drafts[story_id], key, created_at


def _insert_stories(session: Session, created: Sequence[_Draft]) -> None:
    """Insert the new stories (ids via RETURNING, in order) and their lookup keys."""
    if not created:
        return
    ids = session.execute(
        _STORIES.insert().returning(_STORIES.c.id, sort_by_parameter_order=True),
        [
            {
                "title": d.title,
                "summary": d.summary,
                "link": d.link,
                "first_published_at": d.first_published_at,
                "source_count": len(d.sources),
                "sources": d.sources,
                "classified_at": None,
                "scored_sources": 0,
            }
            for d in created
        ],
    ).scalars()
    for draft, story_id in zip(created, ids, strict=True):
        draft.id = story_id
    _execute_insert(
        session,
        _STORY_KEYS.insert(),
        [
            {"story_id": d.id, "key": key, "created_at": d.first_published_at}
            for d in created
            for key in d.signature.keys
        ],
    )


def _insert_ignoring_duplicates(session: Session, table: Table, unique: list[str]) -> Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=unique)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=unique)
    raise ValueError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL")


def _execute_insert(session: Session, statement: Insert, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(statement, rows)


def _chunks(items: Sequence[str] | Sequence[int]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
