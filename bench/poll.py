"""Poll benchmark: our Fetcher against plain aiohttp, over loopback feeds served by other processes.

    .venv/bin/python bench/poll.py                      # 1,000 and 10,000 feeds
    .venv/bin/python bench/poll.py --feeds 1000 --rounds 2

For each feed count N:
  full     every feed fetched once with full 200 bodies (~41 kB, 50 items) -> validators kept
  304      `--rounds` passes of conditional GETs answered 304: polls/s, CPU s per 1,000 polls
  ref      the same two phases with a plain aiohttp client (the reference), in its own process
  httpx    (--httpx) the same with an httpx.AsyncClient over the transport our fetcher uses
  parse    parse_feed over changed bodies: items/s (fast reader; feedparser alone for comparison)
  e2e      fetch + parse + ingest into a SQLite file, if monitor.ingest exists: feeds/s, items/s
Peak RSS is each client process's own (ru_maxrss). The server runs in `--servers` separate
processes (a minimal asyncio HTTP/1.1 server, keep-alive, ETag -> 304), so client CPU is its own.
Feeds are spread over `--ports` ports per server process: each port is a host for the per-host limit.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import feedgen  # noqa: E402

# --------------------------------------------------------------------------- server


@functools.lru_cache(maxsize=25_000)
def _cached_body(n: int, version: int) -> bytes:
    """Generated once per server process: the clients' runs then cost the server only the send."""
    return feedgen.feed_body(n, version)


class _Http(asyncio.Protocol):
    """GET /f/<n> -> the feed n at the current version; If-None-Match with its ETag -> 304.
    GET /_bump -> every feed changes (next version)."""

    state: dict[str, int] = {"version": 1}  # noqa: RUF012  (one per server process, by design)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            self._answer(head)

    def _answer(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        path = lines[0].split(b" ")[1]
        version = self.state["version"]
        if path == b"/_bump":
            self.state["version"] = version + 1
            self._send(b"200 OK", b"", b"bumped")
            return
        if not path.startswith(b"/f/"):
            self._send(b"404 Not Found", b"", b"")
            return
        n = int(path[3:])
        etag = b'"%d-%d"' % (n, version)
        for line in lines[1:]:
            if line[:14].lower() == b"if-none-match:" and line[14:].strip() == etag:
                self._send(b"304 Not Modified", b"ETag: " + etag + b"\r\n", None)
                return
        body = _cached_body(n, version)
        extra = b"ETag: " + etag + b"\r\nContent-Type: application/rss+xml\r\n"
        self._send(b"200 OK", extra, body)

    def _send(self, status: bytes, extra: bytes, body: bytes | None) -> None:
        length = b"" if body is None else b"Content-Length: %d\r\n" % len(body)
        self.transport.write(b"HTTP/1.1 " + status + b"\r\n" + extra + length + b"\r\n" + (body or b""))


async def _serve(ports: int) -> None:
    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(_Http, "127.0.0.1", 0, backlog=1024) for _ in range(ports)]
    print(json.dumps([s.sockets[0].getsockname()[1] for s in servers]), flush=True)
    feedgen.feed_body(0, 1)  # warm the templates before the clients start
    await asyncio.Event().wait()


def start_servers(processes: int, ports: int) -> tuple[list[subprocess.Popen[str]], list[int]]:
    procs, all_ports = [], []
    for _ in range(processes):
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(ports)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        all_ports.extend(json.loads(proc.stdout.readline()))
        procs.append(proc)
    return procs, all_ports


def feed_urls(ports: list[int], n: int) -> list[str]:
    return [f"http://127.0.0.1:{ports[i % len(ports)]}/f/{i}" for i in range(n)]


# --------------------------------------------------------------------------- clients


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _timed(work: Callable[[], Coroutine[Any, Any, int]]) -> dict[str, float]:
    cpu, wall = _cpu(), time.perf_counter()
    count = await work()
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    return {"polls": count, "wall_s": wall, "per_s": count / wall, "cpu_s_per_1000": cpu / count * 1000}


