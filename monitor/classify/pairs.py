"""Pair attribution: which two states an event is between.

The pair is the source and target of the deciding event (the first actor named before the event phrase, and the
first different actor after it, else the nearest different one before), or "between X and Y"; venues ("talks in
Doha") and mediators ("brokered by Qatar") are not parties. Never simply the first two countries of the text.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from monitor.classify.events import CueHit, Hit, Segment
from monitor.classify.lexicon import CueKind
from monitor.classify.record import Record
from monitor.domain import Pair

VENUE_KINDS: Final = frozenset({"capital", "seat", "city", "place", "venue"})
BETWEEN_WINDOW: Final = 8
SUBORDINATORS: Final = frozenset({"if", "who", "which"})  # cues that open a subordinate clause
SUBORDINATE_REACH: Final = 5  # content tokens from the subordinator to a country after "in"
RUBRIC_MAX: Final = 6  # a headline's first colon within this many words ends a rubric ("Live Updates:")
RUBRIC_MIN_REST: Final = 3
MEDIATOR_WINDOW: Final = 3
REPORTER_WINDOW: Final = 4  # content tokens from the comma to the reporter, and from it to "said"
TRAILING_WORDS: Final = 3  # words after "said" before the attribution's clause ends ("said on Monday .")
PEOPLE_REACH: Final = 3  # tokens from a plural demonym to the place after its "of" ("the Albanians of ...")
TOGETHER_REACH: Final = 3  # tokens from "X-Y" or "X and Y" to its event ("X and Y leaders for talks")
BETWEEN_REACH: Final = 3  # content tokens after an event phrase within which "between X and Y" is its pair
# Cue kinds as module constants: an Enum member read off its class goes through the metaclass (EnumType has a
# __getattr__ in Python 3.11, ~13x the cost of reading a global); these are read per actor and cue.
_NONSTATE: Final = CueKind.NONSTATE
_MEDIATOR: Final = CueKind.MEDIATOR
_MEDIATING: Final = CueKind.MEDIATING
_VENUE: Final = CueKind.VENUE
_REPORT: Final = CueKind.REPORT
_BETWEEN: Final = CueKind.BETWEEN
_CLAUSE: Final = CueKind.CLAUSE
_GROUP: Final = CueKind.GROUP


class Actor(Record):  # a Record (see record.py): a native class when compiled; treat it as immutable
    """A country mention placed on the content-token axis of its segment."""

    _fields: ClassVar[tuple[str, ...]] = (
        "code",
        "text",
        "kind",
        "segment",
        "first",
        "last",
        "compound",
        "people",
    )  # the field order (repr, iteration)
    __slots__ = _fields

    code: str
    text: str
    kind: str
    segment: int
    first: int  # content-token index of the mention's first token
    last: int  # ... and of its last token
    compound: bool  # inside a hyphenated compound such as "anti-Syria" or "Russian-made"
    people: bool  # a plural demonym before "of": a people named by where they live, if a place follows

    def __init__(
        self,
        code: str,
        text: str,
        kind: str,
        segment: int,
        first: int,
        last: int,
        compound: bool,
        people: bool = False,
    ) -> None:
        self.code = code
        self.text = text
        self.kind = kind
        self.segment = segment
        self.first = first
        self.last = last
        self.compound = compound
        self.people = people


@dataclass(frozen=True, slots=True)
class Attribution:
    pair: Pair
    source: Actor
    target: Actor
    rule: str  # how it was found, for `monitor explain`


def place(
    segment: Segment, code: str, text: str, kind: str, start: int, end: int, affixes: Sequence[str] = ()
) -> Actor:
    words = segment.tokens
    starts, ends = words.offsets()
    index = bisect.bisect_right(ends, start)
    last = bisect.bisect_left(starts, end) - 1
    if last < index:  # max(index, last), without the builtin's call
        last = index
    compound = people = False
    tokens = words.words
    if index < len(tokens):
        token = tokens[index]
        if token != text.lower():
            prefixes, suffixes = _affix_ends(tuple(affixes))
            compound = token.startswith(prefixes) or token.endswith(suffixes)
        elif kind == "demonym" and text[-1] == "s" and last + 1 < len(tokens):
            people = tokens[last + 1] == "of"
    return Actor(code, text, kind, segment.number, index, last, compound, people)


@functools.lru_cache(maxsize=8)
def _affix_ends(affixes: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """("anti-", "-made") -> prefixes ("anti-",) and suffixes ("-made",), for str.startswith/endswith in C."""
    return tuple(a for a in affixes if a.endswith("-")), tuple(a for a in affixes if a.startswith("-"))


def parties(actors: Sequence[Actor], cues: Sequence[CueHit]) -> list[Actor]:
    """Actors minus venues ("in Doha"), mediators ("brokered by Qatar"), peoples and groups named by a
    demonym ("ethnic Albanians", "Russian language"; rebels and refugees count for their state, as CAMEO codes
    them; "the Albanians of southern Serbia"), and compounds ("anti-Syria", "Russian-made")."""
    kept: list[Actor] = []
    venues: list[Actor] = []
    previous: Actor | None = None
    for n, a in enumerate(actors):
        segment, first, last = a.segment, a.first, a.last
        qualified = (
            # "Bosnian Serbs", "Turkish Kurd refugees": a demonym right after another names one group of the
            # first one's state, not a second party
            previous is not None
            and a.kind == "demonym"
            and previous.kind == "demonym"
            and previous.segment == segment
            and previous.last + 1 == first
        )
        previous = a
        if qualified or a.compound:
            continue
        if a.people and n + 1 < len(actors):
            # "the Albanians of southern Serbia": a people, when a place follows "of" (at most one word between)
            following = actors[n + 1]
            if following.segment == segment and following.first - last <= PEOPLE_REACH:
                continue
        # What the cues of the actor's sentence say about it, in one pass over them (no generator per test).
        nonstate = mediator = after_in = subordinate = False
        group = -1  # the first token of a group noun right before "in" ("rebels in Macedonia"), if any
        for c in cues:
            if c.segment != segment:
                continue
            cue = c.cue
            kind = cue.kind
            if kind is _NONSTATE and (c.first == last + 1 or c.last == first - 1):
                nonstate = True
            elif (kind is _MEDIATOR and 0 < first - c.last <= MEDIATOR_WINDOW) or (
                kind is _MEDIATING and 0 < c.first - last <= MEDIATOR_WINDOW
            ):
                mediator = True
            elif kind is _VENUE and c.last == first - 1:
                after_in = True
            elif kind is _GROUP and c.last == first - 2:
                group = c.first
            if cue.lemma in SUBORDINATORS and 0 < first - c.last <= SUBORDINATE_REACH:
                subordinate = True
        if nonstate and a.kind == "demonym":
            continue
        if after_in and subordinate:
            # "if war starts in Iraq", "refugees who have lived in Iraq": a place in a subordinate clause
            continue
        # "aid to Albanian rebels in Macedonia": a country after "<actor> <group> in" is where the group is
        venue = after_in and (a.kind in VENUE_KINDS or (group > 0 and _held(actors, segment, group - 1)))
        if venue:
            venues.append(a)
        elif not mediator:
            kept.append(a)
    for v in venues:  # "opened an embassy in Tehran": a capital is a venue only when two parties remain
        if len({a.code for a in kept if a.segment == v.segment} - {v.code}) < 2:
            kept.append(v)
    kept.sort(key=lambda a: (a.segment, a.first))
    return kept


def _held(actors: Sequence[Actor], segment: int, index: int) -> bool:
    """Whether an actor's mention covers token `index` of a segment."""
    return any(a.segment == segment and a.first <= index <= a.last for a in actors)


