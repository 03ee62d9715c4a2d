"""`monitor poll-once`, `items`, `feeds`, `db upgrade` end to end through the CLI, against the
loopback feed server and real databases."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.cli import main
from monitor.db.models import Item
from monitor.db.session import Database
from tests.support.feedserver import BBC, FeedServer

DAWN = "/feeds/real_news/dawn_world.rss.xml"


def write_config(tmp_path: Path, db_url: str, feeds: dict[str, str]) -> Path:
    lines = [
        f"database: {db_url!r}",
        "poll:",
        "  timeout: 1s",
        "  connect_timeout: 1s",
        "  jitter: 0s",
        "feeds:",
    ]
    for name, url in feeds.items():
        lines += [f"  - name: {name!r}", f"    url: {url!r}"]
    path = tmp_path / "monitor.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def item_count(db_url: str) -> int:
    db = Database.open(db_url)
    try:
        with db.read_session() as session:
            return int(session.scalar(select(func.count(Item.id))) or 0)
    finally:
        db.dispose()


def test_poll_once_prints_a_line_per_feed_and_exits_0_when_one_fails(
    tmp_path: Path, db_url: str, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = feed_server.url("/hostile/500")
    config = write_config(
        tmp_path, db_url, {"BBC World": feed_server.url(BBC), "Dawn": feed_server.url(DAWN), "Broken": broken}
    )

    status, out, err = run(capsys, "poll-once", "--config", str(config))

    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    bbc, dawn, bad = lines
    assert bbc.startswith("BBC World  ok  200  ") and bbc.endswith(" new")
    assert dawn.startswith("Dawn       ok  200  ")
    assert bad.startswith("Broken     error  500  ") and broken in bad
    stored = item_count(db_url)
    assert stored > 0

    status, out, _ = run(capsys, "poll-once", "--config", str(config))
    assert status == 0
    assert out.splitlines()[0] == "BBC World  not-modified  304"
    assert "backing off" in out.splitlines()[2]
    assert item_count(db_url) == stored


def test_items_jsonl_lists_stored_items_newest_first(
    tmp_path: Path, sqlite_url: str, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path, sqlite_url, {"BBC World": feed_server.url(BBC), "Dawn": feed_server.url(DAWN)}
    )
    run(capsys, "poll-once", "--config", str(config))

    status, out, err = run(capsys, "items", "--config", str(config), "--format", "jsonl", "--limit", "1000")

    assert status == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == item_count(sqlite_url)
    for record in records:
        assert {"id", "feed", "title", "summary", "link", "published", "story_id"} <= set(record)
        assert record["feed"] in ("BBC World", "Dawn")
        assert record["published"].endswith("Z")
        assert record["story_id"] is not None
    published = [r["published"] for r in records]
    assert published == sorted(published, reverse=True)

    middle = published[len(published) // 2]
    cut = middle.replace("Z", ".5Z")  # between two whole seconds (the boundary: the test below)
    status, out, _ = run(
        capsys, "items", "--config", str(config), "--format", "jsonl", "--since", cut, "--limit", "1000"
    )
    since = [json.loads(line)["published"] for line in out.splitlines()]
    assert since and all(p > middle for p in since)
    assert len(since) == sum(1 for p in published if p > middle)

    status, out, _ = run(capsys, "items", "--config", str(config), "--limit", "3")
    header, *rows = out.splitlines()
    assert header.split() == ["published", "feed", "story", "title"]
    assert len(rows) == 3


def test_items_since_includes_an_item_published_exactly_then(
    tmp_path: Path, sqlite_url: str, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sqlite_url, {"BBC World": feed_server.url(BBC)})
    run(capsys, "poll-once", "--config", str(config))
    _, out, _ = run(capsys, "items", "--config", str(config), "--format", "jsonl", "--limit", "1")
    newest = json.loads(out)["published"]

    _, out, _ = run(capsys, "items", "--config", str(config), "--format", "jsonl", "--since", newest)

    assert [json.loads(line)["published"] for line in out.splitlines()][:1] == [newest]


def test_items_rejects_a_bad_since(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sqlite_url, {})
    status, out, err = run(capsys, "items", "--config", str(config), "--since", "yesterday")
    assert status == 1
    assert "--since 'yesterday'" in err and out == ""


def test_feeds_shows_health_of_each_feed(
    tmp_path: Path, sqlite_url: str, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path,
        sqlite_url,
        {
            "BBC World": feed_server.url(BBC),
            "Gone": feed_server.url("/hostile/gone"),
            "Broken": feed_server.url("/hostile/500"),
        },
    )
    run(capsys, "poll-once", "--config", str(config))

    status, out, err = run(capsys, "feeds", "--config", str(config), "--format", "jsonl")

    assert status == 0, err
    rows = {r["name"]: r for r in map(json.loads, out.splitlines())}
    assert rows["BBC World"]["state"] == "ok"
    assert rows["BBC World"]["items_seen"] > 0 and rows["BBC World"]["last_success_at"]
    assert rows["Gone"]["state"] == "retired" and rows["Gone"]["retired_at"]
    assert rows["Broken"]["state"] == "failing"
    assert rows["Broken"]["consecutive_failures"] == 1
    assert "HTTP 500" in rows["Broken"]["last_error"] and rows["Broken"]["next_poll_at"]

    status, out, _ = run(capsys, "feeds", "--config", str(config))
    header, *lines = out.splitlines()
    assert header.split()[:3] == ["feed", "state", "last"]
    assert [line.split("  ")[0] for line in lines] == ["BBC World", "Broken", "Gone"]


def test_db_upgrade_creates_the_schema_on_a_fresh_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fresh" / "monitor.db"
    config = write_config(tmp_path, f"sqlite:///{path}", {})

    status, out, err = run(capsys, "db", "upgrade", "--config", str(config))

    assert status == 0, err
    assert "is at revision" in out
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"feeds", "items", "stories", "alerts", "deliveries"} <= tables


def test_config_errors_are_printed_as_lines_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text("poll:\n  intervl: 5m\n")
    for command in (["poll-once"], ["items"], ["feeds"], ["db", "upgrade"]):
        status, out, err = run(capsys, *command, "--config", str(config))
        assert status == 1
        assert f"{config}:2" in err and "intervl" in err
        assert out == ""


def test_an_unreachable_database_is_one_line_without_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path, "postgresql+psycopg://monitor:s3cret@127.0.0.1:9/monitor?connect_timeout=2", {}
    )
    status, _out, err = run(capsys, "items", "--config", str(config))
    assert status == 1
    assert len(err.strip().splitlines()) == 1
    assert "s3cret" not in err and "127.0.0.1:9" in err


def test_a_limit_below_one_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["items", "--limit", "0"])
    assert exit_info.value.code == 2
    assert "argument --limit: must be at least 1, got 0" in capsys.readouterr().err
