"""Replay throughput: items per second through dedup, classify, tension and alerting on SQLite.

    .venv/bin/python bench/replay.py                      # the largest stream in ../shared/corpus
    .venv/bin/python bench/replay.py --input FILE.jsonl   # another stream
    .venv/bin/python bench/replay.py --limit 20000        # the first N items only
    .venv/bin/python bench/replay.py --stored-readings    # the classifier's readings looked up, not computed
    .venv/bin/python bench/replay.py --alerts out.jsonl   # also write the alerts (monitor replay's lines)

Runs the library code of `monitor replay` (monitor.replay.replay: ingest with dedup and story
grouping, the real classifier, monitor.track, the outbox) against a fresh SQLite file in a temporary
directory, on one core, in slices of 5 minutes, with the crisis pairs of the corpus configured.
Prints wall and CPU time and items/s for the whole replay, the CPU time spent in ingest_many (dedup and
story grouping, timed through replay's `ingest` seam) and in the rest (classifier or its looked-up
readings, track: tension, alerting, outbox; slicing and commits), and the classifier alone on the same
items, so the share of each part is visible. Target: at least 2,000 items per CPU second. With --stored-readings the
replay looks up each item's reading (computed in the classifier-alone pass) instead of classifying
again: it times dedup, story grouping, tension and alerting alone, unaffected by classifier changes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.classify import classify, warm  # noqa: E402
from monitor.domain import Pair  # noqa: E402
from monitor.ingest import FeedEntries, IngestResult, ingest_many  # noqa: E402
from monitor.replay import open_scratch_db, read_items, replay, write_alerts  # noqa: E402
from monitor.track import TrackSettings  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
PAIRS = ("IN-PK", "IL-IR", "IR-PK", "TH-KH", "CN-US", "AM-AZ", "RU-UA", "VE-GY", "IL-PS", "CN-PH", "KP-KR")


def largest_stream() -> Path:
    files = sorted(CORPUS.glob("*.jsonl"), key=lambda p: sum(1 for _ in p.open(encoding="utf-8")))
    if not files:
        raise SystemExit(f"no corpus at {CORPUS}")
    return files[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, help="items JSON Lines (default: the largest corpus stream)")
    parser.add_argument("--limit", type=int, help="only the first N items")
    parser.add_argument("--profile", action="store_true", help="print the top functions by cumulative time")
    parser.add_argument(
        "--stored-readings",
        action="store_true",
        help="replay with the readings of the classifier-alone pass looked up (times all but the classifier)",
    )
    parser.add_argument(
        "--alerts", type=Path, help="write the alerts as JSON Lines (monitor replay's format)"
    )
    args = parser.parse_args()
    path = args.input or largest_stream()
    items = read_items(path)
    if args.limit:
        items = items[: args.limit]
    warm()
    settings = TrackSettings(pairs=tuple(Pair.parse(p) for p in PAIRS))

    # The classifier alone, over the same titles and summaries (cache-free: each item once).
    readings = {}
    c0, t0 = time.process_time(), time.perf_counter()
    for item in items:
        reading = classify(item.title, item.summary)
        if args.stored_readings:
            readings[(item.title, item.summary)] = reading
    classify_cpu, classify_wall = time.process_time() - c0, time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix="bench-replay-") as workdir:
        db = open_scratch_db(Path(workdir) / "replay.db")
        profiler = cProfile.Profile() if args.profile else None
        c0, t0 = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        classifier = (lambda title, summary: readings[(title, summary)]) if args.stored_readings else classify
        ingest_cpu = 0.0

        def timed_ingest(session: Any, batches: Any, now: Any) -> IngestResult:
            nonlocal ingest_cpu
            started = time.process_time()
            result = ingest_many(session, [FeedEntries(feed=f, entries=e) for f, e in batches], now)
            ingest_cpu += time.process_time() - started
            return result

        report = replay(db, items, settings, classifier, lambda pair: ("bench-hook",), ingest=timed_ingest)
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        db.dispose()

    n = len(items)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"stream: {path.name} ({n:,} items, {report.stories:,} new or grown stories)")
    print(f"slices: {report.slices:,} with items, {report.ticks:,} extra ticks; alerts: {len(report.alerts)}")
    print(
        f"replay{' (stored readings)' if args.stored_readings else ''}: {wall:.2f}s wall, {cpu:.2f}s CPU -> {n / wall:,.0f} items/s wall, {n / cpu:,.0f} items/s per CPU second"
    )
    print(f"  of which ingest_many {ingest_cpu:.2f}s CPU, the rest {cpu - ingest_cpu:.2f}s CPU")
    print(
        f"classify alone: {classify_wall:.2f}s wall, {classify_cpu:.2f}s CPU -> {n / classify_wall:,.0f} items/s"
    )
    print(
        f"peak RSS: {rss:.0f} MB; target >= 2,000 items per CPU second: {'met' if n / cpu >= 2000 else 'NOT met'}"
    )
    if args.alerts:
        with args.alerts.open("w", encoding="utf-8") as handle:
            write_alerts(report.alerts, handle)
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
