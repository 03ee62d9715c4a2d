"""Countries named in news text: names, demonyms, capitals, institutions, leaders, armed groups, role phrases.

Data: ISO 3166 names from pycountry plus a curated file per language, ``data/actors/<lang>.tsv`` (its
header documents the records). Adding a language means adding a file, not code.

Matching: one Aho-Corasick automaton over every phrase in its case variants (as written, Title Case,
UPPER CASE; acronyms such as "US" or "IRGC" only as written), run over the text with apostrophes
normalised, so offsets stay those of the caller's text. A hit counts only on word boundaries; overlapping
hits are resolved longest first. Then context decides the ambiguous names (flags in the data file):

- ``person``: a name that is also a person's (Jordan, Chad): dropped after a given name ("Michael Jordan"),
  before a capitalised surname in sentence-case text ("Chad Smith said"), and again later in the same text.
- ``ambiguous``: dropped when the text holds evidence against its country (a ``cue`` or ``not`` phrase signed
  -CODE: "Thanksgiving" against Turkey, "Speaker" against Jordan) and nothing for it (another name of that
  country, a phrase signed +CODE, or a mention of one of its listed ``neighbours``).
- ``weak``: kept only with evidence for its country: "Georgia" is far more often the US state in English news,
  so it needs "Tbilisi", "Georgian", "Caucasus", "EU" or a mention of Russia, Armenia, Azerbaijan...
- ``surname``: a leader's surname that others share: dropped after a given name ("Frank Rubio", "Cori Bush").
- ``exact``: only as written (no UPPER CASE variant: "Xi" must not match a cricket "playing XI").

``not`` phrases (Washington Post, New Mexico, Indian Ocean, South China Sea...) are matched like names, so
as longer matches they hide the country inside them, and are never reported. ``cue`` phrases ("Atlanta",
"Thanksgiving") are context only: a second automaton, read only for texts with a flagged name.

A name or demonym followed by a role ("Iran's foreign minister", "Pakistani counterpart", "Indian army")
becomes one mention of kind "role" or "institution" covering the phrase.
"""

from __future__ import annotations

import functools
import gettext
import importlib.util
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import ahocorasick

# (from the package, not this module's __file__: compiled by mypyc in a group, that names a wrong directory)
DATA_DIR = Path(str(resources.files("monitor.classify"))) / "data" / "actors"

MENTION_KINDS = ("name", "demonym", "capital", "institution", "seat", "city", "leader", "group")
ROLE_KINDS = ("role", "institution")

_PERSON = 1
_AMBIGUOUS = 2
_EXACT = 4
_WEAK = 8
_SURNAME = 16
_FLAG_NAMES = {
    "person": _PERSON,
    "ambiguous": _AMBIGUOUS,
    "exact": _EXACT,
    "weak": _WEAK,
    "surname": _SURNAME,
}
_CONTEXTUAL = _PERSON | _AMBIGUOUS | _WEAK | _SURNAME

# Length-preserving normalisation of the text before matching: curly apostrophes, odd hyphens and spaces.
_ODD_CHARACTERS = (("’", "'"), ("‘", "'"), ("ʼ", "'"), ("‐", "-"), ("‑", "-"), ("\u00a0", " "))

_PREVIOUS_WORD = re.compile(r"([A-Z][\w'-]*)(\.?)\s+$")
_NEXT_WORD = re.compile(r"\s+([A-Z][a-z][\w'-]*)")
_LONG_WORD = re.compile(r"[^\W\d_]{4,}")
_PRONOUN = re.compile(r"(?:his|her|their|its)\s+$", re.IGNORECASE)
_ROLE_MODIFIERS = (
    "top",
    "new",
    "former",
    "acting",
    "interim",
    "caretaker",
    "senior",
    "deputy",
    "then",
    "chief",
)
_ROLE_PREFIX = r"(?:'s|')? (?:(?:" + "|".join(_ROLE_MODIFIERS) + r") )?"


