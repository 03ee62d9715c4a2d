"""Inflections generated from lemmas, so data files list "expel", not "expels, expelled, expelling".

Per language: English rules here; a language without rules gets its phrases as written (list the forms).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

_VOWELS = set("aeiou")


def english_verb(lemma: str, irregular: Mapping[str, tuple[str, ...]]) -> set[str]:
    if lemma in irregular:
        return {lemma, *irregular[lemma]}
    forms = {lemma}
    if lemma.endswith("e"):
        forms |= {lemma + "s", lemma + "d", lemma[:-1] + "ing"}
    elif lemma.endswith("y") and len(lemma) > 2 and lemma[-2] not in _VOWELS:
        forms |= {lemma[:-1] + "ies", lemma[:-1] + "ied", lemma + "ing"}
    elif lemma.endswith(("s", "sh", "ch", "x", "z", "o")):
        forms |= {lemma + "es", lemma + "ed", lemma + "ing"}
    else:
        forms |= {lemma + "s", lemma + "ed", lemma + "ing"}
        if (
            len(lemma) >= 3
            and lemma[-1] not in _VOWELS | {"w", "x", "y"}
            and lemma[-2] in _VOWELS
            and lemma[-3] not in _VOWELS
        ):
            forms |= {lemma + lemma[-1] + "ed", lemma + lemma[-1] + "ing"}
    return forms


def english_noun(word: str) -> set[str]:
    if word.endswith("y") and len(word) > 2 and word[-2] not in _VOWELS:
        return {word, word[:-1] + "ies"}
    if word.endswith(("s", "sh", "ch", "x", "z")):
        return {word, word + "es"}
    return {word, word + "s"}


def expand(phrase: str, pos: str, lang: str, irregular: Mapping[str, tuple[str, ...]]) -> set[str]:
    """All surface forms of a phrase: pos "v" inflects the first word, "n" the last, "-" none."""
    words = phrase.split()
    if lang != "en" or pos not in ("v", "n", "vn") or not words:
        return {phrase}
    heads: set[str] = {words[0]}
    tails: set[str] = {words[-1]}
    if "v" in pos:
        heads = english_verb(words[0], irregular)
    if "n" in pos:
        tails = english_noun(words[-1])
    if len(words) == 1:
        return heads | tails
    middle = words[1:-1]
    return {" ".join([h, *middle, t]) for h in heads for t in tails}


Expander = Callable[[str, str, str, Mapping[str, tuple[str, ...]]], set[str]]
