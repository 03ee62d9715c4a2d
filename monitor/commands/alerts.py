"""`monitor test-alert`, `monitor status` and `monitor alerts`: try the notifiers, see what happened."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from monitor.clock import utcnow
from monitor.commands._app import load, load_app
from monitor.commands.data import clip, iso, write_jsonl, write_table
from monitor.config import Config, ConfigError
from monitor.db.models import AlertRow, Delivery, Feed, PairState
from monitor.domain import Level, Pair
from monitor.notify import Notifier, build_notifier, renderer_for
from monitor.notify.base import DeliveryError
from monitor.notify.render import pair_title
from monitor.notify.sample import sample_alert
from monitor.outbox import FAILED, PENDING, SENDING

ERROR_WIDTH = 80
FAILED_SHOWN = 20


# --------------------------------------------------------------------------- test-alert


def test_alert(args: argparse.Namespace) -> int:
    """Send a sample alert, marked as a test, through each notifier directly (not via the outbox)."""
    config = load(args)
    if config is None:
        return 1
    names = list(config.notifiers)
    if args.notifier is not None:
        if args.notifier not in config.notifiers:
            known = ", ".join(names) or "none"
            print(f"test-alert: no notifier named {args.notifier!r} (configured: {known})", file=sys.stderr)
            return 1
        names = [args.notifier]
    if not names:
        print(f"test-alert: {config.path}: no notifiers configured", file=sys.stderr)
        return 1
    results = asyncio.run(send_samples(config, names, utcnow()))
    width = max(len(name) for name in names)
    for name, outcome in results:
        print(f"{name.ljust(width)}  {outcome}")
    return 0 if all(outcome == "delivered" for _, outcome in results) else 1


async def send_samples(config: Config, names: Sequence[str], now: datetime) -> list[tuple[str, str]]:
    """One line per notifier: 'delivered' or 'failed (permanent|transient): <exact error>'."""
    renderer = renderer_for(config)
    alert = sample_alert(now)
    built: dict[str, Notifier | str] = {}
    for name in names:
        try:
            built[name] = build_notifier(name, config.notifiers[name], renderer)
        except ConfigError as exc:
            built[name] = f"not ready: {' '.join(exc.errors)}"

    async def one(name: str) -> tuple[str, str]:
        notifier = built[name]
        if isinstance(notifier, str):
            return name, notifier
        try:
            await notifier.send(alert, test=True)
        except DeliveryError as exc:
            return name, f"failed ({'permanent' if exc.permanent else 'transient'}): {exc.message}"
        return name, "delivered"

    return list(await asyncio.gather(*(one(name) for name in names)))


# --------------------------------------------------------------------------- status


def status(args: argparse.Namespace) -> int:
    """Each pair's level, tension and last alert; each notifier's health; feeds in trouble."""
    app = load_app(args)
    if app is None:
        return 1
    try:
        with app.db.read_session() as session:
            report = status_report(session, app.config)
    finally:
        app.close()
    print_status(report)
    return 0


def status_report(session: Session, config: Config) -> dict[str, Any]:
    states = {s.pair: s for s in session.scalars(select(PairState))}
    pairs = []
    for pc in config.pairs:
        pair = pc.pair
        state = states.get(pair.key)
        last = session.scalars(
            select(AlertRow).where(AlertRow.pair == pair.key).order_by(AlertRow.at.desc(), AlertRow.id.desc())
        ).first()
        pairs.append(
            {
                "pair": pair.key,
                "title": pair_title(pair, pc.written),
                "level": Level(state.level).label if state else Level.CALM.label,
                "tension": round(state.tension, 2) if state else 0.0,
                "updated_at": iso(state.updated_at) if state else None,
                "last_alert": alert_summary(last) if last is not None else None,
            }
        )
    notifiers = []
    for name in config.notifiers:
        last_sent = session.scalar(select(func.max(Delivery.sent_at)).where(Delivery.notifier == name))
        last_error = session.execute(
            select(Delivery.last_attempt_at, Delivery.last_error)
            .where(Delivery.notifier == name, Delivery.last_error.is_not(None))
            .order_by(Delivery.last_attempt_at.desc(), Delivery.id.desc())
            .limit(1)
        ).first()
        counts = dict(
            session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.notifier == name)
                .group_by(Delivery.status)
            ).all()
        )
        notifiers.append(
            {
                "name": name,
                "type": config.notifiers[name].type,
                "last_success": iso(last_sent),
                "last_error_at": iso(last_error[0]) if last_error else None,
                "last_error": last_error[1] if last_error else None,
                "waiting": counts.get(PENDING, 0) + counts.get(SENDING, 0),
                "failed": counts.get(FAILED, 0),
            }
        )
    failed_rows = session.execute(
        select(Delivery, AlertRow)
        .join(AlertRow, Delivery.alert_id == AlertRow.id)
        .where(Delivery.status == FAILED)
        .order_by(Delivery.last_attempt_at.desc(), Delivery.id.desc())
        .limit(FAILED_SHOWN)
    ).all()
    failed = [
        {
            "alert": row.uid,
            "pair": row.pair,
            "at": iso(row.at),
            "notifier": d.notifier,
            "attempts": d.attempts,
            "last_attempt_at": iso(d.last_attempt_at),
            "last_error": d.last_error,
        }
        for d, row in failed_rows
    ]
    feeds = [
        {
            "name": f.name,
            "state": "retired" if f.retired_at is not None else "failing",
            "consecutive_failures": f.consecutive_failures,
            "last_success_at": iso(f.last_success_at),
            "last_error": f.last_error,
        }
        for f in session.scalars(
            select(Feed)
            .where(or_(Feed.consecutive_failures > 0, Feed.retired_at.is_not(None)))
            .order_by(Feed.name)
        )
    ]
    return {"pairs": pairs, "notifiers": notifiers, "failed_deliveries": failed, "feeds_in_trouble": feeds}


def alert_summary(row: AlertRow) -> str:
    return (
        f"{iso(row.at)} {row.direction} {Level(row.previous_level).label} -> {Level(row.level).label}"
        f" ({row.reason})"
    )


def print_status(report: dict[str, Any]) -> None:
    out = sys.stdout
    out.write("Pairs\n")
    if report["pairs"]:
        write_table(
            ["pair", "countries", "level", "tension", "last alert"],
            [
                [p["pair"], p["title"], p["level"], f"{p['tension']:.2f}", p["last_alert"] or "none"]
                for p in report["pairs"]
            ],
        )
    else:
        out.write("  (no pairs configured)\n")
    out.write("\nNotifiers\n")
    if report["notifiers"]:
        write_table(
            ["notifier", "type", "last success", "waiting", "failed", "last error"],
            [
                [
                    n["name"],
                    n["type"],
                    n["last_success"] or "never",
                    str(n["waiting"]),
                    str(n["failed"]),
                    f"{n['last_error_at']} {clip(n['last_error'], ERROR_WIDTH)}" if n["last_error"] else "-",
                ]
                for n in report["notifiers"]
            ],
        )
    else:
        out.write("  (no notifiers configured: alerts are only recorded)\n")
    out.write("\nFailed deliveries (given up; see `monitor alerts`)\n")
    if report["failed_deliveries"]:
        write_table(
            ["alert", "pair", "notifier", "attempts", "last attempt", "error"],
            [
                [
                    f["alert"],
                    f["pair"],
                    f["notifier"],
                    str(f["attempts"]),
                    f["last_attempt_at"] or "-",
                    clip(f["last_error"] or "", ERROR_WIDTH),
                ]
                for f in report["failed_deliveries"]
            ],
        )
    else:
        out.write("  none\n")
    out.write("\nFeeds in trouble\n")
    if report["feeds_in_trouble"]:
        write_table(
            ["feed", "state", "fails", "last success", "last error"],
            [
                [
                    f["name"],
                    f["state"],
                    str(f["consecutive_failures"]),
                    f["last_success_at"] or "never",
                    clip(f["last_error"] or "", ERROR_WIDTH),
                ]
                for f in report["feeds_in_trouble"]
            ],
        )
    else:
        out.write("  none\n")


# --------------------------------------------------------------------------- alerts


def alerts(args: argparse.Namespace) -> int:
    """Past alerts, newest first, with their deliveries."""
    pair: Pair | None = None
    if args.pair:
        try:
            pair = Pair.parse(args.pair)
        except ValueError as exc:
            print(f"alerts: --pair: {exc}", file=sys.stderr)
            return 1
    app = load_app(args)
    if app is None:
        return 1
    try:
        with app.db.read_session() as session:
            query = select(AlertRow).options(selectinload(AlertRow.deliveries))
            if pair is not None:
                query = query.where(AlertRow.pair == pair.key)
            query = query.order_by(AlertRow.at.desc(), AlertRow.id.desc()).limit(args.limit)
            records = [alert_record(row) for row in session.scalars(query)]
    finally:
        app.close()
    if args.format == "jsonl":
        write_jsonl(records)
        return 0
    write_table(
        ["at", "pair", "direction", "level", "tension", "reason", "deliveries"],
        [
            [
                r["at"],
                "-".join(r["pair"]),
                r["direction"],
                f"{r['previous_level']} -> {r['level']}",
                f"{r['tension']:.2f}",
                r["reason"],
                "; ".join(delivery_summary(d) for d in r["deliveries"]) or "(none)",
            ]
            for r in records
        ],
    )
    return 0


def alert_record(row: AlertRow) -> dict[str, Any]:
    return {
        "id": row.uid,
        "pair": Pair.parse(row.pair).as_list(),
        "direction": row.direction,
        "reason": row.reason,
        "level": Level(row.level).label,
        "previous_level": Level(row.previous_level).label,
        "tension": row.tension,
        "previous_tension": row.previous_tension,
        "at": iso(row.at),
        "created_at": iso(row.created_at),
        "evidence": row.evidence,
        "deliveries": [
            {
                "notifier": d.notifier,
                "status": d.status,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "sent_at": iso(d.sent_at),
                "next_attempt_at": iso(d.next_attempt_at) if d.status == PENDING else None,
            }
            for d in sorted(row.deliveries, key=lambda d: d.notifier)
        ],
    }


def delivery_summary(d: dict[str, Any]) -> str:
    text = f"{d['notifier']}: {d['status']} ({d['attempts']})"
    if d["status"] != "sent" and d["last_error"]:
        text += f" {clip(d['last_error'], 60)}"
    return text
