"""The schema: pydantic models for every section of the file, and `Config` with the queries the
rest of the program uses. Checks that involve several keys (duplicates, unknown notifier names)
live here too, in a form that also runs on unvalidated data."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from monitor.config.errors import CrossCheckFailed, Loc, did_you_mean, invalid
from monitor.config.secrets import EnvName, SecretFile, SecretRef
from monitor.config.values import (
    ByteSize,
    Duration,
    EmailAddress,
    HttpUrl,
    PositiveDuration,
    country_code,
    to_database_url,
    to_pair,
    to_timezone,
)
from monitor.domain import Pair


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class PollConfig(_Model):
    interval: PositiveDuration = timedelta(minutes=5)
    timeout: PositiveDuration = timedelta(seconds=30)
    connect_timeout: PositiveDuration = timedelta(seconds=10)
    max_body: ByteSize = 5_000_000
    max_redirects: int = Field(default=5, ge=0, le=30)
    concurrency: int = Field(default=50, ge=1)
    per_host: int = Field(default=4, ge=1)
    max_backoff: PositiveDuration = timedelta(hours=6)
    jitter: Duration = timedelta(seconds=30)


class FeedConfig(_Model):
    name: str = Field(min_length=1)
    url: HttpUrl
    interval: PositiveDuration | None = None
    weight: float = Field(default=1.0, gt=0)


def _one_or_many(value: Any) -> Any:
    """`to: desk@example.org` or `notify: desk-email` means a list of one."""
    return [value] if isinstance(value, str) else value


class PairConfig(_Model):
    """A pair to alert on; `notify` names notifiers (None: all of them, (): none)."""

    pair: Annotated[Pair, BeforeValidator(to_pair)]
    notify: Annotated[tuple[str, ...] | None, BeforeValidator(_one_or_many)] = None

    _written: tuple[str, str] | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return {"pair": data}
        return data

    @model_validator(mode="wrap")
    @classmethod
    def _keep_written_order(cls, data: Any, handler: ModelWrapValidatorHandler[PairConfig]) -> PairConfig:
        """Remember the order the analyst wrote ([PK, IR] reads "Pakistan–Iran" in messages)."""
        model = handler(data)
        raw = data.get("pair") if isinstance(data, dict) else data
        if isinstance(raw, str):
            raw = [p for p in re.split(r"[-,/\s]+", raw) if p]
        if isinstance(raw, list | tuple) and len(raw) == 2:
            first = country_code(str(raw[0]))
            model._written = (first, model.pair.b if first == model.pair.a else model.pair.a)
        return model

    @property
    def written(self) -> tuple[str, str]:
        """The two codes in the order the config gives them."""
        return self._written or (self.pair.a, self.pair.b)


def _name_from_key(value: Any) -> Any:
    if not isinstance(value, str):
        raise invalid("name", "expected a name")
    return value


class NotifierBase(_Model):
    """Common to all notifiers. `name` is the key under `notifiers:`, filled in by Config."""

    name: Annotated[str, BeforeValidator(_name_from_key)] = Field(default="", validation_alias="<name>")
    SECRET_FIELDS: ClassVar[dict[str, str]] = {}  # field -> what it is, for the plain-value error

    def _secret(self, field: str) -> SecretRef | None:
        env: str | None = getattr(self, f"{field}_env")
        file: Path | None = getattr(self, f"{field}_file")
        if env is None and file is None:
            return None
        return SecretRef(
            env=env, file=None if env is not None else file, owner=f"notifier {self.name!r} {field}"
        )

    def secrets(self) -> dict[str, SecretRef]:
        """Every secret this notifier references, by field name."""
        out = {}
        for field in self.SECRET_FIELDS:
            ref = self._secret(field)
            if ref is not None:
                out[field] = ref
        return out

    @field_validator("*", mode="after")
    @classmethod
    def _not_both(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        if name.endswith("_file") and value is not None and info.data.get(name[: -len("_file")] + "_env"):
            field = name[: -len("_file")]
            raise invalid("secret", f"give {field}_env or {field}_file, not both")
        return value


class EmailNotifier(NotifierBase):
    SECRET_FIELDS: ClassVar[dict[str, str]] = {"password": "the SMTP password"}

    type: Literal["email"]
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    tls: bool = False
    username: str | None = None
    password_env: EnvName = None
    password_file: SecretFile = None
    from_: EmailAddress = Field(alias="from")
    to: Annotated[list[EmailAddress], BeforeValidator(_one_or_many)] = Field(min_length=1)
    timeout: PositiveDuration = timedelta(seconds=30)

    @model_validator(mode="before")
    @classmethod
    def _tls_defaults(cls, data: Any) -> Any:
        # Implicit TLS (tls: true) changes the defaults: port 465 and no STARTTLS.
        if isinstance(data, dict):
            tls = str(data.get("tls", "")).strip().lower() in ("true", "yes", "on", "1")
            data = dict(data)
            data.setdefault("port", 465 if tls else 587)
            data.setdefault("starttls", not tls)
        return data

    @field_validator("tls")
    @classmethod
    def _one_tls_mode(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("starttls"):
            raise invalid(
                "tls",
                "starttls and tls are exclusive: tls: true is implicit TLS (port 465), starttls: true upgrades (port 587)",
            )
        return value

    @property
    def password(self) -> SecretRef | None:
        return self._secret("password")


class SlackNotifier(NotifierBase):
    SECRET_FIELDS: ClassVar[dict[str, str]] = {"url": "the Slack webhook URL"}

    type: Literal["slack"]
    url_env: EnvName = None
    url_file: SecretFile = None
    timeout: PositiveDuration = timedelta(seconds=10)

    @model_validator(mode="after")
    def _url_given(self) -> SlackNotifier:
        if self.url_env is None and self.url_file is None:
            raise invalid(
                "secret",
                "a Slack notifier needs url_env: VARIABLE or url_file: PATH (the webhook URL is a secret)",
            )
        return self

    @property
    def url(self) -> SecretRef:
        ref = self._secret("url")
        assert ref is not None  # guaranteed by _url_given
        return ref


class WebhookNotifier(NotifierBase):
    SECRET_FIELDS: ClassVar[dict[str, str]] = {"secret": "the signing secret"}

    type: Literal["webhook"]
    url: HttpUrl
    secret_env: EnvName = None
    secret_file: SecretFile = None
    timeout: PositiveDuration = timedelta(seconds=10)

    @property
    def secret(self) -> SecretRef | None:
        return self._secret("secret")


Notifier = Annotated[Union[EmailNotifier, SlackNotifier, WebhookNotifier], Field(discriminator="type")]  # noqa: UP007
NOTIFIER_TYPES = ("email", "slack", "webhook")


class Thresholds(_Model):
    """Tension levels: tension units above the pair's own baseline (see monitor/tension.py)."""

    elevated: float = Field(default=10.0, gt=0)
    high: float = Field(default=25.0, gt=0)
    critical: float = Field(default=50.0, gt=0)

    @model_validator(mode="after")
    def _increasing(self) -> Thresholds:
        if not self.elevated < self.high < self.critical:
            raise invalid("thresholds", "must increase: elevated < high < critical")
        return self

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.elevated, self.high, self.critical)


