"""Train the classifier's linear second stage from the labeled dev set, reproducibly, in pure Python.

    .venv/bin/python scripts/train_classifier.py [--input ../shared/eval/dev.jsonl] [--cv 5] [--output PATH]

Multinomial logistic regression with AdaGrad and L2, fixed seed, features from monitor.classify.model.features
(the same code inference uses). Prints k-fold cross-validated event macro-F1 of the model and of the lexicon
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

from monitor.classify import events, lexicon
from monitor.classify.model import CLASSES, PRIOR_WEIGHT, features, lexicon_prior, softmax
from monitor.domain import Direction

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 8
RATE = 0.5
L2 = 3e-2  # on word n-grams (5-fold CV: 1e-3 0.794, 1e-2 0.810, 3e-2 0.811, 1e-1 0.795)
LEX_L2 = 1e-4  # on the lexicon's features: kept light so the model leans on them rather than on words
MIN_COUNT = 2
PRUNE = 1e-3
SEED = 13


def load_rows(path: Path) -> list[tuple[dict[str, float], int]]:
    lx = lexicon.load("en")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        reading = events.read(lx, r["title"], r.get("summary", ""))
        out.append((features(reading), CLASSES.index(Direction(r["event_direction"]))))
    return out


def train(
    rows: list[tuple[dict[str, float], int]],
    epochs: int = EPOCHS,
    l2: float = L2,
    balance: float = 0.0,
    prior: float = PRIOR_WEIGHT,
) -> tuple[dict[str, list[float]], list[float]]:
    """balance: 0 = plain loss, 1 = classes weighted inversely to their frequency (helps the rare neutral).
    prior: the lexicon prior is part of the logits in training as at inference, so the n-grams learn what the
    lexicon misses instead of re-learning (and overruling) what it already says."""
    counts: Counter[str] = Counter(f for feats, _ in rows for f in feats)
    freq = Counter(gold for _, gold in rows)
    class_weight = [(len(rows) / (3 * max(1, freq[k]))) ** balance for k in range(3)]
    keep = {f for f, n in counts.items() if n >= MIN_COUNT or f.startswith("lex:")}
    weights: dict[str, list[float]] = {}
    grad_sq: dict[str, list[float]] = {}
    bias = [0.0, 0.0, 0.0]
    bias_sq = [1e-8] * 3
    rng = random.Random(SEED)
    order = list(range(len(rows)))
    for _ in range(epochs):
        rng.shuffle(order)
        for i in order:
            feats, gold = rows[i]
            active = [(f, v) for f, v in feats.items() if f in keep]
            scores = [b + p for b, p in zip(bias, lexicon_prior(feats, prior), strict=True)]
            for f, v in active:
                w = weights.get(f)
                if w is not None:
                    for k in range(3):
                        scores[k] += w[k] * v
            probs = softmax(scores)
            for k in range(3):
                g = (probs[k] - (1.0 if k == gold else 0.0)) * class_weight[gold]
                bias_sq[k] += g * g
                bias[k] -= RATE * g / math.sqrt(bias_sq[k])
                for f, v in active:
                    w = weights.setdefault(f, [0.0, 0.0, 0.0])
                    sq = grad_sq.setdefault(f, [1e-8, 1e-8, 1e-8])
                    gf = g * v + (LEX_L2 if f.startswith("lex:") else l2) * w[k]
                    sq[k] += gf * gf
                    w[k] -= RATE * gf / math.sqrt(sq[k])
    return weights, bias


def predict(
    weights: dict[str, list[float]], bias: list[float], feats: dict[str, float], prior: float = PRIOR_WEIGHT
) -> int:
    scores = [b + p for b, p in zip(bias, lexicon_prior(feats, prior), strict=True)]
    for f, v in feats.items():
        w = weights.get(f)
        if w is not None:
            for k in range(3):
                scores[k] += w[k] * v
    return max(range(3), key=lambda k: scores[k])


def macro_f1(pairs: list[tuple[int, int]]) -> float:
    f1s = []
    for c in range(3):
        tp = sum(1 for g, p in pairs if g == c and p == c)
        fp = sum(1 for g, p in pairs if g != c and p == c)
        fn = sum(1 for g, p in pairs if g == c and p != c)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / 3


def lexicon_only(feats: dict[str, float]) -> int:
    if feats.get("lex:net:esc"):
        return 0
    if feats.get("lex:net:dee"):
        return 1
    return 2


def cross_validate(
    rows: list[tuple[dict[str, float], int]],
    k: int,
    epochs: int = EPOCHS,
    l2: float = L2,
    prior: float = PRIOR_WEIGHT,
) -> tuple[float, float]:
    rng = random.Random(SEED)
    idx = list(range(len(rows)))
    rng.shuffle(idx)
    model_pairs: list[tuple[int, int]] = []
    lex_pairs: list[tuple[int, int]] = []
    for fold in range(k):
        test = set(idx[fold::k])
        w, b = train([rows[i] for i in idx if i not in test], epochs, l2, prior=prior)
        for i in test:
            feats, gold = rows[i]
            model_pairs.append((gold, predict(w, b, feats, prior)))
            lex_pairs.append((gold, lexicon_only(feats)))
    return macro_f1(model_pairs), macro_f1(lex_pairs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "monitor" / "classify" / "data" / "model" / "en.json"
    )
    parser.add_argument("--l2", type=float, default=L2, help=f"L2 penalty (default {L2})")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"passes over the data (default {EPOCHS})")
    parser.add_argument(
        "--prior",
        type=float,
        default=PRIOR_WEIGHT,
        help="lexicon prior weight, recorded in the model file",
    )
    parser.add_argument("--cv", type=int, default=5, help="folds of cross-validation to report (0: none)")
    args = parser.parse_args(argv)
    if "test" in args.input.name:
        print("refusing to train on a test file", file=sys.stderr)
        return 2
    rows = load_rows(args.input)
    if args.cv > 1:
        model_f1, lex_f1 = cross_validate(rows, args.cv, args.epochs, args.l2, args.prior)
        print(f"{args.cv}-fold CV event macro-F1: model {model_f1:.3f}, lexicon alone {lex_f1:.3f}")
    weights, bias = train(rows, args.epochs, args.l2, prior=args.prior)
    kept = {
        f: [round(x, 4) for x in w] for f, w in sorted(weights.items()) if max(abs(x) for x in w) >= PRUNE
    }
    data = {
        "version": f"{lexicon.load('en').version}+lr",
        "epochs": args.epochs,
        "l2": args.l2,
        "lex_l2": LEX_L2,
        "prior": args.prior,
        "trained_on": args.input.name,
        "classes": [c.value for c in CLASSES],
        "bias": [round(x, 4) for x in bias],
        "weights": kept,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {args.output} ({len(kept)} features, {args.output.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
