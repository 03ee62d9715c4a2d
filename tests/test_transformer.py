"""The optional transformer stage: the real encoder (all-MiniLM-L6-v2 from its wheel) with our adapter, read
from the repository's data file; how it loads, fails, mixes with the linear model, and reaches the commands."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from monitor.classify import analyse, classify, transformer
from monitor.classify.model import mix
from monitor.cli import main
from monitor.config import ConfigError, load_config
from monitor.db.models import StoryScore
from monitor.db.session import Database
from monitor.domain import Direction
from monitor.pipeline import classifier_for
from tests.support.feedserver import FeedServer

torch = pytest.importorskip("torch", reason="the 'transformer' extra is part of the test install")
safetensors_torch = pytest.importorskip("safetensors.torch")

SEED = Path(__file__).resolve().parents[1].parent / "shared" / "seed" / "pakistan-iran-2024-01-19.txt"


@pytest.fixture(scope="module")
def stage() -> Iterator[transformer.Stage]:
    yield transformer.Stage.load()


def _monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=300
    )


# --------------------------------------------------------------------------- the stage itself


def test_the_adapter_names_the_encoder_weights_it_was_trained_on() -> None:
    from safetensors import safe_open

    weights = transformer.encoder_dir() / "model.safetensors"
    with safe_open(str(transformer.ADAPTER), framework="pt") as f:
        meta = f.metadata()
        names = list(f.keys())
    assert meta["encoder_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert meta["trained_on"] == "dev.jsonl"
    # six blocks, six linear layers each (query, key, value, attention output, intermediate, output)
    assert "head.weight" in names and sum(n.endswith(".lora_a") for n in names) == 36


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Pakistan recalls ambassador from Tehran", 0),
        ("Iran, Pakistan agree to return envoys", 1),
        ("Troops opened fire on protesters in the capital, killing three", 0),
        ("The two ministers signed an agreement on trade and cooperation", 1),
    ],
)
def test_the_stage_alone_reads_clear_headlines(stage: transformer.Stage, title: str, expected: int) -> None:
    probs = stage.probabilities(title, "")
    assert len(probs) == 3 and abs(sum(probs) - 1.0) < 1e-5
    assert max(range(3), key=probs.__getitem__) == expected, probs


def test_a_batch_reads_as_the_items_one_by_one(stage: transformer.Stage) -> None:
    items = [("Iran, Pakistan agree to return envoys", ""), ("India beat Pakistan by six wickets", "A lead.")]
    together = stage.many(items)
    for item, row in zip(items, together, strict=True):
        assert row == pytest.approx(stage.probabilities(*item), abs=1e-5)


def test_the_adapter_changes_the_encoder(stage: transformer.Stage) -> None:
    """The merged adapters are in the encoder's weights: a fresh copy of the encoder differs from it."""
    from transformers import AutoModel

    plain = AutoModel.from_pretrained(transformer.encoder_dir())
    ours = dict(stage.encoder.named_parameters())
    changed = [n for n, p in plain.named_parameters() if not torch.equal(p, ours[n])]
    assert len(changed) == 6 * 6 and all(n.endswith(".weight") for n in changed)


def test_an_adapter_for_other_encoder_weights_is_refused(tmp_path: Path) -> None:
    adapter = tmp_path / "other.safetensors"
    safetensors_torch.save_file(
        {"head.weight": torch.zeros(3, 384), "head.bias": torch.zeros(3)},
        str(adapter),
        metadata={"encoder_sha256": "0" * 64, "rank": "8", "alpha": "16"},
    )
    with pytest.raises(
        transformer.Unavailable, match=r"other\.safetensors was trained on other encoder weights"
    ):
        transformer.Stage.load(adapter=adapter)


def test_a_directory_without_the_encoder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(transformer.ENCODER_ENV, str(tmp_path))
    with pytest.raises(transformer.Unavailable, match=rf"{tmp_path}: no model\.safetensors"):
        transformer.Stage.load()


