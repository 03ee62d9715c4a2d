"""`monitor eval`: score the classifier (and the baselines) on labeled JSON Lines in the format of shared/eval.

Event task: every item's event_direction. Pair task: items with a "pair" key, strict labels: an item is right
only when both the pair and the direction are; a gold null pair means class "neutral"; a predicted pair that
differs from the gold pair is wrong for the gold class (shown as the column "wrong pair").
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.classify.classifier import Analysis, SecondReader, analyse
from monitor.domain import Direction, Pair

LABELS = tuple(d.value for d in (Direction.ESCALATION, Direction.DE_ESCALATION, Direction.NEUTRAL))
WRONG_PAIR = "wrong pair"
WORST = 20


class LabeledDataError(ValueError):
    """A labeled line is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Item:
    line: int
    id: str
    title: str
    summary: str
    event_direction: Direction | None
    has_pair: bool
    pair: Pair | None
    direction: Direction


@dataclass(frozen=True, slots=True)
class Metrics:
    n: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]  # label -> precision, recall, f1, support
    confusion: dict[str, dict[str, int]]  # gold -> predicted -> count

    def to_json(self) -> dict[str, object]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class": self.per_class,
            "confusion": self.confusion,
        }


def read_items(path: Path) -> list[Item]:
    items: list[Item] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("title"), str):
                raise ValueError("expected an object with a string 'title'")
            event = Direction(obj["event_direction"]) if "event_direction" in obj else None
            raw_pair = obj.get("pair")
            pair = Pair.of(raw_pair[0], raw_pair[1]) if raw_pair else None
            direction = Direction(obj.get("direction", "neutral")) if pair else Direction.NEUTRAL
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            raise LabeledDataError(f"{path} line {number}: {exc}") from exc
        items.append(
            Item(
                number,
                str(obj.get("id", number)),
                obj["title"],
                str(obj.get("summary") or ""),
                event,
                "pair" in obj,
                pair,
                direction,
            )
        )
    return items


def metrics(pairs: Iterable[tuple[str, str]], labels: Sequence[str] = LABELS) -> Metrics:
    """Per-class P/R/F1 and macro-F1 over `labels` (predictions outside them count as errors)."""
    confusion: Counter[tuple[str, str]] = Counter(pairs)
    n = sum(confusion.values())
    predicted_labels = list(labels) + sorted({p for _, p in confusion if p not in labels})
    per_class: dict[str, dict[str, float]] = {}
    for c in labels:
        tp = confusion[(c, c)]
        predicted = sum(v for (_, p), v in confusion.items() if p == c)
        support = sum(v for (g, _), v in confusion.items() if g == c)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[c] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    present = [c for c in labels if per_class[c]["support"] or any(p == c for _, p in confusion)]
    macro = sum(per_class[c]["f1"] for c in present) / len(present) if present else 0.0
    correct = sum(v for (g, p), v in confusion.items() if g == p)
    table = {g: {p: confusion[(g, p)] for p in predicted_labels} for g in labels}
    return Metrics(n, correct / n if n else 0.0, macro, per_class, table)


Predictor = Callable[[str, str], tuple[Pair | None, Direction, Direction]]


@dataclass(frozen=True, slots=True)
class Scores:
    event: Metrics
    pair: Metrics
    pair_accuracy: float  # the predicted pair (or its absence) equals the gold one


def score(
    items: Sequence[Item], predict: Predictor
) -> tuple[Scores, list[tuple[Item, Pair | None, Direction, Direction]]]:
    predictions = [(item, *predict(item.title, item.summary)) for item in items]
    event = metrics((i.event_direction.value, e.value) for i, _, _, e in predictions if i.event_direction)
    paired = [(i, p, d) for i, p, d, _ in predictions if i.has_pair]
    pair = metrics((i.direction.value, d.value if p == i.pair else WRONG_PAIR) for i, p, d in paired)
    pair_accuracy = sum(1 for i, p, _ in paired if p == i.pair) / len(paired) if paired else 0.0
    return Scores(event, pair, pair_accuracy), predictions


def ours(second: SecondReader | None = None) -> Predictor:
    """The classifier as a predictor, with the optional second reader (the transformer stage)."""

    def predict(title: str, summary: str) -> tuple[Pair | None, Direction, Direction]:
        c = analyse(title, summary, second=second).result
        return c.pair, c.direction, c.event_direction

    return predict


def worst_errors(
    items: Sequence[Item], limit: int = WORST, second: SecondReader | None = None
) -> list[tuple[Item, Analysis]]:
    """Event-task and pair-task errors, the most confidently wrong first."""
    wrong: list[tuple[float, Item, Analysis]] = []
    for item in items:
        a = analyse(item.title, item.summary, second=second)
        c = a.result
        bad_event = item.event_direction is not None and c.event_direction is not item.event_direction
        bad_pair = item.has_pair and (c.pair != item.pair or c.direction is not item.direction)
        if bad_event or bad_pair:
            wrong.append((c.confidence, item, a))
    wrong.sort(key=lambda t: (-t[0], t[1].line))
    return [(i, a) for _, i, a in wrong[:limit]]