async def client_ours(urls: list[str], rounds: int, concurrency: int, per_host: int) -> dict[str, Any]:
    from monitor.feeds.fetch import Fetcher, FetchLimits, Outcome, Validators

    limits = FetchLimits(concurrency=concurrency, per_host=per_host)
    validators: list[Validators] = [Validators()] * len(urls)
    async with Fetcher(limits) as fetcher:

        async def first_fetch(url: str) -> Validators:
            result = await fetcher.fetch(url, Validators())  # the body is dropped here, as after parsing
            assert result.outcome is Outcome.OK, result.error
            return result.validators

        async def full() -> int:
            validators[:] = await asyncio.gather(*(first_fetch(u) for u in urls))
            return len(validators)

        async def conditional() -> int:
            done = 0
            for _ in range(rounds):
                results = await asyncio.gather(
                    *(fetcher.fetch(u, v) for u, v in zip(urls, validators, strict=True))
                )
                bad = [r for r in results if r.outcome is not Outcome.NOT_MODIFIED]
                assert not bad, bad[0]
                done += len(results)
            return done

        first = await _timed(full)
        polls = await _timed(conditional)
    return {"full": first, "304": polls, "peak_rss_mb": _rss_mb()}


async def client_aiohttp(urls: list[str], rounds: int, concurrency: int, per_host: int) -> dict[str, Any]:
    import aiohttp

    etags: list[str] = [""] * len(urls)
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=per_host)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(i: int, url: str, conditional: bool) -> int:
            headers = {"If-None-Match": etags[i]} if conditional else {}
            async with gate, session.get(url, headers=headers) as response:
                await response.read()
                etags[i] = response.headers.get("ETag", "")
                return response.status

        async def full() -> int:
            statuses = await asyncio.gather(*(get(i, u, False) for i, u in enumerate(urls)))
            assert set(statuses) == {200}
            return len(statuses)

        async def conditional() -> int:
            done = 0
            for _ in range(rounds):
                statuses = await asyncio.gather(*(get(i, u, True) for i, u in enumerate(urls)))
                assert set(statuses) == {304}
                done += len(statuses)
            return done

        first = await _timed(full)
        polls = await _timed(conditional)
    return {"full": first, "304": polls, "peak_rss_mb": _rss_mb()}


async def client_httpx_client(
    urls: list[str], rounds: int, concurrency: int, per_host: int
) -> dict[str, Any]:
    """What an httpx.AsyncClient would add on top of our fetcher's transport (measured, not chosen)."""
    import aiohttp
    import httpx
    from httpx_aiohttp import AiohttpTransport

    etags: list[str] = [""] * len(urls)
    gate = asyncio.Semaphore(concurrency)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency, limit_per_host=per_host)
    )
    async with httpx.AsyncClient(transport=AiohttpTransport(client=session)) as client:

        async def get(i: int, url: str, conditional: bool) -> int:
            headers = {"If-None-Match": etags[i]} if conditional else {}
            async with gate:
                response = await client.get(url, headers=headers)
                etags[i] = response.headers.get("ETag", "")
                return response.status_code

        async def full() -> int:
            statuses = await asyncio.gather(*(get(i, u, False) for i, u in enumerate(urls)))
            assert set(statuses) == {200}
            return len(statuses)

        async def conditional() -> int:
            done = 0
            for _ in range(rounds):
                statuses = await asyncio.gather(*(get(i, u, True) for i, u in enumerate(urls)))
                assert set(statuses) == {304}
                done += len(statuses)
            return done

        first = await _timed(full)
        polls = await _timed(conditional)
    return {"full": first, "304": polls, "peak_rss_mb": _rss_mb()}


