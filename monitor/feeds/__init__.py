"""Feeds: fetch over HTTP (conditional GET, redirects, caps, limits) and parse with feedparser.

fetch.py  Fetcher, FetchLimits, FetchResult, Outcome, Validators, backoff_delay
parse.py  parse_feed -> ParsedFeed of monitor.domain.Entry
text.py   clean_text: markup -> one line of plain text
links.py  canonical_link: tracking parameters and fragments dropped
"""

from monitor.feeds.fetch import Fetcher, FetchLimits, FetchResult, Outcome, Validators, backoff_delay
from monitor.feeds.links import canonical_link
from monitor.feeds.parse import ParsedFeed, parse_feed
from monitor.feeds.text import clean_text

__all__ = [
    "FetchLimits",
    "FetchResult",
    "Fetcher",
    "Outcome",
    "ParsedFeed",
    "Validators",
    "backoff_delay",
    "canonical_link",
    "clean_text",
    "parse_feed",
]
