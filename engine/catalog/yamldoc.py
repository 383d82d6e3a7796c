"""Parse one YAML file into plain JSON values and the line of every field.

Uses ruamel.yaml's C parser (`typ="safe"`, compose only) because the round-trip loader is ten
times slower and the check path parses thousands of files. The result must be JSON: dates become
ISO strings and integral floats become ints, so the policy input is the same on every backend.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.errors import InputError

JSON = Any
_STR = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class YamlDoc:
    """A parsed document: its value and the 1-based line of each field path (`a.b[2].c`)."""

    value: JSON
    lines: dict[str, int]


def fast_yaml_available() -> bool:
    import ruamel.yaml

    return bool(getattr(ruamel.yaml, "__with_libyaml__", False))


_yaml = YAML(typ="safe", pure=False)


def decode_utf8(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(path, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None


def parse_yaml(path: str, data: bytes) -> YamlDoc:
    text = decode_utf8(path, data)
    try:
        nodes = list(_yaml.compose_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "malformed YAML"
        raise InputError(path, line, f"malformed YAML: {problem}") from None
    except YAMLError as exc:
        raise InputError(path, None, f"malformed YAML: {exc}") from None
    docs = [n for n in nodes if n is not None]
    if not docs:
        raise InputError(path, 1, "empty YAML document")
    if len(docs) > 1:
        raise InputError(path, docs[1].start_mark.line + 1,
                         "one object per file: found a second document")
    lines: dict[str, int] = {}
    value = _convert(path, docs[0], "", lines, set())
    return YamlDoc(value, lines)


def _convert(path: str, node: Node, where: str, lines: dict[str, int], seen: set[int]) -> JSON:
    # An alias composes to the very node it names: seeing a node twice means an alias, which
    # we refuse rather than expand (that is how YAML bombs grow).
    if id(node) in seen:
        raise InputError(path, node.start_mark.line + 1,
                         "YAML anchors and aliases are not supported")
    seen.add(id(node))
    if isinstance(node, MappingNode):
        out: dict[str, JSON] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR:
                raise InputError(path, line, "mapping keys must be strings")
            key = str(key_node.value)
            if key == "<<":
                raise InputError(path, line, "YAML merge keys are not supported")
            if key in out:
                raise InputError(path, line, f"duplicate key {key!r}")
            child = f"{where}.{key}" if where else key
            lines[child] = line
            out[key] = _convert(path, value_node, child, lines, seen)
        return out
    if isinstance(node, SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            child = f"{where}[{i}]"
            lines[child] = item.start_mark.line + 1
            items.append(_convert(path, item, child, lines, seen))
        return items
    return _scalar(path, node)


def _scalar(path: str, node: Node) -> JSON:
    line = node.start_mark.line + 1
    try:
        value = _yaml.constructor.construct_object(node, deep=True)
    except YAMLError as exc:
        raise InputError(path, line, f"malformed YAML value: {exc}") from None
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise InputError(path, line, "NaN and infinite numbers are not allowed")
        return int(value) if value.is_integer() else value
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise InputError(path, line, f"unsupported YAML value of type {type(value).__name__}")
