"""The learned second stage: a linear (multinomial logistic) model over word n-grams and lexicon signals.

Trained by scripts/train_classifier.py from the dev set only; shipped as data/model/<lang>.json; evaluated here in
pure Python (a dict lookup per feature). The lexicon's readings are features, so the model learns how far to
trust each kind of phrase and context, and the n-grams cover wording the lexicon lacks.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources

from monitor.classify.events import Reading
from monitor.domain import Direction

CLASSES = (Direction.ESCALATION, Direction.DE_ESCALATION, Direction.NEUTRAL)
SCALED = ("lex:esc", "lex:dee")  # the only features whose value is not 1
# How far the lexicon's own reading pulls the model, in logits at full strength; the trainer records the value
# it used in the model file, and inference uses that one.
PRIOR_WEIGHT = 3.0


Row = tuple[float, float, float]
# lexical_features of a sentence without event phrases (before the neutral-domain flag), and its prior row
_QUIET_FEATURES: Mapping[str, float] = {
    "lex:bias": 1.0,
    "lex:esc": 0.0,
    "lex:dee": 0.0,
    "lex:net:none": 1.0,
    "lex:nohit": 1.0,
}
_QUIET_PRIOR: Row = (0.0, 0.0, 0.0)


class ModelError(ValueError):
    """The model file is missing or malformed."""


@dataclass(frozen=True, slots=True)
class LinearModel:
    version: str
    weights: dict[str, tuple[float, float, float]]  # a dict, not a Mapping: compiled, a C dict lookup
    bias: tuple[float, float, float]
    prior: float = PRIOR_WEIGHT
    # The bigram rows again, keyed by the pair of words: scoring a sentence then needs no "a b" strings.
    bigrams: dict[tuple[str, str], tuple[float, float, float]] = field(default_factory=dict)
    # Derived once from the weights, for segment_scores: the rows of the two real-valued features, and the
    # lexical rows of a sentence without event phrases (which are the same for every such sentence), without
    # and with the neutral-domain flag.
    _scaled: tuple[Row | None, Row | None] = field(init=False, repr=False, compare=False)
    _quiet: tuple[tuple[Row, ...], tuple[Row, ...]] = field(init=False, repr=False, compare=False)
    # The bigram rows by first word, then second: a sentence's bigrams are looked up without a pair tuple each.
    _follow: dict[str, dict[str, Row]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        get = self.weights.get
        object.__setattr__(self, "_scaled", (get(SCALED[0]), get(SCALED[1])))
        quiet: list[tuple[Row, ...]] = []
        for neutral_domain in (False, True):
            lexical = {**_QUIET_FEATURES, **({"lex:neutral_domain": 1.0} if neutral_domain else {})}
            rows: list[Row] = list(filter(None, map(get, lexical)))
            self._correct(rows, lexical)
            quiet.append(tuple(rows))
        object.__setattr__(self, "_quiet", (quiet[0], quiet[1]))
        follow: dict[str, dict[str, Row]] = {}
        for (first, second), row in self.bigrams.items():
            follow.setdefault(first, {})[second] = row
        object.__setattr__(self, "_follow", follow)

    def scores(self, features: Mapping[str, float]) -> list[float]:
        """Bias + lexicon prior + sum of weight x value, column by column (_column_sums)."""
        get = self.weights.get
        rows: list[tuple[float, float, float]] = [self.bias, _prior(features, self.prior)]
        rows.extend(filter(None, map(get, features)))  # every feature at value 1 ...
        self._correct(rows, features)
        return _column_sums(rows)

    def segment_scores(self, reading: Reading, segment: int) -> list[float]:
        """`scores(features(reading, segment))`, the same rows summed in the same order (so the same floats),
        without building the n-gram strings and the feature dict: the classifier's hot path.

        Plain loops with three running sums: compiled by mypyc they are C double additions, in the order
        `sum` adds the columns of `scores`' rows (0.0 + bias + prior + unigrams + bigrams + lexical rows)."""
        grams = reading.segments[segment].tokens.grams
        weights = self.weights
        quiet = True  # no event phrase in this sentence: the lexical rows are the precomputed ones
        for h in reading.hits:
            if h.segment == segment:
                quiet = False
                break
        lexical: dict[str, float] = {}
        if quiet:
            prior = _QUIET_PRIOR
        else:
            lexical = lexical_features(reading, segment)
            prior = _prior(lexical, self.prior)
        bias = self.bias
        c0 = 0.0 + bias[0] + prior[0]
        c1 = 0.0 + bias[1] + prior[1]
        c2 = 0.0 + bias[2] + prior[2]
        words = dict.fromkeys(grams)
        for word in words:
            row = weights.get(word)
            if row is not None:
                c0 += row[0]
                c1 += row[1]
                c2 += row[2]
        # A bigram can only repeat where a word does (its second word): in a sentence without a repeated word
        # (most of them) the bigrams are already distinct and need no set to deduplicate them.
        follow = self._follow
        seen: set[tuple[str, str]] | None = None if len(words) == len(grams) else set()
        previous = "<s>"
        for word in grams:
            after = follow.get(previous)
            if seen is not None:
                pair = (previous, word)
                if pair in seen:
                    previous = word
                    continue
                seen.add(pair)
            previous = word
            if after is not None:
                row = after.get(word)
                if row is not None:
                    c0 += row[0]
                    c1 += row[1]
                    c2 += row[2]
        if quiet:
            for row in self._quiet[reading.neutral_domain]:
                c0 += row[0]
                c1 += row[1]
                c2 += row[2]
            return [c0, c1, c2]
        for key in lexical:
            row = weights.get(key)
            if row is not None:
                c0 += row[0]
                c1 += row[1]
                c2 += row[2]
        for w, v in zip(self._scaled, (lexical["lex:esc"], lexical["lex:dee"]), strict=True):  # as _correct
            if w is not None and v != 1.0:
                c0 += w[0] * (v - 1.0)
                c1 += w[1] * (v - 1.0)
                c2 += w[2] * (v - 1.0)
        return [c0, c1, c2]

    def _correct(self, rows: list[tuple[float, float, float]], features: Mapping[str, float]) -> None:
        """The few real-valued features: their rows were added at value 1, add weight x (value - 1)."""
        get = self.weights.get
        for k in SCALED:
            v = features.get(k)
            w = get(k)
            if v is not None and w is not None and v != 1.0:
                rows.append((w[0] * (v - 1.0), w[1] * (v - 1.0), w[2] * (v - 1.0)))

    def bias_scores(self) -> list[float]:
        return list(self.bias)

    def probabilities(self, features: Mapping[str, float]) -> list[float]:
        return softmax(self.scores(features))


