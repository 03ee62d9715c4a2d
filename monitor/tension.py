"""Per-pair tension: fold scored stories into a decaying value, judge its level, emit Transitions.

Pure: no I/O, no clock. `step(state, contributions, now, settings)` returns the new state and the
Transitions it caused. A Transition is emitted only when the level changes, when a sharp rise or a
sharp relief (a burst of escalation, or of de-escalation news) happens at an unchanged level, or when a
pair calm again after a non-calm spell has stayed quiet for the quiet period.

The model, in tension units (one unit ~ one confident, uncorroborated score point):
- a story's contribution is score x confidence x (1 + log2(outlets)) x feed weight, signed
  (positive = escalation); it enters at the time the tracker learns of it, already decayed by its age;
- tension is the sum of contributions decaying with `half_life`, never below zero: de-escalation
  stories take tension away, but a calm pair does not bank "negative tension";
- the baseline is a slow moving average of tension (`baseline_half_life`); the level is judged on the
  excess of tension over the baseline, so a long war drifts back towards calm and a quiet pair's first
  strike stands out;
- hysteresis: a level is entered at its threshold and left only below threshold x (1 - hysteresis);
- minimum dwell: a level, once entered, is held at least `min_dwell`; a rise that comes during the dwell
  waits for its end (bursts become one step), a fall must persist `min_dwell` before it counts;
- busy pairs swing more: thresholds, the sharp rise and the de-escalation evidence needed all widen by
  `noise_scale(baseline)` = sqrt(1 + baseline / elevated threshold);
- quiet: calm, with the excess under half the elevated level's lower bound, for `quiet_period`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from monitor.domain import Level, Pair

LN2 = math.log(2.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class TensionSettings:
    """The tension knobs of `alerting:` in the config, in their units."""

    half_life: timedelta = timedelta(hours=12)  # decay of a story's weight
    baseline_half_life: timedelta = timedelta(days=14)  # memory of the pair's normal tension
    thresholds: tuple[float, float, float] = (10.0, 25.0, 50.0)  # above baseline: elevated, high, critical
    hysteresis: float = 0.25  # fraction of a threshold to fall below before leaving its level
    min_dwell: timedelta = timedelta(minutes=30)
    sharp_rise: float = 20.0  # tension units of fresh escalation within sharp_rise_window (x noise_scale)
    sharp_rise_window: timedelta = timedelta(hours=3)
    evidence_window: timedelta = timedelta(
        hours=24
    )  # de-escalation evidence and alert evidence look back this far
    quiet_period: timedelta = timedelta(hours=48)  # calm this long after a non-calm spell -> "quiet"
    min_confidence: float = 0.3  # classifier readings below this confidence are ignored

    def __post_init__(self) -> None:
        if not 0 < self.thresholds[0] < self.thresholds[1] < self.thresholds[2]:
            raise ValueError(
                f"alerting thresholds must rise: elevated < high < critical, got {self.thresholds}"
            )
        if not 0 <= self.hysteresis < 1:
            raise ValueError(f"alerting hysteresis must be in [0, 1), got {self.hysteresis}")
        if self.half_life <= timedelta(0) or self.baseline_half_life <= timedelta(0):
            raise ValueError("alerting half lives must be positive")


def corroboration(outlets: int) -> float:
    """Diminishing weight of independent outlets: 1, 2, 2.58, 3, ... (1 + log2 n)."""
    return 1.0 + math.log2(max(1, outlets))


def contribution_value(*, score: float, confidence: float, outlets: int, weight: float = 1.0) -> float:
    """What one story adds to its pair's tension at the moment it happens (signed, before decay)."""
    return score * confidence * corroboration(outlets) * weight


def decay(value: float, elapsed: timedelta, half_life: timedelta) -> float:
    """`value` after `elapsed` (negative elapsed counts as zero)."""
    seconds = elapsed.total_seconds()
    if seconds <= 0:
        return value
    return float(value * 2.0 ** (-seconds / half_life.total_seconds()))


def noise_scale(baseline: float, unit: float) -> float:
    """How much wider a pair's thresholds are for its normal tension: sqrt(1 + baseline / unit).

    News arrives in bursts, and the swings of a decaying sum grow with the square root of its mean:
    1 for a quiet pair, 2 for a pair whose baseline is three elevated thresholds, 4 at fifteen.
    """
    return math.sqrt(1.0 + max(baseline, 0.0) / unit)


def judge(
    tension: float,
    baseline: float,
    current: Level,
    thresholds: tuple[float, float, float],
    hysteresis: float,
) -> Level:
    """The level that tension over baseline calls for, with hysteresis for levels at or below `current`."""
    scale = noise_scale(baseline, thresholds[0])
    excess = tension - baseline
    level = Level.CALM
    for rank, threshold in enumerate(thresholds, start=1):
        bound = threshold * scale * (1.0 if rank > current else 1.0 - hysteresis)
        if excess >= bound:
            level = Level(rank)
    return level