class ActorDataError(ValueError):
    """A malformed line in an actor data file; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Mention:
    code: str  # ISO 3166-1 alpha-2 (plus XK, PS, TW)
    start: int  # character offsets into the text given
    end: int
    text: str  # the matched surface
    kind: str  # "name" | "demonym" | "capital" | "institution" | "seat" | "leader" | "group" | "role"

    def __init__(self, code: str, start: int, end: int, text: str, kind: str) -> None:
        # what the dataclass would generate, written out: compiled by mypyc a generated __init__ runs as Python
        # code, while this one's object.__setattr__ calls (written so, not through an alias) are C field stores
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "kind", kind)


@dataclass(frozen=True, slots=True)
class _Entry:
    code: str  # "" for a `not` phrase
    kind: str  # a mention kind, or "not"
    flags: int = 0
    against: frozenset[str] = frozenset()  # `not` phrases: countries this text is then not about
    supports: frozenset[str] = frozenset()  # `not` phrases: countries this text is then about
    contextual: bool = field(init=False)  # a flagged name: context decides, on the slow path
    extendable: bool = field(init=False)  # may head a role phrase: a name or demonym

    def __post_init__(self) -> None:
        object.__setattr__(self, "contextual", bool(self.flags & _CONTEXTUAL))
        object.__setattr__(self, "extendable", self.kind in ("name", "demonym"))


@dataclass(frozen=True, slots=True)
class _Phrase:
    text: str
    entry: _Entry
    priority: int  # lower wins on a shared key: 0 curated, 2 a state's display name, 4 ISO; +1 for a variant
    where: str  # "file:line" for error messages


class Gazetteer:
    """Finds country mentions in text. Build once with `Gazetteer.load(lang)`; `find` is pure and thread-safe."""

    __slots__ = (
        "_automaton",
        "_cues",
        "_given_names",
        "_names",
        "_role_kinds",
        "_role_re",
        "_role_starts",
        "_supported_by",
        "lang",
        "version",
    )

    def __init__(
        self,
        *,
        lang: str,
        version: str,
        names: dict[str, str],
        phrases: Iterable[_Phrase],
        roles: dict[str, str],
        given_names: frozenset[str],
        neighbours: dict[str, frozenset[str]],
        cues: Iterable[_Phrase],
    ) -> None:
        self.lang = lang
        self.version = version
        self._names = names
        self._given_names = given_names
        # a mention of Russia supports "Georgia" the country: code -> the ambiguous codes it supports
        self._supported_by: dict[str, set[str]] = {}
        for code, others in neighbours.items():
            for other in others:
                self._supported_by.setdefault(other, set()).add(code)
        self._role_kinds = {role.lower(): kind for role, kind in roles.items()}
        # the first two letters of the word after a name that may begin a role: skips most regex calls
        self._role_starts = frozenset(w[:2] for w in [*self._role_kinds, *_ROLE_MODIFIERS])
        self._role_re = re.compile(_ROLE_PREFIX + f"(?P<role>{_trie_pattern(self._role_kinds)})(?!\\w)", re.I)
        self._automaton = _build_automaton(phrases)
        self._cues = _build_automaton(cues)  # read only when a flagged name needs its context

    @classmethod
    def load(cls, lang: str = "en") -> Gazetteer:
        """The gazetteer for a language, read from data/actors/<lang>.tsv once per process."""
        return _load(lang)

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self._names)

    def country_name(self, code: str) -> str:
        try:
            return self._names[code.upper()]
        except KeyError:
            raise ValueError(f"unknown country code {code!r} (not in data/actors/{self.lang}.tsv)") from None

    def find(self, text: str) -> list[Mention]:
        """Country mentions in text order: non-overlapping, longest match first, ambiguity resolved."""
        if not text:
            return []
        norm = _normalise(text)
        size = len(norm)
        hits: list[tuple[int, int, _Entry]] = []
        contextual = overlap = False
        previous_end = 0
        for end_index, (length, entry) in self._automaton.iter(norm):
            end = end_index + 1
            start = end - length
            # whole words; a phrase ending in a symbol ("US $") may touch what follows ("US $50")
            if (start and norm[start - 1].isalnum()) or (
                end < size and norm[end].isalnum() and norm[end - 1].isalnum()
            ):
                continue
            hits.append((start, end, entry))
            contextual = contextual or entry.contextual
            overlap = overlap or start < previous_end
            previous_end = end
        if not hits:
            return []
        if overlap:
            hits = _longest_first(hits)
        if contextual:
            return self._resolve(text, norm, hits)
        mentions: list[Mention] = []
        role_starts = self._role_starts
        for index, (start, end, entry) in enumerate(hits):
            kind = entry.kind
            if kind == "not":
                continue
            if entry.extendable and end < size:
                after = norm[end]
                if after == "'" or (after == " " and norm[end + 1 : end + 3].lower() in role_starts):
                    limit = hits[index + 1][0] if index + 1 < len(hits) else size
                    role = self._role_re.match(norm, end, limit)
                    if role is not None:
                        start, end, kind = self._extend(norm, start, entry, role)
            mentions.append(Mention(entry.code, start, end, text[start:end], kind))
        return mentions

    def _extend(self, norm: str, start: int, entry: _Entry, role: re.Match[str]) -> tuple[int, int, str]:
        """ "Iran" + "'s foreign minister" -> the whole phrase; "his" before a demonym joins it."""
        if entry.kind == "demonym":
            pronoun = _PRONOUN.search(norm, max(0, start - 7), start)
            if pronoun is not None:
                start = pronoun.start()
        return start, role.end(), self._role_kinds[role.group("role").lower()]

    def _resolve(self, text: str, norm: str, hits: list[tuple[int, int, _Entry]]) -> list[Mention]:
        """The slow path, for texts with `not` phrases or names flagged person or ambiguous."""
        against: set[str] = set()
        supports: set[str] = set()
        for _, _, entry in hits:
            if entry.kind == "not":
                against.update(entry.against)
                supports.update(entry.supports)
            elif not entry.flags & _CONTEXTUAL:
                supports.add(entry.code)
        size = len(norm)
        for end_index, (length, entry) in self._cues.iter(norm):
            start = end_index + 1 - length
            if (start and norm[start - 1].isalnum()) or (
                end_index + 1 < size and norm[end_index + 1].isalnum()
            ):
                continue
            against.update(entry.against)
            supports.update(entry.supports)
        for code in list(supports):
            supports.update(self._supported_by.get(code, ()))
        starts = {hit[0] for hit in hits}
        persons: set[str] = set()
        title_case: bool | None = None
        mentions: list[Mention] = []
        for index, (start, end, entry) in enumerate(hits):
            if entry.kind == "not":
                continue
            if entry.flags & _SURNAME and self._after_given_name(norm, start):
                continue  # "Frank Rubio" the astronaut, not the secretary of state
            if entry.flags & _PERSON:
                surface = norm[start:end]
                if surface in persons:
                    continue
                if title_case is None:
                    title_case = _is_title_case(norm)
                if self._is_person(norm, start, end, starts, title_case):
                    persons.add(surface)
                    continue
            unsupported = entry.flags & _CONTEXTUAL and entry.code not in supports
            if unsupported and (entry.code in against or entry.flags & _WEAK):
                continue
            kind = entry.kind
            if entry.extendable:
                limit = hits[index + 1][0] if index + 1 < len(hits) else size
                role = self._role_re.match(norm, end, limit)
                if role is not None:
                    start, end, kind = self._extend(norm, start, entry, role)
            mentions.append(Mention(entry.code, start, end, text[start:end], kind))
        return mentions

    def _after_given_name(self, norm: str, start: int) -> bool:
        previous = _PREVIOUS_WORD.search(norm, max(0, start - 40), start)
        if previous is None:
            return False
        word = previous.group(1)
        return word in self._given_names or (
            len(word) == 1 and bool(previous.group(2))
        )  # "Michael B. Jordan"

    def _is_person(self, norm: str, start: int, end: int, starts: set[int], title_case: bool) -> bool:
        if self._after_given_name(norm, start):
            return True
        if title_case:
            return False
        following = _NEXT_WORD.match(norm, end)
        if following is None or following.start(1) in starts:
            return False
        return self._role_re.match(norm, end) is None


def country_name(code: str) -> str:
    """Short display name of a country code: "IR" -> "Iran", "KR" -> "South Korea"."""
    return Gazetteer.load("en").country_name(code)


@functools.cache
def _load(lang: str) -> Gazetteer:
    path = DATA_DIR / f"{lang}.tsv"
    if not path.is_file():
        raise ActorDataError(f"no actor data for language {lang!r}: {path} does not exist")
    return _parse(path, lang)


def _parse(path: Path, lang: str) -> Gazetteer:
    version = ""
    names: dict[str, str] = {}
    phrases: list[_Phrase] = []
    roles: dict[str, str] = {}
    given: set[str] = set()
    neighbours: dict[str, frozenset[str]] = {}
    cues: list[_Phrase] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        where = f"{path.name}:{number}"
        fields = line.split("\t")
        record = fields[0]
        if record == "version":
            _expect(fields, 2, 2, where)
            version = fields[1]
        elif record == "state":
            _expect(fields, 3, 5, where)
            code, display = _code(fields[1], where), fields[2]
            if code in names:
                raise ActorDataError(f"{where}: state {code} listed twice")
            names[code] = display
            phrases += _phrases(display, _Entry(code, "name"), where, priority=2)
            if len(fields) > 3:
                phrases += _phrases(fields[3], _Entry(code, "demonym"), where)
            if len(fields) > 4:
                phrases += _phrases(fields[4], _Entry(code, "capital"), where)
        elif record in MENTION_KINDS:
            _expect(fields, 3, 4, where)
            flags = 0
            for flag in filter(None, (fields[3] if len(fields) > 3 else "").split(",")):
                if flag not in _FLAG_NAMES:
                    raise ActorDataError(f"{where}: unknown flag {flag!r} (known: {', '.join(_FLAG_NAMES)})")
                flags |= _FLAG_NAMES[flag]
            phrases += _phrases(fields[2], _Entry(_code(fields[1], where), record, flags), where)
        elif record in ("not", "cue"):
            _expect(fields, 3, 3, where)
            signed = [c.strip() for c in fields[1].split(",") if c.strip() not in ("", "-")]
            against = frozenset(_code(c[1:], where) for c in signed if c.startswith("-"))
            supports = frozenset(_code(c[1:], where) for c in signed if c.startswith("+"))
            if len(against) + len(supports) != len(signed):
                raise ActorDataError(f"{where}: codes of a `{record}` line must be signed like -GE or +GE")
            if record == "cue" and not signed:
                raise ActorDataError(f"{where}: a `cue` line needs signed codes like -GE or +GE")
            entry = _Entry("", "not", 0, against, supports)
            (cues if record == "cue" else phrases).extend(_phrases(fields[2], entry, where))
        elif record == "role":
            _expect(fields, 3, 3, where)
            if fields[1] not in ROLE_KINDS:
                raise ActorDataError(f"{where}: role kind must be one of {ROLE_KINDS}, got {fields[1]!r}")
            for role in _split(fields[2]):
                roles[role] = fields[1]
        elif record == "neighbours":
            _expect(fields, 3, 3, where)
            neighbours[_code(fields[1], where)] = frozenset(_code(c, where) for c in _split(fields[2]))
        elif record == "given":
            _expect(fields, 2, 2, where)
            given.update(_split(fields[1]))
        else:
            raise ActorDataError(f"{where}: unknown record {record!r}")
    if not version:
        raise ActorDataError(f"{path.name}: missing the `version` line")
    unknown = {p.entry.code for p in phrases if p.entry.code and p.entry.code not in names}
    unknown.update(c for code, others in neighbours.items() for c in {code, *others} if c not in names)
    if unknown:
        raise ActorDataError(f"{path.name}: codes without a `state` line: {', '.join(sorted(unknown))}")
    phrases += _iso_phrases(names, lang)
    return Gazetteer(
        lang=lang,
        version=version,
        names=names,
        phrases=phrases,
        roles=roles,
        given_names=frozenset(given),
        neighbours=neighbours,
        cues=cues,
    )


def _expect(fields: list[str], low: int, high: int, where: str) -> None:
    if not low <= len(fields) <= high or any(not f.strip() for f in fields[:low]):
        raise ActorDataError(f"{where}: expected {low} to {high} tab-separated fields, got {len(fields)}")


def _code(text: str, where: str) -> str:
    code = text.strip()
    if len(code) != 2 or not code.isascii() or not code.isupper():
        raise ActorDataError(f"{where}: {text!r} is not an upper-case two-letter country code")
    return code


def _split(field: str) -> list[str]:
    return [_normalise(p.strip()) for p in field.split("|") if p.strip()]


def _phrases(field: str, entry: _Entry, where: str, priority: int = 0) -> list[_Phrase]:
    return [_Phrase(text, entry, priority, where) for text in _split(field)]


def _iso_phrases(names: dict[str, str], lang: str) -> list[_Phrase]:
    """Names, official names and common names from ISO 3166 (pycountry), translated when lang is not English."""
    translate = _translator(lang).gettext
    phrases: list[_Phrase] = []
    for country in _iso_countries():
        code = country.get("alpha_2", "")
        if code not in names:  # territories; XK is user-assigned and not in ISO 3166 at all
            continue
        for attribute in ("name", "official_name", "common_name"):
            value = country.get(attribute)
            if not value:
                continue
            for name in _iso_forms(translate(value)):
                phrases.append(_Phrase(name, _Entry(code, "name"), 4, f"pycountry {code}.{attribute}"))
    return phrases


def _pycountry_dir() -> Path:
    """pycountry's data folder, found without importing it (its import costs 0.2 s in importlib.metadata)."""
    spec = importlib.util.find_spec("pycountry")
    if spec is None or spec.origin is None:
        raise ActorDataError("the pycountry package is not installed (pip install pycountry)")
    return Path(spec.origin).parent