def without_reporters(
    actors: Sequence[Actor], segments: Sequence[Segment], cues: Sequence[CueHit]
) -> list[Actor]:
    """Drop the source of a trailing attribution (", Thai military sources said today", ", according to the US
    government") when two other parties remain: it names who reports the event, not who takes part in it."""
    reports = [c for c in cues if c.cue.kind is _REPORT]
    if not reports:
        return list(actors)
    dropped: set[Actor] = set()
    for a in actors:
        words = segments[a.segment].tokens.words
        comma = next(
            (p for p in range(a.first - 1, max(-1, a.first - 1 - REPORTER_WINDOW), -1) if words[p] == ","),
            None,
        )
        if comma is None:
            continue
        for c in reports:
            if c.segment != a.segment:
                continue
            # ", X said (on Monday)" ends its clause; ", but X troops say they ..." is reported speech instead
            tail = words[c.last + 1 :]
            closes = "," in tail[: TRAILING_WORDS + 1] or len(tail) <= TRAILING_WORDS
            after = (
                a.last < c.first <= a.last + REPORTER_WINDOW
                and "," not in words[a.last + 1 : c.first]
                and closes
            )
            before = comma < c.first and c.last < a.first
            if after or before:
                dropped.add(a)
                break
    kept = [a for a in actors if a not in dropped]
    return kept if dropped and len({a.code for a in kept}) >= 2 else list(actors)


def without_rubric(actors: Sequence[Actor], headline: Segment) -> list[Actor]:
    """Drop the actors of a short rubric before a colon ("Israel-Hamas War: U.S. Strikes Houthis") when the
    headline proper still names two parties."""
    words = headline.tokens.words
    cut = next((i for i, w in enumerate(words[: RUBRIC_MAX + 1]) if w == ":"), None)
    if cut is None or len(words) - cut < RUBRIC_MIN_REST:
        return list(actors)
    rest = [a for a in actors if not (a.segment == 0 and a.first < cut)]
    if len({a.code for a in rest if a.segment == 0}) >= 2:
        return rest
    return list(actors)