def _column_sums(rows: list[Row]) -> list[float]:
    """Each class's column summed top to bottom, from 0.0, one addition after another: the same additions as
    segment_scores makes (and as `sum` makes in Python 3.11; from 3.12 `sum` compensates, so neither uses it)."""
    c0 = c1 = c2 = 0.0
    for row in rows:
        c0 += row[0]
        c1 += row[1]
        c2 += row[2]
    return [c0, c1, c2]


def _prior(features: Mapping[str, float], weight: float) -> tuple[float, float, float]:
    """`lexicon_prior` as a row, without the calls of max and min (it runs for every sentence scored)."""
    net = features.get("lex:esc", 0.0) - features.get("lex:dee", 0.0)
    net = 1.0 if net > 1.0 else -1.0 if net < -1.0 else net
    return (weight * net if net > 0.0 else 0.0, weight * -net if net < 0.0 else 0.0, 0.0)


def lexicon_prior(features: Mapping[str, float], weight: float = PRIOR_WEIGHT) -> list[float]:
    """Logit offsets from the lexicon's net reading, so n-grams learned on a small set cannot overrule a clear
    phrase they never saw ("fire on", "summons") on wording unlike the training data."""
    net = max(-1.0, min(1.0, features.get("lex:esc", 0.0) - features.get("lex:dee", 0.0)))
    return [weight * max(net, 0.0), weight * max(-net, 0.0), 0.0]


