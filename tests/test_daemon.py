"""`monitor run` as a real subprocess against the loopback feed server: it polls, it drains, it exits 0."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.db.session import Database
from monitor.notify.sample import sample_alert
from monitor.outbox import enqueue_alert
from tests.support.feedserver import BBC, FeedServer
from tests.support.receivers import HttpReceiver

DAWN = "/feeds/real_news/dawn_world.rss.xml"
EXIT_WITHIN = 10.0  # seconds the issue allows between SIGTERM and exit (a bound, not a measurement)


def write_config(tmp_path: Path, feeds: dict[str, str], interval: str = "2s") -> Path:
    lines = [
        f"database: 'sqlite:///{tmp_path / 'var' / 'monitor.db'}'",
        "poll:",
        f"  interval: {interval}",
        "  timeout: 5s",
        "  connect_timeout: 2s",
        "  jitter: 0s",
        "feeds:",
    ]
    for name, url in feeds.items():
        lines += [f"  - name: {name!r}", f"    url: {url!r}"]
    lines += ["pairs:", "  - [PK, IR]"]
    path = tmp_path / "monitor.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def launch(config: Path, started: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        cwd=config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started.append(process)
    return process


def wait_for(condition: object, what: str, process: subprocess.Popen[str], limit: float = 30.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            _out, err = process.communicate()
            pytest.fail(f"daemon exited with {process.returncode} before {what}:\n{err}")
        time.sleep(0.1)
    pytest.fail(f"no {what} within {limit:g}s")


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # schema not there yet
        return 0


def test_daemon_polls_feeds_then_exits_0_on_sigterm(
    tmp_path: Path, feed_server: FeedServer, start_daemon: list[subprocess.Popen[str]]
) -> None:
    config = write_config(tmp_path, {"BBC World": feed_server.url(BBC), "Dawn": feed_server.url(DAWN)})
    db = tmp_path / "var" / "monitor.db"
    process = launch(config, start_daemon)

    wait_for(
        lambda: count(db, "SELECT count(DISTINCT feed_id) FROM items") == 2, "items from both feeds", process
    )
    # the 2 s interval fires again: the repeat polls are conditional and answered 304
    wait_for(
        lambda: any("if-none-match" in r.headers for r in feed_server.requests_for(BBC)),
        "a conditional repoll",
        process,
    )
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=EXIT_WITHIN)

    assert process.returncode == 0, err
    assert 'poll feed="BBC World" outcome=ok status=200' in err
    assert "outcome=not-modified status=304" in err
    assert "stopping signal=SIGTERM" in err
    assert err.rstrip().endswith("INFO stopped")
    items = count(db, "SELECT count(*) FROM items")
    assert items == count(db, "SELECT count(DISTINCT feed_id || key) FROM items")


def test_daemon_finishes_a_poll_in_flight_before_exiting_on_sigint(
    tmp_path: Path, feed_server: FeedServer, start_daemon: list[subprocess.Popen[str]]
) -> None:
    config = write_config(tmp_path, {"Held": feed_server.url("/hold?delay=2")}, interval="1h")
    db = tmp_path / "var" / "monitor.db"
    process = launch(config, start_daemon)
    wait_for(lambda: feed_server.requests_for("/hold"), "the poll to start", process)

    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=EXIT_WITHIN)

    assert process.returncode == 0, err
    assert count(db, "SELECT count(*) FROM items") == 1  # the held feed's one item was stored
    assert "poll feed=Held outcome=ok status=200 items=1 new=1" in err
    assert count(db, "SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL") == 0


def test_daemon_reports_a_broken_feed_and_keeps_polling_the_others(
    tmp_path: Path, feed_server: FeedServer, start_daemon: list[subprocess.Popen[str]]
) -> None:
    config = write_config(
        tmp_path, {"Broken": feed_server.url("/hostile/500"), "BBC World": feed_server.url(BBC)}
    )
    db = tmp_path / "var" / "monitor.db"
    process = launch(config, start_daemon)
    wait_for(lambda: count(db, "SELECT count(*) FROM items") > 0, "items", process)
    wait_for(
        lambda: count(db, "SELECT consecutive_failures FROM feeds WHERE name = 'Broken'") >= 1,
        "failure",
        process,
    )

    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=EXIT_WITHIN)

    assert process.returncode == 0, err
    (line,) = [ln for ln in err.splitlines() if "feed=Broken" in ln][:1]
    assert " WARNING poll feed=Broken outcome=error status=500 " in line
    assert feed_server.url("/hostile/500") in line


def test_daemon_with_a_bad_config_exits_1_with_the_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("feeds:\n  - name: X\n    url: http://x/feed\n    intervall: 5m\n")
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert f"{config}:4" in result.stderr and "intervall" in result.stderr


def test_daemon_resumes_deliveries_left_in_the_outbox(
    tmp_path: Path,
    feed_server: FeedServer,
    http_receiver: HttpReceiver,
    start_daemon: list[subprocess.Popen[str]],
) -> None:
    config = write_config(tmp_path, {"BBC World": feed_server.url(BBC)}, interval="1h")
    config.write_text(
        config.read_text() + f"notifiers:\n  ops-hook: {{type: webhook, url: '{http_receiver.url}/hook'}}\n"
    )
    db = Database.open(f"sqlite:///{tmp_path / 'var' / 'monitor.db'}")
    try:
        db.upgrade()
        with db.session() as session:  # recorded by an earlier run that stopped before sending
            enqueue_alert(
                session, sample_alert(datetime.now(UTC), uid="resume-1"), ["ops-hook"], datetime.now(UTC)
            )
    finally:
        db.dispose()
    process = launch(config, start_daemon)

    wait_for(lambda: http_receiver.received(), "the delivery", process)
    wait_for(
        lambda: (
            count(tmp_path / "var" / "monitor.db", "SELECT count(*) FROM deliveries WHERE status = 'sent'")
            == 1
        ),
        "the delivery recorded as sent",
        process,
    )
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=EXIT_WITHIN)

    assert process.returncode == 0, err
    assert len(http_receiver.received()) == 1
    assert "deliver due=1 sent=1" in err


def rss(*titles: str) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>http://example.org/{n}</link><guid>{abs(hash(title))}</guid>"
        f"<pubDate>{datetime.now(UTC).strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate></item>"
        for n, title in enumerate(titles)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()
    )


def test_daemon_alerts_once_when_escalating_items_appear(
    tmp_path: Path,
    feed_server: FeedServer,
    http_receiver: HttpReceiver,
    start_daemon: list[subprocess.Popen[str]],
) -> None:
    calm = rss("Pakistan and Iran discuss trade at border market", "Weather: a sunny week ahead")
    feed_server.serve("/wire-a.xml", calm)
    feed_server.serve("/wire-b.xml", calm)
    config = write_config(
        tmp_path, {"Wire A": feed_server.url("/wire-a.xml"), "Wire B": feed_server.url("/wire-b.xml")}
    )
    config.write_text(
        config.read_text() + f"notifiers:\n  ops-hook: {{type: webhook, url: '{http_receiver.url}/hook'}}\n"
    )
    db = tmp_path / "var" / "monitor.db"
    process = launch(config, start_daemon)
    wait_for(lambda: count(db, "SELECT count(*) FROM items") == 4, "the calm items", process)

    strike = "Pakistan launches missile strikes on Iran, killing several"
    feed_server.serve("/wire-a.xml", rss(strike))
    feed_server.serve("/wire-b.xml", rss(f"{strike} - Reuters"))
    wait_for(lambda: http_receiver.received(), "the escalation alert", process)
    wait_for(lambda: count(db, "SELECT count(*) FROM items") == 6, "both copies of the strike", process)
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=EXIT_WITHIN)

    assert process.returncode == 0, err
    (request,) = http_receiver.received()
    body = request.json()
    assert body["pair"] == ["IR", "PK"] and body["direction"] == "escalation"
    assert count(db, "SELECT count(*) FROM alerts") == 1
    assert count(db, "SELECT count(*) FROM deliveries WHERE status = 'sent'") == 1
    assert "alert pair=IR-PK direction=escalation" in err


def test_a_second_signal_cancels_the_poll_in_flight_and_releases_its_lease(
    tmp_path: Path, feed_server: FeedServer, start_daemon: list[subprocess.Popen[str]]
) -> None:
    config = write_config(tmp_path, {"Held": feed_server.url("/hold?delay=4")}, interval="1h")
    db = tmp_path / "var" / "monitor.db"
    process = launch(config, start_daemon)
    wait_for(lambda: feed_server.requests_for("/hold"), "the poll to start", process)
    wait_for(
        lambda: count(db, "SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL") == 1,
        "the lease",
        process,
    )

    process.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # let the first signal be handled; the second one must not wait out the drain
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=EXIT_WITHIN)

    assert process.returncode == 0, err
    assert "stopping-now signal=SIGTERM cancelled=1" in err
    assert count(db, "SELECT count(*) FROM items") == 0  # the poll did not finish
    assert count(db, "SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL") == 0
