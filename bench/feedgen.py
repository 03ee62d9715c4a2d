"""Real-size synthetic feeds for the poll benchmark, built from the headlines of the real test feeds.

Feed `n` at version `v` is an RSS 2.0 document of 50 items (about 25 kB) shaped like BBC/NYT items:
title, link with tracking parameters, HTML description, guid, pubDate, dc:creator, media:thumbnail.
Each (n, v) has its own guids, so a bumped version means 50 new items. One item in ten carries a
real headline shared across feeds (a syndicated story); the rest have distinct headlines.
"""

from __future__ import annotations

import functools
import gzip
import random
from email.utils import formatdate
from pathlib import Path
from xml.sax.saxutils import escape

ITEMS = 50
REAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "feeds" / "real_news"


@functools.cache
def _pool() -> tuple[tuple[str, str], ...]:
    """(headline, summary) pairs from the real feeds copied for the tests."""
    from monitor.feeds.parse import parse_feed

    pairs: list[tuple[str, str]] = []
    for file in sorted(REAL.glob("*.xml")):
        body = file.read_bytes()
        body = gzip.decompress(body) if file.suffix == ".gz" else body
        for entry in parse_feed(body, {"content-type": "application/xml"}, "https://example.org/").entries:
            pairs.append((entry.title, entry.summary[:300] or entry.title))
    return tuple(pairs)


@functools.cache
def _fragments() -> tuple[str, ...]:
    """Item templates with {title}, {n}, {v}, {i} and {date} placeholders (braces in the text escaped)."""
    fragments = []
    for i, (title, summary) in enumerate(_pool()):
        slug = "-".join(title.lower().split()[:6]).replace("{", "").replace("}", "")
        s = escape(f"<p>{summary}</p><p><a href='https://bench.example/more'>Read more</a></p>")
        s = s.replace("{", "{{").replace("}", "}}")
        slug = escape(slug)
        fragments.append(
            "<item><title><![CDATA[{title}]]></title>"
            f"<description>{s}</description>"
            f"<link>https://news.bench.example/{{n}}/{slug}-{i}?at_medium=RSS&amp;at_campaign=rss&amp;utm_source=feed</link>"
            '<guid isPermaLink="false">https://news.bench.example/{n}/{v}/{i}</guid>'
            "<pubDate>{date}</pubDate><dc:creator>Bench Desk</dc:creator>"
            '<media:thumbnail width="240" height="135" url="https://img.bench.example/{n}/{i}.jpg"/></item>\n'
        )
    return tuple(fragments)


@functools.cache
def _words() -> tuple[str, ...]:
    return tuple(sorted({w for title, _ in _pool() for w in title.split() if "]]>" not in w}))


def _titles(n: int, version: int, shared: list[str]) -> list[str]:
    """One item in ten carries a real headline shared by many feeds (wire copy, grouped into one
    story downstream); the others are distinct headlines drawn from the same vocabulary."""
    words = _words()
    rng = random.Random(n * 1_000_003 + version * 1_009)
    return [
        shared[i].replace("]]>", "") if i % 10 == 0 else " ".join(rng.choices(words, k=rng.randint(7, 13)))
        for i in range(len(shared))
    ]


def feed_body(n: int, version: int) -> bytes:
    fragments = _fragments()
    date = formatdate(1_771_300_000 + version * 600, usegmt=True)
    start = (n * 7 + version * 13) % len(fragments)
    pool = _pool()
    titles = _titles(n, version, [pool[(start + i) % len(pool)][0] for i in range(ITEMS)])
    items = "".join(
        fragments[(start + i) % len(fragments)]
        .replace("{i}", str(i))
        .format(n=n, v=version, date=date, title=titles[i])
        for i in range(ITEMS)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:media="http://search.yahoo.com/mrss/" xmlns:atom="http://www.w3.org/2005/Atom">\n'
        f"<channel><title>Bench feed {n}</title><link>https://news.bench.example/{n}</link>"
        f"<description>Synthetic feed {n}</description><language>en-gb</language>"
        f"<lastBuildDate>{date}</lastBuildDate>\n{items}</channel></rss>\n"
    ).encode()
