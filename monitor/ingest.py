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
dialect and run on the session connection's DB-API cursor, each distinct value converted once by its
column type's own processor. See bench/ingest.py for the figures.

Several daemons may share the database: an item inserted concurrently by another process is skipped by
ON CONFLICT DO NOTHING. Two processes storing the same new story at the same moment may each create
one (neither sees the other's uncommitted keys); later copies join whichever they find.
"""

from __future__ import annotations

import functools
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BindParameter,
    ColumnElement,
    Connection,
    Dialect,
    Float,
    Insert,
    Integer,
    Select,
    String,
    Table,
    TextClause,
    Update,
    any_,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeEngine

from monitor.db.models import Feed, Item, Story, StoryKey
from monitor.db.types import UTCDateTime
from monitor.dedup import Signature, item_key, same_story, signature, similarity
from monitor.domain import Entry

__all__ = [
    "STORY_WINDOW",
    "FeedEntries",
    "IngestResult",
    "execute_rows",
    "fetch_rows",
    "in_list",
    "ingest_entries",
    "ingest_many",
    "item_key",
    "list_param",
]

STORY_WINDOW = timedelta(hours=48)  # a copy joins a story first published at most this far from it

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

    json_keys: bool  # key lists are passed as JSON text (SQLite) rather than as an array
    select_stored: Select[int, str]
    touch_stored: Update
    select_candidates: Select[int, str, datetime, str, datetime, Any]
    insert_items: Insert
    story_ids: TextClause  # SQLite: the largest story id; PostgreSQL: `b_n` new ids from the sequence
    insert_stories: Insert
    update_story: Update
    insert_story_keys: Insert
    count_items: Update


def in_list(
    column: ColumnElement[Any], name: str, kind: type[String] | type[Integer], dialect: str
) -> ColumnElement[bool]:
    """`column` is one of the values of the list parameter `name` (its value: `list_param`).

    One parameter whatever the list's length, so the statement compiles once: a JSON array read by
    json_each on SQLite, an array on PostgreSQL.
    """
    if dialect == "sqlite":
        listed = func.json_each(bindparam(name, type_=String())).table_valued("value")
        return column.in_(select(listed.c.value))
    return column == any_(bindparam(name, type_=postgresql.ARRAY(kind())))


def list_param(dialect: str, values: Iterable[Any]) -> str | list[Any]:
    """The value of an `in_list` parameter."""
    return json.dumps(list(values)) if dialect == "sqlite" else list(values)


@functools.cache
def _statements(dialect: str) -> _Statements:
    insert_items: Insert
    items = _values(_ITEMS, _ITEM_COLUMNS)
    if dialect == "sqlite":
        json_keys = True
        story_ids = text("SELECT coalesce(max(id), 0) FROM stories")
        insert_items = (
            sqlite.insert(_ITEMS).values(items).on_conflict_do_nothing(index_elements=["feed_id", "key"])
        )
    elif dialect == "postgresql":
        json_keys = False
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
        json_keys=json_keys,
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


def _key_list(statements: _Statements, keys: Iterable[str]) -> str | list[str]:
    return json.dumps(list(keys)) if statements.json_keys else list(keys)


def _id_list(statements: _Statements, ids: Iterable[int]) -> str | list[int]:
    return json.dumps(list(ids)) if statements.json_keys else list(ids)


# --------------------------------------------------------------------------- statements on the driver
# The statements above run on the DB-API cursor of the session's connection (same transaction). A batch
# of two items is seven statements; SQLAlchemy's per-execution work (result setup, parameter processing,
# per-row processing in executemany) cost several times the database's own work. The SQL and the value
# conversions stay SQLAlchemy's: compiled once per dialect, each parameter and column through its type's
# own bind and result processors.


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: bool
    names: tuple[str, ...]  # parameter names, in the driver's order when positional
    to_db: tuple[Callable[[Any], Any] | None, ...]  # per parameter
    from_db: tuple[Callable[[Any], Any] | None, ...]  # per returned column
    shared: tuple[bool, ...]  # per returned column: its values are immutable (one conversion per value)

    def params(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """The driver's parameters for each row: converted column by column, each distinct value once
        (a story's time serves its keys, `now` every item)."""
        if len(rows) == 1:  # one execution (a lookup, a multi-row INSERT): no repeats to share
            row = rows[0]
            values = [
                row[name] if fn is None or row[name] is None else fn(row[name])
                for name, fn in zip(self.names, self.to_db, strict=True)
            ]
            return [tuple(values) if self.positional else dict(zip(self.names, values, strict=True))]
        columns = [
            _converted([row[name] for row in rows], fn)
            for name, fn in zip(self.names, self.to_db, strict=True)
        ]
        if self.positional:
            return list(zip(*columns, strict=True))
        return [dict(zip(self.names, values, strict=True)) for values in zip(*columns, strict=True)]

    def rows(self, fetched: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """The fetched rows, each column through its type's processor. A column of immutable values
        (times, strings, numbers) converts each distinct value once: a story's time and title repeat
        on every row of its keys. Mutable values (JSON) are converted row by row, never shared."""
        if not any(self.from_db) or not fetched:
            return [tuple(row) for row in fetched]
        columns: list[Sequence[Any]] = []
        for values, fn, shared in zip(zip(*fetched, strict=True), self.from_db, self.shared, strict=True):
            if fn is None:
                columns.append(values)
            elif shared:
                columns.append(_converted(list(values), fn))
            else:
                columns.append([fn(v) for v in values])
        return list(zip(*columns, strict=True))


@functools.lru_cache(maxsize=128)
def _compile(statement: ClauseElement, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    binds = {name: bind for bind, name in compiled.bind_names.items()}
    positional = bool(compiled.positional)
    names = tuple(compiled.positiontup or ()) if positional else tuple(binds)
    columns = getattr(statement, "exported_columns", ())
    return _Compiled(
        sql=compiled.string,
        positional=positional,
        names=names,
        to_db=tuple(binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names),
        from_db=tuple(_result_processor(c.type, dialect) for c in columns),
        shared=tuple(isinstance(c.type, (UTCDateTime, String, Integer)) for c in columns),
    )


def _result_processor(kind: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    impl = kind.dialect_impl(dialect)
    if isinstance(impl, Float) and not impl.asdecimal:
        return None  # the drivers return floats already (and psycopg's processor needs the column's oid)
    return impl.result_processor(dialect, None)


def fetch_rows(
    conn: Connection, statement: ClauseElement, values: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Execute once on the connection's DB-API cursor; the rows, each column through its type."""
    compiled = _compile(statement, conn.dialect)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(compiled.sql, compiled.params([values])[0])
        return compiled.rows(cursor.fetchall())
    finally:
        cursor.close()


def execute_rows(conn: Connection, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> None:
    """Execute once per row of values (one executemany)."""
    if not rows:
        return
    compiled = _compile(statement, conn.dialect)
    params = compiled.params(rows)
    cursor = conn.connection.cursor()
    try:
        if len(params) == 1:
            cursor.execute(compiled.sql, params[0])
        else:
            cursor.executemany(compiled.sql, params)
    finally:
        cursor.close()


def _converted(values: list[Any], convert: Callable[[Any], Any] | None) -> list[Any]:
    if convert is None:
        return values
    done: dict[Any, Any] = {None: None}
    out = []
    for value in values:
        try:
            out.append(done[value])
        except KeyError:
            out.append(done.setdefault(value, convert(value)))
        except TypeError:  # unhashable (a JSON list): convert each
            out.append(convert(value))
    return out


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
        conn, sql.select_stored, {"b_feeds": _id_list(sql, feeds), "b_keys": _key_list(sql, keys)}
    )
    stored = {(feed_id, key) for feed_id, key in rows if (feed_id, key) in fresh}
    by_feed: defaultdict[int, list[str]] = defaultdict(list)
    for feed_id, key in stored:
        by_feed[feed_id].append(key)
    execute_rows(
        conn,
        sql.touch_stored,
        [{"b_feed": f, "b_keys": _key_list(sql, ks), "b_now": now} for f, ks in by_feed.items()],
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
        conn, sql.select_candidates, {"b_keys": _key_list(sql, keys), "b_low": low, "b_high": high}
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
    if sql.json_keys:  # SQLite
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
