"""The scoring stage on real databases (SQLite file and PostgreSQL): scores, tension, outbox."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from monitor.db.models import (
    AlertRow,
    Delivery,
    Feed,
    Item,
    PairState,
    Story,
    StoryScore,
    TensionContribution,
    TensionPoint,
)
from monitor.db.session import Database
from monitor.domain import AlertReason, Direction, Level, Pair, PairScore
from monitor.track import PairStates, TrackSettings, track

IR_PK = Pair.of("IR", "PK")
AM_AZ = Pair.of("AM", "AZ")
T0 = datetime(2024, 1, 16, 18, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Reading:
    pairs: tuple[PairScore, ...]


# Deterministic stand-in for the classifier: the title names the reading.
READINGS = {
    "Iran strikes militant bases inside Pakistan": (IR_PK, 10.0, 0.9, ("strikes", "inside")),
    "Azerbaijan launches offensive in Karabakh": (AM_AZ, 10.0, 0.9, ("launches offensive",)),
    "Iran and Pakistan trade remarks": (IR_PK, 1.5, 0.6, ("trade remarks",)),
}


def fake_classifier(title: str, summary: str) -> Reading:
    found = READINGS.get(title)
    if found is None:
        return Reading(pairs=())
    pair, score, confidence, phrases = found
    direction = Direction.ESCALATION if score > 0 else Direction.DE_ESCALATION
    return Reading(
        pairs=(
            PairScore(pair=pair, direction=direction, score=score, confidence=confidence, evidence=phrases),
        )
    )


def everyone(pair: Pair) -> Sequence[str]:
    return ("desk-email", "ops-hook")


SETTINGS = TrackSettings(pairs=(IR_PK, AM_AZ))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.open(db_url)
    database.upgrade()
    yield database
    database.dispose()


def add_story(db: Database, title: str, outlets: Sequence[str], at: datetime = T0) -> int:
    with db.session() as s:
        feeds = []
        for name in outlets:
            feed = s.scalar(select(Feed).where(Feed.name == name))
            if feed is None:
                feed = Feed(
                    name=name, url=f"https://{len(name)}.example/rss", current_url="https://x.example/rss"
                )
                s.add(feed)
                s.flush()
            feeds.append(feed)
        story = Story(
            title=title,
            summary="",
            link=f"https://news.example/{abs(hash(title))}",
            first_published_at=at,
            source_count=len(outlets),
            sources=list(outlets),
        )
        s.add(story)
        s.flush()
        for feed in feeds:
            s.add(
                Item(
                    feed_id=feed.id,
                    key=f"{feed.name}:{title}",
                    title=title,
                    summary="",
                    link=story.link,
                    published_at=at,
                    first_seen_at=at,
                    last_seen_at=at,
                    story_id=story.id,
                )
            )
        return story.id


def count(db: Database, model: type) -> int:
    with db.read_session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_a_strong_corroborated_story_writes_one_alert_with_its_deliveries(db: Database) -> None:
    add_story(db, "Iran strikes militant bases inside Pakistan", ["Al Jazeera", "NYT World"])
    with db.session() as s:
        result = track(s, SETTINGS, fake_classifier, everyone, T0 + timedelta(minutes=5))
    assert result.classified == 1
    assert [(a.pair, a.reason, a.level) for a in result.alerts] == [
        (IR_PK, AlertReason.FIRST, Level.ELEVATED)
    ]
    with db.read_session() as s:
        alert = s.scalars(select(AlertRow)).one()
        assert (alert.pair, alert.direction, alert.reason) == ("IR-PK", "escalation", "first")
        assert (alert.previous_level, alert.level) == (0, 1)
        assert alert.evidence[0]["title"] == "Iran strikes militant bases inside Pakistan"
        assert alert.evidence[0]["sources"] == ["Al Jazeera", "NYT World"]
        assert alert.evidence[0]["phrases"] == ["strikes", "inside"]
        assert alert.evidence[0]["id"] == "Al Jazeera:Iran strikes militant bases inside Pakistan"
        deliveries = s.scalars(select(Delivery).order_by(Delivery.notifier)).all()
        assert [(d.notifier, d.status, d.alert_id) for d in deliveries] == [
            ("desk-email", "pending", alert.id),
            ("ops-hook", "pending", alert.id),
        ]
        contribution = s.scalars(select(TensionContribution)).one()
        assert contribution.value == pytest.approx(10.0 * 0.9 * 2)  # corroboration 1 + log2(2)
        state = s.get(PairState, "IR-PK")
        assert state is not None and state.level == 1 and state.last_alert_at == T0 + timedelta(minutes=5)
        assert (
            s.scalar(select(func.count()).select_from(TensionPoint).where(TensionPoint.pair == "IR-PK")) == 1
        )
        assert s.scalar(select(StoryScore.pair)) == "IR-PK"


def test_a_single_weak_story_sends_nothing(db: Database) -> None:
    add_story(db, "Iran and Pakistan trade remarks", ["NYT World"])
    with db.session() as s:
        result = track(s, SETTINGS, fake_classifier, everyone, T0)
    assert result.alerts == () and result.judged == ()
    assert count(db, AlertRow) == 0
    assert count(db, TensionContribution) == 1


def test_running_track_again_changes_nothing(db: Database) -> None:
    add_story(db, "Iran strikes militant bases inside Pakistan", ["Al Jazeera", "NYT World"])
    now = T0 + timedelta(minutes=5)
    with db.session() as s:
        first = track(s, SETTINGS, fake_classifier, everyone, now)
    with db.session() as s:
        again = track(s, SETTINGS, fake_classifier, everyone, now)
    with db.session() as s:
        later = track(s, SETTINGS, fake_classifier, everyone, now + timedelta(minutes=10))
    assert len(first.alerts) == 1
    assert again.classified == 0 and again.alerts == () and again.contributions == 0
    assert later.alerts == ()
    assert count(db, AlertRow) == 1 and count(db, Delivery) == 2
    assert count(db, StoryScore) == 1 and count(db, TensionContribution) == 1


def test_a_failure_before_commit_leaves_neither_alert_nor_state(db: Database) -> None:
    add_story(db, "Iran strikes militant bases inside Pakistan", ["Al Jazeera", "NYT World"])
    add_story(db, "Azerbaijan launches offensive in Karabakh", ["BBC News", "Le Monde"])

    def broken_routing(pair: Pair) -> Sequence[str]:
        if pair == AM_AZ:  # the second pair's alert fails after the first pair's was written
            raise RuntimeError("routing table unavailable")
        return everyone(pair)

    with pytest.raises(RuntimeError, match="routing table"), db.session() as s:
        track(s, SETTINGS, fake_classifier, broken_routing, T0)
    for model in (AlertRow, Delivery, PairState, StoryScore, TensionContribution, TensionPoint):
        assert count(db, model) == 0, model.__name__
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(Story).where(Story.classified_at.is_not(None))) == 0

    with db.session() as s:
        result = track(s, SETTINGS, fake_classifier, everyone, T0)
    assert sorted(a.pair.key for a in result.alerts) == ["AM-AZ", "IR-PK"]
    assert count(db, AlertRow) == 2 and count(db, Delivery) == 4


def test_a_story_grown_by_new_outlets_adds_only_the_corroboration_delta(db: Database) -> None:
    story_id = add_story(db, "Iran strikes militant bases inside Pakistan", ["NYT World"])
    with db.session() as s:
        first = track(s, SETTINGS, fake_classifier, everyone, T0)
    assert first.alerts == ()  # one outlet: 10 x 0.9 = 9 units, below the elevated threshold (10)

    with db.session() as s:
        s.execute(
            update(Story)
            .where(Story.id == story_id)
            .values(source_count=2, sources=["NYT World", "Al Jazeera"])
        )
    later = T0 + timedelta(minutes=40)
    with db.session() as s:
        result = track(s, SETTINGS, fake_classifier, everyone, later, story_ids=[story_id])
    assert result.classified == 0 and result.contributions == 1
    # A second outlet corroborates the strike: it fires at once.
    assert [(a.reason, a.previous_level, a.level) for a in result.alerts] == [
        (AlertReason.FIRST, Level.CALM, Level.ELEVATED)
    ]
    with db.read_session() as s:
        contribution = s.scalars(select(TensionContribution)).one()
        assert contribution.value == pytest.approx(18.0)
        state = s.get(PairState, "IR-PK")
        assert state is not None
        # 9 counted at T0 plus the 9 delta, both decayed by 40 minutes.
        assert state.tension == pytest.approx(18.0 * 2 ** (-40 / 720))
        assert s.scalar(select(Story.scored_sources).where(Story.id == story_id)) == 2


def test_a_feed_weight_scales_the_contribution(db: Database) -> None:
    add_story(db, "Iran strikes militant bases inside Pakistan", ["Tabloid"])
    settings = TrackSettings(pairs=(IR_PK,), feed_weights={"Tabloid": 0.25})
    with db.session() as s:
        result = track(s, settings, fake_classifier, everyone, T0)
    assert result.alerts == ()
    with db.read_session() as s:
        assert s.scalars(select(TensionContribution.value)).one() == pytest.approx(10 * 0.9 * 0.25)


def test_unconfigured_pairs_are_scored_but_not_tracked(db: Database) -> None:
    add_story(db, "Azerbaijan launches offensive in Karabakh", ["BBC News", "Le Monde"])
    with db.session() as s:
        result = track(s, TrackSettings(pairs=(IR_PK,)), fake_classifier, everyone, T0)
    assert result.alerts == ()
    assert count(db, StoryScore) == 1
    assert count(db, TensionContribution) == 0


@pytest.mark.parametrize("kept", [False, True], ids=["states-read", "states-kept"])
def test_a_de_escalation_held_by_the_reversal_hold_is_sent_when_the_hold_ends(
    db: Database, kept: bool
) -> None:
    # Kept: the pair states live in a PairStates between calls (a replay's way), read once; the alerts
    # and the stored row must be the same as when each call reads them.
    states = PairStates() if kept else None
    talks = "Iran and Pakistan agree to de-escalate and return ambassadors"

    def classifier(title: str, summary: str) -> Reading:
        if title == talks:
            reading = PairScore(
                pair=IR_PK,
                direction=Direction.DE_ESCALATION,
                score=-10.0,
                confidence=0.9,
                evidence=("agree",),
            )
            return Reading(pairs=(reading,))
        return fake_classifier(title, summary)

    add_story(db, "Iran strikes militant bases inside Pakistan", ["Al Jazeera", "NYT World"])
    with db.session() as s:
        first = track(s, SETTINGS, classifier, everyone, T0 + timedelta(minutes=5), states=states)
    assert [a.direction for a in first.alerts] == [Direction.ESCALATION]

    add_story(db, talks, ["Al Jazeera", "NYT World", "Dawn"], at=T0 + timedelta(hours=1))
    held = []
    for minutes in (60, 95, 180):  # the level falls after its dwell, inside the 6 h reversal hold
        with db.session() as s:
            result = track(s, SETTINGS, classifier, everyone, T0 + timedelta(minutes=minutes), states=states)
        assert result.alerts == ()
        held += [j.decision.why for j in result.judged]
    assert any("reversal hold" in why for why in held), held
    assert count(db, AlertRow) == 1

    with db.session() as s:
        result = track(s, SETTINGS, classifier, everyone, T0 + timedelta(hours=6, minutes=10), states=states)
    assert [(a.direction, a.reason, a.previous_level, a.level) for a in result.alerts] == [
        (Direction.DE_ESCALATION, AlertReason.DE_ESCALATED, Level.ELEVATED, Level.CALM)
    ]
    with db.session() as s:
        again = track(s, SETTINGS, classifier, everyone, T0 + timedelta(hours=7), states=states)
    assert again.alerts == () and count(db, AlertRow) == 2
    with db.read_session() as s:
        row = s.get(PairState, "IR-PK")
        assert row is not None
        assert (row.level, row.last_alert_level, row.last_alert_direction) == (0, 0, "de-escalation")
        assert row.last_alert_at == T0 + timedelta(hours=6, minutes=10)
        assert row.updated_at == T0 + timedelta(hours=6, minutes=10)  # not stepped at 7 h: nothing due
        assert row.state["told"] == 0 and row.state["held_until"] is None
