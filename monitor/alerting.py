"""Alert policy: a Transition and what the analyst was last told -> an Alert, or nothing and why.

Pure. The policy compares the new level with the level of the last alert sent for the pair (the
analyst's picture), not with the tracker's previous level, so a level that decays silently and comes
back is not news again:
- escalation (a level rise, or a sharp rise at an unchanged level): "first" when the analyst's picture
  was calm, "escalated" when it rises above the last alerted level, "repeat" when the level equals the
  last alerted one and `repeat_interval` has passed since that alert; otherwise suppressed;
- de-escalation (a level fall, or a sharp relief: a burst of de-escalation news while the level stays
  below what the analyst was told): only with positive evidence, de-escalation stories worth at least
  `deescalation_evidence` tension units (widened like the thresholds for a busy pair) within the
  evidence window, and only below the last alerted level; a fall by decay alone is suppressed;
- a reversal (an escalation right after a de-escalation alert, or the other way round) waits
  `reversal_hold` after that alert, so mixed news (strikes and talks the same day) does not flap;
  it is deferred, not dropped: `Memory.held_until` says when the tracker judges the pair again
  (tension.restate) against the level and evidence of that moment;
- quiet (calm and quiet for the quiet period after a non-calm spell): "back to calm" when `back_to_calm` is on
  and the analyst's picture is not calm yet; either way the picture becomes calm.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.domain import Alert, AlertReason, Direction, Evidence, Level, Pair
from monitor.tension import Change, Transition


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertPolicy:
    repeat_interval: timedelta = timedelta(hours=24)  # at most one re-send of an unchanged level per interval
    back_to_calm: bool = True  # send a plain notice when a pair is calm again after the quiet period
    deescalation_evidence: float = 5.0  # tension units of de-escalation news needed to report a fall
    reversal_hold: timedelta = timedelta(
        hours=6
    )  # an alert reversing the last one's direction waits this long


@dataclass(frozen=True, slots=True, kw_only=True)
class Memory:
    """What the analyst was last told about a pair."""

    level: Level = Level.CALM
    at: datetime | None = None
    direction: Direction | None = None
    tension: float = 0.0
    held_until: datetime | None = None  # an alert held back by the reversal hold is judged again then


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The policy's answer. `reason` is None when suppressed; `why` always says why in words."""

    reason: AlertReason | None
    why: str
    direction: Direction
    level: Level
    previous_level: Level
    memory: Memory  # the analyst's picture after this decision

    @property
    def fires(self) -> bool:
        return self.reason is not None


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def decide(transition: Transition, memory: Memory, policy: AlertPolicy) -> Decision:
    t = transition
    told = memory.level

    def fire(reason: AlertReason, direction: Direction, why: str, hold: bool = True) -> Decision:
        last = memory.direction
        if hold and memory.at is not None and last is not None and last is not direction:
            since = t.at - memory.at
            if since < policy.reversal_hold:
                until = memory.at + policy.reversal_hold
                return suppress(
                    direction,
                    f"reverses the last alert ({last.value}) of {_ago(since)} ago "
                    f"(reversal hold {_ago(policy.reversal_hold)}; judged again then)",
                    replace(memory, held_until=until),
                )
        new_memory = Memory(level=t.new_level, at=t.at, direction=direction, tension=t.tension)
        return Decision(
            reason=reason,
            why=why,
            direction=direction,
            level=t.new_level,
            previous_level=told,
            memory=new_memory,
        )

    def suppress(direction: Direction, why: str, new_memory: Memory = memory) -> Decision:
        return Decision(
            reason=None,
            why=f"suppressed: {why}",
            direction=direction,
            level=t.new_level,
            previous_level=told,
            memory=new_memory,
        )

    if t.change is Change.QUIET:
        if told == Level.CALM:
            return suppress(Direction.DE_ESCALATION, "the last alert already left the pair calm")
        calm = Memory(level=Level.CALM, at=memory.at, direction=memory.direction, tension=memory.tension)
        if not policy.back_to_calm:
            return suppress(Direction.DE_ESCALATION, "back-to-calm notices are off", calm)
        return fire(
            AlertReason.BACK_TO_CALM, Direction.DE_ESCALATION, "calm for the quiet period", hold=False
        )

    if t.rising:
        if t.new_level == Level.CALM:
            return suppress(Direction.ESCALATION, "still calm against the pair's baseline")
        if t.new_level > told:
            reason = AlertReason.FIRST if told == Level.CALM else AlertReason.ESCALATED
            cause = "sharp rise" if t.change is Change.SHARP_RISE else "level rose"
            return fire(reason, Direction.ESCALATION, f"{cause} above the last alerted level {told.label}")
        if t.new_level < told:
            return suppress(Direction.ESCALATION, f"below the last alerted level {told.label}")
        since = t.at - memory.at if memory.at is not None else None
        if since is None or since >= policy.repeat_interval:
            return fire(AlertReason.REPEAT, Direction.ESCALATION, f"still {told.label}, fresh escalation")
        return suppress(
            Direction.ESCALATION,
            f"already alerted {told.label} {_ago(since)} ago (repeat interval {_ago(policy.repeat_interval)})",
        )

    # A fall of level.
    if t.new_level >= told:
        return suppress(Direction.DE_ESCALATION, f"not below the last alerted level {told.label}")
    needed = policy.deescalation_evidence * t.scale
    if t.relief < needed:
        return suppress(
            Direction.DE_ESCALATION, f"fall by decay, de-escalation evidence {t.relief:.1f} < {needed:.1f}"
        )
    return fire(
        AlertReason.DE_ESCALATED, Direction.DE_ESCALATION, "de-escalation news brought the level down"
    )


def alert_uid(pair: Pair, at: datetime, reason: AlertReason, level: Level) -> str:
    """Stable across retries and restarts: the same shift always gets the same id."""
    text = f"{pair.key}|{at.isoformat()}|{reason.value}|{level.label}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def make_alert(transition: Transition, decision: Decision, evidence: tuple[Evidence, ...]) -> Alert:
    if decision.reason is None:
        raise ValueError(f"no alert for a suppressed decision ({decision.why})")
    t = transition
    return Alert(
        uid=alert_uid(t.pair, t.at, decision.reason, decision.level),
        pair=t.pair,
        direction=decision.direction,
        reason=decision.reason,
        level=decision.level,
        previous_level=decision.previous_level,
        tension=t.tension,
        previous_tension=t.previous_tension,
        at=t.at,
        evidence=evidence,
    )
