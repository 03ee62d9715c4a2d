"""Notifiers: email, Slack, webhook. One module per kind; this registry maps config to instances.

To add a kind: a module with a class following `base.Notifier`, its templates in templates/, a config
model in monitor.config, one branch in `build_notifier`, and its tests (see tests/test_notify_*.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.notify.base import DeliveryError, Notifier
from monitor.notify.email import EmailNotifier
from monitor.notify.render import Renderer
from monitor.notify.slack import SlackNotifier
from monitor.notify.webhook import WebhookNotifier

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.config import EmailNotifier as EmailConfig
    from monitor.config import SlackNotifier as SlackConfig
    from monitor.config import WebhookNotifier as WebhookConfig

__all__ = [
    "DeliveryError",
    "EmailNotifier",
    "Notifier",
    "Renderer",
    "SlackNotifier",
    "WebhookNotifier",
    "build_notifier",
    "build_notifiers",
    "renderer_for",
]


def renderer_for(config: Config) -> Renderer:
    templates_dir = config.templates_dir
    order = {pc.pair.key: pc.written for pc in config.pairs}
    return Renderer(timezone=config.timezone, templates_dir=templates_dir, pair_order=order)


def build_notifier(
    name: str, spec: EmailConfig | SlackConfig | WebhookConfig, renderer: Renderer
) -> Notifier:
    """One configured notifier. Secrets are revealed here (SecretError names the reference if unset)."""
    from monitor import config as cfg

    timeout = spec.timeout.total_seconds()
    if isinstance(spec, cfg.EmailNotifier):
        return EmailNotifier(
            name=name,
            host=spec.host,
            port=spec.port,
            starttls=spec.starttls,
            tls=spec.tls,
            username=spec.username,
            password=spec.password.reveal() if spec.password is not None else None,
            from_=spec.from_,
            to=spec.to,
            timeout=timeout,
            renderer=renderer,
        )
    if isinstance(spec, cfg.SlackNotifier):
        return SlackNotifier(name=name, url=spec.url.reveal(), timeout=timeout, renderer=renderer)
    if isinstance(spec, cfg.WebhookNotifier):
        return WebhookNotifier(
            name=name,
            url=spec.url,
            secret=spec.secret.reveal() if spec.secret is not None else None,
            timeout=timeout,
        )
    raise TypeError(f"notifier {name}: unknown kind {type(spec).__name__}")


def build_notifiers(config: Config) -> dict[str, Notifier]:
    """Every configured notifier by name, sharing one renderer (time zone, user templates)."""
    renderer = renderer_for(config)
    return {name: build_notifier(name, spec, renderer) for name, spec in config.notifiers.items()}
