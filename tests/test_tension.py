"""Tension arithmetic and level judgement (pure)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from monitor.domain import Level, Pair
from monitor.tension import (
    Change,
    Contribution,
    PairTension,
    TensionSettings,
    contribution_value,
    corroboration,
    decay,
    judge,
    next_due,
    noise_scale,
    step,
)

PAIR = Pair.of("PK", "IR")
T0 = datetime(2024, 1, 16, 12, 0, tzinfo=UTC)
S = TensionSettings(thresholds=(4.0, 10.0, 20.0), sharp_rise=8.0)  # small numbers, easy arithmetic
_ids = iter(range(1, 10_000))


def c(value: float, at: datetime) -> Contribution:
    return Contribution(story_id=next(_ids), at=at, value=value)


def run(state: PairTension, events: list[tuple[timedelta, list[float]]]) -> tuple[PairTension, list]:
    out = []
    for offset, values in events:
        now = T0 + offset
        state, ts = step(PAIR, state, [c(v, now) for v in values], now, S)
        out.extend(ts)
    return state, out


def test_it_halves_a_contribution_each_half_life() -> None:
    assert decay(8.0, timedelta(hours=12), timedelta(hours=12)) == pytest.approx(4.0)
    assert decay(8.0, timedelta(hours=36), timedelta(hours=12)) == pytest.approx(1.0)
    assert decay(8.0, -timedelta(hours=1), timedelta(hours=12)) == 8.0


def test_it_weights_corroboration_with_diminishing_returns() -> None:
    assert corroboration(1) == 1.0
    assert corroboration(2) == 2.0
    assert corroboration(4) == 3.0
    assert contribution_value(score=8, confidence=0.5, outlets=2, weight=1.5) == pytest.approx(12.0)


def test_it_decays_state_tension_between_steps() -> None:
    state, _ = step(PAIR, PairTension(), [c(6.0, T0)], T0, S)
    state, _ = step(PAIR, state, [], T0 + timedelta(hours=24), S)
    assert state.tension == pytest.approx(1.5)


def test_it_counts_an_old_story_at_its_decayed_value() -> None:
    state, _ = step(PAIR, PairTension(), [c(8.0, T0 - timedelta(hours=12))], T0, S)
    assert state.tension == pytest.approx(4.0)


def test_de_escalation_lowers_tension_but_never_below_zero() -> None:
    state, _ = step(PAIR, PairTension(), [c(6.0, T0), c(-4.0, T0)], T0, S)
    assert state.tension == pytest.approx(2.0)
    state, _ = step(PAIR, state, [c(-9.0, T0)], T0, S)
    assert state.tension == 0.0
    assert state.relief == pytest.approx(13.0)


def test_baseline_follows_mean_tension_slowly() -> None:
    state = PairTension(tension=10.0, baseline=0.0, updated_at=T0)
    state, _ = step(PAIR, state, [], T0 + timedelta(hours=12), S)
    mean = 10.0 * 0.5 * 12 / (12 * math.log(2))
    pull = 1 - 2 ** (-12 / (14 * 24))
    assert state.baseline == pytest.approx(mean * pull)
    assert 0 < state.baseline < 0.2


def test_a_long_war_drifts_back_to_calm_against_its_baseline() -> None:
    state, transitions = PairTension(), []
    for quarter in range(4 * 120):  # a steady flow of strikes, four a day for four months
        state, ts = run(state, [(timedelta(hours=6 * quarter), [4.0])])
        transitions.extend(ts)
    levels = [t.new_level for t in transitions if t.change is Change.LEVEL]
    assert max(levels) >= Level.ELEVATED
    assert state.level == Level.CALM
    assert state.baseline > 10.0


def test_judge_uses_thresholds_upwards_and_hysteresis_downwards() -> None:
    th = (4.0, 10.0, 20.0)
    assert judge(3.9, 0.0, Level.CALM, th, 0.25) == Level.CALM
    assert judge(4.0, 0.0, Level.CALM, th, 0.25) == Level.ELEVATED
    assert judge(3.1, 0.0, Level.ELEVATED, th, 0.25) == Level.ELEVATED
    assert judge(2.9, 0.0, Level.ELEVATED, th, 0.25) == Level.CALM
    assert judge(25.0, 0.0, Level.CALM, th, 0.25) == Level.CRITICAL
    assert judge(8.0, 0.0, Level.HIGH, th, 0.25) == Level.HIGH


def test_a_busy_pair_needs_a_larger_excess_than_a_quiet_one() -> None:
    th = (10.0, 25.0, 50.0)
    assert noise_scale(0.0, 10.0) == 1.0
    assert noise_scale(30.0, 10.0) == 2.0
    # The same 25 units above baseline: high for a quiet pair, only elevated for a pair whose normal is 30.
    assert judge(25.0, 0.0, Level.CALM, th, 0.25) == Level.HIGH
    assert judge(55.0, 30.0, Level.CALM, th, 0.25) == Level.ELEVATED
    assert judge(48.0, 30.0, Level.CALM, th, 0.25) == Level.CALM


def test_a_single_weak_item_changes_nothing() -> None:
    _, transitions = run(PairTension(), [(timedelta(0), [1.5])])
    assert transitions == []


def test_a_strong_corroborated_event_raises_the_level_at_once() -> None:
    value = contribution_value(score=8, confidence=0.8, outlets=2)
    _, transitions = run(PairTension(), [(timedelta(0), [value])])
    assert [(t.change, t.old_level, t.new_level) for t in transitions] == [
        (Change.LEVEL, Level.CALM, Level.HIGH)
    ]
    assert transitions[0].at == T0


def test_a_burst_inside_the_dwell_becomes_one_later_step() -> None:
    state, transitions = run(
        PairTension(),
        [(timedelta(0), [5.0]), (timedelta(minutes=5), [6.0]), (timedelta(minutes=10), [12.0])],
    )
    assert [(t.old_level, t.new_level) for t in transitions] == [(Level.CALM, Level.ELEVATED)]
    assert next_due(state, S) == T0 + timedelta(minutes=30)
    state, ts = step(PAIR, state, [], T0 + timedelta(minutes=30), S)
    assert [(t.old_level, t.new_level) for t in ts] == [(Level.ELEVATED, Level.CRITICAL)]


def test_a_level_does_not_flap_around_its_threshold() -> None:
    state, transitions = run(PairTension(), [(timedelta(0), [4.2])])
    assert len(transitions) == 1
    # Small wobbles below the threshold stay inside the hysteresis band.
    state, more = run(
        state, [(timedelta(hours=1), [-0.5]), (timedelta(hours=2), [0.6]), (timedelta(hours=3), [-0.4])]
    )
    assert more == []
    assert state.level == Level.ELEVATED


def test_a_fall_must_persist_the_minimum_dwell() -> None:
    state, _ = run(PairTension(), [(timedelta(0), [12.0])])
    state, ts = run(state, [(timedelta(hours=2), [-10.0])])
    assert [t.change for t in ts] == [Change.SHARP_RELIEF]  # talks news, the level still held
    assert state.candidate == Level.CALM
    # The fall is undone by fresh escalation before the dwell ends: no transition at all.
    state, ts = run(state, [(timedelta(hours=2, minutes=10), [9.0]), (timedelta(hours=3), [])])
    assert ts == []
    assert state.level == Level.HIGH
    state, ts = run(state, [(timedelta(hours=4), [-12.0]), (timedelta(hours=4, minutes=31), [])])
    assert [(t.old_level, t.new_level) for t in ts] == [(Level.HIGH, Level.CALM)]
    assert ts[0].relief > 10


def test_a_sharp_rise_at_an_unchanged_level_is_a_transition_once() -> None:
    state = PairTension(
        tension=10.0, baseline=1.0, level=Level.HIGH, level_since=T0 - timedelta(days=2), updated_at=T0
    )
    # Baseline 1 widens the sharp rise to 8 x 1.118 = 8.9 units and critical to 22.4.
    state, ts = run(state, [(timedelta(0), [4.0]), (timedelta(hours=1), [6.0])])
    assert [t.change for t in ts] == [Change.SHARP_RISE]
    assert ts[0].new_level == Level.HIGH and ts[0].rise >= 8.9
    state, ts = run(state, [(timedelta(hours=1, minutes=30), [2.0])])
    assert ts == []


def test_it_says_quiet_once_after_a_calm_quiet_period() -> None:
    state, ts = run(PairTension(), [(timedelta(0), [6.0])])
    assert state.level == Level.ELEVATED
    state, falls = run(state, [(timedelta(hours=12), []), (timedelta(hours=13), [])])
    assert [(t.old_level, t.new_level) for t in falls] == [(Level.ELEVATED, Level.CALM)]
    # Calm, but not quiet yet: tension must also decay under half the elevated bound (1.5 units).
    assert state.quiet_since is None
    crossing = next_due(state, S)
    assert crossing is not None
    state, ts = step(PAIR, state, [], crossing + timedelta(minutes=1), S)
    assert ts == () and state.quiet_since == crossing + timedelta(minutes=1)
    due = next_due(state, S)
    assert due == state.quiet_since + S.quiet_period
    state, ts = step(PAIR, state, [], due, S)
    assert [t.change for t in ts] == [Change.QUIET]
    state, ts = step(PAIR, state, [], due + timedelta(days=3), S)
    assert ts == ()


def test_news_during_the_quiet_period_restarts_it() -> None:
    state, _ = run(PairTension(), [(timedelta(0), [6.0]), (timedelta(hours=13), [])])
    state, _ = step(PAIR, state, [], T0 + timedelta(hours=30), S)
    assert state.level == Level.CALM and state.quiet_since is not None
    state, ts = step(PAIR, state, [c(3.0, T0 + timedelta(hours=40))], T0 + timedelta(hours=40), S)
    assert ts == () and state.quiet_since is None and state.level == Level.CALM


def test_next_due_predicts_the_decay_crossing() -> None:
    state, _ = run(PairTension(), [(timedelta(0), [6.0])])
    due = next_due(state, S)
    assert due is not None
    # 6 decays to 3 (4 x 0.75) after one half life.
    assert due == pytest.approx(T0 + timedelta(hours=12), abs=timedelta(seconds=1))
    state, ts = step(PAIR, state, [], due + timedelta(seconds=1), S)
    assert state.candidate == Level.CALM and ts == ()


def test_settings_reject_unordered_thresholds() -> None:
    with pytest.raises(ValueError, match="elevated < high < critical"):
        TensionSettings(thresholds=(10.0, 4.0, 20.0))
