"""Parse one YAML file into plain JSON values and the line of every field.

The check path parses every governed file of a revision (10,000 in a large repo), so the
document is composed by libyaml through PyYAML's C composer (0.03 ms a file; ruamel.yaml's
composer, Python over its C parser, took 0.14 ms and its versioned resolver as much again).
Meaning stays ruamel.yaml's safe YAML 1.2: plain scalars are typed by ruamel's own YAML 1.2
resolver table, and every scalar that is not a string, null or bool is built by ruamel's safe
constructor, so `yes` stays a string and `0o17` an int. The result must be JSON: dates become
ISO strings and integral floats become ints, so the policy input is the same on every backend.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml import nodes as ruamel_nodes
from ruamel.yaml.error import YAMLError as RuamelYAMLError
from ruamel.yaml.resolver import implicit_resolvers as _RUAMEL_IMPLICIT
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.encoding import decode_utf8
from engine.errors import InputError

JSON = Any
_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
# The plain forms of these that mean exactly what Python's own conversion of them means.
_DECIMAL = re.compile(r"[-+]?[0-9]{1,18}")
_PLAIN_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIRECTIVE = re.compile(r"^%YAML[ \t]+(\S+)", re.MULTILINE)
# Deeper than any governed file needs (the deepest field of the schemas is 5 levels down;
# policies.data is free-form but holds tables, not trees); docs/reference.md states it.
MAX_DEPTH = 32


@dataclass(frozen=True)
class YamlDoc:
    """A parsed document: its value and the 1-based line of each field path (`a.b[2].c`)."""

    value: JSON
    lines: dict[str, int]


def fast_yaml_available() -> bool:
    return bool(getattr(yaml, "__with_libyaml__", False))


# ruamel.yaml's YAML 1.2 implicit types by the first character of a plain scalar ("" for an
# empty one). Its table holds lazy proxies (an attribute lookup per use): compiled here.
_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _versions, _tag, _regexp, _first in _RUAMEL_IMPLICIT:
    if (1, 2) in _versions:
        for _char in _first:
            _IMPLICIT.setdefault(_char, []).append(
                (_tag, re.compile(_regexp.pattern, _regexp.flags)))


class _Yaml12Resolver(yaml.resolver.BaseResolver):
    """PyYAML's resolver with ruamel.yaml's YAML 1.2 implicit types in place of YAML 1.1's,
    and without path resolvers (none is registered): libyaml asks it about every node."""

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                for tag, regexp in _IMPLICIT.get(value[:1], ()):
                    if regexp.match(value):
                        return tag
            return _STR
        return _SEQ if kind is SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

if fast_yaml_available():
    from yaml._yaml import CParser

    class _Composer(CParser, _Yaml12Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _Yaml12Resolver.__init__(self)
else:  # pragma: no cover - PyYAML's wheels ship libyaml; a source build may not
    class _Composer(yaml.reader.Reader, yaml.scanner.Scanner,  # type: ignore[no-redef]
                    yaml.parser.Parser, yaml.composer.Composer, _Yaml12Resolver):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _Yaml12Resolver.__init__(self)


_ruamel = YAML(typ="safe", pure=False)


def _compose_all(path: str, text: str) -> list[Node | None]:
    if "%YAML" in text:
        # libyaml would read a `%YAML 1.1` document with 1.2 types, silently: refuse it.
        for match in _DIRECTIVE.finditer(text):
            if match.group(1) != "1.2":
                line = text.count("\n", 0, match.start()) + 1
                raise InputError(path, line, f"%YAML {match.group(1)}: govops reads YAML 1.2 "
                                 "(remove the directive or make it %YAML 1.2)")
    composer = _Composer(text)
    try:
        found = []
        while composer.check_node():
            found.append(composer.get_node())
        return found
    finally:
        composer.dispose()


# Errors libyaml finds only later than the mistake: it names where the construct that is never
# closed began as the context (an unclosed quote or bracket, a key without its colon).
_KEY_LINE = re.compile(r"^[^#]*?:(?:[ \t]|$)")  # a `key:` line (a colon then a blank or the end)
_OPENED_AT = ("while scanning a quoted scalar", "while parsing a flow mapping",
              "while parsing a flow sequence", "while scanning a simple key")


def _where(text: str, exc: yaml.MarkedYAMLError) -> tuple[int | None, str]:
    """The line of the mistake and what it is. libyaml reports where it noticed: the line
    after a key whose `:` is missing (the key ran on as a plain scalar), the end of the file
    for an unclosed quote; the mistake is earlier."""
    problem = exc.problem or exc.context or "malformed YAML"
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    if exc.context_mark is not None and exc.context in _OPENED_AT:
        opened = exc.context_mark.line + 1
        if exc.context == "while scanning a simple key":  # a key whose `:` never came
            lines = text.splitlines()
            if opened <= len(lines):
                return opened, f"missing ':' after {lines[opened - 1].strip()!r}"
        return opened, f"{problem} ({exc.context} that starts here)"
    if line is not None and problem == "mapping values are not allowed in this context":
        lines = text.splitlines()
        here = lines[line - 1] if line <= len(lines) else ""
        before = line - 1
        while before >= 1 and (not lines[before - 1].strip()
                               or lines[before - 1].lstrip().startswith("#")):
            before -= 1
        if before >= 1:
            previous = lines[before - 1]
            indent = len(here) - len(here.lstrip())
            if (len(previous) - len(previous.lstrip()) == indent
                    and not _KEY_LINE.match(previous)
                    and not previous.lstrip().startswith(("-", "#", "{", "["))):
                return before, f"missing ':' after {previous.strip()!r}"
    return line, problem


class SeveralDocuments(InputError):
    """A stream of several YAML documents, which no govops file is; `heads` holds each one's
    (apiVersion, kind) as plain scalars (None where it has none), so that the caller can tell
    Kubernetes YAML (a Gatekeeper constraint file, rendered manifests) from a govops file
    with a stray `---`."""

    def __init__(self, path: str, line: int | None,
                 heads: tuple[tuple[str | None, str | None], ...]) -> None:
        super().__init__(path, line, "one object per file: found a second document")
        self.heads = heads


def _head(node: Node) -> tuple[str | None, str | None]:
    found: dict[str, str] = {}
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and isinstance(value, ScalarNode) \
                    and key.value in ("apiVersion", "kind"):
                found[key.value] = value.value
    return found.get("apiVersion"), found.get("kind")


def parse_yaml(path: str, data: bytes) -> YamlDoc:
    text = decode_utf8(path, data)
    try:
        nodes = _compose_all(path, text)
    except yaml.MarkedYAMLError as exc:
        line, problem = _where(text, exc)
        raise InputError(path, line, f"malformed YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        # A control character (ESC, NUL...) YAML does not allow in a document, even quoted.
        line = text.count("\n", 0, exc.position) + 1
        raise InputError(path, line, f"character U+{exc.character:04X} is not allowed in YAML "
                         "(control characters must be written as escapes in a double-quoted "
                         "string)") from None
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise InputError(path, None, f"malformed YAML: {reason}") from None
    docs = [n for n in nodes if n is not None]
    if not docs:
        raise InputError(path, 1, "empty YAML document")
    if len(docs) > 1:
        raise SeveralDocuments(path, docs[1].start_mark.line + 1,
                               tuple(_head(doc) for doc in docs))
    lines: dict[str, int] = {}
    value = _convert(path, docs[0], "", lines, set(), 0)
    return YamlDoc(value, lines)


def _convert(path: str, node: Node, where: str, lines: dict[str, int], seen: set[int],
             depth: int) -> JSON:
    # An alias composes to the very node it names: seeing a node twice means an alias, which
    # we refuse rather than expand (that is how YAML bombs grow).
    if id(node) in seen:
        raise InputError(path, node.start_mark.line + 1,
                         "YAML anchors and aliases are not supported")
    seen.add(id(node))
    if depth > MAX_DEPTH and not isinstance(node, ScalarNode):
        # Checked before recursing: every later stage (schema, policy input, deepcopy, the
        # engines' JSON) walks values recursively, so depth is bounded once, here.
        raise InputError(path, node.start_mark.line + 1,
                         f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, MappingNode):
        out: dict[str, JSON] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR:
                raise InputError(path, line, "mapping keys must be strings")
            key = key_node.value
            if key == "<<":
                raise InputError(path, line, "YAML merge keys are not supported")
            if key in out:
                raise InputError(path, line, f"duplicate key {key!r}")
            child = f"{where}.{key}" if where else key
            lines[child] = line
            out[key] = _convert(path, value_node, child, lines, seen, depth + 1)
        return out
    if isinstance(node, SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            child = f"{where}[{i}]"
            lines[child] = item.start_mark.line + 1
            items.append(_convert(path, item, child, lines, seen, depth + 1))
        return items
    return _scalar(path, node)


_DIGITS_LIMIT = 10 ** 4300  # Python's limit on int <-> decimal text (sys.get_int_max_str_digits)


def _whole(number: float) -> JSON:
    """An integral float as the int it is (`2.0` is 2); a float otherwise."""
    return int(number) if number.is_integer() else number


_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
          "FALSE": False}


def _scalar(path: str, node: Node) -> JSON:
    tag, text = node.tag, node.value
    # Nearly every scalar of a governed file is one of these three: no constructor needed.
    if tag == _STR:
        return text
    if tag == _NULL:
        return None
    if tag == _BOOL and text in _BOOLS:
        return _BOOLS[text]
    line = node.start_mark.line + 1
    # Then counts, sizes and expiry dates: converted here as ruamel.yaml would convert them.
    if tag == _INT and _DECIMAL.fullmatch(text):
        return int(text)
    if tag == _TIMESTAMP and _DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError as exc:
            raise InputError(path, line, f"malformed YAML value {text!r}: {exc}") from None
    if tag == _FLOAT and _PLAIN_FLOAT.fullmatch(text):
        number = float(text)
        if math.isinf(number):
            raise InputError(path, line, "NaN and infinite numbers are not allowed")
        return _whole(number)
    constructor = _ruamel.constructor
    try:
        value = constructor.construct_object(ruamel_nodes.ScalarNode(tag, text), deep=True)
    except (RuamelYAMLError, ValueError, KeyError, TypeError, OverflowError) as exc:
        # `!!bool maybe`, `2026-02-30`, an int of 5,000 digits: the value, not the program.
        if isinstance(exc, KeyError):
            reason = f"not a {tag.rsplit(':', 1)[-1]}"
        else:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        shown = text if len(text) <= 40 else f"{text[:37]}..."
        raise InputError(path, line, f"malformed YAML value {shown!r}: {reason}") from None
    finally:
        constructor.constructed_objects.clear()  # ruamel keeps every object it built
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _DIGITS_LIMIT:
        # `0x` and 3,600 f's is an int Python cannot write in decimal, which the policy input
        # (JSON) needs: the same limit as for an integer written in decimal.
        raise InputError(path, line, "integer out of range: at most 4,300 decimal digits "
                         "(quote the value to keep it as text)")
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise InputError(path, line, "NaN and infinite numbers are not allowed")
        return _whole(value)
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise InputError(path, line, f"unsupported YAML value of type {type(value).__name__}")
