"""Ingestion into a real database (SQLite file and PostgreSQL): items once, stories grouped across outlets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from monitor.db.models import Base, Feed, Item, Story, StoryKey
from monitor.db.session import Database, alembic_config
from monitor.dedup import BANDS, signature
from monitor.domain import Entry
from monitor.feeds.parse import parse_feed
from monitor.ingest import (
    KEY_RETENTION,
    STORY_WINDOW,
    FeedEntries,
    IngestResult,
    ingest_entries,
    ingest_many,
    prune_story_keys,
)

DATA = Path(__file__).resolve().parent / "data" / "feeds"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
NOW = datetime(2024, 1, 18, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def entry(
    title: str,
    *,
    guid: str | None = None,
    link: str | None = None,
    summary: str = "",
    published: datetime | None = NOW,
) -> Entry:
    return Entry(guid=guid, link=link, title=title, summary=summary, published=published)


def feed_named(session: Session, name: str) -> Feed:
    feed = session.scalar(select(Feed).where(Feed.name == name))
    if feed is None:
        feed = Feed(
            name=name, url=f"https://example.org/{name}.xml", current_url=f"https://example.org/{name}.xml"
        )
        session.add(feed)
        session.flush()
    return feed


def ingest(
    engine: Engine, feed: str, entries: list[Entry], now: datetime = NOW, outlet: str | None = None
) -> IngestResult:
    """One poll's transaction, as the daemon runs it."""
    with Session(engine) as session, session.begin():
        return ingest_entries(session, feed_named(session, feed), entries, now, outlet=outlet)


def count(engine: Engine, model: type[Base]) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def stories(engine: Engine) -> list[Story]:
    with Session(engine) as session:
        return list(session.scalars(select(Story).order_by(Story.id)))


# --------------------------------------------------------------------------- items: identity


def test_it_stores_each_item_once_across_repeated_polls(engine: Engine) -> None:
    entries = [entry(f"Headline number {i} about the border talks", guid=f"g{i}") for i in range(5)]
    first = ingest(engine, "Dawn", entries)
    second = ingest(engine, "Dawn", entries)
    third = ingest(engine, "Dawn", [*entries, entry("A sixth headline about the border talks", guid="g5")])
    assert (first.new_items, first.seen_items) == (5, 0)
    assert (second.new_items, second.seen_items) == (0, 5)
    assert (third.new_items, third.seen_items) == (1, 5)
    assert second.new_story_ids == () and second.grown_story_ids == ()
    assert count(engine, Item) == 6
    with Session(engine) as session:
        assert feed_named(session, "Dawn").items_seen == 6


def test_it_stores_each_item_once_across_a_restart(engine: Engine, db_url: str) -> None:
    entries = [entry("Iran and Pakistan agree to de-escalate tensions", guid="dawn-1")]
    ingest(engine, "Dawn", entries)
    engine.dispose()
    restarted = create_engine(db_url)
    try:
        again = ingest(restarted, "Dawn", entries, NOW + timedelta(minutes=5))
        other = ingest(
            restarted,
            "Reuters",
            [entry("Iran, Pakistan agree to de-escalate tensions - Reuters", guid="r-1")],
        )
    finally:
        restarted.dispose()
    assert again.new_items == 0 and again.seen_items == 1
    # The story keys live in the database: the restarted process still finds the story.
    assert other.new_story_ids == () and len(other.grown_story_ids) == 1
    assert count(engine, Item) == 2
    assert count(engine, Story) == 1


def test_an_item_that_drops_out_and_comes_back_is_not_new(engine: Engine) -> None:
    a = entry("Pakistan recalls its ambassador from Tehran", guid="a")
    b = entry("Iran summons Pakistan's charge d'affaires", guid="b")
    ingest(engine, "Dawn", [a, b])
    ingest(engine, "Dawn", [b], NOW + timedelta(hours=1))
    back = ingest(engine, "Dawn", [a, b], NOW + timedelta(hours=2))
    assert back.new_items == 0 and back.seen_items == 2
    with Session(engine) as session:
        item = session.scalars(select(Item).where(Item.key == "a")).one()
        assert item.first_seen_at == NOW
        assert item.last_seen_at == NOW + timedelta(hours=2)


def test_items_without_guid_are_keyed_by_link(engine: Engine) -> None:
    link = "https://www.dawn.com/news/1805233"
    ingest(engine, "Dawn", [entry("Pakistan strikes back at militants in Iran", link=link)])
    retitled = ingest(
        engine, "Dawn", [entry("Pakistan strikes militant hideouts in Iran, 9 killed", link=link)]
    )
    assert retitled.new_items == 0
    with Session(engine) as session:
        assert session.scalars(select(Item.key)).all() == [link]