@settings(max_examples=40, deadline=None)
@given(st.text(), st.text())
def test_the_stage_reads_arbitrary_unicode(stage: transformer.Stage, title: str, summary: str) -> None:
    every = dataclasses.replace(stage, gate=1.01)
    probs = stage.probabilities(title, summary)
    assert all(0.0 <= p <= 1.0 for p in probs) and abs(sum(probs) - 1.0) < 1e-5
    c = classify(title, summary, every)
    assert 0.0 <= c.confidence <= 1.0 and -10.0 <= c.score <= 10.0
    assert (c.pair is None) <= (c.direction is Direction.NEUTRAL)


# --------------------------------------------------------------------------- mixed with the linear model


def test_mix_is_a_normalised_geometric_mixture() -> None:
    p, q = (0.7, 0.2, 0.1), (0.1, 0.8, 0.1)
    assert mix(p, q, 0.0) == pytest.approx(p)
    assert mix(p, q, 1.0) == pytest.approx(q)
    half = mix(p, q, 0.5)
    assert sum(half) == pytest.approx(1.0) and half[1] > half[0] > half[2]


def test_an_item_above_the_gate_is_not_read_again(stage: transformer.Stage) -> None:
    title = "Pakistan recalls ambassador from Tehran"
    never = dataclasses.replace(stage, gate=0.0)
    assert analyse(title, second=never).second is None
    assert classify(title, "", never) == classify(title)
    always = dataclasses.replace(stage, gate=1.01)
    a = analyse(title, second=always)
    assert a.second is not None and a.second == pytest.approx(stage.probabilities(title, ""))
    assert a.probabilities is not None
    plain = analyse(title).probabilities
    assert plain is not None and a.probabilities != pytest.approx(plain)


def test_the_mix_weight_decides_between_the_readers(stage: transformer.Stage) -> None:
    """With all the weight on the transformer, the event direction is its reading, whatever the linear
    model says; with none, the linear model's."""
    title = "Envoys met in Geneva on Tuesday and are to meet again next week"
    only_it = dataclasses.replace(stage, gate=1.01, weight=1.0)
    none = dataclasses.replace(stage, gate=1.01, weight=0.0)
    probs = stage.probabilities(title, "")
    its = [Direction.ESCALATION, Direction.DE_ESCALATION, Direction.NEUTRAL][
        max(range(3), key=probs.__getitem__)
    ]
    assert classify(title, "", only_it).event_direction is its
    assert classify(title, "", none).event_direction is classify(title).event_direction


def test_the_seed_story_stays_ir_pk_de_escalation_with_the_stage(stage: transformer.Stage) -> None:
    if not SEED.exists():
        pytest.skip(f"{SEED} not found (the shared folder beside the repo)")
    lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    c = classify(lines[0], " ".join(lines[1:3]), dataclasses.replace(stage, gate=1.01))
    assert c.pair is not None and c.pair.key == "IR-PK"
    assert c.direction is Direction.DE_ESCALATION


# --------------------------------------------------------------------------- commands and config


def test_eval_with_the_transformer_reports_the_classifier_without_it_beside(tmp_path: Path) -> None:
    labeled = tmp_path / "labeled.jsonl"
    rows = [
        {
            "id": "a",
            "title": "Pakistan recalls ambassador from Tehran",
            "summary": "",
            "event_direction": "escalation",
        },
        {
            "id": "b",
            "title": "Iran, Pakistan agree to return envoys",
            "summary": "",
            "event_direction": "de-escalation",
        },
    ]
    labeled.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = _monitor("eval", "--input", str(labeled), "--transformer")
    assert result.returncode == 0, result.stderr
    assert "classifier, no transformer" in result.stdout
    assert "Event task (event_direction): n=2" in result.stdout


def test_explain_with_the_transformer_shows_its_reading_of_an_unsure_item() -> None:
    unsure = "Envoys met in Geneva on Tuesday and are to meet again next week"
    plain = analyse(unsure).probabilities
    assert plain is not None and max(plain) < transformer.GATE  # the linear model alone is unsure of it
    result = _monitor("explain", unsure, "--transformer")
    assert result.returncode == 0, result.stderr
    assert "Transformer stage (the model was unsure): escalation 0." in result.stdout
    assert "(mixed with the transformer's)" in result.stdout
    assert "Transformer stage" not in _monitor("explain", unsure).stdout


