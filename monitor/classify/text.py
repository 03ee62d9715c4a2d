"""Tokens and sentences: the one place text is cut up, so every stage agrees on positions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import compress, filterfalse, repeat
from typing import ClassVar, Final

# Possessive quantifiers: the same tokens as r"\w+(?:[-'’.]\w+)*|[,;:()]" (nothing after a word could make the
# engine give characters back), without the backtracking bookkeeping: the split runs ~12 % faster.
_TOKEN: Final = re.compile(r"\w++(?:[-'’.]\w++)*+|[,;:()]", re.UNICODE)
_SPLIT: Final = re.compile("(" + _TOKEN.pattern + ")", re.UNICODE)  # keeps the tokens between the gaps
# The same split for ASCII text, where \w means the same: the engine then tests a word character by a table
# lookup instead of a call into the Unicode database (~13% faster; ~90% of headline sentences are ASCII).
_SPLIT_ASCII: Final = re.compile(_SPLIT.pattern, re.ASCII)
# A sentence ends at [.!?] (the match's first character) before spaces and a capital or digit. The mark is
# matched rather than looked behind for, so the engine can skip to the next candidate mark (~30% faster).
_SENTENCE_END: Final = re.compile(r"[.!?][\"”’']?\s+(?=[\"“‘'(]?[A-Z0-9])")
_ABBREVIATION: Final = re.compile(
    r"\b(?:[A-Z]\.|Mr|Mrs|Ms|Dr|Gen|Lt|Col|Sen|Rep|St|No|Jan|Feb|Aug|Sept?|Oct|Nov|Dec)\.$"
)
# A match ends the text, so it starts within its last few characters (5 at most: "Sept."); the search starts
# there instead of trying every position. (With a start position, \b still sees the character before it.)
_ABBREVIATION_REACH: Final = 12

# Words skipped before matching, so "recalls its ambassador" matches the phrase "recall ambassador".
FILLERS: Final = frozenset(
    [
        "a",
        "an",
        "the",
        "its",
        "their",
        "his",
        "her",
        "our",
        "my",
        "your",
        "has",
        "have",
        "had",
        "been",
        "being",
        "be",
        "will",
        "would",
        "shall",
        "to",
        "also",
        "formally",
        "officially",
        "jointly",
    ]
)
PUNCTUATION: Final = frozenset(",;:()")


class Words:
    """One segment cut into tokens. `words` are the content tokens the lexicon is matched against (fillers
    dropped, clause punctuation kept), with their character offsets; `grams` are all word tokens, for n-grams.

    The offsets are computed on first use: only a sentence with an event phrase or a country name needs them
    (about half), and they cost as much as the rest of `split` after the regex. A value object like the
    NamedTuple it was (the same repr, equality and field order: `Words(words, starts, ends, grams)`)."""

    __slots__ = ("_ends", "_pieces", "_starts", "_tokens", "grams", "words")
    _fields: ClassVar[tuple[str, ...]] = ("words", "starts", "ends", "grams")

    words: tuple[str, ...]
    grams: tuple[str, ...]
    _starts: tuple[int, ...] | None
    _ends: tuple[int, ...]
    _pieces: list[str]  # the fast path's regex split (gap, token, gap, ..., gap), to compute the offsets from
    _tokens: list[str]  # the normalised tokens, fillers included (the mask of the offsets)

    def __init__(
        self,
        words: tuple[str, ...],
        starts: tuple[int, ...] | None,
        ends: tuple[int, ...],
        grams: tuple[str, ...],
    ) -> None:
        """The NamedTuple's constructor; `split` passes starts None and sets `_pieces` and `_tokens`."""
        self.words, self._starts, self._ends, self.grams = words, starts, ends, grams

    @property
    def starts(self) -> tuple[int, ...]:
        return self.offsets()[0]

    @property
    def ends(self) -> tuple[int, ...]:
        return self.offsets()[1]

    def offsets(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(starts, ends), computed on the first call: one call for both where a hot path needs them."""
        starts = self._starts
        if starts is not None:
            return starts, self._ends
        # pieces alternate gap, token, gap, ..., gap: a running sum of their lengths (a plain loop: compiled by
        # mypyc it is C integer arithmetic; see docs/classifier.md, "Keeping it fast")
        pieces = self._pieces
        tokens = self._tokens
        every = len(self.words) == len(tokens)  # no filler: every token is kept
        first: list[int] = []
        after: list[int] = []
        position = len(pieces[0])
        for i in range(len(tokens)):
            end = position + len(pieces[2 * i + 1])
            if every or tokens[i] not in FILLERS:
                first.append(position)
                after.append(end)
            position = end + len(pieces[2 * i + 2])
        starts, ends = tuple(first), tuple(after)
        self._ends = ends
        self._starts = starts
        return starts, ends

    def __repr__(self) -> str:
        return (
            f"Words(words={self.words!r}, starts={self.starts!r}, ends={self.ends!r}, grams={self.grams!r})"
        )

    def _values(self) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...], tuple[str, ...]]:
        return (self.words, self.starts, self.ends, self.grams)

    def __eq__(self, other: object) -> bool:
        return self._values() == other._values() if isinstance(other, Words) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __iter__(self) -> Iterator[tuple[str, ...] | tuple[int, ...]]:
        return iter(self._values())

    def __len__(self) -> int:
        return 4


def _normal(word: str) -> str:
    """Lower-cased token with apostrophes normalised; "n't" and "cannot" become "not", a possessive 's goes."""
    word = word.lower()
    if "'" in word or "’" in word:
        word = word.replace("’", "'")
        if word.endswith("n't"):
            return "not"
        if word.endswith("'s") and len(word) > 2:
            return word[:-2]
    elif word == "cannot":
        return "not"
    return word


def split(text: str) -> Words:
    lowered = text.lower()
    if len(lowered) != len(text):
        return _split_slow(text)
    # Fast path: one regex split; the offsets are left for the first use (Words._offsets).
    if "’" in lowered:
        lowered = lowered.replace("’", "'")  # one character for another: the offsets stay
    pieces = (_SPLIT_ASCII if lowered.isascii() else _SPLIT).split(lowered)
    tokens = pieces[1::2]
    if "'" in lowered:  # only the tokens with an apostrophe, found in C
        for i in compress(range(len(tokens)), map(str.__contains__, tokens, repeat("'"))):
            tokens[i] = _normal(tokens[i])
    if "cannot" in lowered:
        tokens = ["not" if w == "cannot" else w for w in tokens]
    # half the headlines have no filler: every token is kept
    words = tuple(tokens) if FILLERS.isdisjoint(tokens) else tuple(filterfalse(FILLERS.__contains__, tokens))
    if PUNCTUATION.isdisjoint(tokens):
        grams = words if len(words) == len(tokens) else tuple(tokens)
    else:
        grams = tuple(filterfalse(PUNCTUATION.__contains__, tokens))
    # the offsets left for the first use (see Words)
    result = Words(words, None, (), grams)
    result._pieces = pieces
    result._tokens = tokens
    return result


def _split_slow(text: str) -> Words:
    """Token by token: apostrophes to normalise, or characters whose lower case is longer (İ)."""
    lowered = text.lower()
    same_length = len(lowered) == len(text)
    matches = list(_TOKEN.finditer(lowered if same_length else text))
    raw = [_normal(m.group()) for m in matches]
    keep = [i for i, w in enumerate(raw) if w and w not in FILLERS]
    spans = [matches[i].span() for i in keep]
    return Words(
        tuple(raw[i] for i in keep),
        tuple(a for a, _ in spans),
        tuple(b for _, b in spans),
        tuple(w for w in raw if w and w not in PUNCTUATION),
    )


def sentences(text: str) -> list[str]:
    """Split a summary into sentences; abbreviations such as "U.S." or "Gen." do not end one."""
    parts: list[str] = []
    pending = ""
    last = 0
    for m in _SENTENCE_END.finditer(text):
        piece = text[last : m.start() + 1]  # up to and with the mark
        last = m.end()
        candidate = pending + piece
        if _ABBREVIATION.search(candidate, len(candidate) - _ABBREVIATION_REACH):
            pending = candidate + " "
            continue
        parts.append(candidate.strip())
        pending = ""
    tail = (pending + text[last:]).strip()
    if tail:
        parts.append(tail)
    return [p for p in parts if p]
