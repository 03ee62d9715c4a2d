"""`monitor eval` and the quality floor on the shared dev set."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from monitor.classify import analyse, model
from monitor.classify import evaluate as ev

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEV = SHARED / "eval" / "dev.jsonl"
SEED_STORY = SHARED / "seed" / "pakistan-iran-2024-01-19.txt"


def test_strict_pair_metrics_count_a_wrong_pair_as_an_error() -> None:
    m = ev.metrics([("escalation", "escalation"), ("escalation", ev.WRONG_PAIR), ("neutral", "neutral")])
    assert m.per_class["escalation"]["recall"] == 0.5
    assert m.per_class["escalation"]["precision"] == 1.0
    assert m.confusion["escalation"][ev.WRONG_PAIR] == 1
    assert m.accuracy == pytest.approx(2 / 3)


def test_eval_names_the_line_of_a_malformed_labeled_item(tmp_path: Path) -> None:
    bad = tmp_path / "labeled.jsonl"
    bad.write_text('{"id": "a", "title": "x", "event_direction": "neutral"}\n{"id": "b"}\n', encoding="utf-8")
    with pytest.raises(ev.LabeledDataError, match="line 2"):
        ev.read_items(bad)


def test_eval_command_prints_both_tasks_and_baselines(tmp_path: Path) -> None:
    labeled = tmp_path / "labeled.jsonl"
    rows = [
        {
            "id": "1",
            "title": "Pakistan recalls ambassador from Tehran",
            "summary": "",
            "event_direction": "escalation",
            "pair": ["IR", "PK"],
            "direction": "escalation",
        },
        {
            "id": "2",
            "title": "India beat Pakistan by six wickets",
            "summary": "",
            "event_direction": "neutral",
            "pair": ["IN", "PK"],
            "direction": "neutral",
        },  # national teams: neutral with a pair (eval README)
    ]
    labeled.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "eval", "--input", str(labeled), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["classifier"]["pair_accuracy"] == 1.0
    assert "keywords baseline" in report and "tone baseline (VADER)" in report


@pytest.mark.skipif(not DEV.exists(), reason="../shared/eval/dev.jsonl is not beside the repository")
def test_dev_event_macro_f1_stays_above_the_floor() -> None:
    items = ev.read_items(DEV)
    scores, _ = ev.score(items, ev.ours())
    assert scores.event.macro_f1 >= 0.85
    assert scores.pair.macro_f1 >= 0.85


def _trainer() -> Any:
    """scripts/train_classifier.py as a module (scripts/ is not a package)."""
    path = Path(__file__).resolve().parents[1] / "scripts" / "train_classifier.py"
    spec = importlib.util.spec_from_file_location("train_classifier", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Headline + lead items where the two are weighed against each other: a lead with and without event phrases,
# a negated headline the model reads the other way (the lexicon then decides), a background lead, a summary of
# several sentences.
COMBINED = [
    ("Pakistan recalls ambassador from Tehran", "The two countries agreed to hold talks in Doha next week."),
    (
        "Leaders meet in Geneva",
        "Iran fired missiles at targets in Pakistan on Tuesday, killing two children.",
    ),
    ("Israel rules out military action against Iran", "Officials said no decision had been made."),
    ("Ceasefire holds in Gaza", "The truce followed weeks of heavy shelling. Aid convoys crossed at Rafah."),
    ("India beat Pakistan by six wickets", "Kohli scored a century in Dubai."),
    ("Russia and Ukraine swap prisoners", "Earlier, Russian drones struck Kyiv. Talks may resume."),
    ("Prime minister visits flood-hit region", ""),
    ("Troops deployed to the border", "The government denies plans to invade."),
    ("US denies plans to bomb Syria", ""),
]


def test_the_trainers_cross_validation_predicts_as_the_classifier_does() -> None:
    trainer = _trainer()
    lm = model.load()
    assert lm is not None
    items = list(COMBINED)
    if SEED_STORY.exists():
        headline, _, body = SEED_STORY.read_text(encoding="utf-8").partition("\n")
        items.append((headline, body))
    directions = set()
    lead_decides = negation_decides = 0
    for title, summary in items:
        a = analyse(title, summary)
        assert trainer.event_direction(lm, a.reading) is a.result.event_direction, title
        directions.add(a.result.event_direction)
        lead_decides += analyse(title, "").result.event_direction is not a.result.event_direction
        assert a.probabilities is not None
        negation_decides += (
            model.CLASSES[a.probabilities.index(max(a.probabilities))] is not a.result.event_direction
        )
    # The items exercise every class, a lead that changes the headline's reading and the negated-only rule.
    assert len(directions) == 3 and lead_decides and negation_decides


def test_the_trainer_refuses_a_test_file(tmp_path: Path) -> None:
    labeled = tmp_path / "test.jsonl"
    labeled.write_text('{"title": "x", "event_direction": "neutral"}\n', encoding="utf-8")
    assert _trainer().main(["--input", str(labeled), "--output", str(tmp_path / "m.json"), "--cv", "0"]) == 2
    assert not (tmp_path / "m.json").exists()
