"""What the database commands share: find and load the config, open the App (migrating the schema).

Problems are printed as their own lines on stderr and give None, so a command returns 1.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import SQLAlchemyError

from monitor.app import App, Classifier
from monitor.classify import classify
from monitor.config import Config, ConfigError, load_config, mask_database_url, resolve_config_path


def load(args: argparse.Namespace) -> Config | None:
    try:
        return load_config(resolve_config_path(getattr(args, "config", None)))
    except ConfigError as err:
        for line in err.errors:
            print(line, file=sys.stderr)
        return None


def configured_classifier(config: Config) -> Classifier | None:
    """The classifier the config asks for (the transformer stage loaded if asked); None (and a line) if not."""
    # imported here: the feed stack comes with it, wanted only by the commands that run the cycle
    from monitor.pipeline import classifier_for

    try:
        return classifier_for(config)
    except ConfigError as err:
        for line in err.errors:
            print(line, file=sys.stderr)
        return None


def open_app(config: Config, classifier: Classifier = classify) -> App | None:
    """The App on the configured database, schema at the latest migration; None (and a line) if not."""
    try:
        return App.open(config, classifier=classifier)
    except (SQLAlchemyError, OSError) as exc:
        print(
            f"{config.path}: database {mask_database_url(config.database)}: {_reason(exc)}", file=sys.stderr
        )
        return None


def load_app(args: argparse.Namespace, *, classifier: bool = False) -> App | None:
    """The config and the App; with `classifier`, the App reads with the configured classifier (the daemon)."""
    config = load(args)
    if config is None:
        return None
    reader = configured_classifier(config) if classifier else classify
    return None if reader is None else open_app(config, reader)


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__