def test_items_without_guid_or_link_are_keyed_by_content(engine: Engine) -> None:
    one = entry("Pakistan strikes back at militants in Iran", summary="Nine killed, Iran says.")
    ingest(engine, "Wire", [one])
    same = ingest(
        engine,
        "Wire",
        [entry("Pakistan strikes back at militants in Iran ", summary="Nine killed, Iran says")],
    )
    changed = ingest(
        engine, "Wire", [entry("Pakistan strikes back at militants in Iran", summary="Eleven killed.")]
    )
    assert same.new_items == 0
    assert changed.new_items == 1
    with Session(engine) as session:
        assert all(key.startswith("sha1:") for key in session.scalars(select(Item.key)))


def test_an_entry_repeated_within_one_feed_is_stored_once(engine: Engine) -> None:
    twice = [
        entry("Iran and Pakistan agree to de-escalate", guid="x"),
        entry("Iran and Pakistan agree to de-escalate", guid="x"),
    ]
    result = ingest(engine, "Dawn", twice)
    assert result.new_items == 1
    assert count(engine, Item) == 1


def test_the_same_guid_in_two_feeds_is_two_items(engine: Engine) -> None:
    ingest(engine, "Dawn", [entry("Iran and Pakistan agree to de-escalate", guid="shared")])
    other = ingest(engine, "Dawn Pakistan", [entry("Iran and Pakistan agree to de-escalate", guid="shared")])
    assert other.new_items == 1
    assert count(engine, Item) == 2


def test_an_entry_without_a_time_is_dated_when_first_seen(engine: Engine) -> None:
    ingest(engine, "Dawn", [entry("Iran and Pakistan agree to de-escalate", guid="t", published=None)])
    ingest(
        engine,
        "Dawn",
        [entry("Iran and Pakistan agree to de-escalate", guid="t", published=None)],
        NOW + timedelta(hours=3),
    )
    with Session(engine) as session:
        item = session.scalars(select(Item)).one()
        assert item.published_at == NOW
        assert item.story is not None and item.story.first_published_at == NOW


# --------------------------------------------------------------------------- stories: grouping


def test_the_same_story_from_three_outlets_is_one_story(engine: Engine) -> None:
    first = ingest(
        engine, "Reuters", [entry("Iran, Pakistan agree to de-escalate tensions - Reuters", guid="r")]
    )
    second = ingest(
        engine,
        "Dawn",
        [entry("Iran and Pakistan agree to de-escalate tensions | Dawn", guid="d")],
        NOW + timedelta(hours=2),
    )
    third = ingest(
        engine,
        "BBC",
        [
            entry(
                "'Iran and Pakistan agree to de-escalate tensions' - BBC News",
                guid="b",
                published=NOW - timedelta(hours=1),
            )
        ],
        NOW + timedelta(hours=3),
    )
    assert len(first.new_story_ids) == 1
    story_id = first.new_story_ids[0]
    assert second.new_story_ids == () and second.grown_story_ids == (story_id,)
    assert third.new_story_ids == () and third.grown_story_ids == (story_id,)
    [story] = stories(engine)
    assert story.source_count == 3
    assert story.sources == ["Reuters", "Dawn", "BBC"]
    assert story.title == "Iran, Pakistan agree to de-escalate tensions - Reuters"
    assert story.first_published_at == NOW - timedelta(hours=1)
    with Session(engine) as session:
        assert set(session.scalars(select(Item.story_id))) == {story_id}


def test_the_same_outlet_through_two_feeds_counts_once(engine: Engine) -> None:
    ingest(
        engine,
        "Dawn World",
        [entry("Iran and Pakistan agree to de-escalate tensions", guid="w")],
        outlet="Dawn",
    )
    again = ingest(
        engine,
        "Dawn Pakistan",
        [entry("Iran and Pakistan agree to de-escalate tensions", guid="p")],
        outlet="Dawn",
    )
    assert again.new_items == 1
    assert again.new_story_ids == () and again.grown_story_ids == ()
    [story] = stories(engine)
    assert story.source_count == 1 and story.sources == ["Dawn"]
    assert count(engine, Item) == 2


def test_the_outlet_defaults_to_the_feed_name(engine: Engine) -> None:
    ingest(engine, "Al Jazeera English", [entry("Iran and Pakistan agree to de-escalate tensions", guid="a")])
    [story] = stories(engine)
    assert story.sources == ["Al Jazeera English"]


