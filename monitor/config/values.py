"""Plain values in the config: durations, sizes, countries, URLs, email addresses, time zones,
database URLs. Parsers, pydantic validators and the annotated types the schema uses."""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta
from email.utils import parseaddr
from functools import cache
from typing import Annotated, Any
from urllib.parse import urlsplit

import pycountry
from pydantic import AfterValidator, BeforeValidator, Field

from monitor.config.errors import invalid
from monitor.domain import Pair

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
        raise invalid("duration", f"expected a duration like 5m ({_DURATION_HINT})")
    if isinstance(value, int | float):
        raise invalid("duration", f"bare number {value} is ambiguous: {_DURATION_HINT}")
    try:
        return parse_duration(str(value))
    except ValueError as err:
        raise invalid("duration", str(err)) from None


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise invalid("duration", "must be longer than zero")
    return value


def _non_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise invalid("duration", "must not be negative")
    return value


def _size(value: Any) -> Any:
    try:
        return parse_size(value)
    except ValueError as err:
        raise invalid("size", str(err)) from None


Duration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_non_negative)]
PositiveDuration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_positive)]
ByteSize = Annotated[int, BeforeValidator(_size), Field(gt=0)]


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


def to_pair(value: Any) -> Pair:
    if isinstance(value, Pair):
        return value
    if isinstance(value, str):
        parts = [p for p in re.split(r"[-,/\s]+", value) if p]
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise invalid("pair", "expected two country codes like [PK, IR]")
    if len(parts) == 1 and isinstance(value, str):
        raise invalid(
            "pair",
            f"expected two country codes like [PK, IR], got {value!r} alone (one pair per item: - [PK, IR])",
        )
    if len(parts) != 2:
        raise invalid("pair", f"expected two country codes like [PK, IR], got {len(parts)}")
    try:
        a, b = country_code(parts[0]), country_code(parts[1])
    except ValueError as err:
        raise invalid("pair", str(err)) from None
    if a == b:
        raise invalid("pair", f"a pair needs two different countries, got {a} twice")
    return Pair.of(a, b)


def _http_url(value: Any) -> str:
    if not isinstance(value, str):
        raise invalid("url", "expected an http(s) URL")
    url = value.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise invalid("url", f"not a valid URL: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("url", f"not an http(s) URL: {url!r}")
    return url


_ADDRESS = re.compile(
    r"[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


def _email(value: Any) -> str:
    """'desk@example.org' or 'Desk <desk@example.org>'; returned as written (stripped)."""
    if not isinstance(value, str):
        raise invalid("email", "expected an email address")
    text = value.strip()
    _, address = parseaddr(text)
    if not address or not _ADDRESS.fullmatch(address):
        raise invalid("email", f"not a valid email address: {text!r}")
    return text


def to_timezone(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid("timezone", "expected a time zone name like Europe/Paris or UTC")
    try:
        zoneinfo.ZoneInfo(value.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise invalid(
            "timezone", f"unknown time zone {value!r} (an IANA name like Asia/Karachi, Europe/Paris or UTC)"
        ) from None
    return value.strip()


_DATABASE_URL = re.compile(r"[\w+]+://")  # SQLAlchemy's own test; checked without importing it


def to_database_url(value: Any) -> str:
    if not isinstance(value, str) or not _DATABASE_URL.match(value.strip()):
        raise invalid(
            "database", "not a SQLAlchemy URL (like sqlite:///var/monitor.db or postgresql+psycopg://host/db)"
        )
    return value.strip()


def mask_database_url(url: str) -> str:
    """The URL with any password replaced by ***."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


HttpUrl = Annotated[str, BeforeValidator(_http_url)]
EmailAddress = Annotated[str, BeforeValidator(_email)]
