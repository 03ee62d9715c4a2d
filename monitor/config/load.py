"""Entry points: find the config file, read it, validate it, and raise one `ConfigError` with
every problem as `path:line: key.path: message`, sorted by line."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from monitor.config.errors import ConfigError, CrossCheckFailed
from monitor.config.messages import by_line, data_path, describe, describe_error, format_errors, model_at
from monitor.config.schema import Config, raw_cross_problems
from monitor.config.yamlpos import read_document

DEFAULT_PATHS = (Path("config/monitor.yaml"), Path("/etc/monitor/monitor.yaml"))
ENV_CONFIG = "MONITOR_CONFIG"


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
    doc = read_document(text, path)
    if doc.data is None and not doc.errors:
        raise ConfigError(f"{path}:1: the config is empty: expected keys like feeds: and pairs:")
    if not isinstance(doc.data, dict):
        raise ConfigError(
            f"{path}:1: the config must be a mapping of keys (feeds:, pairs:, ...), got {describe(doc.data)}"
        )
    context = {"base_dir": path.parent}
    try:
        config = Config.model_validate({**doc.data, "<path>": path}, context=context)
    except ValidationError as err:
        located = []
        for error in err.errors():
            loc = tuple(error["loc"])
            found, shown = data_path(doc.data, loc)
            model = model_at(loc[:-1]) if error["type"] == "extra_forbidden" else None
            located.append((found, shown, describe_error(error, shown, model)))
        located.extend((loc, loc, msg) for loc, msg in raw_cross_problems(doc.data))
        raise by_line(doc.errors + format_errors(located, doc, path)) from None
    except CrossCheckFailed as err:
        located = [(loc, loc, msg) for loc, msg in err.problems]
        raise by_line(doc.errors + format_errors(located, doc, path)) from None
    if doc.errors:
        raise by_line(doc.errors)
    config._lines = doc.lines
    return config
