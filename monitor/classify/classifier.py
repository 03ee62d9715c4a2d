"""classify(title, summary) -> Classification: the lexicon reads the events, the linear model arbitrates the
direction, the gazetteer finds the actors and pair attribution ties them to the deciding event."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from monitor.classify import events, lexicon, model, pairs
from monitor.classify.events import Hit, Reading
from monitor.classify.pairs import Actor, Attribution
from monitor.domain import Direction, Pair, PairScore

LEXICON_THRESHOLD: Final = 0.4  # |net| below this: the lexicon alone reads "neutral"
HEDGED_CONFIDENCE: Final = 0.8
QUIET_LEAD_FACTOR: Final = 0.4  # a lead without event phrases weighs less: its words alone are a weak signal
# Directions as module constants: an Enum member read off its class goes through the metaclass (EnumType has
# a __getattr__ in Python 3.11, ~13x the cost of reading a global).
_ESCALATION: Final = Direction.ESCALATION
_DE_ESCALATION: Final = Direction.DE_ESCALATION
_NEUTRAL: Final = Direction.NEUTRAL


class MentionLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def kind(self) -> str: ...


class ActorFinder(Protocol):
    def find(self, text: str) -> Sequence[MentionLike]: ...


class SecondReader(Protocol):
    """Another reader of the event direction, for the items the linear model is unsure of (the optional
    transformer stage, monitor.classify.transformer.Stage)."""

    @property
    def weight(self) -> float: ...  # of its log-probabilities in the mix (model.mix)
    @property
    def gate(self) -> float: ...  # items read with a confidence below this go to it

    def probabilities(self, title: str, summary: str) -> tuple[float, float, float]: ...


@dataclass(frozen=True, slots=True)
class Classification:
    pair: Pair | None
    direction: Direction  # NEUTRAL when pair is None
    score: float  # > 0 escalation, < 0 de-escalation, magnitude 0..10
    confidence: float  # 0..1
    event_direction: Direction
    evidence: tuple[str, ...]
    pairs: tuple[PairScore, ...]  # every pair found, headline's first

    def __init__(
        self,
        pair: Pair | None,
        direction: Direction,
        score: float,
        confidence: float,
        event_direction: Direction,
        evidence: tuple[str, ...],
        pairs: tuple[PairScore, ...],
    ) -> None:
        # what the dataclass would generate, written out: compiled by mypyc a generated __init__ runs as Python
        # code (~10k instructions), while this one's object.__setattr__ calls (written so, not through an
        # alias) are C field stores
        object.__setattr__(self, "pair", pair)
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "confidence", confidence)
        object.__setattr__(self, "event_direction", event_direction)
        object.__setattr__(self, "evidence", evidence)
        object.__setattr__(self, "pairs", pairs)

    def to_json(self, id: object) -> dict[str, object]:
        """Exactly one output object of `monitor classify`."""
        return {
            "id": id,
            "pair": self.pair.as_list() if self.pair else None,
            "direction": self.direction.value,
            "score": self.score,
            "confidence": self.confidence,
            "event_direction": self.event_direction.value,
            "evidence": list(self.evidence),
            "pairs": [
                {"pair": p.pair.as_list(), "direction": p.direction.value, "score": p.score}
                for p in self.pairs
            ],
        }


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the classifier saw, for `monitor explain` and `monitor eval`."""

    reading: Reading
    actors: tuple[Actor, ...]
    parties: tuple[Actor, ...]
    probabilities: tuple[float, float, float] | None  # escalation, de-escalation, neutral
    second: tuple[float, float, float] | None  # the second reader's, when it read the item
    lexicon_direction: Direction
    deciding: Hit | None
    attributions: tuple[tuple[Attribution, Hit | None], ...]
    result: Classification


@functools.cache
def _gazetteer(lang: str) -> ActorFinder:
    from monitor.classify.actors import Gazetteer

    finder: ActorFinder = Gazetteer.load(lang=lang)
    return finder


def warm(lang: str = "en") -> None:
    """Load every data file now (start-up), not on the first item."""
    lexicon.load(lang)
    model.load(lang)
    _gazetteer(lang)


def _sign(direction: Direction) -> float:
    return 1.0 if direction is _ESCALATION else -1.0 if direction is _DE_ESCALATION else 0.0


def _direction_of(value: float) -> Direction:
    if value > LEXICON_THRESHOLD:
        return _ESCALATION
    if value < -LEXICON_THRESHOLD:
        return _DE_ESCALATION
    return _NEUTRAL


def _negated_only(reading: Reading, direction: Direction) -> bool:
    """True when the headline and lead hold negated phrases of this direction and no plain one."""
    sign = _sign(direction)
    early = [h for h in reading.hits if h.segment <= 1 and h.phrase.signed * sign > 0]
    return bool(early) and all(h.negated for h in early)


