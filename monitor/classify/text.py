"""Tokens and sentences: the one place text is cut up, so every stage agrees on positions."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\w+(?:[-'’.]\w+)*|[,;:()]", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’']?\s+(?=[\"“‘'(]?[A-Z0-9])")
_ABBREVIATION = re.compile(
    r"\b(?:[A-Z]\.|Mr|Mrs|Ms|Dr|Gen|Lt|Col|Sen|Rep|St|No|Jan|Feb|Aug|Sept?|Oct|Nov|Dec)\.$"
)

# Words skipped before matching, so "recalls its ambassador" matches the phrase "recall ambassador".
FILLERS = frozenset(
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
PUNCTUATION = frozenset(",;:()")


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # lower-cased, apostrophes normalised
    start: int  # character offsets in the segment
    end: int


def tokenize(text: str) -> list[Token]:
    """Lower-cased word and clause-punctuation tokens; "n't" and "cannot" become "not"."""
    tokens: list[Token] = []
    for m in _TOKEN.finditer(text):
        word = m.group().lower().replace("’", "'").rstrip(".")
        if not word:
            continue
        if word.endswith("n't") or word == "cannot":
            word = "not"
        elif word.endswith("'s"):
            word = word[:-2] or word
        tokens.append(Token(word, m.start(), m.end()))
    return tokens


def content(tokens: list[Token]) -> list[Token]:
    """The tokens the lexicon is matched against: fillers dropped."""
    return [t for t in tokens if t.text not in FILLERS]


def sentences(text: str) -> list[str]:
    """Split a summary into sentences; abbreviations such as "U.S." or "Gen." do not end one."""
    parts: list[str] = []
    pending = ""
    last = 0
    for m in _SENTENCE_END.finditer(text):
        piece = text[last : m.start()]
        last = m.end()
        candidate = pending + piece
        if _ABBREVIATION.search(candidate):
            pending = candidate + " "
            continue
        parts.append(candidate.strip())
        pending = ""
    tail = (pending + text[last:]).strip()
    if tail:
        parts.append(tail)
    return [p for p in parts if p]
