"""Mapping pydantic errors back to lines: each error's `loc` is walked back through the data to
the nearest recorded position, and worded for a person. Discriminator tags that pydantic inserts
into `loc` (`notifiers.x.email.host`) are dropped on the way.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel

from monitor.config.errors import ConfigError, Loc, did_you_mean, dotted
from monitor.config.schema import NOTIFIER_TYPES, Config, NotifierBase
from monitor.config.secrets import plain_secret_hint
from monitor.config.yamlpos import Document


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


def model_at(loc: Loc) -> type[BaseModel] | None:
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


def data_path(data: Any, loc: Loc) -> tuple[Loc, Loc]:
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


def describe(value: Any) -> str:
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


def describe_error(error: Mapping[str, Any], loc: Loc, model: type[BaseModel] | None) -> str:
    kind = error["type"]
    key = loc[-1] if loc else ""
    value = error.get("input")
    secret_ish = isinstance(key, str) and key.endswith("_env")
    got = "" if secret_ish else f", got {describe(value)}"
    if kind == "extra_forbidden":
        if model is not None and issubclass(model, NotifierBase) and key in model.SECRET_FIELDS:
            return plain_secret_hint(str(key), model.SECRET_FIELDS[str(key)])
        choices = _keys_of(model) if model is not None else []
        return f"unknown key{did_you_mean(str(key), choices)}"
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
        return f"unknown notifier type {tag!r}{did_you_mean(tag, list(NOTIFIER_TYPES))} (one of: {', '.join(NOTIFIER_TYPES)})"
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


def format_errors(errors: list[tuple[Loc, Loc, str]], doc: Document, path: Path) -> list[tuple[int, str]]:
    """(data path, display path, message) -> (line, 'path:line: key: message')."""
    out: list[tuple[int, str]] = []
    for found, shown, message in errors:
        line = doc.lines.get(found, 1)
        for end in range(len(found), -1, -1):
            if found[:end] in doc.lines:
                line = doc.lines[found[:end]]
                break
        where = f"{dotted(shown)}: " if shown else ""
        out.append((line, f"{path}:{line}: {where}{message}"))
    return out


def by_line(problems: list[tuple[int, str]]) -> ConfigError:
    return ConfigError([text for _, text in sorted(problems, key=lambda pair: pair[0])])