def test_classify_with_an_encoder_that_is_not_there_fails_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "items.jsonl"
    source.write_text(json.dumps({"id": 1, "title": "Pakistan recalls ambassador"}) + "\n", encoding="utf-8")
    env_missing = tmp_path / "nowhere"
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "classify", "--input", str(source), "--transformer"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, transformer.ENCODER_ENV: str(env_missing)},
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"monitor classify --transformer: {env_missing}: no model.safetensors (not a copy of all-MiniLM-L6-v2)"
    ]
    assert result.stdout == ""


def _config(tmp_path: Path, transformer_on: bool) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(
        "database: sqlite:///x.db\npairs:\n  - [IR, PK]\nclassifier:\n"
        f"  transformer: {'true' if transformer_on else 'false'}\n",
        encoding="utf-8",
    )
    return path


def test_the_config_switches_the_daemons_classifier(tmp_path: Path, stage: transformer.Stage) -> None:
    assert classifier_for(load_config(_config(tmp_path, False))) is classify
    reader = classifier_for(load_config(_config(tmp_path, True)))
    title = "Envoys met in Geneva on Tuesday and are to meet again next week"
    assert reader(title, "") == classify(title, "", stage)


def test_a_config_asking_for_a_stage_that_cannot_load_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(transformer.ENCODER_ENV, str(tmp_path / "nowhere"))
    config = _config(tmp_path, True)
    with pytest.raises(ConfigError, match=rf"^{config}:5: classifier\.transformer: .*no model\.safetensors"):
        classifier_for(load_config(config))
    assert main(["poll-once", "--config", str(config)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{config}:5: classifier.transformer:")


def test_poll_once_with_the_stage_stores_its_reading(
    tmp_path: Path,
    sqlite_url: str,
    feed_server: FeedServer,
    stage: transformer.Stage,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The daemon's own cycle (poll-once: fetch, parse, dedup, classify, tension) reads with the stage when the
    config asks for it: the stored score is the one the stage gives, not the linear model's."""
    title = "France isolated from the rest of the EU-27 in the matter of Niger"
    summary = (
        "If the drawing up of a list of sanctions against Niger's junta was approved at the EU foreign ministers "
        "meeting held in Toledo on Thursday, August 31, a military solution remains out of the question."
    )
    with_stage, without = classify(title, summary, stage), classify(title, summary)
    assert with_stage.pair is not None and with_stage.pair.key == "FR-NE"
    assert with_stage.score != without.score  # the stage read it (the linear model is unsure of it)
    feed_server.serve(
        "/feeds/one.rss",
        (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>One</title><link>http://x/</link>'
            "<description>d</description><item><title>"
            + title
            + "</title><description>"
            + summary
            + "</description><link>http://x/1</link><guid>x-1</guid>"
            "<pubDate>Fri, 01 Sep 2023 10:00:00 GMT</pubDate></item></channel></rss>"
        ).encode(),
    )
    config = tmp_path / "monitor.yaml"
    config.write_text(
        f"database: {sqlite_url!r}\nfeeds:\n  - name: One\n    url: {feed_server.url('/feeds/one.rss')!r}\n"
        "pairs:\n  - [FR, NE]\nclassifier:\n  transformer: true\n",
        encoding="utf-8",
    )
    assert main(["poll-once", "--config", str(config)]) == 0, capsys.readouterr().err
    db = Database.open(sqlite_url)
    try:
        with db.read_session() as session:
            rows = session.execute(select(StoryScore.pair, StoryScore.score)).all()
    finally:
        db.dispose()
    assert rows == [("FR-NE", pytest.approx(with_stage.score))]


def test_check_says_whether_the_stage_is_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for on, word in ((True, "on"), (False, "off")):
        assert main(["check", "--config", str(_config(tmp_path, on))]) == 0
        assert f"transformer stage {word}" in capsys.readouterr().out