def client_parse(samples: int) -> dict[str, Any]:
    from monitor.feeds import parse as parse_module
    from monitor.feeds.parse import parse_feed

    headers = {"content-type": "application/rss+xml"}
    bodies = [feedgen.feed_body(n, 2) for n in range(samples)]
    out: dict[str, Any] = {"bytes_per_feed": sum(map(len, bodies)) // samples}
    for name, fast in (("fast", True), ("feedparser", False)):
        if not fast:
            parse_module.read_plain_feed = lambda body, headers: None  # type: ignore[assignment]
        chosen = bodies if fast else bodies[: max(5, samples // 5)]
        cpu, wall = _cpu(), time.perf_counter()
        items = sum(len(parse_feed(b, headers, "http://bench/").entries) for b in chosen)
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        out[name] = {
            "feeds": len(chosen),
            "items": items,
            "items_per_s": items / cpu,
            "ms_per_feed": cpu / len(chosen) * 1000,
        }
    return out


async def client_e2e(urls: list[str], concurrency: int, per_host: int) -> dict[str, Any]:
    """fetch -> parse -> ingest (monitor.ingest.ingest_entries) into a SQLite file, one feed at a time
    through the ingest step (SQLite has one writer), fetches concurrent."""
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from monitor.db.models import Feed
    from monitor.db.session import Database
    from monitor.feeds.fetch import Fetcher, FetchLimits, Outcome, Validators
    from monitor.feeds.parse import parse_feed
    from monitor.ingest import ingest_entries

    directory = tempfile.mkdtemp(prefix="bench-e2e-")
    database = Database.open(f"sqlite:///{directory}/bench.db")  # WAL, busy timeout: the daemon's settings
    database.upgrade()
    engine = database.engine
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add_all(Feed(name=f"feed {i}", url=u, current_url=u) for i, u in enumerate(urls))
        session.commit()
        ids = [f.id for f in session.query(Feed).order_by(Feed.id)]
    new_items = 0
    cpu, wall = _cpu(), time.perf_counter()
    async with Fetcher(FetchLimits(concurrency=concurrency, per_host=per_host)) as fetcher:
        queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue(maxsize=concurrency)

        async def fetch_all() -> None:
            async def one(i: int, url: str) -> None:
                await queue.put((i, await fetcher.fetch(url, Validators())))

            await asyncio.gather(*(one(i, u) for i, u in enumerate(urls)))

        producer = asyncio.create_task(fetch_all())
        for _ in urls:
            i, result = await queue.get()
            assert result.outcome is Outcome.OK, result.error
            parsed = parse_feed(result.body, result.headers, result.url)
            with Session(engine) as session:
                row = session.get(Feed, ids[i])
                ingested = ingest_entries(session, row, parsed.entries, now, outlet=row.name)
                session.commit()
            new = getattr(ingested, "new_items", ingested)
            new_items += new if isinstance(new, int) else len(new)
        await producer
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    database.dispose()
    shutil.rmtree(directory, ignore_errors=True)
    return {
        "feeds": len(urls),
        "new_items": new_items,
        "feeds_per_s": len(urls) / wall,
        "items_per_s": new_items / wall,
        "cpu_s_per_feed": cpu / len(urls),
        "peak_rss_mb": _rss_mb(),
    }


def run_client(kind: str, ports: list[int], args: argparse.Namespace, feeds: int) -> dict[str, Any]:
    command = [
        sys.executable, __file__, "--client", kind, "--feeds", str(feeds), "--rounds", str(args.rounds),
        "--concurrency", str(args.concurrency), "--per-host", str(args.per_host),
        "--port-list", ",".join(map(str, ports)), "--parse-samples", str(args.parse_samples),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {
            "error": done.stderr.strip().splitlines()[-1]
            if done.stderr.strip()
            else f"exit {done.returncode}"
        }
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def client_main(args: argparse.Namespace) -> None:
    ports = [int(p) for p in args.port_list.split(",")]
    urls = feed_urls(ports, args.feeds)
    result: dict[str, Any]
    if args.client == "ours":
        result = asyncio.run(client_ours(urls, args.rounds, args.concurrency, args.per_host))
    elif args.client == "aiohttp":
        result = asyncio.run(client_aiohttp(urls, args.rounds, args.concurrency, args.per_host))
    elif args.client == "httpx-client":
        result = asyncio.run(client_httpx_client(urls, args.rounds, args.concurrency, args.per_host))
    elif args.client == "parse":
        result = client_parse(args.parse_samples)
    else:
        result = asyncio.run(client_e2e(urls, args.concurrency, args.per_host))
    print(json.dumps(result))


# --------------------------------------------------------------------------- report


def bump(ports: list[int], servers: int, ports_per_server: int) -> None:
    import urllib.request

    for s in range(servers):
        with urllib.request.urlopen(f"http://127.0.0.1:{ports[s * ports_per_server]}/_bump") as r:
            r.read()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=3, help="conditional passes over all feeds")
    parser.add_argument("--servers", type=int, default=2, help="server processes")
    parser.add_argument("--ports", type=int, default=25, help="ports (hosts) per server process")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--per-host", type=int, default=4)
    parser.add_argument("--parse-samples", type=int, default=200)
    parser.add_argument("--e2e-feeds", type=int, default=1000, help="feeds ingested end to end (0: skip)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each client, alternated; best kept")
    parser.add_argument(
        "--httpx", action="store_true", help="also measure an httpx.AsyncClient over the same transport"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--client", choices=["ours", "aiohttp", "httpx-client", "parse", "e2e"], help=argparse.SUPPRESS
    )
    parser.add_argument("--port-list", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return 0
    if args.client:
        args.feeds = args.feeds[0]
        client_main(args)
        return 0

    print(f"cpus={os.cpu_count()} servers={args.servers}x{args.ports} ports concurrency={args.concurrency} "
          f"per_host={args.per_host} rounds={args.rounds}", flush=True)  # fmt: skip
    procs, ports = start_servers(args.servers, args.ports)
    report: dict[str, Any] = {}
    try:
        for n in args.feeds:
            # Alternate the clients and keep each one's best run of each phase: other load on the
            # machine only slows, and the servers generate (and cache) each body on first request.
            runs: dict[str, list[dict[str, Any]]] = {"ours": [], "aiohttp": []}
            for _ in range(args.repeat):
                for kind in runs:
                    runs[kind].append(run_client(kind, ports, args, n))
            ours, ref = (_best(runs[kind]) for kind in ("ours", "aiohttp"))
            report[n] = {"ours": ours, "aiohttp": ref}
            _print_polls(n, ours, ref)
            if args.httpx:
                alt = run_client("httpx-client", ports, args, n)
                report[n]["httpx-client"] = alt
                _print_polls(n, alt, ref, label="httpx-client")
        parse = run_client("parse", ports, args, 1)
        report["parse"] = parse
        _print_parse(parse)
        if args.e2e_feeds:
            try:
                import monitor.ingest  # noqa: F401
            except ImportError:
                print("e2e: skipped (monitor.ingest not present)")
            else:
                bump(ports, args.servers, args.ports)
                e2e = run_client("e2e", ports, args, args.e2e_feeds)
                report["e2e"] = e2e
                _print_e2e(e2e)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
    print("json " + json.dumps(report, default=str))
    return 0


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    best: dict[str, Any] = {
        phase: max((r[phase] for r in good), key=lambda p: float(p["per_s"])) for phase in ("full", "304")
    }
    best["peak_rss_mb"] = max(float(r["peak_rss_mb"]) for r in good)
    best["runs"] = len(good)
    return best


def _print_polls(n: int, ours: dict[str, Any], ref: dict[str, Any], label: str = "ours") -> None:
    if "error" in ours or "error" in ref:
        print(f"N={n}: ours={ours.get('error', 'ok')} aiohttp={ref.get('error', 'ok')}")
        return
    for phase in ("full", "304"):
        o, r = ours[phase], ref[phase]
        print(
            f"N={n:>6} {phase:>4}: {label} {o['per_s']:7.0f} polls/s, {o['cpu_s_per_1000']:5.2f} CPU s/1000 | "
            f"aiohttp {r['per_s']:7.0f} polls/s, {r['cpu_s_per_1000']:5.2f} CPU s/1000 | "
            f"ratio {o['per_s'] / r['per_s']:.2f}"
        )
    print(
        f"N={n:>6} peak RSS: {label} {ours['peak_rss_mb']:.0f} MB, aiohttp {ref['peak_rss_mb']:.0f} MB",
        flush=True,
    )


def _print_parse(parse: dict[str, Any]) -> None:
    if "error" in parse:
        print(f"parse: {parse['error']}")
        return
    for name in ("fast", "feedparser"):
        p = parse[name]
        print(f"parse {name:>10}: {p['items_per_s']:7.0f} items/s, {p['ms_per_feed']:5.1f} ms CPU per 50-item feed "
              f"({parse['bytes_per_feed']} bytes)")  # fmt: skip


def _print_e2e(e2e: dict[str, Any]) -> None:
    if "error" in e2e:
        print(f"e2e: {e2e['error']}")
        return
    print(f"e2e: {e2e['feeds']} changed feeds, {e2e['new_items']} new items: {e2e['feeds_per_s']:.0f} feeds/s, "
          f"{e2e['items_per_s']:.0f} items/s, {e2e['cpu_s_per_feed'] * 1000:.1f} ms CPU per feed, "
          f"peak RSS {e2e['peak_rss_mb']:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
