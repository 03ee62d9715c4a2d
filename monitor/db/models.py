"""The tables. One DeclarativeBase; typed `Mapped[...]` columns; every timestamp aware UTC.

Data flow: feeds -> items -> stories (+ story_keys for near-duplicate lookup) -> story_scores
-> tension_contributions / tension_points / pair_states -> alerts -> deliveries (the outbox).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from monitor.db.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class Feed(Base):
    """A configured feed and its fetch health. Survives restarts: validators, backoff, retirement."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text)  # as configured
    current_url: Mapped[str] = mapped_column(Text)  # after permanent redirects
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    retired_at: Mapped[datetime | None]  # 410 Gone: no more polls
    last_polled_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_warning: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    items_seen: Mapped[int] = mapped_column(default=0)
    next_poll_at: Mapped[datetime | None]  # backoff / Retry-After; None = due at its interval
    # Leases let several daemons share one database without a coordinator.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]


class Item(Base):
    """One entry of one feed, stored once per (feed, key) across polls and restarts."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("feed_id", "key"),
        Index("ix_items_published_at", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(512))  # guid, else canonical link, else content hash
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime]  # published, else updated, else first seen
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)

    feed: Mapped[Feed] = relationship()
    story: Mapped[Story | None] = relationship(back_populates="items")


class Story(Base):
    """One news event as carried by one or more outlets (syndicated copies grouped)."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(Text)
    first_published_at: Mapped[datetime] = mapped_column(index=True)
    source_count: Mapped[int] = mapped_column(default=1)  # distinct outlets carrying it
    sources: Mapped[list[Any]] = mapped_column(default=list)  # outlet names, first first
    classified_at: Mapped[datetime | None]
    scored_sources: Mapped[int] = mapped_column(default=0)  # source_count the tension last counted

    items: Mapped[list[Item]] = relationship(back_populates="story")


class StoryKey(Base):
    """Near-duplicate lookup keys of a story (normalised-title and shingle-band signatures)."""

    __tablename__ = "story_keys"
    __table_args__ = (Index("ix_story_keys_key_created", "key", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class StoryScore(Base):
    """The classifier's reading of a story for one pair (rank 0 = the headline's pair)."""

    __tablename__ = "story_scores"
    __table_args__ = (UniqueConstraint("story_id", "pair"), Index("ix_story_scores_pair", "pair"))

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    pair: Mapped[str] = mapped_column(String(5))  # "IR-PK"
    rank: Mapped[int] = mapped_column(default=0)
    direction: Mapped[str] = mapped_column(String(16))
    score: Mapped[float]
    confidence: Mapped[float]
    evidence: Mapped[list[Any]] = mapped_column(default=list)  # matched phrases


class TensionContribution(Base):
    """What one story added to one pair's tension (kept for explanation and charts)."""

    __tablename__ = "tension_contributions"
    __table_args__ = (UniqueConstraint("pair", "story_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pair: Mapped[str] = mapped_column(String(5))
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    value: Mapped[float]  # signed, before decay


class TensionPoint(Base):
    """The tension time series of a pair."""

    __tablename__ = "tension_points"
    __table_args__ = (Index("ix_tension_points_pair_at", "pair", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pair: Mapped[str] = mapped_column(String(5))
    at: Mapped[datetime]
    tension: Mapped[float]
    baseline: Mapped[float]
    level: Mapped[int]


class PairState(Base):
    """Current tension state of a configured pair; updated in the same transaction as its alerts."""

    __tablename__ = "pair_states"

    pair: Mapped[str] = mapped_column(String(5), primary_key=True)
    tension: Mapped[float] = mapped_column(default=0.0)
    baseline: Mapped[float] = mapped_column(default=0.0)
    level: Mapped[int] = mapped_column(default=0)
    level_since: Mapped[datetime | None]
    candidate_level: Mapped[int | None]  # a level waiting out its minimum dwell
    candidate_since: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    last_alert_at: Mapped[datetime | None]
    last_alert_level: Mapped[int | None]
    last_alert_direction: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)  # policy scratch (windows, counters)


class AlertRow(Base):
    """One shift of one pair. Written in the same transaction as the state change and its deliveries."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_pair_at", "pair", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)  # stable message id
    pair: Mapped[str] = mapped_column(String(5))
    direction: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    level: Mapped[int]
    previous_level: Mapped[int]
    tension: Mapped[float]
    previous_tension: Mapped[float]
    at: Mapped[datetime]
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]

    deliveries: Mapped[list[Delivery]] = relationship(back_populates="alert")


class Delivery(Base):
    """The outbox: one row per (alert, notifier). Claimed atomically, sent, recorded."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "notifier"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    notifier: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime]

    alert: Mapped[AlertRow] = relationship(back_populates="deliveries")
