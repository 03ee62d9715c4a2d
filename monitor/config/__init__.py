"""The YAML configuration: schema, validation with file:line errors, secret references.

`load_config(path)` returns a frozen `Config` or raises `ConfigError`, whose lines read
`path:line: key.path: message`, one per problem, sorted by line. Import from `monitor.config`;
the modules behind it, each with one job:

- errors.py    ConfigError, SecretError and the helpers that word messages
- values.py    durations, sizes, countries, URLs, email addresses, time zones, database URLs
- secrets.py   SecretRef: `*_env` / `*_file` references, read only by reveal(), never shown
- schema.py    the pydantic models and Config, with checks across keys
- yamlpos.py   reading YAML (the only place it is read) with the line of every key path
- messages.py  pydantic errors mapped back to file:line messages
- load.py      resolve_config_path, load_config, parse_config
"""

from monitor.config.errors import ConfigError, Loc, SecretError
from monitor.config.load import DEFAULT_PATHS, ENV_CONFIG, load_config, parse_config, resolve_config_path
from monitor.config.schema import (
    NOTIFIER_TYPES,
    AlertingConfig,
    Config,
    DeliveryConfig,
    EmailNotifier,
    FeedConfig,
    Notifier,
    PairConfig,
    PollConfig,
    SlackNotifier,
    Thresholds,
    WebhookNotifier,
)
from monitor.config.secrets import EnvName, SecretFile, SecretRef
from monitor.config.values import (
    ByteSize,
    Duration,
    EmailAddress,
    HttpUrl,
    PositiveDuration,
    country_code,
    country_name,
    format_duration,
    mask_database_url,
    parse_duration,
    parse_size,
)

__all__ = [
    "DEFAULT_PATHS",
    "ENV_CONFIG",
    "NOTIFIER_TYPES",
    "AlertingConfig",
    "ByteSize",
    "Config",
    "ConfigError",
    "DeliveryConfig",
    "Duration",
    "EmailAddress",
    "EmailNotifier",
    "EnvName",
    "FeedConfig",
    "HttpUrl",
    "Loc",
    "Notifier",
    "PairConfig",
    "PollConfig",
    "PositiveDuration",
    "SecretError",
    "SecretFile",
    "SecretRef",
    "SlackNotifier",
    "Thresholds",
    "WebhookNotifier",
    "country_code",
    "country_name",
    "format_duration",
    "load_config",
    "mask_database_url",
    "parse_config",
    "parse_duration",
    "parse_size",
    "resolve_config_path",
]
