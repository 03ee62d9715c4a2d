"""`monitor items`, `monitor feeds` and `monitor db upgrade`: what is stored, and the schema."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from monitor.commands._app import load, load_app, open_app
from monitor.config import mask_database_url
from monitor.db.models import Feed, Item

TITLE_WIDTH = 90
ERROR_WIDTH = 70


def items(args: argparse.Namespace) -> int:
    """Stored items, newest first (by published time)."""
    since = None
    if args.since:
        since = parse_since(args.since)
        if since is None:
            print(
                f"items: --since {args.since!r} is not an ISO 8601 time (like 2026-11-28T02:00Z)",
                file=sys.stderr,
            )
            return 1
    app = load_app(args)
    if app is None:
        return 1
    try:
        with app.db.read_session() as session:
            query = select(Item, Feed.name).join(Feed, Item.feed_id == Feed.id)
            if since is not None:
                query = query.where(Item.published_at >= since)
            query = query.order_by(Item.published_at.desc(), Item.id.desc()).limit(args.limit)
            rows = [item_record(item, feed) for item, feed in session.execute(query)]
    finally:
        app.close()
    if args.format == "jsonl":
        write_jsonl(rows)
    else:
        write_table(
            ["published", "feed", "story", "title"],
            [
                [r["published"], r["feed"], str(r["story_id"] or ""), clip(r["title"], TITLE_WIDTH)]
                for r in rows
            ],
        )
    return 0


def feeds(args: argparse.Namespace) -> int:
    """The health of each feed: last success, last error, failures in a row, items seen, next poll."""
    app = load_app(args)
    if app is None:
        return 1
    try:
        with app.db.session() as session:
            from monitor.pipeline import sync_feeds

            sync_feeds(session, app.config)  # a feed just added to the config shows as never polled
        with app.db.read_session() as session:
            intervals = {f.name: app.config.feed_interval(f) for f in app.config.feeds}
            rows = [
                feed_record(f, intervals.get(f.name))
                for f in session.scalars(select(Feed).order_by(Feed.name))
            ]
    finally:
        app.close()
    if args.format == "jsonl":
        write_jsonl(rows)
    else:
        write_table(
            ["feed", "state", "last success", "fails", "items", "next poll", "last error"],
            [
                [
                    r["name"],
                    r["state"],
                    r["last_success_at"] or "never",
                    str(r["consecutive_failures"]),
                    str(r["items_seen"]),
                    r["next_poll_at"]
                    or ("never" if r["state"] in ("retired", "unconfigured") else "on start"),
                    clip(r["last_error"] or "", ERROR_WIDTH) if r["state"] in ("failing", "retired") else "",
                ]
                for r in rows
            ],
        )
    return 0


def db(args: argparse.Namespace) -> int:
    """`monitor db upgrade`: apply the packaged migrations."""
    config = load(args)
    if config is None:
        return 1
    app = open_app(config)  # opening upgrades the schema
    if app is None:
        return 1
    try:
        revision = app.db.current_revision()
    finally:
        app.close()
    print(f"database {mask_database_url(config.database)} is at revision {revision} (head)")
    return 0


# --------------------------------------------------------------------------- records and output


def item_record(item: Item, feed: str) -> dict[str, Any]:
    return {
        "id": item.id,
        "feed": feed,
        "title": item.title,
        "summary": item.summary,
        "link": item.link,
        "published": iso(item.published_at),
        "first_seen": iso(item.first_seen_at),
        "story_id": item.story_id,
        "key": item.key,
    }


def feed_record(feed: Feed, interval: timedelta | None) -> dict[str, Any]:
    """One feed's health. `interval` is its configured poll interval (None: no longer configured)."""
    next_poll = feed.next_poll_at  # backoff or Retry-After
    if next_poll is None and interval is not None and feed.last_polled_at is not None:
        next_poll = feed.last_polled_at + interval
    if feed.retired_at is not None:
        state = "retired"
        next_poll = None
    elif interval is None:
        state = "unconfigured"
    elif feed.last_polled_at is None:
        state = "new"
    elif feed.consecutive_failures:
        state = "failing"
    else:
        state = "ok"
    return {
        "name": feed.name,
        "state": state,
        "url": feed.url,
        "current_url": feed.current_url,
        "last_polled_at": iso(feed.last_polled_at),
        "last_success_at": iso(feed.last_success_at),
        "last_error_at": iso(feed.last_error_at),
        "last_error": feed.last_error,
        "last_warning": feed.last_warning,
        "consecutive_failures": feed.consecutive_failures,
        "items_seen": feed.items_seen,
        "retired_at": iso(feed.retired_at),
        "next_poll_at": iso(next_poll),
    }


def parse_since(text: str) -> datetime | None:
    """ISO 8601 date or time; without an offset it is UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def write_jsonl(records: Iterable[dict[str, Any]]) -> None:
    for record in records:
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for row in [list(header), *rows]:
        sys.stdout.write(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
        )
