"""Shared fixtures live in tests/support/, one module per kind of real peer."""

pytest_plugins = [
    "tests.support.feedserver",  # a real HTTP server on 127.0.0.1 serving feeds (and hostile variants)
    "tests.support.database",  # SQLite files and a fresh PostgreSQL database per test run
    "tests.support.receivers",  # a real SMTP server (aiosmtpd) and an HTTP receiver for Slack/webhooks
]