def softmax(scores: list[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def mix(
    p: tuple[float, float, float], q: tuple[float, float, float], weight: float
) -> tuple[float, float, float]:
    """Two readings' probabilities mixed geometrically: softmax((1 - weight) log p + weight log q)."""
    a = [
        (1.0 - weight) * math.log(max(x, 1e-9)) + weight * math.log(max(y, 1e-9))
        for x, y in zip(p, q, strict=True)
    ]
    m = softmax(a)
    return (m[0], m[1], m[2])


def features(reading: Reading, segment: int = 0) -> dict[str, float]:
    """Word uni- and bigrams of one segment (headline or a summary sentence) plus the lexicon's reading of it.

    The model is trained on single sentences, so a headline and its lead are scored one at a time and the
    classifier combines the two by position weight.
    """
    # Unigrams are the words themselves, bigrams "a b"; lexicon features are "lex:..." (no token has a colon).
    grams = reading.segments[segment].tokens.grams
    feats: dict[str, float] = dict.fromkeys(grams, 1.0)
    feats.update(dict.fromkeys(map(" ".join, zip(("<s>", *grams), grams, strict=False)), 1.0))
    feats.update(lexical_features(reading, segment))
    return feats


def lexical_features(reading: Reading, segment: int = 0) -> dict[str, float]:
    """The lexicon's reading of one segment as features: phrase roots by context, the net, the dominant root."""
    feats: dict[str, float] = {"lex:bias": 1.0}
    esc = dee = 0.0
    best = None
    for h in reading.hits:
        if h.segment != segment:
            continue
        v = h.value / h.position if h.position else 0.0
        if v > 0:
            esc += v
        else:
            dee -= v
        code = h.phrase.cameo
        # statements and appeals (roots 01-02) by their code: "say" (010) is in most sentences, a pessimistic
        # comment (012) or a denial (016) is the signal
        root = code[:2] if code[:1] != "0" or code[1:2] > "2" else code[:3]
        if h.negated:
            feats["lex:neg:" + root] = 1.0
        elif h.background:
            feats["lex:bg:" + root] = 1.0
        else:
            feats["lex:root:" + root] = 1.0
        if h.hedged:
            feats["lex:hedged"] = 1.0
        if v != 0 and (best is None or abs(v) > best[0]):
            best = (abs(v), root)
    feats["lex:esc"] = (20.0 if esc > 20.0 else esc) / 10.0  # min(esc, 20.0), without the builtin's call
    feats["lex:dee"] = (20.0 if dee > 20.0 else dee) / 10.0
    net = esc - dee
    feats["lex:net:" + ("esc" if net > 0.4 else "dee" if net < -0.4 else "none")] = 1.0
    if best is not None:
        feats["lex:dom:" + best[1]] = 1.0
    else:
        feats["lex:nohit"] = 1.0
    if reading.neutral_domain:
        feats["lex:neutral_domain"] = 1.0
    return feats


def parse(text: str, name: str) -> LinearModel:
    try:
        data = json.loads(text)
        classes = tuple(Direction(c) for c in data["classes"])
        if classes != CLASSES:
            raise ModelError(f"{name}: classes must be {[c.value for c in CLASSES]}")
        weights = {k: (float(v[0]), float(v[1]), float(v[2])) for k, v in data["weights"].items()}
        b = data["bias"]
        prior = float(data.get("prior", PRIOR_WEIGHT))
        bigrams = {(k.split(" ")[0], k.split(" ")[1]): w for k, w in weights.items() if k.count(" ") == 1}
        return LinearModel(
            str(data["version"]), weights, (float(b[0]), float(b[1]), float(b[2])), prior, bigrams
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelError(f"{name}: malformed model file ({exc})") from exc


@functools.cache
def load(lang: str = "en") -> LinearModel | None:
    """The shipped model of a language, or None when the language has none (the lexicon decides alone)."""
    path = resources.files("monitor.classify") / "data" / "model" / f"{lang}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return parse(text, f"data/model/{lang}.json")