def _iso_countries() -> list[dict[str, str]]:
    path = _pycountry_dir() / "databases" / "iso3166-1.json"
    countries: list[dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))["3166-1"]
    return countries


def _translator(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    locales = _pycountry_dir() / "locales"
    return gettext.translation("iso3166-1", str(locales), languages=[lang], fallback=True)


def _iso_forms(name: str) -> list[str]:
    """ "Iran, Islamic Republic of" -> ["Iran"]; "Holy See (Vatican City State)" -> both parts."""
    forms: list[str] = []
    head, _, tail = name.partition("(")
    for part in (head, tail.rstrip(")")):
        part = part.split(",")[0].strip()
        if part.lower().startswith("the "):
            part = part[4:]
        if part:
            forms.append(part)
    return forms


def _variants(text: str, flags: int) -> set[str]:
    """The surfaces a phrase matches: as written, Title Case, UPPER CASE, without accents, hyphen as space."""
    bases = {text}
    if not text.isascii():
        bases.add("".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)))
    if "-" in text:
        bases.update([b.replace("-", " ") for b in bases])
    if text.isupper() or not any(c.islower() for c in text):  # an acronym: case-sensitive
        return bases
    out = set(bases)
    for base in bases:
        out.add(" ".join([w[:1].upper() + w[1:] for w in base.split(" ")]))
        if not flags & _EXACT:
            out.add(base.upper())
    return out


