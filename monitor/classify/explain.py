"""`monitor explain`: a human-readable account of how the classifier read one item."""

from __future__ import annotations

from monitor.classify.classifier import Analysis
from monitor.classify.events import (
    BACKGROUND_FACTOR,
    MODALITY_FACTOR,
    NEGATION_FACTOR,
    NEUTRAL_DOMAIN_FACTOR,
    Hit,
)
from monitor.classify.lexicon import CueKind
from monitor.classify.model import CLASSES


def _hit_line(h: Hit) -> str:
    parts = [f"position {h.position:g}"]
    if h.background:
        parts.append(f"background x{BACKGROUND_FACTOR:g}")
    if h.hedged:
        parts.append(f"hedged x{MODALITY_FACTOR:g}")
    if h.neutralised:
        parts.append(f"sport/culture/trade/disaster x{NEUTRAL_DOMAIN_FACTOR:g}")
    if h.negated:
        parts.append(f"negated x{NEGATION_FACTOR:g}")
    sign = "+" if h.phrase.signed > 0 else "-" if h.phrase.signed < 0 else "±"
    return (
        f'  "{h.surface}" = {h.phrase.lemma} (CAMEO {h.phrase.cameo} {h.phrase.plover or "statement"}, '
        f"{h.phrase.direction.value}) {sign}{h.phrase.intensity:g} x {' x '.join(parts)} = {h.value:+.2f}"
    )


def render(a: Analysis) -> str:
    c = a.result
    lines: list[str] = []
    lines.append("Actors:")
    if not a.actors:
        lines.append("  none recognised")
    party_keys = {(p.segment, p.first) for p in a.parties}
    for actor in a.actors:
        role = a.reading.segments[actor.segment].role
        note = (
            ""
            if (actor.segment, actor.first) in party_keys
            else " (not a party: venue, mediator, reporter, rubric, people or compound)"
        )
        lines.append(f'  {actor.code} from "{actor.text}" ({actor.kind}, {role}){note}')
    lines.append("Event phrases (intensity x weights = contribution):")
    if not a.reading.hits:
        lines.append("  none")
    for seg in a.reading.segments:
        seg_hits = [h for h in a.reading.hits if h.segment == seg.number]
        if seg_hits:
            lines.append(f"  [{seg.role}]")
            lines.extend("  " + _hit_line(h) for h in seg_hits)
    cues = [c for c in a.reading.cues if c.cue.kind not in (CueKind.BREAK, CueKind.CLAUSE, CueKind.VENUE)]
    if cues:
        shown = ", ".join(f"{cu.cue.lemma} ({cu.cue.kind.value})" for cu in cues)
        lines.append(f"Context cues: {shown}")
    if a.reading.neutral_domain:
        lines.append("Sport, culture, trade figures or disaster words: events damped, a pair stays neutral")
    lines.append(f"Lexicon: net {a.reading.net:+.2f} -> {a.lexicon_direction.value}")
    if a.probabilities is not None:
        probs = ", ".join(f"{d.value} {p:.2f}" for d, p in zip(CLASSES, a.probabilities, strict=True))
        mixed = " (mixed with the transformer's)" if a.second is not None else ""
        lines.append(f"Model (n-grams + lexicon features){mixed}: {probs}")
    if a.second is not None:
        probs = ", ".join(f"{d.value} {p:.2f}" for d, p in zip(CLASSES, a.second, strict=True))
        lines.append(f"Transformer stage (the model was unsure): {probs}")
    lines.append(f"Event direction: {c.event_direction.value} (confidence {c.confidence:.2f})")
    if a.deciding is not None:
        lines.append(f'Deciding event: "{a.deciding.surface}"')
    lines.append(
        f"Score: {c.score:+.2f} (sum of the contributions pointing {c.event_direction.value}, capped at 10"
        + (
            ", at least 1 when the model decides without a phrase)"
            if c.event_direction.value != "neutral"
            else ")"
        )
    )
    if a.attributions:
        lines.append("Pairs:")
        for at, hit in a.attributions:
            anchor = f' around "{hit.surface}"' if hit is not None else ""
            lines.append(f"  {at.pair} ({at.source.text} ... {at.target.text}; {at.rule}{anchor})")
    if c.pair is None:
        parties = {p.code for p in a.parties}
        why = "fewer than two countries as parties" if len(parties) < 2 else "no political event (neutral)"
        lines.append(f"Result: no pair ({why}); direction neutral")
    else:
        lines.append(f"Result: {c.pair} {c.direction.value}, score {c.score:+.2f}")
    return "\n".join(lines)
