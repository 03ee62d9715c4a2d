"""`monitor replay` over archived streams of ../shared/corpus: escalation where a crisis starts,
de-escalation where it eases, nothing on a pair seen only in routine news."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from monitor.db.models import Feed
from monitor.domain import Alert, AlertReason, Direction, Evidence, Level, Pair
from monitor.replay import ReplayInputError, alert_json, open_scratch_db, read_items
from tests.support.receivers import HttpReceiver

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def corpus(name: str) -> Path:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus stream {name} not found in {CORPUS} (the shared folder beside the repo)")
    return path


def config_file(tmp_path: Path, pairs: list[str]) -> Path:
    path = tmp_path / "monitor.yaml"
    lines = ["database: sqlite:///unused.db", "pairs:"] + [f"  - [{p[:2]}, {p[3:]}]" for p in pairs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_replay(tmp_path: Path, stream: str, pairs: list[str]) -> list[dict[str, Any]]:
    out = tmp_path / "alerts.jsonl"
    status = main(
        [
            "replay",
            "--config",
            str(config_file(tmp_path, pairs)),
            "--input",
            str(corpus(stream)),
            "--output",
            str(out),
        ]
    )
    assert status == 0
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def at(alert: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(alert["at"].replace("Z", "+00:00"))


def of(alerts: list[dict[str, Any]], pair: str, direction: str) -> list[dict[str, Any]]:
    return [a for a in alerts if "-".join(a["pair"]) == pair and a["direction"] == direction]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --------------------------------------------------------------------------- input and output format


def test_a_bad_input_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    good = {
        "published": "2024-01-16T05:16:37Z",
        "source": "NYT World",
        "title": "A",
        "summary": "",
        "link": "",
    }
    path.write_text(json.dumps(good) + "\n" + '{"source": "X", "title": "B"}\n', encoding="utf-8")
    with pytest.raises(ReplayInputError, match=r"items\.jsonl:2: missing 'published'"):
        read_items(path)


def test_items_are_replayed_in_published_order_with_an_id_from_the_line_or_none(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    rows = [
        {"published": "2024-01-16T10:00:00Z", "source": "B", "title": "later", "link": "https://x/2"},
        {"published": "2024-01-16T09:00:00+00:00", "source": "A", "title": "earlier", "id": "a-1"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    items = read_items(path)
    assert [(i.title, i.id, i.link) for i in items] == [
        ("earlier", "a-1", None),
        ("later", None, "https://x/2"),
    ]
    assert items[0].published == utc("2024-01-16T09:00:00")


def test_the_command_names_a_bad_input_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text("not json\n", encoding="utf-8")
    status = main(["replay", "--config", str(config_file(tmp_path, ["IR-PK"])), "--input", str(path)])
    assert status == 1
    assert f"{path}:1:" in capsys.readouterr().err


def test_an_alert_is_written_in_the_documented_shape() -> None:
    alert = Alert(
        uid="u1",
        pair=Pair.of("PK", "IR"),
        direction=Direction.ESCALATION,
        reason=AlertReason.FIRST,
        level=Level.HIGH,
        previous_level=Level.CALM,
        tension=12.34567,
        previous_tension=0.0,
        at=utc("2024-01-16T20:00:00"),
        evidence=(
            Evidence(
                id="k1",
                title="Iran strikes inside Pakistan",
                sources=("Al Jazeera English", "NYT World"),
                published=utc("2024-01-16T19:51:28"),
                link="https://x/1",
                score=8.0,
                confidence=0.8,
                phrases=("strikes",),
            ),
        ),
    )
    assert alert_json(alert) == {
        "pair": ["IR", "PK"],
        "direction": "escalation",
        "at": "2024-01-16T20:00:00Z",
        "level": "high",
        "previous_level": "calm",
        "tension": 12.346,
        "reason": "first",
        "evidence": [
            {
                "id": "k1",
                "title": "Iran strikes inside Pakistan",
                "source": "Al Jazeera English",
                "published": "2024-01-16T19:51:28Z",
                "link": "https://x/1",
            }
        ],
    }


def test_the_scratch_database_journals_in_memory_without_fsyncs_and_still_rolls_back(tmp_path: Path) -> None:
    db = open_scratch_db(tmp_path / "replay.db")
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "memory"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 0
        session = db.sessions()
        session.add(Feed(name="a", url="replay://a", current_url="replay://a"))
        session.flush()
        session.rollback()
        session.close()
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM feeds").scalar() == 0
    finally:
        db.dispose()


# --------------------------------------------------------------------------- delivery


PAKISTAN_IRAN = "rumca2024_sample_pakistan-iran_2024-01-16_18.jsonl"


def webhook_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(
        "database: sqlite:///unused.db\n"
        "pairs:\n  - [IR, PK]\n"
        f"notifiers:\n  ops-hook: {{type: webhook, url: {url}/hook}}\n",
        encoding="utf-8",
    )
    return path


def test_replay_sends_nothing_without_deliver(tmp_path: Path, http_receiver: HttpReceiver) -> None:
    config = webhook_config(tmp_path, http_receiver.url)
    out = tmp_path / "alerts.jsonl"
    assert (
        main(["replay", "--config", str(config), "--input", str(corpus(PAKISTAN_IRAN)), "--output", str(out)])
        == 0
    )
    assert out.read_text(encoding="utf-8").strip()  # alerts were found...
    assert http_receiver.received() == []  # ...and none was sent


def test_replay_with_deliver_sends_each_alert_once(tmp_path: Path, http_receiver: HttpReceiver) -> None:
    config = webhook_config(tmp_path, http_receiver.url)
    out = tmp_path / "alerts.jsonl"
    argv = ["replay", "--config", str(config), "--input", str(corpus(PAKISTAN_IRAN)), "--output", str(out)]
    assert main([*argv, "--deliver"]) == 0
    alerts = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    bodies = [r.json() for r in http_receiver.received()]
    assert len(bodies) == len(alerts) >= 1
    assert [(b["pair"], b["direction"], b["level"]) for b in bodies] == [
        (a["pair"], a["direction"], a["level"]) for a in alerts
    ]
    assert len({r.headers["idempotency-key"] for r in http_receiver.received()}) == len(bodies)


# --------------------------------------------------------------------------- archived crises


def test_pakistan_iran_strikes_give_an_escalation_alert(tmp_path: Path) -> None:
    alerts = run_replay(tmp_path, "rumca2024_sample_pakistan-iran_2024-01-16_18.jsonl", ["IR-PK"])
    escalations = of(alerts, "IR-PK", "escalation")
    assert escalations, alerts
    first = escalations[0]
    # Iran's strike in Balochistan was reported on the evening of 16 Jan; Pakistan struck back on the 18th.
    assert utc("2024-01-16T12:00:00") <= at(first) <= utc("2024-01-18T23:59:59")
    assert first["reason"] == "first" and first["previous_level"] == "calm"
    assert any("Pakistan" in e["title"] or "Iran" in e["title"] for e in first["evidence"])
    assert set(first["evidence"][0]) == {"id", "title", "source", "published", "link"}


@pytest.mark.slow
def test_nagorno_karabakh_offensive_gives_an_am_az_escalation(tmp_path: Path) -> None:
    alerts = run_replay(tmp_path, "rumca2023_09.jsonl", ["AM-AZ", "FR-DE"])
    escalations = of(alerts, "AM-AZ", "escalation")
    assert any(utc("2023-09-19T00:00:00") <= at(a) <= utc("2023-09-21T00:00:00") for a in escalations), (
        escalations
    )
    assert of(alerts, "DE-FR", "escalation") == []


@pytest.mark.slow
def test_the_7_october_attack_gives_an_il_ps_escalation(tmp_path: Path) -> None:
    alerts = run_replay(tmp_path, "rumca2023_10.jsonl", ["IL-PS", "FR-DE"])
    escalations = of(alerts, "IL-PS", "escalation")
    assert any(utc("2023-10-07T00:00:00") <= at(a) <= utc("2023-10-08T00:00:00") for a in escalations), (
        escalations
    )
    assert of(alerts, "DE-FR", "escalation") == []


@pytest.mark.slow
def test_essequibo_crisis_escalates_at_the_referendum_and_eases_at_the_talks(tmp_path: Path) -> None:
    alerts = run_replay(tmp_path, "rumca2023_12.jsonl", ["VE-GY", "FR-DE"])
    escalations = of(alerts, "GY-VE", "escalation")
    easing = [a for a in of(alerts, "GY-VE", "de-escalation") if a["reason"] == "de-escalated"]
    assert any(utc("2023-12-01T00:00:00") <= at(a) <= utc("2023-12-07T00:00:00") for a in escalations), (
        escalations
    )
    assert any(utc("2023-12-13T00:00:00") <= at(a) <= utc("2023-12-17T00:00:00") for a in easing), alerts
    # The routine pair: France and Germany appear together only in everyday diplomacy and business.
    assert [a for a in alerts if a["pair"] == ["DE", "FR"]] == []
