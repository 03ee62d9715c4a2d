"""Frozen value objects shared by every stage of the pipeline. No I/O here.

feed -> Entry -> (stored item, grouped into a story) -> PairScore -> tension -> Transition -> Alert -> delivery
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Direction(enum.StrEnum):
    ESCALATION = "escalation"
    DE_ESCALATION = "de-escalation"
    NEUTRAL = "neutral"


class Level(enum.IntEnum):
    """Tension level of a pair, judged against the pair's own baseline."""

    CALM = 0
    ELEVATED = 1
    HIGH = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Level:
        return cls[text.strip().upper()]


class AlertReason(enum.StrEnum):
    FIRST = "first"
    ESCALATED = "escalated"
    DE_ESCALATED = "de-escalated"
    REPEAT = "repeat"
    BACK_TO_CALM = "back to calm"


@dataclass(frozen=True, slots=True, order=True)
class Pair:
    """An unordered pair of ISO 3166-1 alpha-2 codes, stored sorted: Pair.of("PK", "IR") == Pair("IR", "PK")."""

    a: str
    b: str

    def __post_init__(self) -> None:
        if self.a == self.b:
            raise ValueError(f"a pair needs two different countries, got {self.a} twice")
        if self.a > self.b:
            first, second = self.b, self.a
            object.__setattr__(self, "a", first)
            object.__setattr__(self, "b", second)

    @classmethod
    def of(cls, x: str, y: str) -> Pair:
        return cls(x.upper(), y.upper())

    @classmethod
    def parse(cls, text: str) -> Pair:
        """'PK-IR', 'IR-PK', 'pk,ir' -> Pair('IR', 'PK')."""
        parts = [p for p in text.replace(",", "-").replace("/", "-").split("-") if p.strip()]
        if len(parts) != 2:
            raise ValueError(f"not a pair of country codes: {text!r} (expected like PK-IR)")
        return cls.of(parts[0].strip(), parts[1].strip())

    @property
    def key(self) -> str:
        """Stable text form used in the database and APIs: 'IR-PK'."""
        return f"{self.a}-{self.b}"

    def as_list(self) -> list[str]:
        return [self.a, self.b]

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One entry of a parsed feed, text already cleaned, link canonicalised, times aware UTC."""

    guid: str | None
    link: str | None
    title: str
    summary: str
    published: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PairScore:
    """The classifier's reading of one story for one pair. score > 0 escalation, < 0 de-escalation."""

    pair: Pair
    direction: Direction
    score: float  # signed, -10..10
    confidence: float  # 0..1
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """A story that moved a pair, as shown in an alert."""

    id: str
    title: str
    sources: tuple[str, ...]
    published: datetime
    link: str | None
    score: float
    confidence: float
    phrases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One shift of one pair, ready to render. `uid` is stable across retries and restarts."""

    uid: str
    pair: Pair
    direction: Direction  # escalation or de-escalation (back-to-calm notices are de-escalation)
    reason: AlertReason
    level: Level
    previous_level: Level
    tension: float
    previous_tension: float
    at: datetime
    evidence: tuple[Evidence, ...] = field(default=())