def test_copies_within_one_batch_join_one_story(engine: Engine) -> None:
    result = ingest(
        engine,
        "NYT World",
        [
            entry("Friday Briefing: Pakistan Retaliates With Strikes in Iran", guid="1"),
            entry("Friday Briefing: Pakistan Retaliates With Strikes in Iran", guid="2"),
        ],
    )
    assert result.new_items == 2 and len(result.new_story_ids) == 1
    assert stories(engine)[0].source_count == 1


def test_headlines_with_mirrored_actors_stay_separate(engine: Engine) -> None:
    pairs = [
        ("Pakistan strikes Iran", "Iran strikes Pakistan"),
        ("India beat Pakistan", "Pakistan beat India"),
        ("Pakistan strikes militant hideouts in Iran", "Iran strikes militant hideouts in Pakistan"),
    ]
    for n, (a, b) in enumerate(pairs):
        ingest(engine, "Reuters", [entry(a, guid=f"r{n}")])
        result = ingest(engine, "Dawn", [entry(b, guid=f"d{n}")])
        assert len(result.new_story_ids) == 1 and result.grown_story_ids == ()
    assert count(engine, Story) == 6
    assert all(story.source_count == 1 for story in stories(engine))


def test_copies_outside_the_time_window_start_a_new_story(engine: Engine) -> None:
    title = "Iran and Pakistan agree to de-escalate tensions"
    ingest(engine, "Reuters", [entry(title, guid="r")])
    late = NOW + STORY_WINDOW + timedelta(seconds=1)
    after = ingest(engine, "Dawn", [entry(title, guid="d", published=late)], late)
    early = NOW - STORY_WINDOW - timedelta(seconds=1)
    before = ingest(engine, "BBC", [entry(title, guid="b", published=early)], late)
    assert len(after.new_story_ids) == 1 and after.grown_story_ids == ()
    assert len(before.new_story_ids) == 1 and before.grown_story_ids == ()
    assert count(engine, Story) == 3


@pytest.mark.parametrize("offset", [STORY_WINDOW, -STORY_WINDOW, timedelta(0)])
def test_a_copy_at_the_edge_of_the_window_joins_the_story(engine: Engine, offset: timedelta) -> None:
    title = "Iran and Pakistan agree to de-escalate tensions"
    first = ingest(engine, "Reuters", [entry(title, guid="r")])
    edge = ingest(engine, "AP", [entry(title, guid="a", published=NOW + offset)], NOW + STORY_WINDOW)
    assert edge.new_story_ids == () and edge.grown_story_ids == first.new_story_ids


def test_a_new_story_stores_its_lookup_keys_dated_by_the_story(engine: Engine) -> None:
    ingest(
        engine,
        "Reuters",
        [entry("Iran and Pakistan agree to de-escalate tensions", guid="r")],
        NOW + timedelta(days=2),
    )
    ingest(engine, "Reuters", [entry("Talks", guid="short")])  # too short to group: no keys
    with Session(engine) as session:
        keys = session.scalars(select(StoryKey)).all()
        assert sorted(key.key for key in keys) == sorted(
            signature("Iran and Pakistan agree to de-escalate tensions", "Reuters").keys
        )
        assert len(keys) == BANDS
        assert {key.created_at for key in keys} == {NOW}
        assert len({key.story_id for key in keys}) == 1


# --------------------------------------------------------------------------- real feeds and headlines


def test_a_real_feed_with_a_repeated_guid_element_is_stored_once(engine: Engine) -> None:
    parsed = parse_feed(
        (DATA / "odd_real_world" / "guid_dupes.xml").read_bytes(), {}, "https://feeds.braingle.com/x"
    )
    first = ingest(engine, "Braingle", list(parsed.entries))
    second = ingest(engine, "Braingle", list(parsed.entries), NOW + timedelta(minutes=5))
    assert (first.new_items, second.new_items, second.seen_items) == (1, 0, 1)
    with Session(engine) as session:
        item = session.scalars(select(Item)).one()
        assert item.key == "http://www.braingle.com/50366.html"
        assert item.published_at == datetime(2014, 6, 19, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "name", ["aljazeera_all.rss.xml", "bbc_news_world.rss.xml", "dawn_world.rss.xml", "nyt_world.rss.xml"]
)
def test_real_news_feeds_store_every_entry_once(engine: Engine, name: str) -> None:
    parsed = parse_feed((DATA / "real_news" / name).read_bytes(), {}, f"https://example.org/{name}")
    assert parsed.entries
    first = ingest(engine, name, list(parsed.entries))
    second = ingest(engine, name, list(reversed(parsed.entries)), NOW + timedelta(minutes=5))
    distinct = len({(e.guid or e.link or e.title) for e in parsed.entries})
    assert first.new_items == distinct == count(engine, Item)
    assert second.new_items == 0 and second.seen_items == distinct
    with Session(engine) as session:
        assert session.scalar(select(func.count()).where(Item.story_id.is_(None))) == 0


