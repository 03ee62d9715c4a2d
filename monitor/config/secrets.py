"""Secret references. Secrets are never values in the file: `password_env: SMTP_PASSWORD` or
`password_file: /run/credentials/monitor.service/smtp-password`. A `SecretRef` reads the value only
when `reveal()` is called, and neither its repr nor any error shows the value.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationInfo

from monitor.config.errors import SecretError, invalid

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
        raise invalid(
            "env_name",
            "must be the name of an environment variable (letters, digits, _), not the secret itself",
        )
    return value.strip()


def _secret_file(value: Any, info: ValidationInfo) -> Any:
    if value is None:
        return None
    if not isinstance(value, str | Path) or not str(value).strip():
        raise invalid("secret_file", "expected a file path")
    path = Path(str(value).strip()).expanduser()
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path


EnvName = Annotated[str | None, BeforeValidator(_env_name)]
SecretFile = Annotated[Path | None, BeforeValidator(_secret_file)]


def plain_secret_hint(field: str, what: str) -> str:
    return (
        f"{what} is a secret and must not be written in the config: use {field}_env: VARIABLE (an environment "
        f"variable) or {field}_file: PATH (a file, e.g. a systemd credential)"
    )
