"""`monitor run` (the daemon, in the foreground) and `monitor poll-once` (one pass, then exit)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from monitor.app import App
from monitor.commands._app import load_app
from monitor.feeds.fetch import Fetcher
from monitor.logs import event, setup_logging
from monitor.pipeline import available_notifiers, fetch_limits, run_cycle
from monitor.scheduler import Daemon

log = logging.getLogger("monitor.daemon")


def run(args: argparse.Namespace) -> int:
    setup_logging(getattr(args, "verbose", False))
    app = load_app(args)
    if app is None:
        return 1
    try:
        return asyncio.run(_run(app))
    finally:
        app.close()


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
    app = load_app(args)
    if app is None:
        return 1
    try:
        return asyncio.run(_poll_once(app))
    finally:
        app.close()


async def _poll_once(app: App) -> int:
    notifiers, problems = available_notifiers(app.config)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not app.config.feeds:
        print(f"{app.config.path}: no feeds configured", file=sys.stderr)
    async with Fetcher(fetch_limits(app.config.poll)) as fetcher:
        cycle = await run_cycle(app, fetcher, notifiers, app.clock())
    width = max((len(r.feed) for r in cycle.polls), default=0)
    for report in cycle.polls:
        print(report.line(width))
    if cycle.track is not None and cycle.track.alerts:
        print(f"{len(cycle.track.alerts)} alert(s) written to the outbox")
    if cycle.delivery is not None and cycle.delivery.due:
        d = cycle.delivery
        print(f"deliveries: {d.sent} sent, {d.retrying} to retry, {d.failed} failed")
    return 0
