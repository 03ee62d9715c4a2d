"""APScheduler 3.x wiring for `monitor run`: jobs, signals, drain. No pipeline logic in here.

Jobs (all on one asyncio loop, each at most one instance at a time, missed runs coalesced):
    poll:<feed>   every feed's interval, with jitter; first runs spread over the first seconds
    track         after a poll that brought new or grown stories, and every poll interval (decay);
                  it first waits for the other polls in flight, so polls of one tick count together
    deliver       every delivery.interval, and at once after track wrote alerts

SIGTERM or SIGINT: the scheduler stops taking jobs, the work in flight gets `drain_timeout` seconds
to finish (a poll stores what it fetched; a delivery records what it sent), the rest is cancelled,
and `run()` returns 0. A second signal cancels at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.app import App
from monitor.config import mask_database_url
from monitor.feeds.fetch import Fetcher
from monitor.logs import event
from monitor.notify import Notifier
from monitor.pipeline import (
    deliver_stage,
    poll_feed,
    prune_stage,
    release_dead_holders,
    sync_feeds,
    track_stage,
    worker_id,
)

log = logging.getLogger("monitor.daemon")

UTC = ZoneInfo("UTC")
DRAIN_TIMEOUT = 7.0  # seconds; with cancellation and cleanup the process exits well within 10 s
FIRST_SPREAD = 10.0  # seconds over which the first polls are spread after start
FIRST_DELIVERY = 2.0  # seconds after start: resume deliveries left unfinished by the last run
PRUNE_INTERVAL = 3600.0  # seconds between deletions of story lookup keys past their retention
SETTLE_TIMEOUT = 10.0  # seconds scoring waits for the other polls in flight (a slow feed delays it no more)


class Daemon:
    """One daemon process: the scheduler, its jobs, and the work they have in flight."""

    def __init__(
        self,
        app: App,
        fetcher: Fetcher,
        notifiers: Mapping[str, Notifier],
        *,
        owner: str | None = None,
        drain_timeout: float = DRAIN_TIMEOUT,
    ) -> None:
        self.app = app
        self.fetcher = fetcher
        self.notifiers = dict(notifiers)
        self.owner = owner or worker_id()
        self.drain_timeout = drain_timeout
        self._inflight: set[asyncio.Task[None]] = set()
        self._track_lock = asyncio.Lock()
        self._deliver_lock = asyncio.Lock()
        self._polling = 0  # polls in flight
        self._polls_idle = asyncio.Event()  # set while no poll is in flight
        self._polls_idle.set()
        self._stop = asyncio.Event()
        self._signals = 0

    # ---- lifecycle

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (or `stop()`), then drain. Returns the exit status."""
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._sync)
        released = await asyncio.to_thread(release_dead_holders, self.app, self.app.clock(), self.owner)
        if released:
            log.info(event("released", holders="; ".join(released), reason="no longer running"))
        scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
        self._add_jobs(scheduler, datetime.now(UTC))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        config = self.app.config
        log.info(
            event(
                "start",
                feeds=len(config.feeds),
                notifiers=len(self.notifiers),
                database=mask_database_url(config.database),
                worker=self.owner,
            )
        )
        scheduler.start()
        try:
            await self._stop.wait()
            await self._drain(scheduler)  # a second signal meanwhile cancels what is left
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            scheduler.shutdown(wait=False)  # jobs are drained or cancelled by now
        log.info(event("stopped"))
        return 0

    def stop(self) -> None:
        self._stop.set()

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals == 1:
            log.info(
                event(
                    "stopping",
                    signal=sig.name,
                    in_flight=len(self._inflight),
                    drain=f"{self.drain_timeout:g}s",
                )
            )
            self._stop.set()
        else:
            log.warning(event("stopping-now", signal=sig.name, cancelled=len(self._inflight)))
            for task in list(self._inflight):
                task.cancel()

    async def _drain(self, scheduler: AsyncIOScheduler) -> None:
        scheduler.pause()  # no new job starts from here on
        pending = {t for t in self._inflight if not t.done()}
        if pending:
            _, pending = await asyncio.wait(pending, timeout=self.drain_timeout)
        if pending:
            log.warning(event("drain-timeout", cancelled=len(pending)))
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=1.0)

    # ---- jobs

    def _add_jobs(self, scheduler: AsyncIOScheduler, now: datetime) -> None:
        config = self.app.config
        jitter = config.poll.jitter.total_seconds()
        for feed in config.feeds:
            interval = config.feed_interval(feed).total_seconds()
            spread = min(FIRST_SPREAD, interval, jitter) if jitter else 0.0
            scheduler.add_job(
                self._tracked(self.poll, feed.name),
                IntervalTrigger(seconds=interval, jitter=min(jitter, interval / 2) or None, timezone=UTC),
                id=f"poll:{feed.name}",
                name=f"poll {feed.name}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(interval)),
                next_run_time=now + timedelta(seconds=random.uniform(0, spread)),
            )
        scheduler.add_job(
            self._tracked(self.track),
            IntervalTrigger(seconds=config.poll.interval.total_seconds(), timezone=UTC),
            id="track",
            name="track",
            max_instances=1,
            coalesce=True,
        )
        scheduler.add_job(
            self._tracked(self.prune),
            IntervalTrigger(seconds=PRUNE_INTERVAL, jitter=PRUNE_INTERVAL / 10, timezone=UTC),
            id="prune",
            name="prune",
            max_instances=1,
            coalesce=True,
        )
        if self.notifiers:
            scheduler.add_job(
                self._tracked(self.deliver),
                IntervalTrigger(seconds=config.delivery.interval.total_seconds(), timezone=UTC),
                id="deliver",
                name="deliver",
                max_instances=1,
                coalesce=True,
                next_run_time=now + timedelta(seconds=FIRST_DELIVERY),
            )

    def _tracked(
        self, job: Callable[..., Awaitable[None]], *args: object
    ) -> Callable[[], Coroutine[Any, Any, None]]:
        """Wrap a job so that the drain knows what is in flight."""

        async def run() -> None:
            if self._stop.is_set():
                return
            task = asyncio.current_task()
            assert task is not None
            self._inflight.add(task)
            try:
                await job(*args)
            finally:
                self._inflight.discard(task)

        return run

    def _spawn(self, job: Callable[[], Awaitable[None]]) -> None:
        if self._stop.is_set():
            return
        task = asyncio.get_running_loop().create_task(self._tracked(job)())
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def poll(self, feed_name: str) -> None:
        self._polling += 1
        self._polls_idle.clear()
        try:
            report = await poll_feed(self.app, self.fetcher, feed_name, self.app.clock(), owner=self.owner)
        finally:
            self._polling -= 1
            if self._polling == 0:
                self._polls_idle.set()
        level = logging.WARNING if report.failed else logging.INFO
        log.log(level, report.log_message())
        if report.changed_stories:
            await self.track()

    async def prune(self) -> None:
        try:
            deleted = await asyncio.to_thread(prune_stage, self.app, self.app.clock())
        except Exception:
            log.exception(event("prune-failed"))
            return
        if deleted:
            log.info(event("prune", story_keys=deleted))

    async def track(self) -> None:
        # The polls of one tick are scored together, as replay scores one slice: a story carried by
        # several outlets is one step of the pair's tension (one alert), not one step per feed whose
        # poll happened to finish first (an alert at the lower level, then another after the dwell).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._polls_idle.wait(), SETTLE_TIMEOUT)
        async with self._track_lock:
            try:
                result = await asyncio.to_thread(track_stage, self.app, self.app.clock())
            except Exception:
                log.exception(event("track-failed"))
                return
        if result.classified or result.alerts:
            log.info(event("track", classified=result.classified, alerts=len(result.alerts)))
        for alert in result.alerts:
            log.info(
                event(
                    "alert",
                    pair=alert.pair.key,
                    direction=alert.direction.value,
                    level=alert.level.label,
                    previous=alert.previous_level.label,
                    reason=alert.reason.value,
                )
            )
        if result.alerts and self.notifiers:
            self._spawn(self.deliver)

    async def deliver(self) -> None:
        async with self._deliver_lock:
            try:
                report = await deliver_stage(self.app, self.notifiers, self.app.clock(), self.owner)
            except Exception:
                log.exception(event("deliver-failed"))
                return
        if report is not None and report.due:
            log.info(
                event(
                    "deliver",
                    due=report.due,
                    sent=report.sent,
                    retrying=report.retrying,
                    failed=report.failed,
                    lost=report.lost,
                )
            )

    def _sync(self) -> None:
        with self.app.db.session() as session:
            sync_feeds(session, self.app.config)
