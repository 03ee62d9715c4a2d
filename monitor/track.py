"""The scoring stage: stories -> scores -> pair tension -> alerts in the outbox, in one transaction.

`track(session, settings, classifier, router, now)` works inside the caller's transaction and never
commits: the caller's `with db.session()` commits the scores, the contributions, the pairs' new state,
their tension points, and every alert with its pending deliveries together, or none of them.

A story is counted once per pair however many outlets carry it; when its outlet count grows later,
its contribution grows by the corroboration delta (Story.scored_sources remembers what was counted).
Running track again at the same `now` changes nothing and writes no alert twice.

Every statement runs on the session connection's DB-API cursor (monitor.db.rows's fetch_rows and
execute_rows: compiled once per dialect, values through the column types' own processors), so a call
costs a handful of round trips and no ORM work. A caller that is the database's only writer (a
replay) may keep the pairs' states between calls in a `PairStates`: each pair_states row is then read
once and only written after.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from monitor.alerting import AlertPolicy, Decision, Memory, decide, make_alert
from monitor.db.models import Item, PairState, Story, StoryScore, TensionContribution, TensionPoint
from monitor.db.rows import execute_rows, fetch_rows, in_list, inserting, list_param
from monitor.db.types import UTCDateTime
from monitor.domain import Alert, Direction, Evidence, Level, Pair, PairScore
from monitor.tension import (
    Contribution,
    PairTension,
    TensionSettings,
    Transition,
    contribution_value,
    decay,
    next_due,
    restate,
    step,
)

_stories = cast(Table, Story.__table__)
# One executemany per run: what was counted (and, for new stories, when they were classified).
_MARK_STORIES = (
    update(_stories)
    .where(_stories.c.id == bindparam("sid"))
    .values(
        scored_sources=bindparam("n"),
        classified_at=func.coalesce(_stories.c.classified_at, bindparam("at", type_=UTCDateTime())),
    )
)


class Reading(Protocol):
    """What track needs from a classification: one PairScore per pair the story touches."""

    @property
    def pairs(self) -> Sequence[PairScore]: ...


Classifier = Callable[[str, str], Reading]
Router = Callable[[Pair], Sequence[str]]  # pair -> notifier names
Enqueue = Callable[[Session, Alert, Sequence[str], datetime], object]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackSettings:
    pairs: tuple[Pair, ...]
    tension: TensionSettings = field(default_factory=TensionSettings)
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    feed_weights: Mapping[str, float] = field(default_factory=dict)  # outlet/feed name -> weight
    max_evidence: int = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class Judged:
    transition: Transition
    decision: Decision


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackResult:
    classified: int = 0
    contributions: int = 0
    judged: tuple[Judged, ...] = ()  # every transition with the policy's decision (fired or why not)
    alerts: tuple[Alert, ...] = ()
    next_due: datetime | None = None  # earliest time a pair could change with no new story


def settings_from_config(config: Any) -> TrackSettings:
    """TrackSettings from a monitor.config.Config (its `pairs`, `feeds` and `alerting`)."""
    a = config.alerting
    return TrackSettings(
        pairs=tuple(p.pair for p in config.pairs),
        tension=TensionSettings(
            half_life=a.half_life,
            baseline_half_life=a.baseline_half_life,
            thresholds=(a.thresholds.elevated, a.thresholds.high, a.thresholds.critical),
            hysteresis=a.hysteresis,
            min_dwell=a.min_dwell,
            sharp_rise=a.sharp_rise,
            sharp_rise_window=a.sharp_rise_window,
            evidence_window=a.evidence_window,
            quiet_period=a.quiet_period,
            min_confidence=a.min_confidence,
        ),
        policy=AlertPolicy(
            repeat_interval=a.repeat_interval,
            back_to_calm=a.back_to_calm,
            deescalation_evidence=a.deescalation_evidence,
            reversal_hold=a.reversal_hold,
        ),
        feed_weights={f.name: f.weight for f in config.feeds},
    )


def _default_enqueue(session: Session, alert: Alert, notifiers: Sequence[str], now: datetime) -> object:
    from monitor.outbox import enqueue_alert

    return enqueue_alert(session, alert, notifiers, now)


class PairStates:
    """The pairs' states as track last read or wrote them, kept between calls.

    Only for a caller that is the database's only writer meanwhile (a replay): with it, track reads a
    pair's pair_states row once, then only writes it. Discard it after a rollback.
    """

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: dict[str, _PairRow] = {}


def track(
    session: Session,
    settings: TrackSettings,
    classifier: Classifier,
    router: Router,
    now: datetime,
    *,
    story_ids: Collection[int] | None = None,
    idle_until: datetime | None = None,
    states: PairStates | None = None,
    enqueue: Enqueue = _default_enqueue,
) -> TrackResult:
    """Classify new stories, count new and grown ones into their pairs' tension, write alerts.

    `story_ids` limits the work to those stories (the ingest result); None looks for every story
    not yet classified or grown since it was counted. `idle_until` is a promise from the caller (the
    previous result's next_due, with no other writer since) that no pair falls due before it: until
    then only pairs with new contributions are loaded (what makes a replay fast). `states` keeps the
    pairs' states between calls (see PairStates: same promise).
    """
    wanted = {p.key: p for p in settings.pairs}
    conn = session.connection()
    stories = _candidates(conn, story_ids)
    classified, readings = _classify(conn, stories, classifier, now)

    grown = [s for s in stories if s.id not in readings and s.source_count > s.scored_sources]
    scores = dict(readings)
    if grown and wanted:
        scores.update(_stored_scores(conn, [s.id for s in grown], wanted))
    counted = [s for s in stories if s.id in readings or s.source_count > s.scored_sources]
    per_pair = _contribute(conn, counted, scores, wanted, settings)
    marks = [{"sid": s.id, "n": s.source_count, "at": now if s.id in readings else None} for s in counted]
    execute_rows(conn, _MARK_STORIES, marks)

    judged: list[Judged] = []
    alerts: list[Alert] = []
    points: list[dict[str, Any]] = []
    due: list[datetime] = []
    keys = list(wanted)
    if idle_until is not None and now < idle_until:
        keys = [key for key in keys if key in per_pair]
        due.append(idle_until)
    rows = _pair_rows(conn, keys, states)
    written: dict[str, _PairRow] = {}
    for key in keys:
        pair = wanted[key]
        row = rows.get(key) or _PairRow()
        state, memory = row.state, row.memory
        contributions = per_pair.get(key, [])
        pending = _earliest(next_due(state, settings.tension), memory.held_until)
        if not contributions and state.updated_at is not None and (pending is None or pending > now):
            if pending is not None:
                due.append(pending)
            continue  # nothing can change: decay is applied lazily at the next step
        state, transitions = step(pair, state, contributions, now, settings.tension)
        if memory.held_until is not None and memory.held_until <= now:
            memory = replace(memory, held_until=None)
            if not transitions:  # a held reversal comes due: judge it against the level now
                again = restate(pair, state, memory.level, now, settings.tension)
                transitions = (again,) if again is not None else ()
        last = (row.last_alert_at, row.last_alert_level, row.last_alert_direction)
        for t in transitions:
            decision = decide(t, memory, settings.policy)
            memory = decision.memory
            judged.append(Judged(transition=t, decision=decision))
            if decision.fires:
                evidence = _evidence(conn, t, decision.direction, settings)
                alert = make_alert(t, decision, evidence)
                enqueue(session, alert, router(pair), now)
                alerts.append(alert)
                last = (alert.at, int(alert.level), alert.direction)
        written[key] = _PairRow(
            state=state,
            # What reading the row back gives (the last alert's time and direction are its columns).
            memory=replace(memory, at=last[0], direction=last[2]),
            last_alert_at=last[0],
            last_alert_level=last[1],
            last_alert_direction=last[2],
            stored=row.stored,
        )
        if contributions or transitions:
            points.append(
                {
                    "v_pair": key,
                    "v_at": now,
                    "v_tension": state.tension,
                    "v_baseline": state.baseline,
                    "v_level": int(state.level),
                }
            )
        pending = _earliest(next_due(state, settings.tension), memory.held_until)
        if pending is not None:
            due.append(pending)
    execute_rows(conn, _INSERT_POINTS, points)
    _write_pairs(conn, written)
    if states is not None:
        states.rows.update((key, replace(row, stored=True)) for key, row in written.items())
    return TrackResult(
        classified=classified,
        contributions=sum(len(v) for v in per_pair.values()),
        judged=tuple(judged),
        alerts=tuple(alerts),
        next_due=min(due) if due else None,
    )


# --------------------------------------------------------------------------- stories and scores


@dataclass(frozen=True, slots=True)
class _Story:
    id: int
    title: str
    summary: str
    at: datetime
    source_count: int
    sources: tuple[str, ...]
    classified: bool
    scored_sources: int


_STORY_COLUMNS = select(
    Story.id,
    Story.title,
    Story.summary,
    Story.first_published_at,
    Story.source_count,
    Story.sources,
    Story.classified_at.is_not(None),  # a flag: no time to convert
    Story.scored_sources,
).order_by(Story.id)
# Built once: SQLAlchemy caches the compiled form, the per-slice cost is only the round trip.
_STORIES_TO_DO = _STORY_COLUMNS.where(
    or_(Story.classified_at.is_(None), Story.source_count > Story.scored_sources)
)
_scores = cast(Table, StoryScore.__table__)
_contributions = cast(Table, TensionContribution.__table__)
_points = cast(Table, TensionPoint.__table__)


_INSERT_SCORES = inserting(
    _scores, ("story_id", "pair", "rank", "direction", "score", "confidence", "evidence")
)
_INSERT_CONTRIBUTIONS = inserting(_contributions, ("pair", "story_id", "at", "value"))
_INSERT_POINTS = inserting(_points, ("pair", "at", "tension", "baseline", "level"))

_pair_states = cast(Table, PairState.__table__)
_PAIR_COLUMNS = (
    "tension",
    "baseline",
    "level",
    "level_since",
    "candidate_level",
    "candidate_since",
    "updated_at",
    "last_alert_at",
    "last_alert_level",
    "last_alert_direction",
    "state",
)
_INSERT_PAIRS = inserting(_pair_states, ("pair", *_PAIR_COLUMNS))
_UPDATE_PAIRS = (
    update(_pair_states)
    .where(_pair_states.c.pair == bindparam("v_pair", type_=String()))
    .values({c: bindparam(f"v_{c}", type_=_pair_states.c[c].type) for c in _PAIR_COLUMNS})
)


_RAISE_CONTRIBUTIONS = (
    update(_contributions)
    .where(_contributions.c.id == bindparam("v_id", type_=Integer()))
    .values(value=bindparam("v_value", type_=_contributions.c.value.type))
)


def _moved(escalation: bool) -> Select[Any]:
    """The contributions of one pair since a time, in one direction (for an alert's evidence)."""
    c = _contributions.c
    return select(c.story_id, c.at, c.value).where(
        c.pair == bindparam("pair", type_=String()),
        c.at >= bindparam("since", type_=UTCDateTime()),
        c.value > literal_column("0") if escalation else c.value < literal_column("0"),
    )


_MOVED = {Direction.ESCALATION: _moved(True), Direction.DE_ESCALATION: _moved(False)}


@dataclass(frozen=True, slots=True)
class _ByList:
    """The statements that take a list of ids or pairs as one parameter (their form depends on the
    database: see monitor.db.rows.in_list)."""

    stories: Select[Any]
    scores: Select[Any]
    contributions: Select[Any]
    pairs: Select[Any]
    evidence_stories: Select[Any]
    evidence_scores: Select[Any]
    evidence_items: Select[Any]


@functools.cache
def _by_list(dialect: str) -> _ByList:
    def among(column: Any, name: str, kind: type[String] | type[Integer]) -> Any:
        return in_list(column, name, kind, dialect)

    s, c = _scores.c, _contributions.c
    items = cast(Table, Item.__table__).c
    return _ByList(
        stories=_STORY_COLUMNS.where(among(_stories.c.id, "ids", Integer)),
        scores=select(s.story_id, s.pair, s.direction, s.score, s.confidence, s.evidence).where(
            among(s.story_id, "ids", Integer), among(s.pair, "pairs", String)
        ),
        # By (pair, story_id): the unique index's order.
        contributions=select(c.id, c.pair, c.story_id, c.value).where(
            among(c.pair, "pairs", String), among(c.story_id, "ids", Integer)
        ),
        pairs=select(_pair_states.c.pair, *(_pair_states.c[name] for name in _PAIR_COLUMNS)).where(
            among(_pair_states.c.pair, "pairs", String)
        ),
        evidence_stories=select(
            _stories.c.id,
            _stories.c.title,
            _stories.c.sources,
            _stories.c.first_published_at,
            _stories.c.link,
        ).where(among(_stories.c.id, "ids", Integer)),
        evidence_scores=select(s.story_id, s.score, s.confidence, s.evidence).where(
            among(s.story_id, "ids", Integer), s.pair == bindparam("pair", type_=String())
        ),
        evidence_items=select(items.story_id, items.key)
        .where(among(items.story_id, "ids", Integer))
        .order_by(items.id.desc()),
    )


def _candidates(conn: Connection, story_ids: Collection[int] | None) -> list[_Story]:
    rows: Iterable[Sequence[Any]]
    if story_ids is None:
        rows = fetch_rows(conn, _STORIES_TO_DO, {})
    elif not story_ids:
        return []
    else:
        dialect = conn.dialect.name
        rows = fetch_rows(conn, _by_list(dialect).stories, {"ids": list_param(dialect, sorted(story_ids))})
    return [_Story(r[0], r[1], r[2] or "", r[3], r[4], tuple(r[5] or ()), bool(r[6]), r[7]) for r in rows]


def _classify(
    conn: Connection, stories: Iterable[_Story], classifier: Classifier, now: datetime
) -> tuple[int, dict[int, dict[str, PairScore]]]:
    """Classify the unclassified stories and store their scores. Returns (count, id -> pair key -> score)."""
    readings: dict[int, dict[str, PairScore]] = {}
    score_rows: list[dict[str, Any]] = []
    for story in stories:
        if story.classified:
            continue
        by_pair: dict[str, PairScore] = {}
        for rank, ps in enumerate(classifier(story.title, story.summary).pairs):
            if ps.pair.key in by_pair:
                continue
            by_pair[ps.pair.key] = ps
            score_rows.append(
                {
                    "v_story_id": story.id,
                    "v_pair": ps.pair.key,
                    "v_rank": rank,
                    "v_direction": ps.direction.value,
                    "v_score": float(ps.score),
                    "v_confidence": float(ps.confidence),
                    "v_evidence": list(ps.evidence),
                }
            )
        readings[story.id] = by_pair
    execute_rows(conn, _INSERT_SCORES, score_rows)
    return len(readings), readings


def _stored_scores(
    conn: Connection, story_ids: list[int], wanted: Mapping[str, Pair]
) -> dict[int, dict[str, PairScore]]:
    out: dict[int, dict[str, PairScore]] = defaultdict(dict)
    dialect = conn.dialect.name
    values = {"ids": list_param(dialect, story_ids), "pairs": list_param(dialect, wanted)}
    for sid, key, direction, score, confidence, evidence in fetch_rows(
        conn, _by_list(dialect).scores, values
    ):
        out[sid][key] = PairScore(
            pair=wanted[key],
            direction=Direction(direction),
            score=score,
            confidence=confidence,
            evidence=tuple(evidence or ()),
        )
    return out


def _contribute(
    conn: Connection,
    stories: list[_Story],
    scores: Mapping[int, Mapping[str, PairScore]],
    wanted: Mapping[str, Pair],
    settings: TrackSettings,
) -> dict[str, list[Contribution]]:
    """Add or raise TensionContribution rows; return the deltas per pair key."""
    values: dict[tuple[str, int], tuple[float, datetime]] = {}
    grown: set[int] = set()
    for story in stories:
        weight = max((settings.feed_weights.get(s, 1.0) for s in story.sources), default=1.0)
        for key, ps in scores.get(story.id, {}).items():
            if key not in wanted or ps.confidence < settings.tension.min_confidence or ps.score == 0:
                continue
            value = contribution_value(
                score=ps.score, confidence=ps.confidence, outlets=story.source_count, weight=weight
            )
            values[(key, story.id)] = (value, story.at)
            if story.classified:
                grown.add(story.id)
    if not values:
        return {}
    existing: dict[tuple[str, int], tuple[int, float]] = {}
    if grown:
        dialect = conn.dialect.name
        keys = sorted({key for key, sid in values if sid in grown})
        lists = {"pairs": list_param(dialect, keys), "ids": list_param(dialect, sorted(grown))}
        for cid, key, sid, value in fetch_rows(conn, _by_list(dialect).contributions, lists):
            existing[(key, sid)] = (cid, value)
    new_rows: list[dict[str, Any]] = []
    raised: list[dict[str, Any]] = []
    per_pair: dict[str, list[Contribution]] = defaultdict(list)
    for (key, sid), (value, at) in values.items():
        old = existing.get((key, sid))
        if old is None:
            new_rows.append({"v_pair": key, "v_story_id": sid, "v_at": at, "v_value": value})
            delta = value
        else:
            delta = value - old[1]
            if delta == 0:
                continue
            raised.append({"v_id": old[0], "v_value": value})
        per_pair[key].append(Contribution(story_id=sid, at=at, value=delta))
    execute_rows(conn, _INSERT_CONTRIBUTIONS, new_rows)
    execute_rows(conn, _RAISE_CONTRIBUTIONS, raised)
    return per_pair


# --------------------------------------------------------------------------- pair state rows


@dataclass(frozen=True, slots=True, kw_only=True)
class _PairRow:
    """One pair_states row as the tension and policy code see it."""

    state: PairTension = field(default_factory=PairTension)
    memory: Memory = field(default_factory=Memory)
    last_alert_at: datetime | None = None
    last_alert_level: int | None = None
    last_alert_direction: Direction | None = None
    stored: bool = False  # the row exists in the database


def _earliest(*times: datetime | None) -> datetime | None:
    return min((t for t in times if t is not None), default=None)


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _pair_rows(conn: Connection, keys: Sequence[str], states: PairStates | None) -> dict[str, _PairRow]:
    """The rows of `keys` (missing ones absent): from `states` when it holds them, else read."""
    if states is None:
        known: dict[str, _PairRow] = {}
        missing = list(keys)
    else:
        known = {key: states.rows[key] for key in keys if key in states.rows}
        missing = [key for key in keys if key not in known]
    if missing:
        dialect = conn.dialect.name
        for record in fetch_rows(conn, _by_list(dialect).pairs, {"pairs": list_param(dialect, missing)}):
            known[record[0]] = _load(record)
    return known


def _load(record: Sequence[Any]) -> _PairRow:
    (_, tension, baseline, level, level_since, candidate, candidate_since, updated_at) = record[:8]
    last_at, last_level, last_direction, extra = record[8:]
    extra = extra or {}
    direction = Direction(last_direction) if last_direction else None
    state = PairTension(
        tension=tension or 0.0,
        baseline=baseline or 0.0,
        level=Level(level or 0),
        level_since=level_since,
        candidate=Level(candidate) if candidate is not None else None,
        candidate_since=candidate_since,
        updated_at=updated_at,
        rises=tuple((datetime.fromisoformat(at), float(v)) for at, v in extra.get("rises", ())),
        reliefs=tuple((datetime.fromisoformat(at), float(v)) for at, v in extra.get("reliefs", ())),
        sharp=bool(extra.get("sharp", False)),
        relieved=bool(extra.get("relieved", False)),
        quiet=bool(extra.get("quiet", True)),
        quiet_since=_dt(extra.get("quiet_since")),
    )
    memory = Memory(
        level=Level(int(extra.get("told", 0))),
        at=last_at,
        direction=direction,
        tension=float(extra.get("told_tension", 0.0)),
        held_until=_dt(extra.get("held_until")),
    )
    return _PairRow(
        state=state,
        memory=memory,
        last_alert_at=last_at,
        last_alert_level=last_level,
        last_alert_direction=direction,
        stored=True,
    )


def _write_pairs(conn: Connection, rows: Mapping[str, _PairRow]) -> None:
    """Insert the new rows, update the others (one executemany each)."""
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for key, row in rows.items():
        state, memory = row.state, row.memory
        values = {
            "v_pair": key,
            "v_tension": state.tension,
            "v_baseline": state.baseline,
            "v_level": int(state.level),
            "v_level_since": state.level_since,
            "v_candidate_level": int(state.candidate) if state.candidate is not None else None,
            "v_candidate_since": state.candidate_since,
            "v_updated_at": state.updated_at,
            "v_last_alert_at": row.last_alert_at,
            "v_last_alert_level": row.last_alert_level,
            "v_last_alert_direction": row.last_alert_direction.value if row.last_alert_direction else None,
            "v_state": {
                "rises": [[at.isoformat(), v] for at, v in state.rises],
                "reliefs": [[at.isoformat(), v] for at, v in state.reliefs],
                "sharp": state.sharp,
                "relieved": state.relieved,
                "quiet": state.quiet,
                "quiet_since": state.quiet_since.isoformat() if state.quiet_since else None,
                "told": int(memory.level),
                "told_tension": memory.tension,
                "held_until": memory.held_until.isoformat() if memory.held_until else None,
            },
        }
        (updates if row.stored else inserts).append(values)
    execute_rows(conn, _INSERT_PAIRS, inserts)
    execute_rows(conn, _UPDATE_PAIRS, updates)


# --------------------------------------------------------------------------- evidence


def _evidence(
    conn: Connection, t: Transition, direction: Direction, settings: TrackSettings
) -> tuple[Evidence, ...]:
    """The stories that moved the pair most in the evidence window, in the alert's direction."""
    since = t.at - settings.tension.evidence_window
    moved = fetch_rows(conn, _MOVED[direction], {"pair": t.pair.key, "since": since})
    weighted = [(decay(abs(value), t.at - at, settings.tension.half_life), sid) for sid, at, value in moved]
    top = [sid for _, sid in sorted(weighted, reverse=True)[: settings.max_evidence]]
    if not top:
        return ()
    dialect = conn.dialect.name
    statements = _by_list(dialect)
    ids = list_param(dialect, top)
    stories = {r[0]: r for r in fetch_rows(conn, statements.evidence_stories, {"ids": ids})}
    scores = {r[0]: r for r in fetch_rows(conn, statements.evidence_scores, {"ids": ids, "pair": t.pair.key})}
    keys: dict[int, str] = {}
    for sid, key in fetch_rows(conn, statements.evidence_items, {"ids": ids}):
        keys[sid] = key  # the lowest item id wins: the story's first item
    out = []
    for sid in top:
        _, title, sources, published, link = stories[sid]
        score = scores.get(sid)
        out.append(
            Evidence(
                id=keys.get(sid, f"story-{sid}"),
                title=title,
                sources=tuple(sources or ()),
                published=published,
                link=link,
                score=score[1] if score else 0.0,
                confidence=score[2] if score else 0.0,
                phrases=tuple(score[3] or ()) if score else (),
            )
        )
    return tuple(out)


def judged_summary(result: TrackResult) -> list[str]:
    """One line per judged transition, for logs: 'IR-PK calm -> high: first' or '...: suppressed: why'."""
    lines = []
    for j in result.judged:
        t, d = j.transition, j.decision
        label = d.reason.value if d.reason else d.why
        lines.append(f"{t.pair.key} {t.change.value} {t.old_level.label} -> {t.new_level.label}: {label}")
    return lines
