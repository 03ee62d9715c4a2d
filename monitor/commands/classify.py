"""`monitor classify`, `monitor explain`, `monitor eval`: the classifier on the command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from monitor.classify import analyse, baselines, warm
from monitor.classify import classify as classify_item
from monitor.classify import evaluate as ev
from monitor.classify.classifier import SecondReader
from monitor.classify.explain import render


class _NoStage(Exception):
    """--transformer was asked for and the stage cannot load (the message is printed already)."""


def _second(args: argparse.Namespace, command: str) -> SecondReader | None:
    """The transformer stage when --transformer is given; _NoStage (and one line on stderr) if it cannot load."""
    if not getattr(args, "transformer", False):
        return None
    from monitor.classify import transformer

    try:
        return transformer.Stage.load()
    except transformer.Unavailable as exc:
        print(f"monitor {command} --transformer: {exc}", file=sys.stderr)
        raise _NoStage from None


@contextlib.contextmanager
def _open(name: str, mode: str) -> Iterator[IO[str]]:
    if name == "-":
        yield sys.stdin if "r" in mode else sys.stdout
        return
    with open(name, mode, encoding="utf-8") as handle:
        yield handle


def classify(args: argparse.Namespace) -> int:
    """JSON Lines in (id, title, optional summary), one JSON object out per input line, same order."""
    failed = 0
    try:
        second = _second(args, "classify")
    except _NoStage:
        return 1
    try:
        warm()
        with _open(args.input, "r") as source, _open(args.output, "w") as sink:
            for number, line in enumerate(source, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    if not isinstance(obj, dict):
                        raise ValueError("expected a JSON object")
                    title = obj.get("title")
                    summary = obj.get("summary") or ""
                    if not isinstance(title, str) or not isinstance(summary, str):
                        raise ValueError("'title' (and 'summary' if given) must be strings")
                except ValueError as exc:
                    where = "stdin" if args.input == "-" else args.input
                    print(f"monitor classify: {where} line {number}: {exc}", file=sys.stderr)
                    failed += 1
                    continue
                result = classify_item(title, summary, second).to_json(obj.get("id"))
                sink.write(json.dumps(result, ensure_ascii=False) + "\n")
    except OSError as exc:
        print(f"monitor classify: {exc}", file=sys.stderr)
        return 1
    return 1 if failed else 0


def explain(args: argparse.Namespace) -> int:
    try:
        second = _second(args, "explain")
    except _NoStage:
        return 1
    print(render(analyse(args.text, args.summary or "", second=second)))
    return 0


def _fmt(m: ev.Metrics, title: str) -> list[str]:
    lines = [f"{title}: n={m.n}  accuracy {m.accuracy:.3f}  macro-F1 {m.macro_f1:.3f}"]
    lines.append(f"  {'class':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
    for label, row in m.per_class.items():
        lines.append(
            f"  {label:<14}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{int(row['support']):>9}"
        )
    columns = list(next(iter(m.confusion.values())).keys()) if m.confusion else []
    lines.append("  confusion (rows gold, columns predicted):")
    lines.append("  " + " " * 14 + "".join(f"{c:>15}" for c in columns))
    for gold, counts in m.confusion.items():
        lines.append(f"  {gold:<14}" + "".join(f"{counts[c]:>15}" for c in columns))
    return lines


def evaluate(args: argparse.Namespace) -> int:
    try:
        items = ev.read_items(Path(args.input))
    except (OSError, ev.LabeledDataError) as exc:
        print(f"monitor eval: {exc}", file=sys.stderr)
        return 1
    try:
        second = _second(args, "eval")
    except _NoStage:
        return 1
    systems: dict[str, ev.Predictor] = {"classifier": ev.ours(second)}
    if second is not None:
        systems["classifier, no transformer"] = ev.ours()
    systems["keywords baseline"] = baselines.keywords
    if baselines.tone_available():
        systems["tone baseline (VADER)"] = baselines.tone
    results = {name: ev.score(items, predict)[0] for name, predict in systems.items()}
    worst = ev.worst_errors(items, second=second)
    if args.json:
        report = {
            name: {"event": s.event.to_json(), "pair": s.pair.to_json(), "pair_accuracy": s.pair_accuracy}
            for name, s in results.items()
        }
        report["worst_errors"] = [  # type: ignore[assignment]
            {
                "id": i.id,
                "line": i.line,
                "title": i.title,
                "gold": i.event_direction,
                "gold_pair": i.pair.as_list() if i.pair else None,
                "result": a.result.to_json(i.id),
                "explanation": render(a),
            }
            for i, a in worst
        ]
        print(json.dumps(report, indent=2, default=str))
        return 0
    ours = results["classifier"]
    out = [f"{args.input}: {len(items)} items"]
    if ours.pair.n:
        out.extend(_fmt(ours.pair, "Pair task (strict: pair and direction)"))
        out.append(f"  pair accuracy (the pair, or no pair, is right): {ours.pair_accuracy:.3f}")
    out.extend(_fmt(ours.event, "Event task (event_direction)"))
    out.append("Beside the baselines:")
    out.append(f"  {'system':<28}{'event macro-F1':>16}{'pair macro-F1':>15}{'pair accuracy':>15}")
    for name, s in results.items():
        out.append(f"  {name:<28}{s.event.macro_f1:>16.3f}{s.pair.macro_f1:>15.3f}{s.pair_accuracy:>15.3f}")
    out.append(f"The {len(worst)} worst errors (most confidently wrong first):")
    for i, a in worst:
        c = a.result
        gold_pair = i.pair.key if i.pair else "-"
        out.append(
            f"- {i.id} (line {i.line}): gold event {i.event_direction.value if i.event_direction else '-'}"
            f", pair {gold_pair if i.has_pair else 'n/a'} {i.direction.value if i.has_pair else ''}; got event "
            f"{c.event_direction.value}, pair {c.pair.key if c.pair else '-'} {c.direction.value} ({c.confidence:.2f})"
        )
        out.append(f"  {i.title[:200]}")
        out.extend("    " + line for line in render(a).splitlines())
    print("\n".join(out))
    return 0