def _between(
    actors: Sequence[Actor], cues: Sequence[CueHit], segment: int, reach: int = 10**9
) -> Attribution | None:
    """ "between X and Y", the cue starting at token `reach` at the latest."""
    for c in cues:
        if c.segment != segment or c.cue.kind is not _BETWEEN or c.first > reach:
            continue
        after = [a for a in actors if a.segment == segment and 0 < a.first - c.last <= BETWEEN_WINDOW]
        for other in after[1:]:
            if other.code != after[0].code:
                return Attribution(Pair.of(after[0].code, other.code), after[0], other, "between X and Y")
    return None


def _together(
    actors: Sequence[Actor], words: Sequence[str], start: int, reach: int
) -> tuple[Actor, Actor] | None:
    """Two states named together: in one hyphenated token ("Armenia-Azerbaijan", "Thai-Cambodian"; of three,
    the first two) or joined by "and" ("Congo and Rwanda"). The last such pair before token `start`, else the
    first up to token `reach`."""
    found: tuple[Actor, Actor] | None = None
    for i in range(1, len(actors)):
        x, y = actors[i - 1], actors[i]
        if x.code == y.code:
            continue
        hyphenated = x.first == y.first == x.last == y.last
        if not hyphenated and not (
            y.first == x.last + 2
            and words[x.last + 1] == "and"
            and not (i > 1 and actors[i - 2].last == x.first - 2 and words[x.first - 1] == ",")
        ):
            continue  # ("U.S., S Korean and Japanese advisers meet": a list of three is one side)
        if x.first < start:
            if found is None or found[0].first != x.first:  # "Russia-India-China": the first two
                found = (x, y)
        elif found is None and x.first <= reach:
            return x, y
        else:
            break
    return found


def for_hit(
    hit: Hit,
    actors: Sequence[Actor],
    cues: Sequence[CueHit],
    hits: Sequence[Hit],
    words: Sequence[str],
) -> Attribution | None:
    """The pair of one event: "between X and Y" or "X-Y <event>", else the source before the phrase and the
    target after it (or the nearest other before). `hits` are the item's events and `words` the content tokens
    of the event's segment (for "X-Y <event>" and "X and Y <event>")."""
    here = [a for a in actors if a.segment == hit.segment]
    bounds = [c.first for c in cues if c.segment == hit.segment and c.cue.kind is _CLAUSE]
    lo = max((b for b in bounds if b < hit.first), default=-1)
    hi = min((b for b in bounds if b > hit.last), default=10**9)
    in_clause = [a for a in here if lo < a.first < hi]
    if len({a.code for a in in_clause}) >= 2:
        here = in_clause
    # "talks between X and Y": the cue right after the phrase (or before it); a "between" further on belongs to
    # another noun phrase ("rejected a US offer to host a summit ... for peace between X and Y").
    between = _between(here, cues, hit.segment, hit.last + BETWEEN_REACH)
    if between is not None:
        return between
    before = [a for a in here if a.first < hit.first]
    after = [a for a in here if a.first > hit.last]
    together = _together(here, words, hit.first, hit.last + BETWEEN_REACH) if len(here) > 1 else None
    if together is not None and (together[0].first < hit.first or (after and together[0] is after[0])):
        x, y = together
        # "Armenia-Azerbaijan talks", "Trump to host Congo and Rwanda leaders for peace talks", "Thai-Cambodian
        # border clashes": two states named together right before an event of this one's direction are its pair
        # ("to discuss Israel-Hamas war", "amid the Israel-Hamas war" name a topic), unless another party
        # follows the event as its target ("US-Israeli strikes on Iran", "US and UK strike Houthis": a
        # coalition, the first named is the source)
        named = any(
            h.segment == hit.segment
            and h.value * hit.value > 0
            and not h.background
            and y.last < h.first <= y.last + TOGETHER_REACH
            and "," not in words[y.last + 1 : h.first]  # ("X and Y officials, citing repression")
            for h in hits
        )
        if named and not any(a.code != x.code and a.code != y.code for a in after):
            return Attribution(Pair.of(x.code, y.code), x, y, "X-Y or X and Y named before the event")
    if before:
        source = before[0]
    elif after:
        source = after[0]
    else:
        return None
    for a in after:
        if a.code != source.code:
            return Attribution(
                Pair.of(source.code, a.code), source, a, "actor before the event, target after it"
            )
    for a in reversed(before):
        if a.code != source.code:
            return Attribution(Pair.of(source.code, a.code), source, a, "both actors named before the event")
    return None


def for_segment(segment: int, actors: Sequence[Actor], cues: Sequence[CueHit]) -> Attribution | None:
    """No event phrase to anchor on: "between X and Y", else the first two different actors of the segment."""
    here = [a for a in actors if a.segment == segment]
    between = _between(here, cues, segment)
    if between is not None:
        return between
    for a in here[1:]:
        if a.code != here[0].code:
            return Attribution(Pair.of(here[0].code, a.code), here[0], a, "first two actors named")
    return None