def _show_of_force(reading: Reading, direction: Direction) -> bool:
    """True when the model reads de-escalation, no phrase of the headline and lead is cooperative, and the
    lexicon's reading is escalation through a show of force of one side (CAMEO root 15: war games, drills,
    mobilisation; not joint ones)."""
    if direction is not _DE_ESCALATION or reading.net <= LEXICON_THRESHOLD:
        return False
    force = False
    for h in reading.hits:
        if h.segment > 1:
            continue
        if h.phrase.signed < 0:
            return False
        if h.phrase.cameo[:2] == "15" and not (h.negated or h.background) and not _joint(reading, h):
            force = True
    return force


def _joint(reading: Reading, hit: Hit) -> bool:
    """War games of several states: "Belarus-Russia war games", "war games with China, Iran and Russia"."""
    words = reading.segments[hit.segment].tokens.words
    return (hit.first > 0 and "-" in words[hit.first - 1]) or (
        hit.last + 1 < len(words) and words[hit.last + 1] == "with"
    )


def read_model(
    lm: model.LinearModel,
    reading: Reading,
    second: tuple[float, float, float] | None = None,
    second_weight: float = 0.0,
) -> tuple[Direction, float, tuple[float, float, float]]:
    """The model's event direction, its confidence and the three probabilities (escalation, de-escalation,
    neutral): headline and lead scored apart and averaged by position weight (a lead without event phrases
    weighs less). With `second`, another reader's probabilities (the transformer stage's), the two are mixed
    with that reader's weight `second_weight` (model.mix) before the direction is chosen.
    scripts/train_classifier.py and scripts/train_transformer.py judge their models through this function too."""
    c0 = c1 = c2 = total = 0.0
    for seg in reading.segments[:2]:
        if not seg.tokens.words:
            continue
        weight, number = seg.weight, seg.number
        if number > 0:
            for h in reading.hits:  # (a loop, not any() over a generator: this runs for most items)
                if h.segment == number and not h.background:
                    break
            else:
                weight *= QUIET_LEAD_FACTOR
        s0, s1, s2 = lm.segment_scores(reading, number)
        c0, c1, c2 = c0 + weight * s0, c1 + weight * s1, c2 + weight * s2
        total += weight
    x0, x1, x2 = (c0 / total, c1 / total, c2 / total) if total else lm.bias
    # model.softmax of the three, inline (the same operations in the same order: the first maximum, the sum of
    # the exponentials left to right)
    top = x0
    if x1 > top:
        top = x1
    if x2 > top:
        top = x2
    e0, e1, e2 = math.exp(x0 - top), math.exp(x1 - top), math.exp(x2 - top)
    exps = e0 + e1 + e2
    p = [e0 / exps, e1 / exps, e2 / exps]
    if second is not None:
        p = list(model.mix((p[0], p[1], p[2]), second, second_weight))
    confidence = max(p)
    direction = model.CLASSES[p.index(confidence)]
    if reading.hits and (_negated_only(reading, direction) or _show_of_force(reading, direction)):
        # The model reads "rules out military action" as military action: when the only phrases pointing its
        # way are negated ones, the lexicon's reading (negation applied) decides. So it does for a show of force
        # that the model reads as cooperation with no phrase of cooperation ("China launches war games around
        # Taiwan": dev's war games are mostly joint exercises, which the lexicon codes apart, as 062).
        direction = _direction_of(reading.net)
    return direction, confidence, (p[0], p[1], p[2])


def analyse(
    title: str,
    summary: str = "",
    lang: str = "en",
    *,
    all_actors: bool = True,
    second: SecondReader | None = None,
) -> Analysis:
    """Everything the classifier saw. With all_actors False (classify), the gazetteer is not run for an item
    that can have no pair (a neutral reading outside the neutral domains), and `actors` is then empty."""
    reading, actors, found, probabilities, read2, lexicon_direction, deciding, attributions, result = (
        _analyse(title, summary, lang, all_actors, second)
    )
    return Analysis(
        reading=reading,
        actors=tuple(actors),
        parties=tuple(found),
        probabilities=probabilities,
        second=read2,
        lexicon_direction=lexicon_direction,
        deciding=deciding,
        attributions=tuple(attributions),
        result=result,
    )


_Parts = tuple[
    Reading,
    list[Actor],
    list[Actor],
    tuple[float, float, float] | None,
    tuple[float, float, float] | None,
    Direction,
    Hit | None,
    list[tuple[Attribution, Hit | None]],
    Classification,
]