@dataclass(frozen=True, slots=True, kw_only=True)
class Contribution:
    """A change to a pair's tension: a new story, or the growth of a story's corroboration."""

    story_id: int
    at: datetime  # when the story happened (first published)
    value: float  # signed, undecayed


@dataclass(frozen=True, slots=True, kw_only=True)
class PairTension:
    """The state of one pair between steps."""

    tension: float = 0.0
    baseline: float = 0.0
    level: Level = Level.CALM
    level_since: datetime | None = None
    candidate: Level | None = None  # a level waiting out the minimum dwell
    candidate_since: datetime | None = None
    updated_at: datetime | None = None
    rises: tuple[tuple[datetime, float], ...] = ()  # escalation added within sharp_rise_window
    reliefs: tuple[tuple[datetime, float], ...] = ()  # de-escalation added within evidence_window
    sharp: bool = False  # a sharp rise is in progress (emitted once, re-armed when it subsides)
    relieved: bool = False  # a sharp relief (burst of de-escalation news) is in progress, likewise
    quiet: bool = True  # False from a fall to calm until the quiet Transition is emitted
    quiet_since: datetime | None = None  # since when the excess stays below the quiet bound

    @property
    def excess(self) -> float:
        return self.tension - self.baseline

    @property
    def rise(self) -> float:
        return sum(v for _, v in self.rises)

    @property
    def relief(self) -> float:
        return sum(v for _, v in self.reliefs)


class Change(enum.StrEnum):
    LEVEL = "level"  # the level changed
    SHARP_RISE = "sharp rise"  # a burst of escalation at an unchanged level
    SHARP_RELIEF = "sharp relief"  # a burst of de-escalation news at an unchanged level
    QUIET = "quiet"  # calm for the quiet period after a non-calm spell


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    pair: Pair
    change: Change
    at: datetime
    old_level: Level
    new_level: Level
    tension: float
    previous_tension: float
    baseline: float
    rise: float  # escalation added within sharp_rise_window
    relief: float  # de-escalation added within evidence_window
    scale: float = 1.0  # noise_scale of the pair's baseline: evidence needed grows with it
    story_ids: tuple[int, ...] = field(default=())  # stories that moved the pair in this step

    @property
    def falling(self) -> bool:
        return self.change is Change.SHARP_RELIEF or (
            self.change is Change.LEVEL and self.new_level < self.old_level
        )

    @property
    def rising(self) -> bool:
        return self.change is Change.SHARP_RISE or (
            self.change is Change.LEVEL and self.new_level > self.old_level
        )


def _advance(state: PairTension, now: datetime, settings: TensionSettings) -> PairTension:
    """Decay tension and move the baseline from updated_at to now."""
    if state.updated_at is None or now <= state.updated_at:
        return replace(state, updated_at=now if state.updated_at is None else state.updated_at)
    elapsed = (now - state.updated_at).total_seconds()
    half = settings.half_life.total_seconds()
    factor = 2.0 ** (-elapsed / half)
    # The baseline follows the mean tension over the interval (exact for exponential decay).
    mean = state.tension * (1.0 - factor) * half / (elapsed * LN2)
    pull = 1.0 - 2.0 ** (-elapsed / settings.baseline_half_life.total_seconds())
    baseline = state.baseline + (mean - state.baseline) * pull
    return replace(state, tension=state.tension * factor, baseline=baseline, updated_at=now)


def _prune(
    entries: Iterable[tuple[datetime, float]], now: datetime, window: timedelta
) -> tuple[tuple[datetime, float], ...]:
    return tuple((at, v) for at, v in entries if now - at < window)