def corpus_rows(name: str) -> list[dict[str, str]]:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus file {path} not found (the shared folder sits beside the repository)")
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def replay_rows(engine: Engine, rows: list[dict[str, str]]) -> None:
    """Feed archived items in time order, one call per outlet and hour, as a poller would see them."""
    batches: dict[tuple[str, str], list[Entry]] = {}
    for row in rows:
        published = datetime.fromisoformat(row["published"].replace("Z", "+00:00"))
        title, link = row["title"], row["link"] or None
        batches.setdefault((row["published"][:13], row["source"]), []).append(
            entry(title, link=link, summary=row["summary"], published=published)
        )
    for (hour, source), entries in batches.items():
        ingest(engine, source, entries, datetime.fromisoformat(hour + ":59:59+00:00"))


def test_real_pakistan_iran_headlines_group_only_the_repeated_briefing(engine: Engine) -> None:
    rows = corpus_rows("rumca2024_sample_pakistan-iran_2024-01-16_18.jsonl")
    replay_rows(engine, rows)
    assert count(engine, Item) == len(rows) == 79
    grouped = [
        s for s in stories(engine) if s.title == "Friday Briefing: Pakistan Retaliates With Strikes in Iran"
    ]
    assert len(grouped) == 1 and grouped[0].source_count == 1
    assert count(engine, Story) == 78


def test_real_syndicated_venezuela_guyana_story_is_one_story_with_both_outlets(engine: Engine) -> None:
    rows = [r for r in corpus_rows("rumca2023_12.jsonl") if r["published"].startswith("2023-12-28")]
    replay_rows(engine, rows)
    with Session(engine) as session:
        [story] = session.scalars(
            select(Story).where(Story.title.like("Venezuela % military exercises off its shores%"))
        ).all()
        assert story.source_count == 2
        assert sorted(story.sources) == ["Japan Today", "NBC News"]
        assert len(story.items) == 2
        multi = session.scalars(select(Story).where(Story.source_count > 1)).all()
    # Every multi-outlet story of the day holds headlines that really are one story.
    assert 5 <= len(multi) <= 60


# --------------------------------------------------------------------------- several feeds at once


