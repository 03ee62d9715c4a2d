"""Event hits in context: which lexicon phrases occur where, and how negation, modality, background
clauses and discourse position weigh them. Pure functions over one item's text."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import compress
from operator import attrgetter
from typing import ClassVar, Final, TypeVar

from monitor.classify.lexicon import Cue, CueKind, Lexicon, Phrase
from monitor.classify.record import Record
from monitor.classify.text import PUNCTUATION, Words, sentences, split
from monitor.domain import Direction

T = TypeVar("T")

# Discourse position: the headline and lead decide, later sentences only nudge.
HEADLINE_WEIGHT: Final = 1.0
POSITION_WEIGHTS: Final = (0.8, 0.3)  # summary sentence 1 (the lead), sentence 2
LATER_WEIGHT: Final = 0.1
BACKGROUND_FACTOR: Final = 0.25
MODALITY_FACTOR: Final = 0.7
NEGATION_FACTOR: Final = -0.3  # "rules out strikes" leans slightly the other way
NEUTRAL_DOMAIN_FACTOR: Final = 0.05  # sport, culture, trade figures, disasters
NEGATION_WINDOW: Final = 3
MODALITY_WINDOW: Final = 8
PAST_WINDOW: Final = 3
GAP: Final = 2  # words allowed inside a two-word phrase: "lifted a night curfew" matches "lift curfew"
# The cue kinds that weigh an event phrase (see _context), and the context of a phrase without any of them.
_CONTEXT_KINDS: Final = frozenset({CueKind.NEGATION, CueKind.MODALITY, CueKind.BACKGROUND, CueKind.PAST})
_PLAIN: Final = (False, False, False)
# Cue kinds as module constants: an Enum member read off its class goes through the metaclass (EnumType has a
# __getattr__ in Python 3.11, ~13x the cost of reading a global); these are read per cue and per event. Final:
# compiled by mypyc, a Final module constant is a C static, not a lookup in the module's dict.
_NEGATION: Final = CueKind.NEGATION
_MODALITY: Final = CueKind.MODALITY
_NEUTRAL: Final = CueKind.NEUTRAL
_BACKGROUND: Final = CueKind.BACKGROUND
_PAST: Final = CueKind.PAST
_BREAK: Final = CueKind.BREAK
_CLAUSE: Final = CueKind.CLAUSE
_VALUE: Final = attrgetter("value")  # a Hit's value, read in C
_KIND: Final = attrgetter("cue.kind")  # a CueHit's kind, read in C (over a sentence's cues with map)
_BREAKS: Final = (_BREAK, _CLAUSE)  # clause ends
_OPENINGS: Final = (_BACKGROUND, _PAST)  # a background opening


# Segment, CueHit and Hit are Records (see record.py): plain classes, native classes when compiled by mypyc.
# Several of each are built per item; treat them as immutable.
class Segment(Record):
    """The headline (index 0) or one summary sentence (index 1..)."""

    _fields: ClassVar[tuple[str, ...]] = (
        "number",
        "text",
        "tokens",
        "weight",
    )  # the field order (repr, iteration)
    __slots__ = _fields

    number: int
    text: str
    tokens: Words
    weight: float

    def __init__(self, number: int, text: str, tokens: Words, weight: float) -> None:
        self.number = number
        self.text = text
        self.tokens = tokens
        self.weight = weight

    @property
    def words(self) -> tuple[str, ...]:
        return self.tokens.words

    @property
    def role(self) -> str:
        return "headline" if self.number == 0 else ("lead" if self.number == 1 else f"sentence {self.number}")


class CueHit(Record):
    _fields: ClassVar[tuple[str, ...]] = (
        "cue",
        "segment",
        "first",
        "last",
    )  # the field order (repr, iteration)
    __slots__ = _fields

    cue: Cue
    segment: int
    first: int  # content-token indices, inclusive
    last: int

    def __init__(self, cue: Cue, segment: int, first: int, last: int) -> None:
        self.cue = cue
        self.segment = segment
        self.first = first
        self.last = last


class Hit(Record):
    """One event phrase found in the text, with the context that weighs it."""

    _fields: ClassVar[tuple[str, ...]] = (
        "phrase",
        "surface",
        "segment",
        "first",
        "last",
        "negated",
        "hedged",
        "background",
        "neutralised",
        "position",
        "weight",
        "value",
    )  # the field order (repr, iteration)
    __slots__ = _fields

    phrase: Phrase
    surface: str
    segment: int
    first: int
    last: int
    negated: bool
    hedged: bool
    background: bool
    neutralised: bool
    position: float

    weight: float  # position x background x hedge x neutral-domain x negation factors
    value: float  # signed contribution: > 0 escalation, < 0 de-escalation

    def __init__(
        self,
        phrase: Phrase,
        surface: str,
        segment: int,
        first: int,
        last: int,
        negated: bool,
        hedged: bool,
        background: bool,
        neutralised: bool,
        position: float,
        weight: float,
        value: float,
    ) -> None:
        self.phrase = phrase
        self.surface = surface
        self.segment = segment
        self.first = first
        self.last = last
        self.negated = negated
        self.hedged = hedged
        self.background = background
        self.neutralised = neutralised
        self.position = position
        self.weight = weight
        self.value = value

    @property
    def direction(self) -> Direction:
        v = self.value
        return Direction.ESCALATION if v > 0 else Direction.DE_ESCALATION if v < 0 else Direction.NEUTRAL


@dataclass(frozen=True, slots=True)
class Reading:
    segments: tuple[Segment, ...]
    hits: tuple[Hit, ...]
    cues: tuple[CueHit, ...]
    neutral_domain: bool

    def __init__(
        self,
        segments: tuple[Segment, ...],
        hits: tuple[Hit, ...],
        cues: tuple[CueHit, ...],
        neutral_domain: bool,
    ) -> None:
        # what the dataclass would generate, written out: compiled by mypyc a generated __init__ runs as Python
        # code, while this one's object.__setattr__ calls (written so, not through an alias) are C field stores
        object.__setattr__(self, "segments", segments)
        object.__setattr__(self, "hits", hits)
        object.__setattr__(self, "cues", cues)
        object.__setattr__(self, "neutral_domain", neutral_domain)

    @property
    def net(self) -> float:
        net: float = sum(map(_VALUE, self.hits))  # the same additions in the same order as over a generator
        return net

    def dominant(self) -> Hit | None:
        """The deciding event: the largest contribution in the direction of the net sum."""
        net = self.net
        best: Hit | None = None
        for h in self.hits:
            if h.value == 0 or (h.value > 0) != (net > 0):
                continue
            if best is None or abs(h.value) > abs(best.value):
                best = h
        return best


def _weight(position: float, negated: bool, hedged: bool, background: bool, neutralised: bool) -> float:
    w = position
    if background:
        w *= BACKGROUND_FACTOR
    if hedged:
        w *= MODALITY_FACTOR
    if neutralised:
        w *= NEUTRAL_DOMAIN_FACTOR
    if negated:
        w *= NEGATION_FACTOR
    return w


def segments_of(title: str, summary: str) -> list[Segment]:
    out = [Segment(0, title, split(title), HEADLINE_WEIGHT)]
    for i, sentence in enumerate(sentences(summary), start=1):
        weight = POSITION_WEIGHTS[i - 1] if i - 1 < len(POSITION_WEIGHTS) else LATER_WEIGHT
        out.append(Segment(i, sentence, split(sentence), weight))
    return out


def _matches(lexicon: Lexicon, seg: Segment) -> tuple[list[tuple[int, int, Phrase]], list[CueHit]]:
    texts = seg.tokens.words
    if not texts:
        return [], []
    joined = " " + " ".join(texts) + " "
    events: list[tuple[int, int, Phrase]] = []
    cues: list[tuple[int, int, Cue]] = []
    count = joined.count
    for end, (ntok, phrases, cue_entries) in lexicon.automaton.iter(joined):
        last = count(" ", 0, end) - 1  # keys are " form ", so a match always ends at a token boundary
        first = last - ntok + 1
        for p in phrases:
            events.append((first, last, p))
        for c in cue_entries:
            cues.append((first, last, c))
    heads = lexicon.gapped_heads
    if not heads.isdisjoint(texts):
        gapped = lexicon.gapped
        n = len(texts)
        for i in compress(range(n), map(heads.__contains__, texts)):  # the heads' positions, found in C
            head = texts[i]
            for j in range(i + 2, i + 2 + GAP):  # (a bound test, not min(): builtin min parses keywords)
                if j >= n or texts[j - 1] in PUNCTUATION:
                    break
                found = gapped.get(head + " " + texts[j])
                if found:
                    events.extend((i, j, p) for p in found)
    if len(events) > 1:  # (the length tested here: most segments have at most one phrase, one cue)
        events = _longest(events)
    if not cues:
        return events, []
    number = seg.number
    return events, [CueHit(c, number, f, la) for f, la, c in (_longest(cues) if len(cues) > 1 else cues)]


def _longest(found: list[tuple[int, int, T]]) -> list[tuple[int, int, T]]:
    """Non-overlapping matches, longest first, then in text order."""
    if len(found) <= 1:
        return found
    previous = -1
    for first, last, _ in found:  # the usual case: already in text order and disjoint, nothing to resolve
        if first <= previous:
            break
        previous = last
    else:
        return found
    taken: set[int] = set()
    kept: list[tuple[int, int, T]] = []
    for first, last, value in sorted(found, key=lambda m: (m[0] - m[1], m[0])):
        span = range(first, last + 1)
        if any(i in taken for i in span):
            continue
        taken.update(span)
        kept.append((first, last, value))
    kept.sort(key=lambda m: m[0])
    return kept


def _breaks(seg: Segment, cues: list[CueHit]) -> frozenset[int]:
    """Token indices that end a clause: punctuation and break words."""
    words = seg.tokens.words
    found = set(compress(range(len(words)), map(PUNCTUATION.__contains__, words)))
    found.update(c.first for c in cues if c.cue.kind in _BREAKS)
    return frozenset(found)


def _clause(seg: Segment, breaks: frozenset[int], first: int) -> tuple[int, int]:
    """The first and last token index of the clause around token `first`."""
    lo = first
    while lo > 0 and lo - 1 not in breaks:
        lo -= 1
    hi = first
    last_index = len(seg.words) - 1
    while hi < last_index and hi + 1 not in breaks:
        hi += 1
    return lo, hi


def _context(seg: Segment, cues: list[CueHit], breaks: frozenset[int], first: int) -> tuple[bool, bool, bool]:
    negated = hedged = background = False
    lo = hi = -1  # the clause, found when a background or past cue needs it
    for c in cues:
        kind = c.cue.kind
        if kind is _NEGATION and first - NEGATION_WINDOW <= c.last < first:
            negated = negated or not any(i in breaks for i in range(c.last + 1, first))
        elif kind is _MODALITY and first - MODALITY_WINDOW <= c.last < first:
            hedged = True
        elif kind is _BACKGROUND or kind is _PAST:
            if lo < 0:
                lo, hi = _clause(seg, breaks, first)
            if (kind is _BACKGROUND and lo <= c.last < first) or (
                kind is _PAST
                and lo <= c.first <= hi
                and abs(c.first - first) <= PAST_WINDOW
                and not (
                    c.first > first
                    and any(b.cue.kind is _BACKGROUND and first < b.first < c.first for b in cues)
                )
            ):
                # "last week" reaches the event next to it, but not back across "after": in "agree ceasefire
                # after last week's strikes" only the strikes are background.
                background = True
    if seg.number > 0 and cues and cues[0].first == 0 and cues[0].cue.kind in _OPENINGS:
        background = True  # "Earlier, ..." / "Following ..." opens a background sentence
    return negated, hedged, background


def read(lexicon: Lexicon, title: str, summary: str = "") -> Reading:
    segs = segments_of(title, summary)
    hits: list[Hit] = []
    all_cues: list[CueHit] = []
    found: list[tuple[Segment, list[tuple[int, int, Phrase]], list[CueHit]]] = []
    neutral_domain = False
    for seg in segs:
        events, cues = _matches(lexicon, seg)
        if cues and _NEUTRAL in map(_KIND, cues):
            if events:  # a neutral-domain cue inside an event phrase is part of the event
                event_tokens = {i for f, la, _ in events for i in range(f, la + 1)}
                cues = [
                    c
                    for c in cues
                    if c.cue.kind is not _NEUTRAL
                    or not any(i in event_tokens for i in range(c.first, c.last + 1))
                ]
            if seg.number <= 1 and not neutral_domain:
                neutral_domain = _NEUTRAL in map(_KIND, cues)
        found.append((seg, events, cues))
        all_cues.extend(cues)
    for seg, events, cues in found:
        if not events:
            continue
        # Only negation, modality, background and past cues weigh an event; without them (the usual case) no
        # clause breaks are needed either. The first context cue opens the segment exactly when the first cue
        # does (cues are disjoint and in text order), so _context sees the same "Earlier, ..." opening.
        context = list(compress(cues, map(_CONTEXT_KINDS.__contains__, map(_KIND, cues))))
        breaks = _breaks(seg, cues) if context else frozenset()
        number, position = seg.number, seg.weight
        starts, ends = seg.tokens.offsets()
        for first, last, phrase in events:
            negated, hedged, background = _context(seg, context, breaks, first) if context else _PLAIN
            weight = (
                _weight(position, negated, hedged, background, neutral_domain)
                if negated or hedged or background or neutral_domain
                else position
            )
            hits.append(
                Hit(
                    phrase,
                    seg.text[starts[first] : ends[last]],
                    number,
                    first,
                    last,
                    negated,
                    hedged,
                    background,
                    neutral_domain,
                    position,
                    weight,
                    phrase.signed * weight,
                )
            )
    return Reading(tuple(segs), tuple(hits), tuple(all_cues), neutral_domain)