def _analyse(title: str, summary: str, lang: str, all_actors: bool, second: SecondReader | None) -> _Parts:
    """The fields of an Analysis as a plain tuple: classify needs only the last one, the result, and saves
    building the Analysis around it."""
    lx = lexicon.load(lang)
    reading = events.read(lx, title, summary)

    lexicon_direction = _direction_of(reading.net)
    lm = model.load(lang)
    probabilities: tuple[float, float, float] | None = None
    read2: tuple[float, float, float] | None = None
    if lm is not None:
        event_direction, confidence, probabilities = read_model(lm, reading)
        if second is not None and confidence < second.gate:
            read2 = second.probabilities(title, summary)
            event_direction, confidence, probabilities = read_model(lm, reading, read2, second.weight)
    else:
        event_direction = lexicon_direction
        confidence = min(1.0, 0.5 + abs(reading.net) / 20.0) if lexicon_direction is not _NEUTRAL else 0.5

    sign = _sign(event_direction)
    # (no list comprehension, a call in Python 3.11, for a neutral reading or an item without phrases)
    decisive = [h for h in reading.hits if h.value * sign > 0] if sign and reading.hits else []
    deciding = (
        (decisive[0] if len(decisive) == 1 else max(decisive, key=lambda h: abs(h.value)))
        if decisive
        else None
    )
    if deciding is not None and deciding.hedged:
        confidence *= HEDGED_CONFIDENCE
    magnitude = min(10.0, sum(abs(h.value) for h in decisive)) if decisive else 0.0
    if event_direction is not _NEUTRAL and magnitude < 1.0:
        magnitude = 1.0 + 4.0 * max(0.0, confidence - 0.5)
    score = sign * magnitude

    # Actors of the headline and lead (pairs come from there), and of the deciding event's sentence.
    keep_pairs = event_direction is not _NEUTRAL or reading.neutral_domain
    finder = _gazetteer(lang)
    actors: list[Actor] = []
    for seg in reading.segments if keep_pairs or all_actors else ():
        if seg.number <= 1 or (deciding is not None and seg.number == deciding.segment):
            for m in finder.find(seg.text):
                actors.append(pairs.place(seg, m.code, m.text, m.kind, m.start, m.end, lx.affixes))
    found = (
        pairs.parties(
            pairs.without_reporters(
                pairs.without_rubric(actors, reading.segments[0]), reading.segments, reading.cues
            ),
            reading.cues,
        )
        if actors
        else []
    )

    # Pairs: the deciding event's first, then the other events of the headline and lead in text order.
    two_parties = keep_pairs and len({a.code for a in found}) >= 2
    ordered = (
        []
        if not two_parties
        else sorted(
            (h for h in reading.hits if h.segment <= 1 and not h.background),
            key=lambda h: (h.segment, h.value * sign <= 0, h.first),
        )
    )
    if two_parties and deciding is not None and deciding.segment > 1:
        ordered.insert(0, deciding)
    attributions: list[tuple[Attribution, Hit | None]] = []
    seen: set[Pair] = set()
    for h in ordered:
        at = pairs.for_hit(h, found, reading.cues, reading.hits, reading.segments[h.segment].tokens.words)
        if at is not None and at.pair not in seen:
            seen.add(at.pair)
            attributions.append((at, h))
    if two_parties and not attributions:
        for segment in (0, 1):
            at = pairs.for_segment(segment, found, reading.cues)
            if at is not None:
                attributions.append((at, None))
                break

    pair_scores: list[PairScore] = []
    if keep_pairs:
        for i, (at, hit) in enumerate(attributions):
            if reading.neutral_domain:
                # Sport, culture, routine trade figures, disasters: the pair stays neutral (the event reading,
                # e.g. routine aid as cooperation, is left as it is).
                direction, value = _NEUTRAL, 0.0
            elif i == 0:
                direction, value = event_direction, score
            else:
                own = sum(h.value for h in reading.hits if h is hit)
                direction = _direction_of(own)
                value = max(-10.0, min(10.0, own))
            pair_evidence: tuple[str, ...] = (hit.surface,) if hit is not None else ()
            pair_scores.append(
                PairScore(
                    pair=at.pair,
                    direction=direction,
                    score=round(value, 3),
                    confidence=round(confidence, 3),
                    evidence=pair_evidence,
                )
            )
    primary = pair_scores[0] if pair_scores else None
    evidence = (
        ()
        if not decisive
        else (decisive[0].surface,)
        if len(decisive) == 1
        else tuple(dict.fromkeys(h.surface for h in sorted(decisive, key=lambda h: -abs(h.value))))
    )
    result = Classification(
        primary.pair if primary else None,
        primary.direction if primary else _NEUTRAL,
        round(score, 3),
        round(confidence, 3),
        event_direction,
        evidence,
        tuple(pair_scores),
    )
    return reading, actors, found, probabilities, read2, lexicon_direction, deciding, attributions, result


def classify(title: str, summary: str = "", second: SecondReader | None = None) -> Classification:
    """Classify one news item. Loads its data once per process; safe to call from several threads.
    `second`: the optional transformer stage (monitor.classify.transformer.Stage.load())."""
    return _analyse(title, summary, "en", False, second)[-1]
