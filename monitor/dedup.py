"""Item identity and near-duplicate story signatures. Pure functions, no I/O.

Two jobs:

* `item_key(entry)`: the stable identity of one feed entry (guid, else canonical link, else a content hash),
  so an entry is stored once per feed across polls and restarts.
* `signature(title)` / `same_story(a, b)`: decide whether two headlines are the same story syndicated by
  different outlets ("Iran, Pakistan agree to de-escalate tensions - Reuters" and "Iran and Pakistan agree
  to de-escalate tensions"), without merging different stories that share words ("Pakistan strikes Iran"
  and "Iran strikes Pakistan").

How a headline becomes comparable: Unicode NFKC, case folded, a leading "LIVE:"/"BREAKING:" tag and a
trailing outlet name (" - Reuters", " | Dawn", " - BBC News") dropped, apostrophes and dots removed
("Pakistan's" = "Pakistan’s" = "pakistans", "U.S." = "us"), other punctuation made a space, and a few
function words dropped ("a", "the", "and", "to", ...). Negations are never dropped.

How two headlines are compared: Jaccard similarity of their ordered word bigrams (so word order counts:
the bigrams of "pakistan strikes iran" and "iran strikes pakistan" share nothing), at least
`MIN_JACCARD`, and two vetoes: one negates or denies and the other does not; two shared words trade
places around a third (a swapped subject and object), though clauses moved whole ("X, Vatican says" vs
"Vatican says X") are fine. Numbers may differ: a death toll rising from 7 to 8 is the same story (the
price: a daily digest, "key events, day 56" and "day 57", merges within the time window).

Why 0.5: on the archived corpus (../shared/corpus), candidate pairs within 48 h with Jaccard 0.5-0.6 were
nearly all the same story reworded ("Israel has approved a settlement project that could divide the West
Bank" / "Israel approves settlement project ..."; about 1 in 30 sampled was a different story on the same
event, e.g. two tributes to one person); below 0.5 different stories on one topic become common ("Supreme
Court restores access to abortion pill" / "Supreme Court asked to restore ..."). bench/ingest.py prints
the grouping it gives per corpus file with sample groups to check.

How candidates are found without comparing against everything: each headline gets `BANDS` lookup keys,
MinHash values of its word trigrams, one band of one value each: band k holds the trigram that comes first
under the k-th hash order. Two headlines with trigram Jaccard J share band k with probability J, so at
least one key with probability 1 - (1 - J)**BANDS: 0.92 at J=0.3, 0.99 at J=0.5 (two headlines at the
bigram threshold of 0.5 are typically at trigram Jaccard 0.3-0.4). Identical word sequences share every
key. The keys are stored in the database (story_keys) so the lookup works across restarts and several
daemons; the verification above then decides.

Why seven bands over trigrams: every key is a row and an index entry of story_keys, and writing them was
most of the cost of storing a new story (the first scheme had eleven: an exact key and ten bands of two
16-bit values over bigrams). Four one-value bands over bigrams were cheaper to write but a common bigram
("white house") that comes first in one band's order becomes a key shared by most headlines holding it,
so the candidates to verify grew with the stories in the window (~4 ms per 50-item feed with 50,000
stored stories, bench/poll.py at 1,000 feeds). A trigram is rarely shared by different stories: 0.2-0.35
candidate stories per new headline, and the same recall. Items joined to an earlier story (bench/ingest.py,
the census to compare schemes by): wklnd first 20,000 items 1,011 with the eleven keys, 1,010 with four
bigram bands, 1,016 with these seven; rumca2023_12 1,105 / 1,101 / 1,105. End to end (bench/poll.py,
SQLite, CPU per changed 50-item feed): 300 feeds 7.7 -> 8.4-8.6 ms against the four bigram bands (three more
rows a story), 1,000 feeds 11.4-12.6 -> 9.4-9.8 ms (no growth of candidates with the window).
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
import unicodedata
from dataclasses import dataclass
from itertools import pairwise

from monitor.domain import Entry

MAX_KEY_LENGTH = 200  # longer guids and links are stored as their hash (the column holds 512)
MIN_TOKENS = 3  # shorter headlines ("Tuesday Briefing", "Gaza ceasefire") are never grouped
MIN_JACCARD = 0.5  # bigram Jaccard needed to call two headlines one story (why: module docstring)
BANDS = 7  # lookup keys per headline (why seven, over trigrams: module docstring)

# fmt: off
STOPWORDS = frozenset([
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "for", "with", "by", "as", "from",
    "is", "are", "was", "were", "be", "been", "its", "it", "this", "that", "into",
])
# A headline and its negation are different stories even when every other word matches.
NEGATIONS = frozenset([
    "not", "no", "never", "nor", "without", "cannot", "cant", "dont", "doesnt", "didnt", "wont", "wouldnt",
    "isnt", "arent", "wasnt", "werent", "hasnt", "havent", "hadnt",
    "denies", "deny", "denied", "rejects", "reject", "rejected", "refuses", "refuse", "refused",
])
# Tags in front of (or, after a colon, behind) a headline that say nothing about the story.
PREFIX_TAGS = frozenset([
    "live", "live updates", "breaking", "breaking news", "watch", "video", "update", "updated", "exclusive",
    "just in", "developing",
])
# fmt: on
_SUFFIX_SEPARATORS = re.compile(r"\s+(?:-|\||–|—|::)\s+")
_SUFFIX_CONNECTORS = frozenset(["of", "the", "and", "&", "de", "al", "el", "for", "on"])
_DELETE = re.compile(r"['’‘`´.]")
_WORD = re.compile(r"\w+")

# Each trigram is hashed once (BLAKE2b) into BANDS independent 32-bit values, one per hash order; a band
# key is the minimum of its position over the headline's trigrams (32 bits: two different trigrams tie in
# about one pair in 4 billion). Fixed forever: the band keys are stored in the database, so changing the
# hash silently splits every story in flight (a test pins the values; a change needs a migration that
# rebuilds story_keys, as 20261128_b7e4c2d9a1f3 does).
_HASH_VALUES = struct.Struct(f">{BANDS}I")
_KEYS_FORMAT = " ".join(f"m{band}:%08x" for band in range(BANDS))  # "m0:%08x m1:%08x ..."
_blake2b = hashlib.blake2b


def item_key(entry: Entry) -> str:
    """The stable identity of an entry within its feed: guid, else canonical link, else a content hash.

    Keys longer than MAX_KEY_LENGTH are replaced by "sha1:<hex>" of themselves, so they fit the column.
    """
    for candidate in (entry.guid, entry.link):
        if candidate is not None and candidate.strip():
            return _bounded(candidate.strip())
    return "sha1:" + content_hash(entry.title, entry.summary)


def content_hash(title: str, summary: str) -> str:
    """sha1 hex of the normalised title and summary: stable under case, spacing and punctuation changes."""
    text = " ".join(title_words(title)) + "\n" + " ".join(title_words(summary, strip_outlet=False))
    return hashlib.sha1(text.encode()).hexdigest()


def _bounded(key: str) -> str:
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "sha1:" + hashlib.sha1(key.encode()).hexdigest()


def title_words(title: str, outlet: str | None = None, *, strip_outlet: bool = True) -> tuple[str, ...]:
    """Every word of a headline, normalised, in order (outlet suffix and leading tag removed)."""
    text = unicodedata.normalize("NFKC", title).strip()
    if strip_outlet:
        text = _strip_outlet_suffix(text, outlet)
        text = _strip_prefix_tag(text)
    text = _DELETE.sub("", text.casefold())
    return tuple(_WORD.findall(text.replace("_", " ")))


def title_tokens(title: str, outlet: str | None = None) -> tuple[str, ...]:
    """The content words of a headline in order: title_words without the function words."""
    return tuple(w for w in title_words(title, outlet) if w not in STOPWORDS)


def normalise_title(title: str, outlet: str | None = None) -> str:
    """The comparable form of a headline: its content words joined by single spaces."""
    return " ".join(title_tokens(title, outlet))


def _strip_outlet_suffix(text: str, outlet: str | None) -> str:
    """Drop a trailing " - Reuters" / " | Dawn" / " - BBC News" (at most two, e.g. " - Live - BBC")."""
    outlet_words = _outlet_words(outlet) if outlet else ()
    for _ in range(2):
        parts = _SUFFIX_SEPARATORS.split(text)
        if len(parts) < 2:
            break
        tail = parts[-1]
        head = text[: len(text) - len(tail)].rstrip(" -|–—:")
        if len(head.split()) < MIN_TOKENS or not _looks_like_outlet(tail, outlet_words):
            break
        text = head
    return text


@functools.lru_cache(maxsize=4096)
def _outlet_words(outlet: str) -> tuple[str, ...]:
    """An outlet's name as words (memoised: a feed's every headline names the same outlet)."""
    return title_words(outlet, strip_outlet=False)


def _looks_like_outlet(tail: str, outlet_words: tuple[str, ...]) -> bool:
    words = tail.split()
    if not words or len(words) > 5 or len(tail) > 40:
        return False
    if outlet_words and title_words(tail, strip_outlet=False) == outlet_words:
        return True
    # A name: every word capitalised (or a connector like "of"), or a domain like "CNN.com".
    return all(w[0].isupper() or w[0].isdigit() or w.lower() in _SUFFIX_CONNECTORS for w in words) or (
        len(words) == 1 and "." in tail
    )


def _strip_prefix_tag(text: str) -> str:
    """Drop "LIVE:" / "BREAKING:" in front, or ": Live updates" at the end."""
    head, sep, rest = text.partition(":")
    if sep and head.strip().casefold() in PREFIX_TAGS and len(rest.split()) >= MIN_TOKENS:
        text = rest.strip()
    head, sep, rest = text.rpartition(":")
    if sep and rest.strip().casefold() in PREFIX_TAGS and len(head.split()) >= MIN_TOKENS:
        text = head.strip()
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    """A headline ready for comparison: its content words, their bigrams and its lookup keys."""

    tokens: tuple[str, ...]
    shingles: frozenset[str]
    keys: tuple[str, ...]  # the band keys, band 0 first; empty if the headline is too short

    @property
    def groupable(self) -> bool:
        return bool(self.keys)


@functools.lru_cache(maxsize=4096)
def signature(title: str, outlet: str | None = None) -> Signature:
    """The tokens, bigrams and lookup keys of a headline.

    Memoised (a pure function of its arguments, its result immutable): a wire story arrives from many
    outlets with the same headline, and the stories near a batch are re-read and re-signed each call.
    """
    tokens = title_tokens(title, outlet)
    shingles = frozenset(f"{a} {b}" for a, b in pairwise(tokens))
    if len(tokens) < MIN_TOKENS:
        return Signature(tokens=tokens, shingles=shingles, keys=())
    return Signature(tokens=tokens, shingles=shingles, keys=_band_keys(trigrams(tokens)))


def trigrams(tokens: tuple[str, ...]) -> frozenset[str]:
    """The word trigrams the lookup keys are drawn from (a headline of MIN_TOKENS words has one)."""
    return frozenset(f"{a} {b} {c}" for a, b, c in zip(tokens, tokens[1:], tokens[2:], strict=False))


def _band_keys(grams: frozenset[str]) -> tuple[str, ...]:
    """The lookup keys of a set of trigrams (at least one): "m<band>:<its minimum, 8 hex digits>"."""
    values = [
        _HASH_VALUES.unpack(_blake2b(s.encode(), digest_size=_HASH_VALUES.size).digest()) for s in grams
    ]
    return tuple((_KEYS_FORMAT % tuple(map(min, zip(*values, strict=True)))).split(" "))  # one format call


def similarity(a: Signature, b: Signature) -> float:
    """Jaccard similarity of the two headlines' word bigrams (1.0 for identical word sequences)."""
    if a.tokens == b.tokens:
        return 1.0
    union = len(a.shingles | b.shingles)
    return len(a.shingles & b.shingles) / union if union else 0.0


