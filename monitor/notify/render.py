"""Rendering alerts into text: one context built from an Alert, templates the user may override.

Package templates live in monitor/notify/templates/; a file of the same name in the configured
`templates_dir` replaces one. `.html` templates are autoescaped (feed text is untrusted), `.txt` ones
are not. Every piece of feed text in the context is already clipped to a bounded length.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import pycountry

from monitor.classify import actors
from monitor.domain import Alert, Direction, Evidence, Pair
from monitor.notify.base import DeliveryError, one_line

MAX_EVIDENCE = 10
MAX_TITLE = 300
MAX_PHRASES = 8
MAX_SOURCES = 10
MAX_FIELD = 200
TEST_MARK = "[TEST] "


@functools.cache
def country_name(code: str) -> str:
    """Display name of an ISO 3166-1 alpha-2 code: the classifier's gazetteer ('IR' -> 'Iran',
    'RU' -> 'Russia'), else pycountry's common or short name, else the code itself."""
    try:
        return actors.country_name(code)
    except ValueError:
        pass
    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def pair_title(pair: Pair, order: tuple[str, str] | None = None) -> str:
    """'Pakistan–Iran' (en dash), in the order the config wrote the pair, else alphabetical by code."""
    first, second = order if order is not None else (pair.a, pair.b)
    return f"{country_name(first)}–{country_name(second)}"


def direction_tag(direction: Direction) -> str:
    return "[ESCALATION]" if direction is Direction.ESCALATION else "[DE-ESCALATION]"


def headline(alert: Alert, *, test: bool = False, order: tuple[str, str] | None = None) -> str:
    """'[ESCALATION] Iran–Pakistan: elevated -> high': the email subject and the Slack fallback text."""
    text = (
        f"{direction_tag(alert.direction)} {pair_title(alert.pair, order)}: "
        f"{alert.previous_level.label} -> {alert.level.label}"
    )
    return TEST_MARK + text if test else text


def clip(text: str, limit: int = MAX_FIELD) -> str:
    """One line, at most `limit` characters (an ellipsis marks a cut)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def safe_link(link: str | None) -> str | None:
    """Only http(s) links are shown; anything else (javascript:, data:) is dropped."""
    if not link:
        return None
    link = link.strip()
    if not link.lower().startswith(("http://", "https://")) or any(c.isspace() for c in link):
        return None
    return link[:2000]


def format_time(at: datetime, zone: ZoneInfo) -> dict[str, str]:
    local = at.astimezone(zone)
    return {
        "utc": at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC"),
        "local": f"{local.strftime('%Y-%m-%d %H:%M')} {zone.key}",
        "iso": at.isoformat(),
    }


def evidence_context(item: Evidence, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": clip(item.title, MAX_TITLE),
        "sources": [clip(s, 80) for s in item.sources[:MAX_SOURCES]],
        "more_sources": max(0, len(item.sources) - MAX_SOURCES),
        "time": format_time(item.published, zone),
        "link": safe_link(item.link),
        "phrases": [clip(p, 80) for p in item.phrases[:MAX_PHRASES]],
        "score": f"{item.score:+.1f}",
        "confidence": f"{item.confidence:.0%}",
    }


def alert_context(
    alert: Alert, zone: ZoneInfo, *, test: bool = False, order: tuple[str, str] | None = None
) -> dict[str, Any]:
    """Everything a template may use. Pure: the same alert always renders the same."""
    first, second = order if order is not None else (alert.pair.a, alert.pair.b)
    return {
        "test": test,
        "uid": alert.uid,
        "headline": headline(alert, test=test, order=order),
        "tag": direction_tag(alert.direction),
        "direction": alert.direction.value,
        "escalation": alert.direction is Direction.ESCALATION,
        "reason": alert.reason.value,
        "pair": {
            "codes": alert.pair.as_list(),
            "key": alert.pair.key,
            "title": pair_title(alert.pair, order),
            "names": [country_name(first), country_name(second)],
        },
        "level": alert.level.label,
        "previous_level": alert.previous_level.label,
        "tension": f"{alert.tension:.2f}",
        "previous_tension": f"{alert.previous_tension:.2f}",
        "time": format_time(alert.at, zone),
        "evidence": [evidence_context(e, zone) for e in alert.evidence[:MAX_EVIDENCE]],
        "more_evidence": max(0, len(alert.evidence) - MAX_EVIDENCE),
    }


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


class Renderer:
    """Jinja2 environment over the package templates, overridable by a user folder."""

    __slots__ = ("_env", "pair_order", "zone")

    def __init__(
        self,
        *,
        timezone: str = "UTC",
        templates_dir: Path | None = None,
        pair_order: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self.zone = ZoneInfo(timezone)
        self.pair_order = dict(pair_order or {})  # pair key -> the codes as the config wrote them
        loaders: list[jinja2.BaseLoader] = []
        if templates_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
        loaders.append(jinja2.PackageLoader("monitor.notify", "templates"))
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._env.filters["slack"] = slack_escape

    def context(self, alert: Alert, *, test: bool = False) -> dict[str, Any]:
        return alert_context(alert, self.zone, test=test, order=self.pair_order.get(alert.pair.key))

    def render(self, template: str, context: dict[str, Any]) -> str:
        """Render one template; a broken (user) template is a permanent DeliveryError naming it."""
        try:
            return self._env.get_template(template).render(context)
        except jinja2.TemplateSyntaxError as exc:
            where = f"{exc.filename or exc.name or template}:{exc.lineno}"
            raise DeliveryError(f"template {where}: {exc.message}", permanent=True) from None
        except jinja2.TemplateError as exc:
            raise DeliveryError(f"template {template}: {one_line(str(exc))}", permanent=True) from None

    def email(self, alert: Alert, *, test: bool = False) -> Rendered:
        ctx = self.context(alert, test=test)
        subject = clip(self.render("email_subject.txt", ctx), 250)
        return Rendered(
            subject=subject, text=self.render("email.txt", ctx), html=self.render("email.html", ctx)
        )


_MENTIONS = ("@channel", "@here", "@everyone")


def slack_escape(text: object) -> str:
    """Neutralise Slack control sequences in untrusted text.

    Slack's rules: '&', '<' and '>' are written as &amp; &lt; &gt;, so '<!channel>', '<@U123>' and
    '<http://x|y>' arrive as plain text. Bare '@channel'/'@here'/'@everyone' get a word joiner after
    the '@' so no client turns them into a broadcast.
    """
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for mention in _MENTIONS:
        out = out.replace(mention, "@\u2060" + mention[1:])
    return out


def slack_link(url: str, label: str) -> str:
    """A Slack link whose URL cannot break out of the <url|label> markup."""
    safe_url = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{safe_url}|{slack_escape(label)}>"
