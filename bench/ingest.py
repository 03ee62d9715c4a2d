"""Ingestion benchmark and story-grouping census over the archived corpus (monitor.ingest on SQLite).

    .venv/bin/python bench/ingest.py                         # every corpus file, 5-minute slices per outlet
    .venv/bin/python bench/ingest.py --files rumca2023_12.jsonl --samples 20
    .venv/bin/python bench/ingest.py --feeds 200             # poll shape: 50-item feeds, one call each
    .venv/bin/python bench/ingest.py --files wklnd_googlenews_top_2025-07_2026-08.jsonl --limit 20000

Corpus mode feeds each file in time order, one transaction per 5-minute slice (as `monitor replay`
does) holding one ingest_many call (or, with --per-outlet, one ingest_entries call per outlet), into a
fresh SQLite file, and prints items/s (wall and CPU), stories, stories
carried by several outlets, items joined to an earlier story (items - stories: the grouping census to
compare key schemes by), and a random sample of grouped headlines to check for false merges.
Feed mode times ingest of N distinct 50-item feeds (all new, then all seen again).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.orm import Session

from monitor.db.models import Base, Feed, Item, Story
from monitor.domain import Entry
from monitor.ingest import FeedEntries, ingest_entries, ingest_many

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def engine_at(path: Path):  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    Base.metadata.create_all(engine)
    return engine


def feed_for(session: Session, feeds: dict[str, int], name: str) -> Feed:
    if name in feeds:
        feed = session.get(Feed, feeds[name])
        assert feed is not None
        return feed
    feed = Feed(
        name=name,
        url=f"https://bench.invalid/{len(feeds)}",
        current_url=f"https://bench.invalid/{len(feeds)}",
    )
    session.add(feed)
    session.flush()
    feeds[name] = feed.id
    return feed


def corpus_run(path: Path, samples: int, slice_minutes: int, per_outlet: bool, limit: int | None) -> None:
    rows = [json.loads(line) for line in path.open(encoding="utf-8")][:limit]
    slices: dict[tuple[datetime, str], list[Entry]] = defaultdict(list)
    width = timedelta(minutes=slice_minutes)
    for row in rows:
        at = datetime.fromisoformat(row["published"].replace("Z", "+00:00"))
        end = at.replace(minute=0, second=0, microsecond=0) + width * ((at.minute // slice_minutes) + 1)
        slices[(end, row["source"])].append(
            Entry(
                guid=None, link=row["link"] or None, title=row["title"], summary=row["summary"], published=at
            )
        )
    with tempfile.TemporaryDirectory() as tmp:
        engine = engine_at(Path(tmp) / "bench.db")
        feeds: dict[str, int] = {}
        wall, cpu = time.perf_counter(), time.process_time()
        ordered = sorted(slices.items(), key=lambda kv: kv[0][0])
        by_end: dict[datetime, list[tuple[str, list[Entry]]]] = defaultdict(list)
        for (end, source), entries in ordered:
            by_end[end].append((source, entries))
        ingest_cpu = 0.0  # inside ingest_* only: without the bench's sessions, feed lookups and commits
        for end, batch in by_end.items():
            with Session(engine) as session, session.begin():
                work = [(feed_for(session, feeds, source), entries) for source, entries in batch]
                started = time.process_time()
                if per_outlet:
                    for feed, entries in work:
                        ingest_entries(session, feed, entries, end)
                else:
                    ingest_many(
                        session, [FeedEntries(feed=feed, entries=entries) for feed, entries in work], end
                    )
                ingest_cpu += time.process_time() - started
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        with Session(engine) as session:
            items = session.scalar(select(func.count()).select_from(Item)) or 0
            stories = session.scalar(select(func.count()).select_from(Story)) or 0
            multi_item = session.scalars(
                select(Item.story_id).group_by(Item.story_id).having(func.count() > 1)
            ).all()
            in_groups = session.scalar(
                select(func.count()).select_from(Item).where(Item.story_id.in_(multi_item))
            )
            multi_outlet = session.scalars(select(Story.id).where(Story.source_count > 1)).all()
            print(
                f"{path.name}: {len(rows)} rows, {items} items stored in {len(by_end)} slices "
                f"({len(slices) if per_outlet else len(by_end)} calls), "
                f"{items / wall:,.0f} items/s wall, {items / cpu:,.0f} items/s CPU, "
                f"{items / ingest_cpu:,.0f} items/s CPU inside ingest; "
                f"{stories} stories, {len(multi_item)} with 2+ items ({in_groups} items), "
                f"{len(multi_outlet)} with 2+ outlets, {items - stories} items joined an earlier story"
            )
            random.seed(7)
            for story_id in random.sample(multi_outlet, min(samples, len(multi_outlet))):
                titles = session.execute(
                    select(Feed.name, Item.title).join(Feed).where(Item.story_id == story_id).limit(4)
                ).all()
                print("   ", " || ".join(f"{name}: {title}" for name, title in titles))
        engine.dispose()


def feed_run(n_feeds: int) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    words = [f"w{i}" for i in range(5000)]
    rng = random.Random(3)
    feeds = [
        [
            Entry(
                guid=f"https://bench.invalid/{f}/{i}",
                link=f"https://bench.invalid/{f}/{i}",
                title=" ".join(rng.sample(words, 9)),
                summary=" ".join(rng.sample(words, 25)),
                published=now - timedelta(minutes=i),
            )
            for i in range(50)
        ]
        for f in range(n_feeds)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        engine = engine_at(Path(tmp) / "bench.db")
        ids: dict[str, int] = {}
        for label in ("new", "seen"):
            wall, cpu, ingest_cpu = time.perf_counter(), time.process_time(), 0.0
            for f, entries in enumerate(feeds):
                with Session(engine) as session, session.begin():
                    feed = feed_for(session, ids, f"feed {f}")
                    started = time.process_time()
                    ingest_entries(session, feed, entries, now)
                    ingest_cpu += time.process_time() - started
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(
                f"{n_feeds} feeds x 50 items, {label}: {n_feeds / wall:,.0f} feeds/s wall "
                f"({n_feeds * 50 / wall:,.0f} items/s), {n_feeds / cpu:,.0f} feeds/s CPU; inside ingest "
                f"{ingest_cpu / n_feeds * 1000:.2f} ms CPU per feed ({n_feeds * 50 / ingest_cpu:,.0f} items/s)"
            )
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", nargs="*", help="corpus file names (default: all)")
    parser.add_argument("--samples", type=int, default=0, help="grouped stories to print per file")
    parser.add_argument("--slice", type=int, default=5, help="minutes per replay slice")
    parser.add_argument("--feeds", type=int, default=0, help="feed mode: this many 50-item feeds")
    parser.add_argument("--limit", type=int, help="corpus mode: the first N rows of each file only")
    parser.add_argument(
        "--per-outlet",
        action="store_true",
        help="one ingest_entries call per outlet and slice (default: ingest_many)",
    )
    args = parser.parse_args()
    if args.feeds:
        feed_run(args.feeds)
        return
    names = args.files or sorted(p.name for p in CORPUS.glob("*.jsonl"))
    for name in names:
        corpus_run(CORPUS / name, args.samples, args.slice, args.per_outlet, args.limit)


if __name__ == "__main__":
    main()
