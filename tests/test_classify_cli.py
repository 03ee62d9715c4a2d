"""`monitor classify` and `monitor explain` as subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _monitor(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_classify_reports_a_malformed_line_and_goes_on(tmp_path: Path) -> None:
    source = tmp_path / "items.jsonl"
    source.write_text(
        json.dumps({"id": 1, "title": "Pakistan recalls ambassador from Tehran"})
        + "\n{not json\n"
        + json.dumps({"id": "b", "title": "Iran, Pakistan agree to return envoys", "summary": ""})
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    result = _monitor("classify", "--input", str(source), "--output", str(out))
    assert result.returncode == 1
    assert "line 2" in result.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [1, "b"]
    assert rows[0]["pair"] == ["IR", "PK"] and rows[0]["direction"] == "escalation"
    assert rows[1]["direction"] == "de-escalation"
    assert set(rows[0]) == {
        "id",
        "pair",
        "direction",
        "score",
        "confidence",
        "event_direction",
        "evidence",
        "pairs",
    }


def test_classify_reads_stdin_and_exits_zero_on_good_input() -> None:
    line = json.dumps({"id": 7, "title": "India beat Pakistan by six wickets"})
    result = _monitor("classify", stdin=line + "\n")
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["id"] == 7 and row["direction"] == "neutral"


def test_explain_shows_actors_phrases_and_arithmetic() -> None:
    result = _monitor("explain", "India and Pakistan agree ceasefire after last week's strikes")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert 'IN from "India"' in text and 'PK from "Pakistan"' in text
    assert "agree ceasefire" in text
    assert "background x0.25" in text
    assert "Result: IN-PK de-escalation" in text