def _trie_pattern(phrases: Iterable[str]) -> str:
    """One regex alternation factored by common prefixes: compiles in milliseconds, matches the longest."""
    root: dict[str, dict[str, Any]] = {}
    for phrase in phrases:
        node = root
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, dict[str, Any]]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(root)


def _build_automaton(phrases: Iterable[_Phrase]) -> ahocorasick.Automaton:
    best: dict[str, tuple[int, _Phrase]] = {}
    for phrase in phrases:
        for key in _variants(phrase.text, phrase.entry.flags):
            priority = phrase.priority + (key != phrase.text)
            current = best.get(key)
            if current is None or priority < current[0]:
                best[key] = (priority, phrase)
            elif priority == current[0] == 0 and current[1].entry != phrase.entry:
                other = current[1]
                if phrase.entry.kind == other.entry.kind == "not":  # one cue for several names
                    merged = _Entry(
                        "",
                        "not",
                        against=phrase.entry.against | other.entry.against,
                        supports=phrase.entry.supports | other.entry.supports,
                    )
                    best[key] = (0, _Phrase(phrase.text, merged, 0, phrase.where))
                    continue
                raise ActorDataError(
                    f"{phrase.where}: {phrase.text!r} is {_describe(phrase.entry)}, "
                    f"but {other.where} says {_describe(other.entry)}"
                )
    automaton = ahocorasick.Automaton()
    for key, (_, phrase) in best.items():
        automaton.add_word(key, (len(key), phrase.entry))
    automaton.make_automaton()
    return automaton


def _describe(entry: _Entry) -> str:
    return "a `not` phrase" if entry.kind == "not" else f"{entry.code} {entry.kind}"


def _longest_first(hits: list[tuple[int, int, _Entry]]) -> list[tuple[int, int, _Entry]]:
    chosen: list[tuple[int, int, _Entry]] = []
    for hit in sorted(hits, key=lambda h: (h[0] - h[1], h[0])):
        if all(hit[1] <= c[0] or hit[0] >= c[1] for c in chosen):
            chosen.append(hit)
    chosen.sort(key=lambda h: h[0])
    return chosen


def _normalise(text: str) -> str:
    """Curly apostrophes, odd hyphens and no-break spaces as plain ones; the length never changes."""
    if text.isascii():
        return text
    for odd, plain in _ODD_CHARACTERS:
        if odd in text:
            text = text.replace(odd, plain)
    return text


def _is_title_case(text: str) -> bool:
    """Headline style ("Iran Warns Jordan Over Airspace"), where a capital letter says little."""
    words: list[str] = _LONG_WORD.findall(text)
    return sum(w[0].islower() for w in words) <= 0.15 * len(words)
