"""The event lexicon and context cues of one language, loaded once from data/lexicon/<lang>*.tsv.

Files (see docs/classifier.md): <lang>.tsv (event phrases with CAMEO code, PLOVER type and intensity),
<lang>_cues.tsv (negation, modality, background, neutral-domain, venue, mediator cues) and, for languages with
inflection rules, <lang>_irregular.tsv. Every phrase is expanded to its inflected forms and put into one
Aho-Corasick automaton keyed by " form " over the space-joined content tokens, so matches are whole words.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

import ahocorasick

from monitor.classify.inflect import expand
from monitor.classify.text import split
from monitor.domain import Direction


class LexiconError(ValueError):
    """A lexicon file is malformed; the message names the file and line."""


class CueKind(StrEnum):
    NEGATION = "negation"
    MODALITY = "modality"
    BACKGROUND = "background"
    PAST = "past"
    BREAK = "break"
    CLAUSE = "clause"
    NEUTRAL = "neutral"
    VENUE = "venue"
    MEDIATOR = "mediator"
    MEDIATING = "mediating"  # "Egypt to broker talks", "U.S. mediated deal": the subject mediates
    BETWEEN = "between"
    NONSTATE = "nonstate"
    AFFIX = "affix"
    PARTICLE = "particle"
    REPORT = "report"  # "said", "according to": a trailing attribution names the news source, not a party
    GROUP = "group"  # "troops", "rebels": "Albanian rebels in Macedonia" - the country after "in" is where they are


@dataclass(frozen=True, slots=True)
class Phrase:
    """One event phrase of the lexicon (its lemma form) with its code and signed-by-code intensity."""

    lemma: str
    cameo: str
    plover: str
    intensity: float  # 0..10, Goldstein-like magnitude
    direction: Direction

    signed: float  # intensity with the sign of its direction (0 for statements)


@dataclass(frozen=True, slots=True)
class Cue:
    lemma: str
    kind: CueKind


@dataclass(frozen=True, slots=True)
class Lexicon:
    lang: str
    version: str
    phrases: tuple[Phrase, ...]
    cues: tuple[Cue, ...]
    automaton: Any  # ahocorasick.Automaton: " form " -> (token count, (Phrase, ...), (Cue, ...))
    affixes: tuple[str, ...]  # "anti-", "-made": a country word inside such a compound is no party
    gapped_heads: frozenset[str]  # first words of the two-word phrases below
    # two-word phrases, matched also with words between ("lifted a night curfew" is "lift curfew")
    gapped: dict[str, tuple[Phrase, ...]]


def direction_of(cameo: str) -> Direction:
    """CAMEO root 01-02 -> neutral, 03-08 -> de-escalation, 09-20 -> escalation (the eval README's mapping)."""
    root = int(cameo[:2])
    if root <= 2:
        return Direction.NEUTRAL
    if root <= 8:
        return Direction.DE_ESCALATION
    return Direction.ESCALATION


def normalise(phrase: str) -> str:
    return " ".join(split(phrase).words)


def _rows(name: str) -> tuple[str, list[tuple[int, list[str]]]]:
    """(version, [(line number, columns)]) of a TSV data file; '#' lines are comments, the first row a header."""
    path = resources.files("monitor.classify") / "data" / "lexicon" / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise LexiconError(f"{name}: no such lexicon file") from exc
    version = ""
    rows: list[tuple[int, list[str]]] = []
    header_seen = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith("#"):
            if line[1:].strip().startswith("version:"):
                version = line.split(":", 1)[1].strip()
            continue
        if not header_seen:
            header_seen = True
            continue
        rows.append((number, line.split("\t")))
    if not version:
        raise LexiconError(f"{name}: missing '# version:' header")
    return version, rows


def _irregular(lang: str) -> dict[str, tuple[str, ...]]:
    try:
        _, rows = _rows(f"{lang}_irregular.tsv")
    except LexiconError:
        return {}
    table: dict[str, tuple[str, ...]] = {}
    for number, cols in rows:
        if len(cols) != 2:
            raise LexiconError(f"{lang}_irregular.tsv line {number}: expected lemma<TAB>forms")
        table[cols[0].strip()] = tuple(f.strip() for f in cols[1].split(",") if f.strip())
    return table


def _phrases(lang: str) -> tuple[str, list[Phrase], list[tuple[str, str]]]:
    name = f"{lang}.tsv"
    version, rows = _rows(name)
    phrases: list[Phrase] = []
    forms: list[tuple[str, str]] = []  # (lemma, pos)
    for number, cols in rows:
        if len(cols) != 5:
            raise LexiconError(f"{name} line {number}: expected 5 tab-separated columns, got {len(cols)}")
        lemma, pos, cameo, plover, intensity = (c.strip() for c in cols)
        try:
            value = float(intensity)
            direction = direction_of(cameo)
        except ValueError as exc:
            raise LexiconError(f"{name} line {number}: bad code or intensity ({exc})") from exc
        if not 0.0 <= value <= 10.0 or pos not in ("v", "n", "vn", "-") or not lemma:
            raise LexiconError(f"{name} line {number}: intensity must be 0..10 and pos one of v, n, vn, -")
        sign = (
            1.0
            if direction is Direction.ESCALATION
            else -1.0
            if direction is Direction.DE_ESCALATION
            else 0.0
        )
        phrases.append(Phrase(lemma, cameo, plover, value, direction, sign * value))
        forms.append((lemma, pos))
    return version, phrases, forms


def _cues(lang: str) -> list[tuple[Cue, str]]:
    name = f"{lang}_cues.tsv"
    _, rows = _rows(name)
    cues: list[tuple[Cue, str]] = []
    for number, cols in rows:
        if len(cols) != 3:
            raise LexiconError(f"{name} line {number}: expected cue<TAB>pos<TAB>kind")
        try:
            kind = CueKind(cols[2].strip())
        except ValueError as exc:
            raise LexiconError(f"{name} line {number}: unknown cue kind {cols[2].strip()!r}") from exc
        cues.append((Cue(cols[0].strip(), kind), cols[1].strip()))
    return cues


@functools.cache
def load(lang: str = "en") -> Lexicon:
    """The lexicon of one language, built once per process (thread-safe to read afterwards)."""
    irregular = _irregular(lang)
    version, phrases, forms = _phrases(lang)
    entries: dict[str, list[Phrase | Cue]] = {}
    for phrase, (lemma, pos) in zip(phrases, forms, strict=True):
        for form in expand(lemma, pos, lang, irregular):
            key = normalise(form)
            if key:
                entries.setdefault(key, []).append(phrase)
    cue_list = _cues(lang)
    affixes = tuple(c.lemma for c, _ in cue_list if c.kind is CueKind.AFFIX)
    particles = {c.lemma for c, _ in cue_list if c.kind is CueKind.PARTICLE}
    for cue, pos in cue_list:
        if cue.kind in (CueKind.AFFIX, CueKind.PARTICLE):
            continue
        for form in expand(cue.lemma, pos if pos != "-" else "-", lang, irregular):
            key = normalise(form) if cue.kind not in (CueKind.BREAK, CueKind.CLAUSE) else form
            if key:
                entries.setdefault(key, []).append(cue)
    gapped: dict[str, tuple[Phrase, ...]] = {}
    for key, values in entries.items():
        if key.count(" ") == 1 and key.split(" ")[1] not in particles:
            phrase_values = tuple(v for v in values if isinstance(v, Phrase))
            if phrase_values:
                gapped[key] = phrase_values
    automaton = ahocorasick.Automaton()
    for key, values in entries.items():
        phrase_values = tuple(v for v in values if isinstance(v, Phrase))
        cue_values = tuple(v for v in values if isinstance(v, Cue))
        automaton.add_word(f" {key} ", (key.count(" ") + 1, phrase_values, cue_values))
    automaton.make_automaton()
    return Lexicon(
        lang,
        version,
        tuple(phrases),
        tuple(c for c, _ in cue_list),
        automaton,
        affixes,
        frozenset(k.split(" ")[0] for k in gapped),
        gapped,
    )