def test_ingest_many_groups_across_feeds_in_one_call_and_counts_per_feed(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        reuters, dawn = feed_named(session, "Reuters"), feed_named(session, "Dawn")
        first = ingest_many(
            session,
            [
                FeedEntries(
                    feed=reuters,
                    entries=[entry("Iran, Pakistan agree to de-escalate tensions - Reuters", guid="r")],
                ),
                FeedEntries(
                    feed=dawn,
                    entries=[
                        entry("Iran and Pakistan agree to de-escalate tensions | Dawn", guid="d"),
                        entry("Pakistan strikes Iran", guid="d2"),
                    ],
                    outlet="Dawn.com",
                ),
            ],
            NOW,
        )
    with Session(engine) as session, session.begin():
        reuters, dawn = feed_named(session, "Reuters"), feed_named(session, "Dawn")
        again = ingest_many(
            session,
            [
                FeedEntries(
                    feed=reuters,
                    entries=[entry("Iran, Pakistan agree to de-escalate tensions - Reuters", guid="r")],
                ),
                FeedEntries(
                    feed=dawn,
                    entries=[
                        entry("Pakistan strikes Iran", guid="d2"),
                        entry("Iran strikes Pakistan", guid="d3"),
                    ],
                ),
            ],
            NOW + timedelta(minutes=5),
        )
        assert (reuters.items_seen, dawn.items_seen) == (1, 3)
    assert (first.new_items, first.seen_items, len(first.new_story_ids), first.grown_story_ids) == (
        3,
        0,
        2,
        (),
    )
    assert (again.new_items, again.seen_items, len(again.new_story_ids), again.grown_story_ids) == (
        1,
        2,
        1,
        (),
    )
    shared = next(s for s in stories(engine) if s.source_count == 2)
    assert shared.sources == ["Reuters", "Dawn.com"]
    assert count(engine, Story) == 3


# --------------------------------------------------------------------------- upgrading stored keys

OLD_SCHEME_REVISION = "66f16885b6ec"  # the keys before revision b7e4c2d9a1f3: an exact key, ten bands
OLD_KEYS = {  # what the previous release stored for these headlines (its monitor.dedup.signature)
    "Iran and Pakistan agree to de-escalate tensions - Reuters": (
        "t:06f7709772ed565b683d4abd", "b0:520433b8", "b1:4bdc185a", "b2:249b097e", "b3:18ac5139",
        "b4:19ee0629", "b5:01f93e6e", "b6:5ef31e38", "b7:23f41632", "b8:471a1750", "b9:15d6263c",
    ),
    "Pakistan recalls its ambassador from Tehran after strikes": (
        "t:34f3e9f6485704aff14b1599", "b0:2bef129a", "b1:1be324bd", "b2:2bc45546", "b3:0fcb3bf0",
        "b4:0f72389a", "b5:5e0539fc", "b6:258176fd", "b7:0b2c3775", "b8:1f9c1479", "b9:2c2a0f2b",
    ),
}  # fmt: skip


def stored_keys(db: Database) -> dict[int, tuple[set[str], set[datetime]]]:
    with db.session() as session:
        rows = session.execute(select(StoryKey.story_id, StoryKey.key, StoryKey.created_at)).all()
    keys: dict[int, tuple[set[str], set[datetime]]] = {}
    for story_id, key, created_at in rows:
        keys.setdefault(story_id, (set(), set()))
        keys[story_id][0].add(key)
        keys[story_id][1].add(created_at)
    return keys


def test_upgrading_rebuilds_the_stored_keys_so_new_copies_still_join_old_stories(db_url: str) -> None:
    db = Database.open(db_url)
    try:
        db.upgrade(OLD_SCHEME_REVISION)
        created = {}
        with db.session() as session:
            for outlet, (title, keys) in zip(("Reuters", "Dawn"), OLD_KEYS.items(), strict=True):
                story = Story(title=title, first_published_at=NOW, sources=[outlet], source_count=1)
                session.add(story)
                session.flush()
                created[title] = story.id
                session.add_all(StoryKey(story_id=story.id, key=key, created_at=NOW) for key in keys)
            short = Story(title="Talks", first_published_at=NOW, sources=["Dawn"], source_count=1)
            session.add(short)
        db.upgrade()
        keys = stored_keys(db)
        assert keys == {
            created[title]: (set(signature(title, outlet).keys), {NOW})
            for outlet, title in zip(("Reuters", "Dawn"), OLD_KEYS, strict=True)
        }
        with db.session() as session:
            copy = ingest_entries(
                session,
                feed_named(session, "Dawn"),
                [entry("Iran and Pakistan agree to de-escalate tensions | Dawn", guid="d")],
                NOW + timedelta(hours=3),
            )
        assert copy.new_story_ids == ()
        assert copy.grown_story_ids == (created["Iran and Pakistan agree to de-escalate tensions - Reuters"],)

        with db.engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, OLD_SCHEME_REVISION)
        assert stored_keys(db) == {created[title]: (set(keys), {NOW}) for title, keys in OLD_KEYS.items()}
    finally:
        db.dispose()


# --------------------------------------------------------------------------- key retention


def test_pruning_deletes_only_the_keys_past_retention_and_recent_copies_still_join(engine: Engine) -> None:
    old_title = "Iran and Pakistan agree to return ambassadors after border strikes"
    new_title = "Pakistan recalls ambassador from Tehran after Iranian missile strike"
    long_ago = NOW - KEY_RETENTION - timedelta(hours=1)
    ingest(engine, "Dawn", [entry(old_title, guid="old", published=long_ago)])
    ingest(engine, "Dawn", [entry(new_title, guid="new", published=NOW)])
    keys_before = count(engine, StoryKey)

    with Session(engine) as session, session.begin():
        deleted = prune_story_keys(session, NOW + timedelta(minutes=5))

    assert deleted == len(signature(old_title, "Dawn").keys) > 0
    assert count(engine, StoryKey) == keys_before - deleted
    copy = ingest(engine, "Reuters", [entry(new_title + " - Reuters", guid="r1", published=NOW)])
    assert copy.new_story_ids == () and len(copy.grown_story_ids) == 1  # joined the recent story
    assert count(engine, Story) == 2 and count(engine, Item) == 3  # stories and items are kept