def step(
    pair: Pair,
    state: PairTension,
    contributions: Iterable[Contribution],
    now: datetime,
    settings: TensionSettings,
) -> tuple[PairTension, tuple[Transition, ...]]:
    """Advance `state` to `now`, apply `contributions`, judge the level. Returns (new state, transitions)."""
    state = _advance(state, now, settings)
    previous_tension = state.tension
    tension = state.tension
    rises = list(state.rises)
    reliefs = list(state.reliefs)
    story_ids: list[int] = []
    for c in sorted(contributions, key=lambda c: c.at):
        value = decay(c.value, now - c.at, settings.half_life)
        if value == 0:
            continue
        story_ids.append(c.story_id)
        tension = max(0.0, tension + value)
        (rises if value > 0 else reliefs).append((now, abs(value)))
    state = replace(
        state,
        tension=tension,
        rises=_prune(rises, now, settings.sharp_rise_window),
        reliefs=_prune(reliefs, now, settings.evidence_window),
    )

    transitions: list[Transition] = []

    def emit(change: Change, old: Level, new: Level) -> None:
        transitions.append(
            Transition(
                pair=pair,
                change=change,
                at=now,
                old_level=old,
                new_level=new,
                tension=state.tension,
                previous_tension=previous_tension,
                baseline=state.baseline,
                rise=state.rise,
                relief=state.relief,
                scale=noise_scale(state.baseline, settings.thresholds[0]),
                story_ids=tuple(story_ids),
            )
        )

    target = judge(state.tension, state.baseline, state.level, settings.thresholds, settings.hysteresis)
    held = state.level_since is not None and now - state.level_since < settings.min_dwell
    old = state.level
    if target > state.level:
        if held:
            since = state.candidate_since if state.candidate and state.candidate > state.level else now
            state = replace(state, candidate=target, candidate_since=since)
        else:
            state = replace(state, level=target, level_since=now, candidate=None, candidate_since=None)
    elif target < state.level:
        falling = state.candidate is not None and state.candidate < state.level
        since = state.candidate_since if falling and state.candidate_since else now
        state = replace(state, candidate=target, candidate_since=since)
        if not held and now - since >= settings.min_dwell:
            state = replace(state, level=target, level_since=now, candidate=None, candidate_since=None)
    else:
        state = replace(state, candidate=None, candidate_since=None)
    if state.level != old:
        if state.level == Level.CALM:
            state = replace(state, quiet=False)
        emit(Change.LEVEL, old, state.level)

    scale = noise_scale(state.baseline, settings.thresholds[0])
    sharp = settings.sharp_rise * scale
    rise = state.rise
    if rise >= sharp and not state.sharp:
        state = replace(state, sharp=True)
        waiting = state.candidate is not None and state.candidate > state.level
        if not transitions and not waiting:
            emit(Change.SHARP_RISE, state.level, state.level)
    elif state.sharp and rise < sharp * (1.0 - settings.hysteresis):
        state = replace(state, sharp=False)
    # The mirror image: a burst of de-escalation news (talks, ceasefire) within the evidence window.
    relief = state.relief
    if relief >= sharp and not state.relieved:
        state = replace(state, relieved=True)
        if not transitions:
            emit(Change.SHARP_RELIEF, state.level, state.level)
    elif state.relieved and relief < sharp * (1.0 - settings.hysteresis):
        state = replace(state, relieved=False)

    # Quiet: calm, and the excess well below the elevated bound (half of it), for the quiet period.
    if state.level == Level.CALM and state.excess < _quiet_bound(scale, settings):
        state = replace(state, quiet_since=state.quiet_since or now)
    else:
        state = replace(state, quiet_since=None)
    if not state.quiet and state.quiet_since is not None and now - state.quiet_since >= settings.quiet_period:
        state = replace(state, quiet=True)
        emit(Change.QUIET, Level.CALM, Level.CALM)
    return state, tuple(transitions)


def _quiet_bound(scale: float, settings: TensionSettings) -> float:
    return settings.thresholds[0] * scale * (1.0 - settings.hysteresis) / 2.0


def restate(
    pair: Pair, state: PairTension, told: Level, now: datetime, settings: TensionSettings
) -> Transition | None:
    """A level Transition from what the analyst was last told to the pair's level now, or None when
    they agree. Used when an alert held back (a quick reversal) comes due: it is judged afresh
    against the level and the evidence of that moment, so it is deferred, never dropped."""
    if state.level == told:
        return None
    return Transition(
        pair=pair,
        change=Change.LEVEL,
        at=now,
        old_level=told,
        new_level=state.level,
        tension=state.tension,
        previous_tension=state.tension,
        baseline=state.baseline,
        rise=state.rise,
        relief=state.relief,
        scale=noise_scale(state.baseline, settings.thresholds[0]),
    )


def next_due(state: PairTension, settings: TensionSettings) -> datetime | None:
    """The earliest time at which `step` could emit a Transition without new contributions.

    A replay ticks a pair only at its items and at this time; the daemon ticks every cycle anyway.
    """
    times: list[datetime] = []
    if state.level_since is not None:
        dwell_end = state.level_since + settings.min_dwell
        if state.candidate is not None:
            if state.candidate > state.level:
                times.append(dwell_end)
            elif state.candidate_since is not None:
                times.append(max(dwell_end, state.candidate_since + settings.min_dwell))
    scale = noise_scale(state.baseline, settings.thresholds[0])
    floor: float | None = None
    if state.level == Level.CALM and not state.quiet:
        if state.quiet_since is not None:
            times.append(state.quiet_since + settings.quiet_period)
        else:
            floor = _quiet_bound(scale, settings) + state.baseline
    elif state.level > Level.CALM and state.candidate is None:
        floor = settings.thresholds[state.level - 1] * scale * (1.0 - settings.hysteresis) + state.baseline
    if floor is not None and state.updated_at is not None:
        # When decay brings the excess below the bound (baseline taken as fixed).
        if floor <= 0:
            floor = 1e-9
        if state.tension > floor:
            seconds = settings.half_life.total_seconds() * math.log2(state.tension / floor)
            times.append(state.updated_at + timedelta(seconds=seconds))
        else:
            times.append(state.updated_at)
    return min(times) if times else None