def same_story(a: Signature, b: Signature) -> bool:
    """True if the two headlines tell the same story (see the module docstring for the rule)."""
    if not (a.groupable and b.groupable):
        return False
    if a.tokens == b.tokens:
        return True
    if similarity(a, b) < MIN_JACCARD:
        return False
    return not (negation_differs(a.tokens, b.tokens) or order_differs(a.tokens, b.tokens))


def negation_differs(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """One headline negates or denies and the other does not ("will" vs "will not", "confirms" vs
    "denies"); "denies" vs "rejects" is no difference."""
    return NEGATIONS.isdisjoint(a) != NEGATIONS.isdisjoint(b)


def order_differs(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Two shared words trade places around a third ("Pakistan strikes Iran" vs "Iran strikes Pakistan",
    "Israel says Hamas broke truce" vs "Hamas says Israel broke truce").

    Only words each headline uses once count. Blocks of words swapping places with nothing shared between
    them ("toxin from dart frog" vs "dart frog toxin", "X, Vatican says" vs "Vatican says X") are the same
    story told in another order: in those, no word stays between two words that changed order.
    """
    pos_a = _unique_positions(a)
    pos_b = _unique_positions(b)
    in_b = [pos_b[w] for w in sorted(set(pos_a) & set(pos_b), key=pos_a.__getitem__)]
    # A decreasing triple in in_b: x before z before y in a, y before z before x in b.
    return any(any(x > z for x in in_b[:k]) and any(y < z for y in in_b[k + 1 :]) for k, z in enumerate(in_b))


def _unique_positions(tokens: tuple[str, ...]) -> dict[str, int]:
    positions: dict[str, int] = {}
    repeated: set[str] = set()
    for i, token in enumerate(tokens):
        if token in positions:
            repeated.add(token)
        positions[token] = i
    return {t: i for t, i in positions.items() if t not in repeated}
