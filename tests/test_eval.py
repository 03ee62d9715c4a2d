"""`monitor eval` and the quality floor on the shared dev set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.classify import evaluate as ev

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEV = SHARED / "eval" / "dev.jsonl"


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
    scores, _ = ev.score(items, ev.ours)
    assert scores.event.macro_f1 >= 0.85
    assert scores.pair.macro_f1 >= 0.85
