"""Baselines the classifier is measured against (in `monitor eval` and bench/classify.py).

- tone: GDELT-style tone from VADER (negative -> escalation, positive -> de-escalation), pair = first two countries.
- keywords: count a few conflict and cooperation keywords, no context; pair = first two countries.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

from monitor.classify.classifier import _gazetteer
from monitor.domain import Direction, Pair

TONE_THRESHOLD = 0.05
_CONFLICT = frozenset(
    [
        "attack",
        "attacks",
        "attacked",
        "kill",
        "killed",
        "kills",
        "strike",
        "strikes",
        "struck",
        "war",
        "bomb",
        "bombing",
        "clash",
        "clashes",
        "fighting",
        "threat",
        "threatens",
        "threatened",
        "sanctions",
        "protest",
        "protests",
        "arrest",
        "arrested",
        "condemn",
        "condemned",
        "accuse",
        "accused",
        "expel",
        "expelled",
        "troops",
        "missile",
        "violence",
        "dead",
    ]
)
_COOPERATION = frozenset(
    [
        "agree",
        "agreed",
        "agreement",
        "talks",
        "peace",
        "ceasefire",
        "aid",
        "deal",
        "cooperation",
        "support",
        "visit",
        "meet",
        "met",
        "meeting",
        "sign",
        "signed",
        "treaty",
        "help",
        "release",
        "released",
        "welcome",
        "praise",
    ]
)
_WORD = re.compile(r"\w+")

Baseline = Callable[[str, str], tuple[Pair | None, Direction, Direction]]


def first_two(text: str) -> Pair | None:
    codes: list[str] = []
    for m in _gazetteer("en").find(text):
        if m.code not in codes:
            codes.append(m.code)
        if len(codes) == 2:
            return Pair.of(codes[0], codes[1])
    return None


def _with_pair(event: Direction, text: str) -> tuple[Pair | None, Direction, Direction]:
    pair = first_two(text) if event is not Direction.NEUTRAL else None
    return pair, (event if pair else Direction.NEUTRAL), event


@functools.cache
def _vader() -> Callable[[str], dict[str, float]] | None:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        return None
    scorer: Callable[[str], dict[str, float]] = SentimentIntensityAnalyzer().polarity_scores
    return scorer


def tone_available() -> bool:
    return _vader() is not None


def tone(title: str, summary: str = "") -> tuple[Pair | None, Direction, Direction]:
    """(pair, pair direction, event direction) by VADER tone; needs vaderSentiment (test extra)."""
    scorer = _vader()
    if scorer is None:
        raise RuntimeError("the tone baseline needs vaderSentiment (pip install crisis-monitor[test])")
    text = f"{title} {summary}".strip()
    compound = scorer(text)["compound"]
    event = (
        Direction.ESCALATION
        if compound < -TONE_THRESHOLD
        else Direction.DE_ESCALATION
        if compound > TONE_THRESHOLD
        else Direction.NEUTRAL
    )
    return _with_pair(event, text)


def keywords(title: str, summary: str = "") -> tuple[Pair | None, Direction, Direction]:
    text = f"{title} {summary}".strip()
    words: Sequence[str] = _WORD.findall(text.lower())
    conflict = sum(1 for w in words if w in _CONFLICT)
    cooperation = sum(1 for w in words if w in _COOPERATION)
    event = (
        Direction.ESCALATION
        if conflict > cooperation
        else Direction.DE_ESCALATION
        if cooperation > conflict
        else Direction.NEUTRAL
    )
    return _with_pair(event, text)
