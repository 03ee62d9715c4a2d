"""The YAML configuration: schema, validation with file:line errors, secret references.

This is the only module that reads YAML. `load_config(path)` returns a frozen `Config` or raises
`ConfigError`, whose lines read `path:line: key.path: message`, one per problem, sorted by line.

How line numbers are found: PyYAML composes the document into a node tree; `_build` turns it
into plain Python data while recording, for every key path, where its key (or list item) starts.
Pydantic validates the data; each error's `loc` is walked back through the data to the nearest
recorded position. Discriminator tags that pydantic inserts into `loc` (`notifiers.x.email.host`)
are dropped on the way.

Secrets are never values in the file: `password_env: SMTP_PASSWORD` or
`password_file: /run/credentials/monitor.service/smtp-password`. A `SecretRef` reads the value only
when `reveal()` is called, and neither its repr nor any error shows the value.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from functools import cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union
from urllib.parse import urlsplit

import pycountry
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from monitor.domain import Pair

DEFAULT_PATHS = (Path("config/monitor.yaml"), Path("/etc/monitor/monitor.yaml"))
ENV_CONFIG = "MONITOR_CONFIG"

Loc = tuple[str | int, ...]


# --------------------------------------------------------------------------- errors


class ConfigError(Exception):
    """One or more configuration problems; str() is one line per problem."""

    def __init__(self, errors: list[str] | str) -> None:
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


class SecretError(ConfigError):
    """A referenced secret is unavailable (variable unset, file unreadable or empty). Names the
    reference, never the value."""


class _CrossCheckFailed(Exception):
    """Raised from Config's after-validator (not a ValueError, so pydantic lets it through):
    problems that involve several keys, each with the key path to blame."""

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{_dotted(loc)}: {msg}" for loc, msg in problems))


def _invalid(kind: str, text: str) -> PydanticCustomError:
    """A validation error whose message is exactly `text` (no template expansion of user input)."""
    return PydanticCustomError(kind, "{detail}", {"detail": text})


# --------------------------------------------------------------------------- durations and sizes

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_DURATION_HINT = "durations need a unit: 90s, 5m, 1h, 2d, 1h30m"


def parse_duration(text: str) -> timedelta:
    """'90s', '5m', '1h', '2d', '1w', '250ms', '1h30m' -> timedelta. Bare numbers are rejected."""
    if not isinstance(text, str):
        raise ValueError(f"expected a duration like 5m, got {text!r} ({_DURATION_HINT})")
    s = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        raise ValueError(f"bare number {s!r} is ambiguous: {_DURATION_HINT}")
    seconds = 0.0
    pos = 0
    for match in _DURATION_PART.finditer(s):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
        pos = match.end()
    if not s or pos != len(s):
        raise ValueError(f"not a duration: {text!r} ({_DURATION_HINT})")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration too long: {text!r}") from None


def format_duration(value: timedelta) -> str:
    """timedelta(minutes=90) -> '1h30m', 24 h -> '24h', 14 days -> '14d'; parse_duration reads it back."""
    if value < timedelta(0):
        return "-" + format_duration(-value)
    remaining = round(value.total_seconds() * 1000)
    if remaining == 0:
        return "0s"
    units = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))
    parts = []
    for unit, size in units if remaining >= 2 * 86_400_000 else units[1:]:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_size(text: str | int) -> int:
    """5MB, 512kB, 2MiB, 1000000 -> bytes (kB/MB are powers of 1000, KiB/MiB of 1024)."""
    if isinstance(text, bool):
        raise ValueError("expected a size like 5MB")
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (like 5MB, 512kB, 2MiB or a number of bytes)")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def _duration(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or value is None:
        raise _invalid("duration", f"expected a duration like 5m ({_DURATION_HINT})")
    if isinstance(value, int | float):
        raise _invalid("duration", f"bare number {value} is ambiguous: {_DURATION_HINT}")
    try:
        return parse_duration(str(value))
    except ValueError as err:
        raise _invalid("duration", str(err)) from None


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise _invalid("duration", "must be longer than zero")
    return value


def _non_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise _invalid("duration", "must not be negative")
    return value


def _size(value: Any) -> Any:
    try:
        return parse_size(value)
    except ValueError as err:
        raise _invalid("size", str(err)) from None


Duration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_non_negative)]
PositiveDuration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_positive)]
ByteSize = Annotated[int, BeforeValidator(_size), Field(gt=0)]


# --------------------------------------------------------------------------- countries, URLs, addresses

_EXTRA_COUNTRIES = {"XK": "Kosovo"}  # user-assigned code in wide use, not in ISO 3166-1
_SHORT_NAMES = {  # where pycountry's name is the formal one
    "RU": "Russia",
    "KP": "North Korea",
    "KR": "South Korea",
    "SY": "Syria",
    "VN": "Vietnam",
    "LA": "Laos",
    "MD": "Moldova",
    "VE": "Venezuela",
    "BO": "Bolivia",
    "PS": "Palestine",
    "CD": "DR Congo",
}
_COMMON_MISTAKES = {"UK": "GB", "EL": "GR"}


@cache
def country_name(code: str) -> str | None:
    """'PK' -> 'Pakistan'; None when the code is not ISO 3166-1 alpha-2 (or XK)."""
    if code in _EXTRA_COUNTRIES:
        return _EXTRA_COUNTRIES[code]
    if code in _SHORT_NAMES:
        return _SHORT_NAMES[code]
    country = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    if country is None:
        return None
    name: str = getattr(country, "common_name", None) or country.name
    return name


def _country_hint(text: str) -> str:
    if text.upper() in _COMMON_MISTAKES:
        return f" (did you mean {_COMMON_MISTAKES[text.upper()]}?)"
    try:
        found = pycountry.countries.lookup(text)
    except LookupError:
        return ""
    return f" (did you mean {found.alpha_2}?)"


def country_code(value: Any) -> str:
    """Validate one ISO 3166-1 alpha-2 code (any case) and return it upper-cased."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a two-letter country code like PK, got {value!r}")
    code = value.strip().upper()
    if country_name(code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code{_country_hint(value.strip())}")
    return code


def _pair(value: Any) -> Pair:
    if isinstance(value, Pair):
        return value
    if isinstance(value, str):
        parts = [p for p in re.split(r"[-,/\s]+", value) if p]
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise _invalid("pair", "expected two country codes like [PK, IR]")
    if len(parts) == 1 and isinstance(value, str):
        raise _invalid(
            "pair",
            f"expected two country codes like [PK, IR], got {value!r} alone (one pair per item: - [PK, IR])",
        )
    if len(parts) != 2:
        raise _invalid("pair", f"expected two country codes like [PK, IR], got {len(parts)}")
    try:
        a, b = country_code(parts[0]), country_code(parts[1])
    except ValueError as err:
        raise _invalid("pair", str(err)) from None
    if a == b:
        raise _invalid("pair", f"a pair needs two different countries, got {a} twice")
    return Pair.of(a, b)


def _http_url(value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid("url", "expected an http(s) URL")
    url = value.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise _invalid("url", f"not a valid URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid("url", f"not an http(s) URL: {url!r}")
    return url


_ADDRESS = re.compile(
    r"[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


def _email(value: Any) -> str:
    """'desk@example.org' or 'Desk <desk@example.org>'; returned as written (stripped)."""
    if not isinstance(value, str):
        raise _invalid("email", "expected an email address")
    text = value.strip()
    _, address = parseaddr(text)
    if not address or not _ADDRESS.fullmatch(address):
        raise _invalid("email", f"not a valid email address: {text!r}")
    return text


def _timezone(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid("timezone", "expected a time zone name like Europe/Paris or UTC")
    try:
        zoneinfo.ZoneInfo(value.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _invalid(
            "timezone", f"unknown time zone {value!r} (an IANA name like Asia/Karachi, Europe/Paris or UTC)"
        ) from None
    return value.strip()


_DATABASE_URL = re.compile(r"[\w+]+://")  # SQLAlchemy's own test; checked without importing it


def _database_url(value: Any) -> str:
    if not isinstance(value, str) or not _DATABASE_URL.match(value.strip()):
        raise _invalid(
            "database", "not a SQLAlchemy URL (like sqlite:///var/monitor.db or postgresql+psycopg://host/db)"
        )
    return value.strip()


def mask_database_url(url: str) -> str:
    """The URL with any password replaced by ***."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


HttpUrl = Annotated[str, BeforeValidator(_http_url)]
EmailAddress = Annotated[str, BeforeValidator(_email)]


# --------------------------------------------------------------------------- secrets

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret lives: an environment variable or a file. The value is read by reveal()."""

    env: str | None = None
    file: Path | None = None
    owner: str = "secret"  # for messages, like "notifier 'desk-email' password"

    def reveal(self) -> str:
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise SecretError(f"{self.owner}: environment variable {self.env} is not set")
            return value
        if self.file is None:
            raise SecretError(f"{self.owner}: no *_env or *_file given")
        try:
            text = self.file.read_text(encoding="utf-8")
        except OSError as err:
            raise SecretError(
                f"{self.owner}: cannot read {self.file}: {err.strerror or type(err).__name__}"
            ) from None
        except UnicodeDecodeError:
            raise SecretError(f"{self.owner}: {self.file} is not UTF-8 text") from None
        value = text.rstrip("\r\n")
        if not value:
            raise SecretError(f"{self.owner}: {self.file} is empty")
        return value

    def describe(self) -> str:
        """'$SMTP_PASSWORD' or 'file /run/credentials/...': safe to print."""
        return f"${self.env}" if self.env is not None else f"file {self.file}"

    def problem(self) -> str | None:
        """Why reveal() would fail, or None. Never contains the value."""
        try:
            self.reveal()
        except SecretError as err:
            return str(err)
        return None

    def __repr__(self) -> str:
        where = f"env={self.env!r}" if self.env is not None else f"file={str(self.file)!r}"
        return f"SecretRef({where})"

    __str__ = describe


def _env_name(value: Any) -> Any:
    if value is None:
        return None
    # Never echo the value: a secret pasted here by mistake must not reach the terminal or a log.
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value.strip()):
        raise _invalid(
            "env_name",
            "must be the name of an environment variable (letters, digits, _), not the secret itself",
        )
    return value.strip()


def _secret_file(value: Any, info: ValidationInfo) -> Any:
    if value is None:
        return None
    if not isinstance(value, str | Path) or not str(value).strip():
        raise _invalid("secret_file", "expected a file path")
    path = Path(str(value).strip()).expanduser()
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path


EnvName = Annotated[str | None, BeforeValidator(_env_name)]
SecretFile = Annotated[Path | None, BeforeValidator(_secret_file)]


def _plain_secret_hint(field: str, what: str) -> str:
    return (
        f"{what} is a secret and must not be written in the config: use {field}_env: VARIABLE (an environment "
        f"variable) or {field}_file: PATH (a file, e.g. a systemd credential)"
    )


# --------------------------------------------------------------------------- the schema


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

    pair: Annotated[Pair, BeforeValidator(_pair)]
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
        raise _invalid("name", "expected a name")
    return value


class _Notifier(_Model):
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
            raise _invalid("secret", f"give {field}_env or {field}_file, not both")
        return value


class EmailNotifier(_Notifier):
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
            raise _invalid(
                "tls",
                "starttls and tls are exclusive: tls: true is implicit TLS (port 465), starttls: true upgrades (port 587)",
            )
        return value

    @property
    def password(self) -> SecretRef | None:
        return self._secret("password")


class SlackNotifier(_Notifier):
    SECRET_FIELDS: ClassVar[dict[str, str]] = {"url": "the Slack webhook URL"}

    type: Literal["slack"]
    url_env: EnvName = None
    url_file: SecretFile = None
    timeout: PositiveDuration = timedelta(seconds=10)

    @model_validator(mode="after")
    def _url_given(self) -> SlackNotifier:
        if self.url_env is None and self.url_file is None:
            raise _invalid(
                "secret",
                "a Slack notifier needs url_env: VARIABLE or url_file: PATH (the webhook URL is a secret)",
            )
        return self

    @property
    def url(self) -> SecretRef:
        ref = self._secret("url")
        assert ref is not None  # guaranteed by _url_given
        return ref


class WebhookNotifier(_Notifier):
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
            raise _invalid("thresholds", "must increase: elevated < high < critical")
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
        raise _invalid("path", "expected a directory path")
    path = Path(str(value).strip()).expanduser()
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    if not path.is_dir():
        raise _invalid("path", f"no such directory: {path}")
    return path


class Config(_Model):
    path: Path = Field(default=Path("<memory>"), validation_alias="<path>")
    database: Annotated[str, BeforeValidator(_database_url)] = "sqlite:///var/monitor.db"
    timezone: Annotated[str, BeforeValidator(_timezone)] = "UTC"
    templates_dir: Annotated[Path | None, BeforeValidator(_templates_dir)] = None
    poll: Annotated[PollConfig, BeforeValidator(_none_is(dict))] = PollConfig()
    feeds: Annotated[list[FeedConfig], BeforeValidator(_none_is(list))] = []
    pairs: Annotated[list[PairConfig], BeforeValidator(_none_is(list))] = []
    notifiers: Annotated[dict[str, Notifier], BeforeValidator(_name_notifiers)] = {}
    alerting: Annotated[AlertingConfig, BeforeValidator(_none_is(dict))] = AlertingConfig()
    delivery: Annotated[DeliveryConfig, BeforeValidator(_none_is(dict))] = DeliveryConfig()

    _lines: dict[Loc, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _cross_check(self) -> Config:
        problems = _cross_problems(self)
        if problems:
            raise _CrossCheckFailed(problems)
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


def _cross_problems(config: Config) -> list[tuple[Loc, str]]:
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


def _raw_cross_problems(data: dict[str, Any]) -> list[tuple[Loc, str]]:
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
            pair: Pair | None = _pair(raw)
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
                hint = _did_you_mean(name, notifier_names)
                problems.append(
                    (("pairs", i, "notify", j), f"unknown notifier {name!r}{hint} (notifiers: {known})")
                )
    return problems


# --------------------------------------------------------------------------- reading YAML with positions


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false, so `NO` (Norway) and `on` stay strings."""


_BOOL_TAG = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


@dataclass(frozen=True, slots=True)
class _Document:
    data: Any
    lines: dict[Loc, int]  # key path -> 1-based line of the key (or list item)
    errors: list[tuple[int, str]]  # (line, message): duplicate keys and the like


_MAX_NODES = 100_000  # far above any real config; stops alias bombs ("billion laughs")


def _read_document(text: str, path: Path) -> _Document:
    loader = _Loader(text)
    builder = _Builder(loader, path)
    try:
        node = loader.get_single_node()
        data = builder.build(node, (), ()) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 1
        column = f", column {mark.column + 1}" if mark else ""
        problem = err.problem or err.context or "invalid YAML"
        if "'\\t'" in problem:
            problem += " (indent with spaces, not tabs)"
        started = err.context_mark
        if (
            err.problem
            and err.context
            and started is not None
            and mark is not None
            and started.line != mark.line
        ):
            problem += f" ({err.context} started at line {started.line + 1})"
        raise ConfigError(f"{path}:{line}: YAML syntax error{column}: {problem}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}:1: YAML error: {type(err).__name__}") from None
    except RecursionError:
        raise ConfigError(f"{path}:1: YAML nested too deeply") from None
    finally:
        loader.dispose()
    return _Document(data, builder.lines, builder.errors)


class _Builder:
    """Turns composed YAML nodes into plain data, recording the line of every key path."""

    def __init__(self, loader: _Loader, path: Path) -> None:
        self.loader = loader
        self.path = path
        self.lines: dict[Loc, int] = {}
        self.errors: list[tuple[int, str]] = []
        self.nodes = 0

    def _fail(self, node: yaml.Node, loc: Loc, message: str) -> ConfigError:
        line = node.start_mark.line + 1
        return ConfigError(f"{self.path}:{line}: {_dotted(loc) or 'top level'}: {message}")

    def build(self, node: yaml.Node, loc: Loc, active: tuple[int, ...]) -> Any:
        self.nodes += 1
        if self.nodes > _MAX_NODES:
            raise self._fail(node, loc, f"more than {_MAX_NODES} values (an alias expanding without end?)")
        if id(node) in active:
            raise self._fail(node, loc, "an alias refers to itself")
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc, (*active, id(node)))
        if isinstance(node, yaml.SequenceNode):
            inner = (*active, id(node))
            return [self.build(item, (*loc, i), inner) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node)

    def _mapping(self, node: yaml.MappingNode, loc: Loc, active: tuple[int, ...]) -> dict[str, Any]:
        explicit = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
        self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys; merged ones come first
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                where = f"{self.path}:{key_line}: {_dotted(loc) or 'top level'}"
                self.errors.append((key_line, f"{where}: keys must be plain words"))
                continue
            key = str(self.loader.construct_object(key_node))
            if id(key_node) in explicit:
                if key in first_line:
                    where = f"{self.path}:{key_line}: {_dotted((*loc, key))}"
                    self.errors.append(
                        (key_line, f"{where}: duplicate key (first at line {first_line[key]})")
                    )
                    continue
                first_line[key] = key_line
            self.lines[(*loc, key)] = key_line  # an explicit key overrides one merged from an anchor
            out[key] = self.build(value_node, (*loc, key), active)
        return out


# --------------------------------------------------------------------------- mapping pydantic errors back to lines


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


def _keys_of(model: type[BaseModel]) -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        key = (
            field.alias
            or (field.validation_alias if isinstance(field.validation_alias, str) else None)
            or name
        )
        if not key.startswith("<"):
            keys.append(key)
    return keys


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the mapping at pydantic `loc` (tags included), if known."""
    tp: Any = Config
    for part in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = {(f.alias or n): f for n, f in tp.model_fields.items()}
            if part not in fields:
                return None
            tp = fields[str(part)].annotation
            # Annotated metadata is stripped by pydantic into the FieldInfo; annotation is the bare type.
        elif origin in (list, tuple):
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        elif origin in (Union, types.UnionType):
            members = [m for m in typing.get_args(tp) if isinstance(m, type) and issubclass(m, BaseModel)]
            matched = [
                m for m in members if part in typing.get_args(m.model_fields["type"].annotation or object)
            ]
            if not matched:
                return None
            tp = matched[0]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _data_path(data: Any, loc: Loc) -> tuple[Loc, Loc]:
    """Split pydantic's loc into (path present in the data, display path): tags are dropped."""
    found: list[str | int] = []
    shown: list[str | int] = []
    node = data
    rest = list(loc)
    while rest:
        part = rest.pop(0)
        present = (isinstance(node, dict) and isinstance(part, str) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if present:
            node = node[part]
            found.append(part)
            shown.append(part)
        elif isinstance(node, dict) and part == node.get("type"):
            continue  # the discriminator tag pydantic adds to the path
        elif not isinstance(node, dict):
            continue  # e.g. `pair` of the short form [PK, IR]
        else:
            shown.append(part)
            shown.extend(p for p in rest if not (isinstance(p, str) and p in NOTIFIER_TYPES))
            break
    return tuple(found), tuple(shown)


_TYPE_WORDS = {
    "dict": "a mapping (key: value)",
    "list": "a list",
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
}


def _describe(value: Any) -> str:
    for tp, word in (
        (bool, "bool"),
        (dict, "dict"),
        (list, "list"),
        (str, "str"),
        (int, "int"),
        (float, "float"),
    ):
        if isinstance(value, tp):
            return _TYPE_WORDS[word]
    return "nothing" if value is None else type(value).__name__


def _message(error: Mapping[str, Any], loc: Loc, model: type[BaseModel] | None) -> str:
    kind = error["type"]
    key = loc[-1] if loc else ""
    value = error.get("input")
    secret_ish = isinstance(key, str) and key.endswith("_env")
    got = "" if secret_ish else f", got {_describe(value)}"
    if kind == "extra_forbidden":
        if model is not None and issubclass(model, _Notifier) and key in model.SECRET_FIELDS:
            return _plain_secret_hint(str(key), model.SECRET_FIELDS[str(key)])
        choices = _keys_of(model) if model is not None else []
        return f"unknown key{_did_you_mean(str(key), choices)}"
    if kind == "missing":
        return "required key is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected {_TYPE_WORDS['dict']}{got}"
    if kind in ("list_type", "tuple_type"):
        return f"expected {_TYPE_WORDS['list']}{got}"
    if kind == "string_type":
        return f"expected text{got}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected a whole number{got}"
    if kind in ("float_parsing", "float_type"):
        return f"expected a number{got}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false{got}"
    if kind == "union_tag_not_found":
        return f"missing 'type' (one of: {', '.join(NOTIFIER_TYPES)})"
    if kind == "union_tag_invalid":
        tag = str(error.get("ctx", {}).get("tag", ""))
        return f"unknown notifier type {tag!r}{_did_you_mean(tag, list(NOTIFIER_TYPES))} (one of: {', '.join(NOTIFIER_TYPES)})"
    bounds = {
        "greater_than": "more than {gt}",
        "greater_than_equal": "at least {ge}",
        "less_than": "less than {lt}",
        "less_than_equal": "at most {le}",
    }
    if kind in bounds:
        return "must be " + bounds[kind].format(**error.get("ctx", {}))
    if kind == "too_short":
        return "must not be empty" if error.get("ctx", {}).get("min_length") == 1 else str(error["msg"])
    if kind == "literal_error":
        return f"must be {error.get('ctx', {}).get('expected', '')}"
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _format_errors(errors: list[tuple[Loc, Loc, str]], doc: _Document, path: Path) -> list[tuple[int, str]]:
    """(data path, display path, message) -> (line, 'path:line: key: message')."""
    out: list[tuple[int, str]] = []
    for found, shown, message in errors:
        line = doc.lines.get(found, 1)
        for end in range(len(found), -1, -1):
            if found[:end] in doc.lines:
                line = doc.lines[found[:end]]
                break
        where = f"{_dotted(shown)}: " if shown else ""
        out.append((line, f"{path}:{line}: {where}{message}"))
    return out


def _by_line(problems: list[tuple[int, str]]) -> ConfigError:
    return ConfigError([text for _, text in sorted(problems, key=lambda pair: pair[0])])


# --------------------------------------------------------------------------- entry points


def resolve_config_path(arg: str | None) -> Path:
    """--config, else $MONITOR_CONFIG, else ./config/monitor.yaml, else /etc/monitor/monitor.yaml."""
    if arg:
        return Path(arg)
    from_env = os.environ.get(ENV_CONFIG)
    if from_env:
        return Path(from_env)
    for candidate in DEFAULT_PATHS:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(p) for p in DEFAULT_PATHS)
    raise ConfigError(
        f"no config file: give --config FILE or set ${ENV_CONFIG} (tried {tried}; "
        "config/monitor.example.yaml is a commented starting point)"
    )


def load_config(path: Path) -> Config:
    """Read, parse and validate the YAML file at `path`. Raises ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {err.start})") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path = Path("<memory>")) -> Config:
    """Validate YAML text as if read from `path` (relative paths in it resolve against path's folder)."""
    doc = _read_document(text, path)
    if doc.data is None and not doc.errors:
        raise ConfigError(f"{path}:1: the config is empty: expected keys like feeds: and pairs:")
    if not isinstance(doc.data, dict):
        raise ConfigError(
            f"{path}:1: the config must be a mapping of keys (feeds:, pairs:, ...), got {_describe(doc.data)}"
        )
    context = {"base_dir": path.parent}
    try:
        config = Config.model_validate({**doc.data, "<path>": path}, context=context)
    except ValidationError as err:
        located = []
        for error in err.errors():
            loc = tuple(error["loc"])
            found, shown = _data_path(doc.data, loc)
            model = _model_at(loc[:-1]) if error["type"] == "extra_forbidden" else None
            located.append((found, shown, _message(error, shown, model)))
        located.extend((loc, loc, msg) for loc, msg in _raw_cross_problems(doc.data))
        raise _by_line(doc.errors + _format_errors(located, doc, path)) from None
    except _CrossCheckFailed as err:
        located = [(loc, loc, msg) for loc, msg in err.problems]
        raise _by_line(doc.errors + _format_errors(located, doc, path)) from None
    if doc.errors:
        raise _by_line(doc.errors)
    config._lines = doc.lines
    return config
