"""Parse fetched feed bytes into clean `Entry` values with feedparser.

Plain well-formed UTF-8 RSS 2.0 and Atom documents are read by a faster reader (fastpath.py) that
yields the same entries (tests compare them on real feeds), with one deliberate difference: where
feedparser lets a <media:description> (a photo caption) replace an item's <description>, the fast
reader keeps the description. Everything else goes to feedparser.

feedparser is given the bytes and the response headers (so an HTTP charset is honoured), never a
URL or a path. RSS 0.9x/1.0/2.0 and Atom. A malformed feed that still yields entries keeps them and
reports a `warning`; a body that yields none (an HTML page, an empty 200, garbage) reports an `error`.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from monitor.domain import Entry
from monitor.feeds.fastpath import RawEntry, read_plain_feed
from monitor.feeds.links import canonical_link
from monitor.feeds.text import clean_text, excerpt

__all__ = ["ParsedFeed", "canonical_link", "clean_text", "parse_feed"]

SUMMARY_LIMIT = 2000  # characters kept of a summary (some feeds put whole articles in it)
TITLE_FROM_SUMMARY_LIMIT = 200  # an untitled entry is titled by the start of its summary
# Headers that change how the bytes are read; Content-Encoding is not passed: the body is decoded.
PASSED_HEADERS = ("content-type", "content-language")


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedFeed:
    entries: tuple[Entry, ...]
    title: str | None
    warning: str | None = None  # malformed but recovered: entries kept, record this
    error: str | None = None  # unrecoverable: no entries, touch nothing

    @property
    def ok(self) -> bool:
        return self.error is None


def parse_feed(body: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    """The entries of one fetched document; `url` is where it came from (base for relative links)."""
    if not body.strip():
        return ParsedFeed(entries=(), title=None, error=f"{url}: empty body, not a feed")
    lowered = {k.lower(): v for k, v in headers.items()}
    passed = {name: lowered[name] for name in PASSED_HEADERS if name in lowered}
    passed["content-location"] = urljoin(url, lowered.get("content-location", url))
    plain = read_plain_feed(body, passed)
    if plain is not None and plain.entries:
        return ParsedFeed(
            entries=_entries(plain.entries, passed["content-location"]), title=clean_text(plain.title) or None
        )
    try:
        parsed = feedparser.parse(
            io.BytesIO(body), response_headers=passed, sanitize_html=False, resolve_relative_uris=False
        )
    except Exception as exc:  # feedparser's own bugs on hostile input must not stop the poll
        return ParsedFeed(entries=(), title=None, error=f"{url}: feedparser failed: {_line(exc)}")

    title = clean_text(str(parsed.feed.get("title", ""))) or None
    raw_entries: list[Any] = parsed.entries
    if not raw_entries:
        error = _why_no_entries(parsed, lowered, body, url)
        if error is None:
            return ParsedFeed(entries=(), title=title)  # a valid feed with nothing in it
        return ParsedFeed(entries=(), title=None, error=error)

    base = passed["content-location"]
    entries = _entries(
        (
            RawEntry(
                title=str(raw.get("title") or ""),
                link=str(raw.get("link") or ""),
                guid=str(raw.get("id") or ""),
                summary=_summary_markup(raw),
                published=raw.get("published_parsed"),
                updated=raw.get("updated_parsed"),
            )
            for raw in raw_entries
        ),
        base,
    )
    warning = None
    if parsed.get("bozo"):
        warning = (
            f"{url}: malformed feed, {len(entries)} entries recovered: {_line(parsed.get('bozo_exception'))}"
        )
    return ParsedFeed(entries=entries, title=title, warning=warning)


def _entries(raws: Iterable[RawEntry], base: str) -> tuple[Entry, ...]:
    return tuple(e for e in (_entry(raw, base) for raw in raws) if e is not None)


def _entry(raw: RawEntry, base: str) -> Entry | None:
    title = clean_text(raw.title)
    link_text = raw.link.strip()
    if not title and not link_text:
        return None
    summary = clean_text(raw.summary)
    if not title:
        title = excerpt(summary, TITLE_FROM_SUMMARY_LIMIT)
        if not title:
            return None  # a bare link: nothing to read or classify
    return Entry(
        guid=raw.guid.strip() or None,
        link=canonical_link(_absolute(base, link_text)) if link_text else None,
        title=title,
        summary=excerpt(summary, SUMMARY_LIMIT),
        published=_when(raw.published) or _when(raw.updated),
    )


def _absolute(base: str, link: str) -> str:
    return link if link.startswith(("https://", "http://")) else urljoin(base, link)


def _summary_markup(raw: Any) -> str:
    summary = raw.get("summary")
    if summary:
        return str(summary)
    for content in raw.get("content") or ():
        value = content.get("value")
        if value:
            return str(value)
    return ""


def _when(parsed: time.struct_time | None) -> datetime | None:
    """feedparser's struct_time is already UTC."""
    if parsed is None:
        return None
    try:
        return datetime(*parsed[:6], tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _why_no_entries(parsed: Any, headers: Mapping[str, str], body: bytes, url: str) -> str | None:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    head = body.lstrip()[:512].lower()
    if content_type in ("text/html", "application/xhtml+xml") or head.startswith(
        (b"<!doctype html", b"<html")
    ):
        return f"{url}: an HTML page, not a feed (content-type {content_type or 'unknown'})"
    if parsed.get("version"):
        if parsed.get("bozo"):
            return f"{url}: malformed feed with no readable entries: {_line(parsed.get('bozo_exception'))}"
        return None
    if parsed.get("bozo"):
        return f"{url}: not an RSS or Atom feed: {_line(parsed.get('bozo_exception'))}"
    return f"{url}: not an RSS or Atom feed (no channel or feed element)"


def _line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__
