"""The Database: migrations reach head on SQLite and PostgreSQL and agree with the models."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from monitor.db.models import Base, Feed
from monitor.db.session import Database, alembic_config

REPO = Path(__file__).resolve().parents[1]


def test_migrations_at_head_match_the_models(db_url: str) -> None:
    db = Database.open(db_url)
    try:
        db.upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
        assert diffs == []
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert db.current_revision() == head
        assert set(inspect(db.engine).get_table_names()) >= set(Base.metadata.tables)
    finally:
        db.dispose()


def test_there_is_one_head_revision() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1


def test_upgrade_twice_is_a_no_op_and_keeps_rows(db_url: str) -> None:
    db = Database.open(db_url)
    try:
        db.upgrade()
        with db.session() as session:
            session.add(Feed(name="BBC World", url="http://x/feed", current_url="http://x/feed"))
        db.upgrade()
        with db.session() as session:
            assert session.scalars(select(Feed.name)).all() == ["BBC World"]
    finally:
        db.dispose()


def test_timestamps_come_back_aware_utc(db_url: str) -> None:
    db = Database.open(db_url)
    try:
        db.upgrade()
        when = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
        with db.session() as session:
            session.add(Feed(name="F", url="u", current_url="u", last_success_at=when))
        with db.session() as session:
            got = session.scalars(select(Feed.last_success_at)).one()
        assert got == when
        assert got is not None and got.tzinfo is not None and got.utcoffset() == UTC.utcoffset(None)
    finally:
        db.dispose()


def test_session_rolls_back_when_the_block_raises(sqlite_url: str) -> None:
    db = Database.open(sqlite_url)
    try:
        db.upgrade()
        with pytest.raises(RuntimeError), db.session() as session:
            session.add(Feed(name="F", url="u", current_url="u"))
            session.flush()
            raise RuntimeError("boom")
        with db.session() as session:
            assert session.scalars(select(Feed)).all() == []
    finally:
        db.dispose()


def test_sqlite_is_tuned_for_a_daemon(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "monitor.db"  # parent directories are created
    db = Database.open(f"sqlite:///{path}")
    try:
        db.upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 10_000
            assert conn.execute(text("PRAGMA journal_size_limit")).scalar() == 64 * 1024 * 1024
    finally:
        db.dispose()
    assert path.exists()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # persistent in the file


def test_in_memory_sqlite_keeps_one_database_across_sessions() -> None:
    db = Database.open("sqlite://")
    try:
        db.upgrade()
        with db.session() as session:
            session.add(Feed(name="F", url="u", current_url="u"))
        with db.session() as session:
            assert session.scalars(select(Feed.name)).all() == ["F"]
    finally:
        db.dispose()


def test_upgrade_works_from_another_working_directory(tmp_path: Path) -> None:
    """No alembic.ini and no relative paths: the migrations are found from inside the package."""
    path = tmp_path / "elsewhere.db"
    code = "import sys; from monitor.db.session import Database; Database.open(sys.argv[1]).upgrade()"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code, f"sqlite:///{path}"], cwd=tmp_path, env=env, check=True)
    with sqlite3.connect(path) as raw:
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"feeds", "items", "alembic_version"} <= tables


def test_read_then_write_transactions_do_not_fail_when_another_writer_commits(sqlite_url: str) -> None:
    """Two sessions read, then write: with BEGIN IMMEDIATE the second waits instead of 'database is locked'."""
    first_db = Database.open(sqlite_url)
    second_db = Database.open(sqlite_url)  # another process, as far as SQLite can tell
    try:
        first_db.upgrade()
        with first_db.session() as session:
            session.add(Feed(name="F", url="u", current_url="u"))
        errors: list[BaseException] = []
        started = threading.Event()

        def writer(db: Database, holder: bool) -> None:
            try:
                with db.session() as session:
                    feed = session.scalars(select(Feed)).one()
                    if holder:
                        started.set()
                        time.sleep(0.3)  # hold the write lock while the other one tries
                    feed.items_seen += 1
            except BaseException as exc:
                errors.append(exc)

        one = threading.Thread(target=writer, args=(first_db, True))
        one.start()
        started.wait(5)
        writer(second_db, False)
        one.join()
        assert errors == []
        with first_db.read_session() as session:
            assert session.scalars(select(Feed.items_seen)).one() == 2
    finally:
        first_db.dispose()
        second_db.dispose()


def test_read_session_does_not_wait_for_a_writer(sqlite_url: str) -> None:
    db = Database.open(sqlite_url)
    try:
        db.upgrade()
        with db.session() as writing:
            writing.add(Feed(name="F", url="u", current_url="u"))
            writing.flush()
            with db.read_session() as reading:  # would block 10 s on the write lock if IMMEDIATE
                assert reading.scalars(select(Feed)).all() == []
    finally:
        db.dispose()


def test_many_threads_writing_through_one_database_all_succeed(sqlite_url: str) -> None:
    db = Database.open(sqlite_url)
    try:
        db.upgrade()
        with db.session() as session:
            session.add(Feed(name="F", url="u", current_url="u"))
        errors: list[BaseException] = []

        def bump() -> None:
            try:
                for _ in range(20):
                    with db.session() as session:
                        feed = session.scalars(select(Feed)).one()
                        feed.items_seen += 1
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=bump) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with db.read_session() as session:
            assert session.scalars(select(Feed.items_seen)).one() == 160
    finally:
        db.dispose()