class AlertingConfig(_Model):
    half_life: PositiveDuration = timedelta(hours=12)
    baseline_half_life: PositiveDuration = timedelta(days=14)
    thresholds: Thresholds = Thresholds()
    hysteresis: float = Field(default=0.25, ge=0, le=0.9)
    min_dwell: Duration = timedelta(minutes=30)
    sharp_rise: float = Field(default=20.0, gt=0)
    sharp_rise_window: PositiveDuration = timedelta(hours=3)
    repeat_interval: PositiveDuration = timedelta(hours=24)
    back_to_calm: bool = True
    quiet_period: PositiveDuration = timedelta(hours=48)
    min_confidence: float = Field(default=0.3, ge=0, le=1)
    evidence_window: PositiveDuration = timedelta(
        hours=24
    )  # de-escalation news (and alert evidence) look-back
    deescalation_evidence: float = Field(
        default=5.0, ge=0
    )  # tension units of de-escalation news to report a fall
    reversal_hold: Duration = timedelta(
        hours=6
    )  # an alert reversing the last one's direction waits this long


class ClassifierConfig(_Model):
    transformer: bool = False  # read unsure items again with the transformer stage (the 'transformer' extra)


class DeliveryConfig(_Model):
    retry_for: PositiveDuration = timedelta(hours=24)
    backoff_initial: PositiveDuration = timedelta(seconds=30)
    backoff_max: PositiveDuration = timedelta(minutes=30)
    interval: PositiveDuration = timedelta(seconds=15)


def _none_is(empty: Callable[[], Any]) -> Callable[[Any], Any]:
    """`feeds:` with nothing under it (or everything commented out) means empty, not an error."""

    def convert(value: Any) -> Any:
        return empty() if value is None else value

    return convert


def _name_notifiers(value: Any) -> Any:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {k: ({**v, "<name>": k} if isinstance(v, dict) else v) for k, v in value.items()}
    return value


def _templates_dir(value: Any, info: ValidationInfo) -> Any:
    if value is None:
        return None
    if not isinstance(value, str | Path) or not str(value).strip():
        raise invalid("path", "expected a directory path")
    path = Path(str(value).strip()).expanduser()
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    if not path.is_dir():
        raise invalid("path", f"no such directory: {path}")
    return path


