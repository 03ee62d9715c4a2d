"""Alembic environment, configured in code by monitor.db.session.alembic_config (no alembic.ini).

`Database.upgrade()` hands over an open connection in `config.attributes["connection"]`;
`python -m monitor.db.migrations` passes a URL in `config.attributes["url"]`.
SQLite gets batch mode (copy-and-move) so ALTERs that SQLite lacks still migrate.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, create_engine, pool

from monitor.db.models import Base
from monitor.db.types import UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Migrations stay free of app imports: our UTC type is a timezone-aware DateTime in the schema."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    url = config.attributes.get("url")
    if url is None:
        raise RuntimeError("no database: pass a connection or a url in the Alembic config attributes")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            run_with(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run `monitor db upgrade`")
run_migrations_online()
