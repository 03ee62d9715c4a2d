"""The App: what every command and the daemon need, opened once: the config, the database, a clock.

No behaviour lives here; the work is in plain functions (monitor.pipeline) that take an App.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from monitor.classify import Classification, classify
from monitor.clock import Clock, utcnow
from monitor.config import Config
from monitor.db.session import Database

Classifier = Callable[[str, str], Classification]


@dataclass(frozen=True)
class App:
    config: Config
    db: Database
    clock: Clock
    classifier: Classifier = classify

    @classmethod
    def open(
        cls, config: Config, clock: Clock = utcnow, *, upgrade: bool = True, classifier: Classifier = classify
    ) -> App:
        """Open the configured database and bring its schema to the latest migration."""
        db = Database.open(config.database)
        if upgrade:
            try:
                db.upgrade()
            except BaseException:
                db.dispose()
                raise
        return cls(config=config, db=db, clock=clock, classifier=classifier)

    def close(self) -> None:
        self.db.dispose()
