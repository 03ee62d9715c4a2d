"""Train the classifier's linear second stage from the labeled dev set, reproducibly, in pure Python.

    .venv/bin/python scripts/train_classifier.py [--input ../shared/eval/dev.jsonl] [--cv 5] [--output PATH]

Multinomial logistic regression with AdaGrad and L2, features from monitor.classify.model.features (the same
code inference uses); several runs over different shuffles (fixed seeds) averaged into one linear model, and a
constant added to the neutral logit. Prints repeated k-fold cross-validated event macro-F1 of the model (each
fold's model written, read back and applied exactly as the classifier applies it: rounded and pruned weights,
headline and lead combined by position weight, the lexicon prior, the negated-only rule) and of the lexicon
alone, then trains on all items and writes monitor/classify/data/model/en.json. Never train on test.jsonl.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from monitor.classify import events, lexicon, model
from monitor.classify.actors import Gazetteer
from monitor.classify.classifier import _direction_of, read_model
from monitor.classify.events import Reading
from monitor.classify.model import CLASSES, PRIOR_WEIGHT, LinearModel, features, lexicon_prior, softmax
from monitor.domain import Direction

ROOT = Path(__file__).resolve().parents[1]
# Chosen by 5-fold CV on dev repeated over 3 splits (docs/classifier.md lists every configuration tried).
EPOCHS = 8
RATE = 0.2  # AdaGrad step (0.5 before: rare n-grams got large weights from their first update)
L2 = 3e-2  # on word n-grams
LEX_L2 = 1e-4  # on the lexicon's features: kept light so the model leans on them rather than on words
MIN_COUNT = 3  # n-grams seen fewer times get no weight (2 before)
MODELS = 5  # runs over different shuffles, their weights averaged
NEUTRAL_OFFSET = 0.3  # added to the neutral logit (the bias): the rare class is under-predicted otherwise
PRUNE = 1e-3
SEED = 13
REPEATS = 3  # cross-validation splits, averaged

Row = tuple[dict[str, float], int]


def load_items(path: Path) -> list[tuple[Reading, int]]:
    lx = lexicon.load("en")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        reading = events.read(lx, r["title"], r.get("summary", ""))
        out.append((reading, CLASSES.index(Direction(r["event_direction"]))))
    return out


def train_one(
    rows: list[Row], seed: int, args: argparse.Namespace
) -> tuple[dict[str, list[float]], list[float]]:
    """One AdaGrad run. The lexicon prior is part of the logits in training as at inference, so the n-grams
    learn what the lexicon misses instead of re-learning (and overruling) what it already says."""
    counts: Counter[str] = Counter(f for feats, _ in rows for f in feats)
    keep = {f for f, n in counts.items() if n >= args.min_count or f.startswith("lex:")}
    weights: dict[str, list[float]] = {}
    grad_sq: dict[str, list[float]] = {}
    bias = [0.0, 0.0, 0.0]
    bias_sq = [1e-8] * 3
    rng = random.Random(seed)
    order = list(range(len(rows)))
    rate, l2 = args.rate, args.l2
    for _ in range(args.epochs):
        rng.shuffle(order)
        for i in order:
            feats, gold = rows[i]
            active = [(f, v) for f, v in feats.items() if f in keep]
            scores = [b + p for b, p in zip(bias, lexicon_prior(feats, args.prior), strict=True)]
            for f, v in active:
                w = weights.get(f)
                if w is not None:
                    for k in range(3):
                        scores[k] += w[k] * v
            probs = softmax(scores)
            for k in range(3):
                g = probs[k] - (1.0 if k == gold else 0.0)
                bias_sq[k] += g * g
                bias[k] -= rate * g / math.sqrt(bias_sq[k])
                for f, v in active:
                    w = weights.setdefault(f, [0.0, 0.0, 0.0])
                    sq = grad_sq.setdefault(f, [1e-8, 1e-8, 1e-8])
                    gf = g * v + (LEX_L2 if f.startswith("lex:") else l2) * w[k]
                    sq[k] += gf * gf
                    w[k] -= rate * gf / math.sqrt(sq[k])
    return weights, bias


def train(rows: list[Row], args: argparse.Namespace) -> dict[str, Any]:
    """The model file's content: the runs' weights averaged, rounded and pruned; the neutral offset in the bias."""
    total: dict[str, list[float]] = {}
    bias = [0.0, 0.0, 0.0]
    for m in range(args.models):
        weights, b = train_one(rows, SEED + m, args)
        for f, w in weights.items():
            acc = total.setdefault(f, [0.0, 0.0, 0.0])
            for k in range(3):
                acc[k] += w[k] / args.models
        for k in range(3):
            bias[k] += b[k] / args.models
    bias[2] += args.neutral_offset
    kept = {f: [round(x, 4) for x in w] for f, w in sorted(total.items()) if max(abs(x) for x in w) >= PRUNE}
    return {
        "version": f"{lexicon.load('en').version}+lr",
        "epochs": args.epochs,
        "rate": args.rate,
        "l2": args.l2,
        "lex_l2": LEX_L2,
        "min_count": args.min_count,
        "models": args.models,
        "neutral_offset": args.neutral_offset,
        "prior": args.prior,
        "trained_on": args.input.name,
        "classes": [c.value for c in CLASSES],
        "bias": [round(x, 4) for x in bias],
        "weights": kept,
    }


def dump(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n"


def event_direction(lm: LinearModel, reading: Reading) -> Direction:
    """The classifier's event direction from this model (classifier.read_model, as `classify` uses it)."""
    return read_model(lm, reading)[0]


