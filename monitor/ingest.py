"""Store the entries of one fetched feed: each item once, each story once however many outlets carry it.

    entries -> item keys -> which are stored already (one query) -> new ones: signatures -> candidate
    stories by shared lookup key within the time window (one query) -> verified match or a new story
    -> inserts (stories, story keys, items) -> grown stories updated

The rules (pure, in monitor.dedup): an item is identified within its feed by `item_key` (guid, else
canonical link, else content hash); two headlines are one story by `same_story`. The caller owns the
transaction: this module executes its statements at once (nothing is left pending in the session), it
never commits.

Speed: a batch costs a fixed handful of statements whatever its size (seven for a batch of new items:
stored?, candidates, story ids, stories, story keys, items, feed counts; no RETURNING, so every insert
is one executemany), and several feeds can share one batch (ingest_many). Key lists go to the database as one parameter (a
JSON array read by json_each on SQLite, a text[] on PostgreSQL); the statements are compiled once per
dialect and run on the session connection's DB-API cursor (monitor.db.rows), each distinct value converted once by its
column type's own processor. See bench/ingest.py for the figures.

Several daemons may share the database: an item inserted concurrently by another process is skipped by
ON CONFLICT DO NOTHING. Two processes storing the same new story at the same moment may each create
one (neither sees the other's uncommitted keys); later copies join whichever they find.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BindParameter,
    ColumnElement,
    Connection,
    Insert,
    Integer,
    Select,
    String,
    Table,
    TextClause,
    Update,
    bindparam,
    delete,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from monitor.db.models import Feed, Item, Story, StoryKey
from monitor.db.rows import execute_rows, fetch_rows, in_list, list_param
from monitor.db.types import UTCDateTime
from monitor.dedup import Signature, item_key, same_story, signature, similarity
from monitor.domain import Entry

__all__ = [
    "KEY_RETENTION",
    "STORY_WINDOW",
    "FeedEntries",
    "IngestResult",
    "ingest_entries",
    "ingest_many",
    "item_key",
    "prune_story_keys",
]

STORY_WINDOW = timedelta(hours=48)  # a copy joins a story first published at most this far from it
# Lookup keys of stories first published longer ago than this are deleted (prune_story_keys): well past
# STORY_WINDOW, so only copies of week-old stories miss their story (and make a new one, which decays away).
KEY_RETENTION = timedelta(days=7)

_FEEDS: Table = Feed.__table__  # type: ignore[assignment]
_ITEMS: Table = Item.__table__  # type: ignore[assignment]
_STORIES: Table = Story.__table__  # type: ignore[assignment]
_STORY_KEYS: Table = StoryKey.__table__  # type: ignore[assignment]
_ITEM_COLUMNS = (
    "feed_id",
    "key",
    "title",
    "summary",
    "link",
    "published_at",
    "first_seen_at",
    "last_seen_at",
    "story_id",
)
_STORY_COLUMNS = (
    "title",
    "summary",
    "link",
    "first_published_at",
    "source_count",
    "sources",
    "classified_at",
    "scored_sources",
)


def _values(table: Table, columns: Sequence[str], suffix: str = "") -> dict[str, BindParameter[Any]]:
    return {c: bindparam(f"p_{c}{suffix}", type_=table.c[c].type) for c in columns}


@dataclass(frozen=True, slots=True)
class _Statements:
    """The statements of one database kind, built once."""

    dialect: str  # lists go to the database as one parameter: monitor.db.rows.list_param
    select_stored: Select[int, str]
    touch_stored: Update
    select_candidates: Select[int, str, datetime, str, datetime, Any]
    insert_items: Insert
    story_ids: TextClause  # SQLite: the largest story id; PostgreSQL: `b_n` new ids from the sequence
    insert_stories: Insert
    update_story: Update
    insert_story_keys: Insert
    count_items: Update


@functools.cache
def _statements(dialect: str) -> _Statements:
    insert_items: Insert
    items = _values(_ITEMS, _ITEM_COLUMNS)
    if dialect == "sqlite":
        story_ids = text("SELECT coalesce(max(id), 0) FROM stories")
        insert_items = (
            sqlite.insert(_ITEMS).values(items).on_conflict_do_nothing(index_elements=["feed_id", "key"])
        )
    elif dialect == "postgresql":
        story_ids = text(
            "SELECT nextval(pg_get_serial_sequence('stories', 'id')) FROM generate_series(1, :b_n)"
        ).bindparams(bindparam("b_n", type_=Integer()))
        insert_items = (
            postgresql.insert(_ITEMS).values(items).on_conflict_do_nothing(index_elements=["feed_id", "key"])
        )
    else:
        raise ValueError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL")

    def among(
        column: ColumnElement[Any], name: str, kind: type[String] | type[Integer]
    ) -> ColumnElement[bool]:
        return in_list(column, name, kind, dialect)

    return _Statements(
        dialect=dialect,
        select_stored=select(_ITEMS.c.feed_id, _ITEMS.c.key).where(
            among(_ITEMS.c.feed_id, "b_feeds", Integer), among(_ITEMS.c.key, "b_keys", String)
        ),
        touch_stored=update(_ITEMS)
        .where(
            _ITEMS.c.feed_id == bindparam("b_feed", type_=Integer()), among(_ITEMS.c.key, "b_keys", String)
        )
        .values(last_seen_at=bindparam("b_now", type_=UTCDateTime())),
        select_candidates=select(
            _STORY_KEYS.c.story_id,
            _STORY_KEYS.c.key,
            _STORY_KEYS.c.created_at,
            _STORIES.c.title,
            _STORIES.c.first_published_at,
            _STORIES.c.sources,
        )
        .join_from(_STORY_KEYS, _STORIES, _STORY_KEYS.c.story_id == _STORIES.c.id)
        .where(
            among(_STORY_KEYS.c.key, "b_keys", String),
            _STORY_KEYS.c.created_at.between(
                bindparam("b_low", type_=UTCDateTime()), bindparam("b_high", type_=UTCDateTime())
            ),
        ),
        insert_items=insert_items,
        story_ids=story_ids,
        insert_stories=_STORIES.insert().values(_values(_STORIES, ("id", *_STORY_COLUMNS))),
        update_story=update(_STORIES)
        .where(_STORIES.c.id == bindparam("b_id", type_=Integer()))
        .values(
            sources=bindparam("b_sources", type_=JSON()),
            source_count=bindparam("b_count", type_=Integer()),
            first_published_at=bindparam("b_first", type_=UTCDateTime()),
        ),
        insert_story_keys=_STORY_KEYS.insert().values(
            _values(_STORY_KEYS, ("story_id", "key", "created_at"))
        ),
        count_items=update(_FEEDS)
        .where(_FEEDS.c.id == bindparam("b_id", type_=Integer()))
        .values(items_seen=_FEEDS.c.items_seen + bindparam("b_new", type_=Integer())),
    )


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
    earlier: bool = False  # an existing story that turns out to be published earlier
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
    return ingest_many(session, [FeedEntries(feed=feed, entries=entries, outlet=outlet)], now)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedEntries:
    """The entries of one feed in a multi-feed batch; `outlet` as for ingest_entries."""

    feed: Feed
    entries: Sequence[Entry]
    outlet: str | None = None


def ingest_many(session: Session, batches: Sequence[FeedEntries], now: datetime) -> IngestResult:
    """ingest_entries for several feeds at once, in the same few statements (replay: one call a slice).

    The result adds up the feeds: a story created by one feed's entry and joined by another's in the
    same call is new (with both outlets), not grown. Feeds must be distinct.
    """
    if any(batch.feed.id is None for batch in batches):
        session.flush()
    conn = session.connection()
    sql = _statements(conn.dialect.name)
    fresh: dict[tuple[int, str], tuple[Entry, str]] = {}  # (feed id, item key) -> entry, outlet
    for batch in batches:
        source = batch.outlet or batch.feed.name
        for entry in batch.entries:
            fresh.setdefault((batch.feed.id, item_key(entry)), (entry, source))
    if not fresh:
        return IngestResult(new_items=0, seen_items=0, new_story_ids=(), grown_story_ids=())

    stored = _stored(conn, sql, fresh, now)
    new = [(feed_key, entry, source) for feed_key, (entry, source) in fresh.items() if feed_key not in stored]
    if not new:
        return IngestResult(new_items=0, seen_items=len(stored), new_story_ids=(), grown_story_ids=())

    times = [entry.published or now for _, entry, _ in new]
    signatures = [signature(entry.title, source) for _, entry, source in new]
    drafts = _group(conn, sql, [(entry, source) for _, entry, source in new], times, signatures)
    created = [d for d in drafts if d.id is None]
    _insert_stories(conn, sql, created)
    story_of = {i: d.id for d in drafts for i in d.items}
    execute_rows(
        conn,
        sql.insert_items,
        [
            {
                "p_feed_id": feed_id,
                "p_key": key,
                "p_title": e.title,
                "p_summary": e.summary,
                "p_link": e.link,
                "p_published_at": times[i],
                "p_first_seen_at": now,
                "p_last_seen_at": now,
                "p_story_id": story_of[i],
            }
            for i, ((feed_id, key), e, _) in enumerate(new)
        ],
    )
    grown = [d for d in drafts if d.grown]
    if changed := [d for d in drafts if d.grown or d.earlier]:
        execute_rows(
            conn,
            sql.update_story,
            [
                {
                    "b_id": d.id,
                    "b_sources": d.sources,
                    "b_count": len(d.sources),
                    "b_first": d.first_published_at,
                }
                for d in changed
            ],
        )
    # items_seen += n in SQL (no unit-of-work flush), and the loaded feeds told the new value.
    new_per_feed = Counter(feed_id for (feed_id, _), _, _ in new)
    execute_rows(conn, sql.count_items, [{"b_id": f, "b_new": n} for f, n in new_per_feed.items()])
    for batch in batches:
        set_committed_value(
            batch.feed, "items_seen", (batch.feed.items_seen or 0) + new_per_feed[batch.feed.id]
        )
    return IngestResult(
        new_items=len(new),
        seen_items=len(stored),
        new_story_ids=tuple(d.id for d in created if d.id is not None),
        grown_story_ids=tuple(d.id for d in grown if d.id is not None),
    )


def _stored(
    conn: Connection, sql: _Statements, fresh: dict[tuple[int, str], Any], now: datetime
) -> set[tuple[int, str]]:
    """The (feed, key) pairs of the batch already stored; their last_seen_at becomes `now`."""
    feeds = sorted({feed_id for feed_id, _ in fresh})
    keys = {key for _, key in fresh}
    rows = fetch_rows(
        conn,
        sql.select_stored,
        {"b_feeds": list_param(sql.dialect, feeds), "b_keys": list_param(sql.dialect, keys)},
    )
    stored = {(feed_id, key) for feed_id, key in rows if (feed_id, key) in fresh}
    by_feed: defaultdict[int, list[str]] = defaultdict(list)
    for feed_id, key in stored:
        by_feed[feed_id].append(key)
    execute_rows(
        conn,
        sql.touch_stored,
        [{"b_feed": f, "b_keys": list_param(sql.dialect, ks), "b_now": now} for f, ks in by_feed.items()],
    )
    return stored


def _group(
    conn: Connection,
    sql: _Statements,
    entries: Sequence[tuple[Entry, str]],
    times: Sequence[datetime],
    signatures: Sequence[Signature],
) -> list[_Draft]:
    """Give every new entry a story: an existing one it matches, one made earlier in this call, or its own.

    Returns the drafts that changed: stories to create (id None) and stories that gained an outlet.
    """
    # Lookup keys -> (story, time) for stories in the database near this batch, then for new drafts.
    index: defaultdict[str, list[tuple[_Draft, datetime]]] = defaultdict(list)
    for draft, key, created_at in _candidates(conn, sql, signatures, times):
        index[key].append((draft, created_at))

    changed: dict[int, _Draft] = {}  # by id() of the draft: drafts are unhashable and may lack an id
    for i, ((entry, source), at, sig) in enumerate(zip(entries, times, signatures, strict=True)):
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
                best.earlier = best.id is not None
        best.items.append(i)
        changed[id(best)] = best
    return list(changed.values())


def _candidates(
    conn: Connection, sql: _Statements, signatures: Sequence[Signature], times: Sequence[datetime]
) -> Iterator[tuple[_Draft, str, datetime]]:
    """Stories sharing a lookup key with the batch and first published within the window of it."""
    keys = {key for sig in signatures for key in sig.keys}
    if not keys:
        return
    low, high = min(times) - STORY_WINDOW, max(times) + STORY_WINDOW
    rows = fetch_rows(
        conn, sql.select_candidates, {"b_keys": list_param(sql.dialect, keys), "b_low": low, "b_high": high}
    )
    drafts: dict[int, _Draft] = {}
    for story_id, key, created_at, title, first, sources in rows:
        draft = drafts.get(story_id)
        if draft is None:
            outlets = [str(s) for s in sources or []]
            draft = drafts[story_id] = _Draft(
                id=story_id,
                signature=signature(title, outlets[0] if outlets else None),
                first_published_at=first,
                sources=outlets,
            )
        yield draft, key, created_at


def _insert_stories(conn: Connection, sql: _Statements, created: Sequence[_Draft]) -> None:
    """Insert the new stories with ids taken beforehand, then their lookup keys: two executemany.

    The ids: on SQLite the ones after the largest (what SQLite itself would give; its transactions are
    serialisable, so no other writer can take them before this one commits); on PostgreSQL drawn from
    the column's sequence. Ids ascend in the order of `created`.
    """
    if not created:
        return
    if sql.dialect == "sqlite":
        ((largest,),) = fetch_rows(conn, sql.story_ids, {})
        ids: Sequence[int] = range(largest + 1, largest + 1 + len(created))
    else:
        ids = sorted(story_id for (story_id,) in fetch_rows(conn, sql.story_ids, {"b_n": len(created)}))
    for draft, story_id in zip(created, ids, strict=True):
        draft.id = story_id
    execute_rows(
        conn,
        sql.insert_stories,
        [
            {
                "p_id": d.id,
                "p_title": d.title,
                "p_summary": d.summary,
                "p_link": d.link,
                "p_first_published_at": d.first_published_at,
                "p_source_count": len(d.sources),
                "p_sources": d.sources,
                "p_classified_at": None,
                "p_scored_sources": 0,
            }
            for d in created
        ],
    )
    execute_rows(
        conn,
        sql.insert_story_keys,
        [
            {"p_story_id": d.id, "p_key": key, "p_created_at": d.first_published_at}
            for d in created
            for key in d.signature.keys
        ],
    )


def prune_story_keys(session: Session, now: datetime, retention: timedelta = KEY_RETENTION) -> int:
    """Delete the lookup keys of stories first published before `now - retention`; the number deleted.

    Keys exist only to find a story for copies published within STORY_WINDOW of it; older ones would only
    grow the key index that every new story's keys are written into. Stories and items are kept.
    """
    result = session.execute(delete(StoryKey).where(StoryKey.created_at < now - retention))
    return int(result.rowcount)  # type: ignore[attr-defined]
