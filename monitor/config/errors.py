"""The configuration's exceptions, and the small helpers that word its messages."""

from __future__ import annotations

import difflib

from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]


class ConfigError(Exception):
    """One or more configuration problems; str() is one line per problem."""

    def __init__(self, errors: list[str] | str) -> None:
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


class SecretError(ConfigError):
    """A referenced secret is unavailable (variable unset, file unreadable or empty). Names the
    reference, never the value."""


class CrossCheckFailed(Exception):
    """Raised from Config's after-validator (not a ValueError, so pydantic lets it through):
    problems that involve several keys, each with the key path to blame."""

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{dotted(loc)}: {msg}" for loc, msg in problems))


def invalid(kind: str, text: str) -> PydanticCustomError:
    """A validation error whose message is exactly `text` (no template expansion of user input)."""
    return PydanticCustomError(kind, "{detail}", {"detail": text})


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
