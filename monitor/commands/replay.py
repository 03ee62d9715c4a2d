"""`monitor replay`: archived items through the daemon's pipeline on a simulated clock, alerts out.

Always on a fresh temporary SQLite database (the configured one is never touched). Without --deliver
nothing is sent; with --deliver the outbox of the replay is handed to the delivery worker at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from monitor.clock import utcnow
from monitor.commands._app import configured_classifier, load
from monitor.config import Config
from monitor.db.session import Database
from monitor.domain import Alert
from monitor.replay import ReplayInputError, open_scratch_db, read_items, write_alerts
from monitor.replay import replay as run_replay
from monitor.track import settings_from_config


class Progress:
    """A plain progress bar on a terminal's stderr, redrawn at most five times a second."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.started = time.monotonic()
        self.drawn = 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.drawn < 0.2 and done < self.total:
            return
        self.drawn = now
        width = 30
        filled = width * done // self.total
        rate = done / max(now - self.started, 1e-9)
        self.stream.write(
            f"\rreplay [{'#' * filled}{'.' * (width - filled)}] {100 * done // self.total:3d}% "
            f"{done:,}/{self.total:,} items {rate:,.0f}/s"
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def replay(args: argparse.Namespace) -> int:
    config = load(args)
    if config is None:
        return 1
    try:
        items = read_items(Path(args.input))
    except ReplayInputError as err:
        print(err, file=sys.stderr)
        return 1
    from monitor.classify import warm

    classify = configured_classifier(config)
    if classify is None:
        return 1
    warm()
    with ExitStack() as stack:
        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="monitor-replay-"))
        try:
            db = open_scratch_db(Path(workdir) / "replay.db")
            stack.callback(db.dispose)
        except (SQLAlchemyError, OSError) as err:
            print(f"replay database: {err}".splitlines()[0], file=sys.stderr)
            return 1
        out: TextIO = sys.stdout
        if args.output != "-":
            try:
                out = stack.enter_context(open(args.output, "w", encoding="utf-8"))
            except OSError as err:
                print(f"{args.output}: {err.strerror or err}", file=sys.stderr)
                return 1
        progress = Progress(len(items), sys.stderr) if sys.stderr.isatty() else None

        def emit(alert: Alert) -> None:
            write_alerts([alert], out)

        started = time.perf_counter()
        report = run_replay(
            db,
            items,
            settings_from_config(config),
            classify,
            config.notifiers_for,
            slice_width=config.poll.interval,
            on_alert=emit,
            on_progress=progress,
        )
        elapsed = time.perf_counter() - started
        if progress is not None:
            progress.close()
        out.flush()
        print(
            f"replayed {report.items:,} items ({report.stories:,} new or grown stories) in {elapsed:.1f}s "
            f"({report.items / max(elapsed, 1e-9):,.0f} items/s): {len(report.alerts)} alerts",
            file=sys.stderr,
        )
        if args.deliver:
            return _deliver(db, config, utcnow())
    return 0


def _deliver(db: Database, config: Config, now: datetime) -> int:
    from monitor.delivery import deliver_due
    from monitor.pipeline import available_notifiers, worker_id

    notifiers, problems = available_notifiers(config)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not notifiers:
        print("--deliver: no notifier available, nothing sent", file=sys.stderr)
        return 1 if config.notifiers else 0
    report = asyncio.run(deliver_due(db, notifiers, config, now, worker_id()))
    print(
        f"delivered: {report.sent} sent, {report.retrying} to retry, {report.failed} failed "
        f"(of {report.due} due)",
        file=sys.stderr,
    )
    return 0 if report.failed == 0 and report.retrying == 0 else 1