class Config(_Model):
    path: Path = Field(default=Path("<memory>"), validation_alias="<path>")
    database: Annotated[str, BeforeValidator(to_database_url)] = "sqlite:///var/monitor.db"
    timezone: Annotated[str, BeforeValidator(to_timezone)] = "UTC"
    templates_dir: Annotated[Path | None, BeforeValidator(_templates_dir)] = None
    poll: Annotated[PollConfig, BeforeValidator(_none_is(dict))] = PollConfig()
    feeds: Annotated[list[FeedConfig], BeforeValidator(_none_is(list))] = []
    pairs: Annotated[list[PairConfig], BeforeValidator(_none_is(list))] = []
    notifiers: Annotated[dict[str, Notifier], BeforeValidator(_name_notifiers)] = {}
    alerting: Annotated[AlertingConfig, BeforeValidator(_none_is(dict))] = AlertingConfig()
    delivery: Annotated[DeliveryConfig, BeforeValidator(_none_is(dict))] = DeliveryConfig()
    classifier: Annotated[ClassifierConfig, BeforeValidator(_none_is(dict))] = ClassifierConfig()

    _lines: dict[Loc, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _cross_check(self) -> Config:
        problems = cross_problems(self)
        if problems:
            raise CrossCheckFailed(problems)
        return self

    # ---- queries used by the rest of the program

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def feed_interval(self, feed: FeedConfig) -> timedelta:
        return feed.interval if feed.interval is not None else self.poll.interval

    def pair_list(self) -> tuple[Pair, ...]:
        return tuple(p.pair for p in self.pairs)

    def pair_config(self, pair: Pair) -> PairConfig | None:
        for entry in self.pairs:
            if entry.pair == pair:
                return entry
        return None

    def pair_configs(self) -> dict[Pair, PairConfig]:
        return {p.pair: p for p in self.pairs}

    def notifiers_for(self, pair: Pair) -> tuple[str, ...]:
        """Routing: the pair's own notify list, else every notifier."""
        entry = self.pair_config(pair)
        if entry is not None and entry.notify is not None:
            return entry.notify
        return tuple(self.notifiers)

    def where(self, *loc: str | int) -> str:
        """'path:line' of a key path (or of its nearest recorded parent), for messages."""
        for end in range(len(loc), -1, -1):
            line = self._lines.get(tuple(loc[:end]))
            if line is not None:
                return f"{self.path}:{line}"
        return f"{self.path}:1"


def cross_problems(config: Config) -> list[tuple[Loc, str]]:
    problems = _shared_problems(
        [(i, f.name, f.url) for i, f in enumerate(config.feeds)],
        [(i, p.pair, p.notify) for i, p in enumerate(config.pairs)],
        list(config.notifiers),
    )
    for name, notifier in config.notifiers.items():
        if isinstance(notifier, EmailNotifier) and notifier.password is not None and not notifier.username:
            problems.append(
                (
                    ("notifiers", name, "password_env" if notifier.password_env else "password_file"),
                    "a password is given but no username",
                )
            )
    return problems


def raw_cross_problems(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    """The same checks on unvalidated data, so they are reported together with field errors."""
    feeds = data.get("feeds")
    pairs = data.get("pairs")
    notifiers = data.get("notifiers")
    feed_rows = [
        (i, f.get("name"), f.get("url"))
        for i, f in enumerate(feeds if isinstance(feeds, list) else [])
        if isinstance(f, dict)
    ]
    pair_rows: list[tuple[int, Pair | None, Any]] = []
    for i, entry in enumerate(pairs if isinstance(pairs, list) else []):
        raw, notify = (entry.get("pair"), entry.get("notify")) if isinstance(entry, dict) else (entry, None)
        try:
            pair: Pair | None = to_pair(raw)
        except PydanticCustomError:
            pair = None
        pair_rows.append((i, pair, notify if isinstance(notify, list) else None))
    names = [str(k) for k in notifiers] if isinstance(notifiers, dict) else []
    return _shared_problems(feed_rows, pair_rows, names)


def _shared_problems(
    feeds: list[tuple[int, Any, Any]], pairs: list[tuple[int, Pair | None, Any]], notifier_names: list[str]
) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    seen_names: dict[Any, int] = {}
    seen_urls: dict[Any, int] = {}
    for i, name, url in feeds:
        if isinstance(name, str) and name in seen_names:
            problems.append(
                (("feeds", i, "name"), f"duplicate feed name {name!r} (also feeds[{seen_names[name]}])")
            )
        elif isinstance(name, str):
            seen_names[name] = i
        if isinstance(url, str) and url.strip() in seen_urls:
            problems.append(
                (("feeds", i, "url"), f"duplicate feed URL (also feeds[{seen_urls[url.strip()]}])")
            )
        elif isinstance(url, str):
            seen_urls[url.strip()] = i
    seen_pairs: dict[Pair, int] = {}
    for i, pair, notify in pairs:
        if pair is not None and pair in seen_pairs:
            problems.append((("pairs", i), f"duplicate pair {pair} (also pairs[{seen_pairs[pair]}])"))
        elif pair is not None:
            seen_pairs[pair] = i
        for j, name in enumerate(notify or ()):
            if isinstance(name, str) and name not in notifier_names:
                known = ", ".join(notifier_names) or "none are configured"
                hint = did_you_mean(name, notifier_names)
                problems.append(
                    (("pairs", i, "notify", j), f"unknown notifier {name!r}{hint} (notifiers: {known})")
                )
    return problems
