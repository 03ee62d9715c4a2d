"""Alembic migrations shipped inside the package. `python -m monitor.db.migrations --help` makes new ones."""
