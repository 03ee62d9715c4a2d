"""`monitor run` (the daemon, in the foreground) and `monitor poll-once` (one pass, then exit)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from monitor.app import App
from monitor.commands._app import load_app
from monitor.feeds.fetch import Fetcher
from monitor.logs import event, setup_logging
from monitor.pipeline import (
    available_notifiers,
    deliver_stage,
    fetch_limits,
    poll_all,
    release_dead_holders,
    track_stage,
    worker_id,
)
from monitor.scheduler import Daemon

log = logging.getLogger("monitor.daemon")


class _Stopped(Exception):
    """SIGTERM before the scheduler took over the signals (while migrating, say)."""


def _stop_early(signum: int, _frame: object) -> None:
    raise _Stopped(signal.Signals(signum).name)


def run(args: argparse.Namespace) -> int:
    setup_logging(getattr(args, "verbose", False))
    previous = signal.signal(signal.SIGTERM, _stop_early)  # the daemon installs its own on start
    try:
        app = load_app(args, classifier=True)
        if app is None:
            return 1
        try:
            return asyncio.run(_run(app))
        finally:
            app.close()
    except _Stopped as stopped:
        log.info(event("stopped", signal=str(stopped), before="start"))
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


async def _run(app: App) -> int:
    notifiers, problems = available_notifiers(app.config)
    for problem in problems:
        log.error(event("notifier-disabled", detail=problem))
    async with Fetcher(fetch_limits(app.config.poll)) as fetcher:
        return await Daemon(app, fetcher, notifiers).run()


def poll_once(args: argparse.Namespace) -> int:
    """Poll every feed once, score, deliver what is due; one status line per feed on stdout.

    Exit 0 even when feeds failed: their lines say why, and the next pass retries them.
    """
    setup_logging(getattr(args, "verbose", False))
    app = load_app(args, classifier=True)
    if app is None:
        return 1
    try:
        return asyncio.run(_poll_once(app))
    finally:
        app.close()


async def _poll_once(app: App) -> int:
    """The stages of run_cycle one by one, so the feed lines are out before scoring starts."""
    notifiers, problems = available_notifiers(app.config)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not app.config.feeds:
        print(f"{app.config.path}: no feeds configured", file=sys.stderr)
    now = app.clock()
    for holder in await asyncio.to_thread(release_dead_holders, app, now, worker_id()):
        print(f"released the leases of {holder}: no longer running", file=sys.stderr)
    async with Fetcher(fetch_limits(app.config.poll)) as fetcher:
        reports = await poll_all(app, fetcher, now)
    width = max((len(r.feed) for r in reports), default=0)
    for report in reports:
        print(report.line(width), flush=True)
    try:
        tracked = await asyncio.to_thread(track_stage, app, now)
    except Exception:  # a bug, not a feed problem: the items are stored, say so and fail
        log.exception(event("track-failed"))
        return 1
    if tracked.alerts:
        print(f"{len(tracked.alerts)} alert(s) written to the outbox")
    delivery = await deliver_stage(app, notifiers, app.clock())
    if delivery is not None and delivery.due:
        print(f"deliveries: {delivery.sent} sent, {delivery.retrying} to retry, {delivery.failed} failed")
    return 0
