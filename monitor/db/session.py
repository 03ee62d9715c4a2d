"""The Database: one Engine and one sessionmaker, opened from a SQLAlchemy URL.

SQLite (the default) is tuned on every new connection: WAL so readers never block the writer,
a 10 s busy timeout so concurrent writers wait instead of failing, foreign keys enforced,
synchronous=NORMAL (safe under WAL) and a checkpoint every 10,000 WAL pages rather than 1,000.
PostgreSQL goes through psycopg 3.

Transactions on SQLite begin IMMEDIATE (the write lock is taken at BEGIN, waiting up to the busy
timeout) so a read-then-write transaction can never fail with "database is locked" when another
writer committed in between; `read_session()` begins DEFERRED for pure readers, which never wait.

The schema is owned by Alembic; `upgrade()` applies the migrations shipped inside the package,
configured in code, so it works from an installed wheel and from any working directory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
# WAL pages between automatic checkpoints (SQLite's default: 1,000). Each poll's commit writes a few hundred
# pages of the story-key index, mostly pages earlier commits wrote too; a checkpoint copies each page once,
# so a rarer one copies far less: 12.5-12.8 -> 10.3-11.3 ms of CPU per changed feed at 1,000 feeds
# (bench/README.md). The WAL then grows to ~40 MB between checkpoints, and is cut back to 64 MB at most.
SQLITE_WAL_AUTOCHECKPOINT = 10_000
SQLITE_JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


def normalise_url(url: str | URL) -> URL:
    """`postgresql://` and `postgres://` mean psycopg 3 here (psycopg2 is not a dependency)."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver stops issuing BEGIN; _begin_sqlite does it
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT}")
        cursor.execute(f"PRAGMA journal_size_limit={SQLITE_JOURNAL_SIZE_LIMIT}")
    finally:
        cursor.close()


def _begin_sqlite(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


def create_engine_for(url: str | URL) -> Engine:
    """An Engine for `url`; creates the parent directory of a SQLite file."""
    from sqlalchemy import create_engine

    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if _is_memory_sqlite(parsed):
            # One shared connection, or every session would see its own empty database.
            engine = create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            assert parsed.database is not None
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


@dataclass(frozen=True)
class Database:
    """An Engine and its sessionmaker. Open with `Database.open(url)`, close with `dispose()`."""

    engine: Engine
    sessions: sessionmaker[Session]
    # SQLite has one writer. Threads of this process take turns here, which is far cheaper than
    # SQLite's busy handler (it sleeps and retries); other processes still wait on the busy timeout.
    writer: threading.RLock | None = None

    @classmethod
    def open(cls, url: str | URL) -> Database:
        engine = create_engine_for(url)
        writer = threading.RLock() if engine.dialect.name == "sqlite" else None
        return cls(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False), writer=writer)

    @property
    def url(self) -> URL:
        return self.engine.url

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        with self._turn(), self.sessions() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise
            session.commit()

    @contextmanager
    def _turn(self) -> Iterator[None]:
        if self.writer is None:
            yield
            return
        if not self.writer.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            raise OperationalError(
                "BEGIN", None, TimeoutError("database is locked: another thread kept writing too long")
            )
        try:
            yield
        finally:
            self.writer.release()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reading only: on SQLite it never waits for the write lock. Never committed;
        closing it ends the transaction, and the objects read stay usable (detached, not expired)."""
        with self.sessions(bind=self.engine.execution_options(sqlite_begin="DEFERRED")) as session:
            yield session

    def upgrade(self, revision: str = "head") -> None:
        """Apply the packaged Alembic migrations up to `revision`."""
        from alembic import command

        with self.engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str | None = None) -> Any:
    """An Alembic Config built in code (no alembic.ini): script location inside the package.

    `url` is only needed for commands that open their own connection (e.g. `alembic revision
    --autogenerate` via `python -m monitor.db.migrations`); `Database.upgrade` passes a connection.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    if url is not None:
        config.attributes["url"] = normalise_url(url)
    return config
