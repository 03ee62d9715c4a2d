"""Write a new migration by comparing monitor/db/models.py with a scratch database at head.

    .venv/bin/python -m monitor.db.migrations "add feeds.weight"

A throwaway SQLite file is upgraded to the current head, Alembic autogenerates the difference to the
models into monitor/db/migrations/versions/, and the file name is printed. Read it before committing:
autogenerate misses renames and server defaults. Pass --url to compare against another database
(e.g. PostgreSQL) instead.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from alembic import command

from monitor.db.session import Database, alembic_config


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.db.migrations", description=__doc__)
    parser.add_argument("message", help="what the migration does, e.g. 'add feeds.weight'")
    parser.add_argument("--url", help="database to compare with (default: a scratch SQLite file at head)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        url = args.url or f"sqlite:///{Path(scratch) / 'scratch.db'}"
        db = Database.open(url)
        try:
            db.upgrade()
        finally:
            db.dispose()
        script = command.revision(alembic_config(url), message=args.message, autogenerate=True)
    scripts = script if isinstance(script, list) else [script]
    for one in scripts:
        if one is not None:
            print(one.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