def macro_f1(pairs: list[tuple[int, int]]) -> tuple[float, list[float]]:
    f1s = []
    for c in range(3):
        tp = sum(1 for g, p in pairs if g == c and p == c)
        fp = sum(1 for g, p in pairs if g != c and p == c)
        fn = sum(1 for g, p in pairs if g == c and p != c)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / 3, f1s


def cross_validate(
    items: list[tuple[Reading, int]], args: argparse.Namespace
) -> tuple[float, list[float], list[float], float]:
    """Macro-F1 averaged over `args.repeats` shuffled k-fold splits; per-class F1, per-split macro-F1, and the
    lexicon alone (its own reading, no model) on the same items."""
    rows = [(features(reading), gold) for reading, gold in items]
    states = _first_states(items) if args.cv_by_state else []
    per_split: list[float] = []
    per_class = [0.0, 0.0, 0.0]
    for r in range(args.repeats):
        rng = random.Random(SEED + 100 * r)
        idx = list(range(len(rows)))
        rng.shuffle(idx)
        folds = [idx[fold :: args.cv] for fold in range(args.cv)]
        if states:
            # every item of a state in one fold: the held-out items name states the fold's model never saw
            codes = sorted(set(filter(None, states)))
            rng.shuffle(codes)
            fold_of = {code: i % args.cv for i, code in enumerate(codes)}
            folds = [[i for i in idx if fold_of.get(states[i], i % args.cv) == f] for f in range(args.cv)]
        pairs: list[tuple[int, int]] = []
        for fold in range(args.cv):
            held = set(folds[fold])
            data = train([rows[i] for i in idx if i not in held], args)
            lm = model.parse(dump(data), "cross-validation fold")
            for i in sorted(held):
                reading, gold = items[i]
                pairs.append((gold, CLASSES.index(event_direction(lm, reading))))
        f1, classes = macro_f1(pairs)
        per_split.append(f1)
        per_class = [a + b / args.repeats for a, b in zip(per_class, classes, strict=True)]
    lex, _ = macro_f1([(gold, CLASSES.index(_direction_of(reading.net))) for reading, gold in items])
    return sum(per_split) / len(per_split), per_class, per_split, lex


def _first_states(items: list[tuple[Reading, int]]) -> list[str]:
    """The first state each item's headline names ("" for none), for --cv-by-state."""
    gazetteer = Gazetteer.load("en")
    out = []
    for reading, _ in items:
        found = gazetteer.find(reading.segments[0].text)
        out.append(found[0].code if found else "")
    return out


def options() -> argparse.ArgumentParser:
    """The script's options (scripts/train_transformer.py trains fold models with their defaults)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "monitor" / "classify" / "data" / "model" / "en.json"
    )
    parser.add_argument("--l2", type=float, default=L2, help=f"L2 penalty on n-grams (default {L2})")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"passes over the data (default {EPOCHS})")
    parser.add_argument("--rate", type=float, default=RATE, help=f"AdaGrad step (default {RATE})")
    parser.add_argument(
        "--min-count",
        type=int,
        default=MIN_COUNT,
        help=f"least occurrences of an n-gram (default {MIN_COUNT})",
    )
    parser.add_argument("--models", type=int, default=MODELS, help=f"runs averaged (default {MODELS})")
    parser.add_argument(
        "--neutral-offset",
        type=float,
        default=NEUTRAL_OFFSET,
        help=f"added to the neutral bias (default {NEUTRAL_OFFSET})",
    )
    parser.add_argument(
        "--prior",
        type=float,
        default=PRIOR_WEIGHT,
        help="lexicon prior weight, recorded in the model file",
    )
    parser.add_argument("--cv", type=int, default=5, help="folds of cross-validation to report (0: none)")
    parser.add_argument(
        "--repeats", type=int, default=REPEATS, help=f"cross-validation splits averaged (default {REPEATS})"
    )
    parser.add_argument(
        "--cv-by-state",
        action="store_true",
        help="put all items whose headline first names the same state in one fold (unseen states)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = options().parse_args(argv)
    if "test" in args.input.name:
        print("refusing to train on a test file", file=sys.stderr)
        return 2
    items = load_items(args.input)
    if args.cv > 1:
        f1, classes, splits, lex = cross_validate(items, args)
        print(
            f"{args.cv}-fold CV x {args.repeats} event macro-F1: model {f1:.3f} "
            f"(esc {classes[0]:.3f}, de-esc {classes[1]:.3f}, neutral {classes[2]:.3f}; "
            f"splits {', '.join(f'{x:.3f}' for x in splits)}), lexicon alone {lex:.3f}"
        )
    data = train([(features(reading), gold) for reading, gold in items], args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(dump(data), encoding="utf-8")
    size = args.output.stat().st_size // 1024
    print(f"wrote {args.output} ({len(data['weights'])} features, {size} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
