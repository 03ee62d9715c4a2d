"""Statements on the driver: compiled SQLAlchemy statements run on the DB-API cursor of a session's connection.

The hot paths (ingest, track, the outbox) run a handful of statements per batch, and SQLAlchemy's
per-execution work (result setup, parameter processing, per-row processing in executemany) cost several
times the database's own. Here they run on the cursor of the session's connection (same transaction). The
SQL and the value conversions stay SQLAlchemy's: each statement compiled once per dialect, each parameter
and column through its type's own bind and result processors. Columns with defaults must be given: the
execution context that fills them in is not involved.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Float,
    Insert,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeEngine

from monitor.db.types import UTCDateTime

__all__ = ["execute_rows", "fetch_rows", "in_list", "inserting", "list_param"]


def inserting(table: Table, columns: Sequence[str]) -> Insert:
    """INSERT of `columns`, each value from the parameter "v_<column>"."""
    return insert(table).values({c: bindparam(f"v_{c}", type_=table.c[c].type) for c in columns})


def in_list(
    column: ColumnElement[Any], name: str, kind: type[String] | type[Integer], dialect: str
) -> ColumnElement[bool]:
    """`column` is one of the values of the list parameter `name` (its value: `list_param`).

    One parameter whatever the list's length, so the statement compiles once: a JSON array read by
    json_each on SQLite, an array on PostgreSQL.
    """
    if dialect == "sqlite":
        listed = func.json_each(bindparam(name, type_=String())).table_valued("value")
        return column.in_(select(listed.c.value))
    return column == any_(bindparam(name, type_=postgresql.ARRAY(kind())))


def list_param(dialect: str, values: Iterable[Any]) -> str | list[Any]:
    """The value of an `in_list` parameter."""
    return json.dumps(list(values)) if dialect == "sqlite" else list(values)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: bool
    names: tuple[str, ...]  # parameter names, in the driver's order when positional
    to_db: tuple[Callable[[Any], Any] | None, ...]  # per parameter
    from_db: tuple[Callable[[Any], Any] | None, ...]  # per returned column
    shared: tuple[bool, ...]  # per returned column: its values are immutable (one conversion per value)

    def params(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """The driver's parameters for each row: converted column by column, each distinct value once
        (a story's time serves its keys, `now` every item)."""
        if len(rows) == 1:  # one execution (a lookup, a multi-row INSERT): no repeats to share
            row = rows[0]
            values = [
                row[name] if fn is None or row[name] is None else fn(row[name])
                for name, fn in zip(self.names, self.to_db, strict=True)
            ]
            return [tuple(values) if self.positional else dict(zip(self.names, values, strict=True))]
        columns = [
            _converted([row[name] for row in rows], fn)
            for name, fn in zip(self.names, self.to_db, strict=True)
        ]
        if self.positional:
            return list(zip(*columns, strict=True))
        return [dict(zip(self.names, values, strict=True)) for values in zip(*columns, strict=True)]

    def rows(self, fetched: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """The fetched rows, each column through its type's processor. A column of immutable values
        (times, strings, numbers) converts each distinct value once: a story's time and title repeat
        on every row of its keys. Mutable values (JSON) are converted row by row, never shared."""
        if not any(self.from_db) or not fetched:
            return [tuple(row) for row in fetched]
        columns: list[Sequence[Any]] = []
        for values, fn, shared in zip(zip(*fetched, strict=True), self.from_db, self.shared, strict=True):
            if fn is None:
                columns.append(values)
            elif shared:
                columns.append(_converted(list(values), fn))
            else:
                columns.append([fn(v) for v in values])
        return list(zip(*columns, strict=True))


@functools.lru_cache(maxsize=128)
def _compile(statement: ClauseElement, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    binds = {name: bind for bind, name in compiled.bind_names.items()}
    positional = bool(compiled.positional)
    names = tuple(compiled.positiontup or ()) if positional else tuple(binds)
    columns = getattr(statement, "exported_columns", ())
    return _Compiled(
        sql=compiled.string,
        positional=positional,
        names=names,
        to_db=tuple(binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names),
        from_db=tuple(_result_processor(c.type, dialect) for c in columns),
        shared=tuple(isinstance(c.type, (UTCDateTime, String, Integer)) for c in columns),
    )


def _result_processor(kind: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    impl = kind.dialect_impl(dialect)
    if isinstance(impl, Float) and not impl.asdecimal:
        return None  # the drivers return floats already (and psycopg's processor needs the column's oid)
    return impl.result_processor(dialect, None)


def fetch_rows(
    conn: Connection, statement: ClauseElement, values: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Execute once on the connection's DB-API cursor; the rows, each column through its type."""
    compiled = _compile(statement, conn.dialect)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(compiled.sql, compiled.params([values])[0])
        return compiled.rows(cursor.fetchall())
    finally:
        cursor.close()


def execute_rows(conn: Connection, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> None:
    """Execute once per row of values (one executemany)."""
    if not rows:
        return
    compiled = _compile(statement, conn.dialect)
    params = compiled.params(rows)
    cursor = conn.connection.cursor()
    try:
        if len(params) == 1:
            cursor.execute(compiled.sql, params[0])
        else:
            cursor.executemany(compiled.sql, params)
    finally:
        cursor.close()


def _converted(values: list[Any], convert: Callable[[Any], Any] | None) -> list[Any]:
    if convert is None:
        return values
    done: dict[Any, Any] = {None: None}
    out = []
    for value in values:
        try:
            out.append(done[value])
        except KeyError:
            out.append(done.setdefault(value, convert(value)))
        except TypeError:  # unhashable (a JSON list): convert each
            out.append(convert(value))
    return out
