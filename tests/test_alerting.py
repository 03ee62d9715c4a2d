"""Alert policy (pure): Transition + what the analyst was told -> alert or a reason to stay silent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from monitor.alerting import AlertPolicy, Memory, alert_uid, decide, make_alert
from monitor.domain import AlertReason, Direction, Level, Pair
from monitor.tension import Change, Contribution, PairTension, TensionSettings, Transition, step

PAIR = Pair.of("PK", "IR")
T0 = datetime(2024, 1, 16, 12, 0, tzinfo=UTC)
P = AlertPolicy()


def tr(change: Change, old: Level, new: Level, at: datetime = T0, relief: float = 0.0) -> Transition:
    return Transition(
        pair=PAIR,
        change=change,
        at=at,
        old_level=old,
        new_level=new,
        tension=12.0,
        previous_tension=1.0,
        baseline=0.5,
        rise=11.0,
        relief=relief,
    )


def test_a_rise_out_of_calm_is_the_first_alert() -> None:
    d = decide(tr(Change.LEVEL, Level.CALM, Level.HIGH), Memory(), P)
    assert d.reason is AlertReason.FIRST
    assert (d.direction, d.previous_level, d.level) == (Direction.ESCALATION, Level.CALM, Level.HIGH)
    assert d.memory.level == Level.HIGH and d.memory.at == T0


def test_a_rise_above_the_alerted_level_is_escalated() -> None:
    told = Memory(level=Level.ELEVATED, at=T0 - timedelta(hours=1), direction=Direction.ESCALATION)
    d = decide(tr(Change.LEVEL, Level.ELEVATED, Level.CRITICAL), told, P)
    assert d.reason is AlertReason.ESCALATED
    assert d.previous_level == Level.ELEVATED


def test_a_silent_decay_and_return_is_not_news_again() -> None:
    # Alerted high; decayed to elevated without an alert; back to high an hour later.
    told = Memory(level=Level.HIGH, at=T0 - timedelta(hours=3), direction=Direction.ESCALATION)
    d = decide(tr(Change.LEVEL, Level.ELEVATED, Level.HIGH), told, P)
    assert not d.fires
    assert "repeat interval" in d.why
    assert d.memory == told


def test_the_repeat_interval_bounds_resends_of_an_unchanged_level() -> None:
    told = Memory(level=Level.HIGH, at=T0, direction=Direction.ESCALATION)
    early = decide(tr(Change.SHARP_RISE, Level.HIGH, Level.HIGH, at=T0 + timedelta(hours=23)), told, P)
    late = decide(tr(Change.SHARP_RISE, Level.HIGH, Level.HIGH, at=T0 + timedelta(hours=24)), told, P)
    assert not early.fires
    assert late.reason is AlertReason.REPEAT


def test_a_sharp_rise_above_the_alerted_level_fires_at_once() -> None:
    told = Memory(level=Level.CALM, at=T0 - timedelta(days=30))
    d = decide(tr(Change.SHARP_RISE, Level.ELEVATED, Level.ELEVATED), told, P)
    assert d.reason is AlertReason.FIRST


def test_a_sharp_rise_while_calm_against_the_baseline_is_suppressed() -> None:
    d = decide(tr(Change.SHARP_RISE, Level.CALM, Level.CALM), Memory(), P)
    assert not d.fires and "baseline" in d.why


def test_a_fall_by_decay_alone_is_suppressed() -> None:
    told = Memory(level=Level.HIGH, at=T0 - timedelta(hours=30), direction=Direction.ESCALATION)
    d = decide(tr(Change.LEVEL, Level.HIGH, Level.ELEVATED, relief=0.5), told, P)
    assert not d.fires
    assert "decay" in d.why
    assert d.memory.level == Level.HIGH


def test_a_fall_with_de_escalation_evidence_is_de_escalated() -> None:
    told = Memory(level=Level.HIGH, at=T0 - timedelta(hours=30), direction=Direction.ESCALATION)
    d = decide(tr(Change.LEVEL, Level.ELEVATED, Level.CALM, relief=5.0), told, P)
    assert d.reason is AlertReason.DE_ESCALATED
    assert (d.direction, d.previous_level, d.level) == (Direction.DE_ESCALATION, Level.HIGH, Level.CALM)


def test_a_fall_not_below_the_alerted_level_is_suppressed() -> None:
    told = Memory(level=Level.ELEVATED, at=T0, direction=Direction.ESCALATION)
    d = decide(tr(Change.LEVEL, Level.HIGH, Level.ELEVATED, relief=9.0), told, P)
    assert not d.fires


def test_a_reversal_right_after_an_alert_waits_the_reversal_hold() -> None:
    told = Memory(level=Level.CALM, at=T0, direction=Direction.DE_ESCALATION)
    soon = decide(tr(Change.LEVEL, Level.CALM, Level.ELEVATED, at=T0 + timedelta(minutes=30)), told, P)
    later = decide(tr(Change.LEVEL, Level.CALM, Level.ELEVATED, at=T0 + timedelta(hours=6)), told, P)
    assert not soon.fires and "reverses the last alert" in soon.why
    assert soon.memory == replace(told, held_until=T0 + P.reversal_hold)  # judged again then
    assert later.reason is AlertReason.FIRST


def test_quiet_after_an_unresolved_alert_sends_back_to_calm() -> None:
    told = Memory(level=Level.HIGH, at=T0 - timedelta(days=2), direction=Direction.ESCALATION)
    d = decide(tr(Change.QUIET, Level.CALM, Level.CALM), told, P)
    assert d.reason is AlertReason.BACK_TO_CALM
    assert (d.direction, d.previous_level, d.level) == (Direction.DE_ESCALATION, Level.HIGH, Level.CALM)


def test_back_to_calm_can_be_switched_off_and_still_resets_the_picture() -> None:
    told = Memory(level=Level.HIGH, at=T0 - timedelta(days=2), direction=Direction.ESCALATION)
    d = decide(tr(Change.QUIET, Level.CALM, Level.CALM), told, AlertPolicy(back_to_calm=False))
    assert not d.fires
    assert d.memory.level == Level.CALM
    again = decide(tr(Change.LEVEL, Level.CALM, Level.ELEVATED), d.memory, P)
    assert again.reason is AlertReason.FIRST


def test_quiet_after_a_de_escalation_alert_says_nothing_more() -> None:
    told = Memory(level=Level.CALM, at=T0 - timedelta(days=2), direction=Direction.DE_ESCALATION)
    assert not decide(tr(Change.QUIET, Level.CALM, Level.CALM), told, P).fires


def test_alert_uid_is_stable_and_distinct_per_shift() -> None:
    a = alert_uid(PAIR, T0, AlertReason.FIRST, Level.HIGH)
    assert a == alert_uid(Pair.of("IR", "PK"), T0, AlertReason.FIRST, Level.HIGH)
    assert a != alert_uid(PAIR, T0 + timedelta(minutes=5), AlertReason.FIRST, Level.HIGH)
    assert a != alert_uid(PAIR, T0, AlertReason.ESCALATED, Level.HIGH)
    assert len(a) == 32


def test_make_alert_carries_levels_tensions_and_reason() -> None:
    t = tr(Change.LEVEL, Level.CALM, Level.HIGH)
    alert = make_alert(t, decide(t, Memory(), P), ())
    assert alert.pair == PAIR and alert.reason is AlertReason.FIRST
    assert (alert.tension, alert.previous_tension) == (12.0, 1.0)
    assert alert.uid == alert_uid(PAIR, T0, AlertReason.FIRST, Level.HIGH)


def test_a_burst_of_items_about_one_shift_gives_one_alert() -> None:
    """Ten corroborating reports over twenty minutes, folded and judged: one alert."""
    settings = TensionSettings(thresholds=(4.0, 10.0, 20.0))
    state, memory, alerts = PairTension(), Memory(), []
    for minute in range(0, 20, 2):
        now = T0 + timedelta(minutes=minute)
        state, transitions = step(
            PAIR, state, [Contribution(story_id=minute, at=now, value=2.5)], now, settings
        )
        for t in transitions:
            d = decide(t, memory, P)
            memory = d.memory
            if d.fires:
                alerts.append(d)
    # Dwell ends: the pending rise commits once, as one escalated alert.
    for minute in (30, 40, 60):
        now = T0 + timedelta(minutes=minute)
        state, transitions = step(PAIR, state, [], now, settings)
        for t in transitions:
            d = decide(t, memory, P)
            memory = d.memory
            if d.fires:
                alerts.append(d)
    assert [(a.reason, a.level) for a in alerts] == [
        (AlertReason.FIRST, Level.ELEVATED),
        (AlertReason.ESCALATED, Level.CRITICAL),
    ]


def test_a_held_reversal_records_when_to_judge_it_again() -> None:
    told_at = datetime(2024, 1, 16, 18, 0, tzinfo=UTC)
    memory = Memory(level=Level.HIGH, at=told_at, direction=Direction.ESCALATION, tension=30.0)
    fall = Transition(
        pair=Pair.of("IR", "PK"),
        change=Change.LEVEL,
        at=told_at + timedelta(hours=2),
        old_level=Level.HIGH,
        new_level=Level.CALM,
        tension=3.0,
        previous_tension=30.0,
        baseline=0.0,
        rise=0.0,
        relief=25.0,
    )
    decision = decide(fall, memory, AlertPolicy(reversal_hold=timedelta(hours=6)))
    assert not decision.fires
    assert decision.memory.held_until == told_at + timedelta(hours=6)
    assert decision.memory.level == Level.HIGH  # the analyst still believes "high"
