"""`monitor check`: validate the config and print what it says, or every problem, one per line.

Secrets are checked for presence (the variable is set, the file readable and not empty) but never
printed: the summary shows where each one comes from (`$SMTP_PASSWORD`, `file /run/credentials/...`).
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit, urlunsplit

from monitor.config import (
    Config,
    ConfigError,
    EmailNotifier,
    SecretError,
    SlackNotifier,
    WebhookNotifier,
    country_name,
    format_duration,
    load_config,
    mask_database_url,
    resolve_config_path,
)


def check(args: argparse.Namespace) -> int:
    try:
        path = resolve_config_path(getattr(args, "config", None))
        config = load_config(path)
    except ConfigError as err:
        for line in err.errors:
            print(line, file=sys.stderr)
        return 1
    print(summary(config))
    problems = secret_problems(config)
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        return 1
    print(f"{config.path}: OK")
    return 0


def secret_problems(config: Config) -> list[str]:
    """One 'path:line: key: message' per referenced secret that is unavailable right now."""
    out = []
    for name, notifier in config.notifiers.items():
        for field, ref in notifier.secrets().items():
            key = f"{field}_env" if ref.env is not None else f"{field}_file"
            where = config.where("notifiers", name, key)
            try:
                value = ref.reveal()
            except SecretError as err:
                out.append(f"{where}: notifiers.{name}.{key}: {err}")
                continue
            if isinstance(notifier, SlackNotifier) and urlsplit(value).scheme not in ("https", "http"):
                out.append(f"{where}: notifiers.{name}.{key}: {ref.describe()} does not hold an http(s) URL")
    return out


def summary(config: Config) -> str:
    lines = [
        f"config: {config.path}",
        f"database: {mask_database_url(config.database)}",
        f"time zone: {config.timezone}",
    ]
    if config.templates_dir is not None:
        lines.append(f"templates: {config.templates_dir}")
    poll = config.poll
    lines.append(
        f"poll: every {format_duration(poll.interval)} by default, timeout {format_duration(poll.timeout)}, "
        f"{poll.concurrency} at once ({poll.per_host} per host)"
    )
    lines.append(f"feeds ({len(config.feeds)}):")
    width = max((len(f.name) for f in config.feeds), default=0)
    for feed in config.feeds:
        every = format_duration(config.feed_interval(feed))
        weight = f"  weight {feed.weight:g}" if feed.weight != 1.0 else ""
        lines.append(f"  {feed.name:<{width}}  every {every:<6} {feed.url}{weight}")
    lines.append(f"pairs ({len(config.pairs)}):")
    named = [(p, f"{country_name(p.pair.a)}–{country_name(p.pair.b)}") for p in config.pairs]
    width = max((len(n) for _, n in named), default=0)
    for entry, names in named:
        lines.append(f"  {entry.pair.key}  {names:<{width}}  -> {_routing(config, entry.notify)}")
    lines.append(
        f"notifiers ({len(config.notifiers)}):"
        if config.notifiers
        else "notifiers: none (alerts are recorded, not sent)"
    )
    width = max((len(n) for n in config.notifiers), default=0)
    for name, notifier in config.notifiers.items():
        lines.append(f"  {name:<{width}}  {notifier.type:<7}  {_target(notifier)}")
    a = config.alerting
    lines.append(
        f"alerting: thresholds elevated {a.thresholds.elevated:g} / high {a.thresholds.high:g} / "
        f"critical {a.thresholds.critical:g}, half-life {format_duration(a.half_life)}, "
        f"repeat every {format_duration(a.repeat_interval)}"
    )
    lines.append(f"delivery: retried for up to {format_duration(config.delivery.retry_for)}")
    stage = "on (needs the 'transformer' extra)" if config.classifier.transformer else "off"
    lines.append(f"classifier: lexicon and linear model; transformer stage {stage}")
    return "\n".join(lines)


def _routing(config: Config, notify: tuple[str, ...] | None) -> str:
    if notify is None:
        return "all notifiers" if config.notifiers else "recorded only (no notifiers)"
    return ", ".join(notify) if notify else "recorded only (notify: [])"


def _redact_url(url: str) -> str:
    """Keep scheme, host and path; drop credentials and the query, which may carry tokens."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    query = "…" if parts.query else ""
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def _target(notifier: EmailNotifier | SlackNotifier | WebhookNotifier) -> str:
    if isinstance(notifier, EmailNotifier):
        mode = "implicit TLS" if notifier.tls else ("STARTTLS" if notifier.starttls else "no TLS")
        auth = ""
        if notifier.username:
            auth = f", user {notifier.username}"
        if notifier.password is not None:
            auth += f", password: {notifier.password.describe()}"
        return f"{notifier.host}:{notifier.port} ({mode}){auth}, from {notifier.from_} to {', '.join(notifier.to)}"
    if isinstance(notifier, SlackNotifier):
        return f"webhook URL: {notifier.url.describe()}"
    secret = (
        f", signed with secret: {notifier.secret.describe()}" if notifier.secret is not None else ", unsigned"
    )
    return f"{_redact_url(notifier.url)}{secret}"
