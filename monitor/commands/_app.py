"""What the database commands share: find and load the config, open the App (migrating the schema).

Problems are printed as their own lines on stderr and give None, so a command returns 1.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import SQLAlchemyError

from monitor.app import App
from monitor.classify import classify
from monitor.config import Config, ConfigError, load_config, mask_database_url, resolve_config_path


def load(args: argparse.Namespace) -> Config | None:
    try:
        return load_config(resolve_config_path(getattr(args, "config", None)))
    except ConfigError as err:
        for line in err.errors:
            print(line, file=sys.stderr)
        return None


def open_app(config: Config, *, classifier: bool = False) -> App | None:
    """The App on the configured database, schema at the latest migration; None (and a line) if not.
    With `classifier`, the App's classifier is the configured one (the transformer stage loaded if asked)."""
    from monitor.pipeline import classifier_for

    try:
        reader = classifier_for(config) if classifier else classify
    except ConfigError as err:
        for line in err.errors:
            print(line, file=sys.stderr)
        return None
    try:
        return App.open(config, classifier=reader)
    except (SQLAlchemyError, OSError) as exc:
        print(
            f"{config.path}: database {mask_database_url(config.database)}: {_reason(exc)}", file=sys.stderr
        )
        return None


def load_app(args: argparse.Namespace, *, classifier: bool = False) -> App | None:
    config = load(args)
    return None if config is None else open_app(config, classifier=classifier)


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__
