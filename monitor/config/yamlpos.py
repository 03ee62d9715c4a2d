"""Reading YAML with positions: the only place YAML is parsed.

PyYAML composes the document into a node tree; `_Builder` turns it into plain Python data while
recording, for every key path, where its key (or list item) starts. Booleans follow YAML 1.2
(`NO`, Norway, stays a string); duplicate keys are reported; alias bombs are stopped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from monitor.config.errors import ConfigError, Loc, dotted


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false, so `NO` (Norway) and `on` stay strings."""


_BOOL_TAG = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


@dataclass(frozen=True, slots=True)
class Document:
    data: Any
    lines: dict[Loc, int]  # key path -> 1-based line of the key (or list item)
    errors: list[tuple[int, str]]  # (line, message): duplicate keys and the like


_MAX_NODES = 100_000  # far above any real config; stops alias bombs ("billion laughs")


def read_document(text: str, path: Path) -> Document:
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
    return Document(data, builder.lines, builder.errors)


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
        return ConfigError(f"{self.path}:{line}: {dotted(loc) or 'top level'}: {message}")

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
                where = f"{self.path}:{key_line}: {dotted(loc) or 'top level'}"
                self.errors.append((key_line, f"{where}: keys must be plain words"))
                continue
            key = str(self.loader.construct_object(key_node))
            if id(key_node) in explicit:
                if key in first_line:
                    where = f"{self.path}:{key_line}: {dotted((*loc, key))}"
                    self.errors.append(
                        (key_line, f"{where}: duplicate key (first at line {first_line[key]})")
                    )
                    continue
                first_line[key] = key_line
            self.lines[(*loc, key)] = key_line  # an explicit key overrides one merged from an anchor
            out[key] = self.build(value_node, (*loc, key), active)
        return out
