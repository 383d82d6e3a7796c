"""The catalog loader on hostile input (issue 19): any bytes in a governed file, and any edit
of a valid one, give a catalog or a GovopsError of one line naming the file; never another
exception. parse_yaml is checked alone on arbitrary bytes, and the whole loader
(CatalogLoader.load) on structured mutations of fixtures/acme-ml."""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection

from hypothesis import example, given
from hypothesis import strategies as st

from engine.catalog.model import Catalog
from engine.catalog.yamldoc import YamlDoc, parse_yaml
from engine.errors import GovopsError
from tests.properties.contract import assert_one_line_naming, outcome
from tests.properties.governed import ACME, governed_yaml, load
from tests.properties.hostile import (
    CONTROL,
    ENCODINGS,
    KEY_LINE,
    YAML_LINES,
    hostile_text,
    yaml_scalar,
)

PATH = "models/hostile.yaml"
GOVERNED = governed_yaml()
# Nesting depths around the limits that matter: Python's recursion limit (1,000 frames, less
# the caller's), libyaml's nesting limit (1,000) and far beyond them.
DEPTHS = st.one_of(st.integers(min_value=850, max_value=1_001),
                   st.sampled_from([50, 500, 900, 950, 990, 999, 1_500, 3_000, 30_000]))


def _parsed(data: bytes) -> YamlDoc | GovopsError:
    found = outcome(lambda: parse_yaml(PATH, data))
    if isinstance(found, GovopsError):
        assert_one_line_naming(found, [PATH])
    return found


@given(st.binary(max_size=400))
def test_parse_yaml_on_any_bytes(data: bytes) -> None:
    _parsed(data)


@given(st.lists(st.one_of(hostile_text(), yaml_scalar(), st.sampled_from(YAML_LINES)),
                max_size=6).map("\n".join))
@example("%YAML \x1b\n--- a")  # the directive is quoted in the message
def test_parse_yaml_on_any_text(text: str) -> None:
    _parsed(text.encode("utf-8", "surrogatepass"))


# -- structured edits of acme-ml's files ------------------------------------------------


def _key_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if KEY_LINE.match(line)]


@st.composite
def _edit(draw: st.DrawFn, lines: list[str]) -> list[str]:
    """One edit of a file's lines: a hostile value, a duplicated key, a foreign line, a
    control character, nesting, or a cut."""
    keys = _key_lines(lines)
    kind = draw(st.sampled_from(["value", "value", "duplicate", "line", "control", "nest", "cut"]))
    if kind in ("value", "nest", "duplicate") and keys:
        at = draw(st.sampled_from(keys))
        match = KEY_LINE.match(lines[at])
        assert match is not None
        if kind == "duplicate":
            return [*lines[: at + 1], lines[at], *lines[at + 1:]]
        if kind == "nest":
            depth = draw(DEPTHS)
            opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}"), ("[{a: ", "}]")]))
            value = opener * depth + closer * depth
        else:
            value = draw(yaml_scalar())
        return [*lines[:at], f"{match.group(1)} {value}", *lines[at + 1:]]
    at = draw(st.integers(min_value=0, max_value=len(lines)))
    if kind == "line":
        return [*lines[:at], draw(st.one_of(st.sampled_from(YAML_LINES), hostile_text())),
                *lines[at:]]
    if kind == "control" and lines:
        row = lines[min(at, len(lines) - 1)]
        column = draw(st.integers(min_value=0, max_value=len(row)))
        char = draw(st.sampled_from(CONTROL))
        return [*lines[:at], row[:column] + char + row[column:], *lines[at + 1:]]
    return lines[:at]


@st.composite
def mutated_file(draw: st.DrawFn) -> tuple[str, bytes]:
    """(path, bytes): one governed file of acme-ml after one to three edits, in UTF-8 (or,
    now and then, another encoding)."""
    path = draw(st.sampled_from(GOVERNED))
    lines = ACME[path].decode("utf-8").split("\n")
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        lines = draw(_edit(lines))
    text = "\n".join(lines)
    encoding = draw(st.one_of(st.just("utf-8"), st.sampled_from(ENCODINGS)))
    return path, text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else
                             "replace")


def _loaded(files: dict[str, bytes]) -> Catalog | GovopsError:
    found = outcome(lambda: load(files))
    if isinstance(found, GovopsError):
        assert_one_line_naming(found, files)
    return found


@given(mutated_file())
# Issue 19's reproductions, tried first on every run.
@example(("waivers/llama-license-ok.yaml",
          ACME["waivers/llama-license-ok.yaml"].replace(b"2027-01-15", b"2026-02-30")))
@example(("models/llama-3-8b-instruct.yaml",
          ACME["models/llama-3-8b-instruct.yaml"].replace(b"kind: Model", b"kind: 0x" + b"f" * 3600)))
@example(("models/llama-3-8b-instruct.yaml",
          ACME["models/llama-3-8b-instruct.yaml"].replace(b"risk: limited", b"risk: !!int foo")))
def test_edited_governed_files_load_or_fail_in_one_line(edited: tuple[str, bytes]) -> None:
    path, data = edited
    _parsed(data)
    _loaded({**ACME, path: data})


@given(st.sampled_from(GOVERNED), st.sampled_from(ENCODINGS[:5]))
def test_a_governed_file_in_another_encoding_is_never_skipped(path: str, encoding: str) -> None:
    """UTF-16 and UTF-32 hide the `govops.dev/` marker from a byte search: such a file must be
    refused by name, never silently left out of the catalog (issue 19, "silently skipped")."""
    data = ACME[path].decode("utf-8").encode(encoding)
    found = _loaded({**ACME, path: data})
    if isinstance(found, GovopsError):
        assert path in str(found), f"{path} in {encoding} was skipped: {found}"
    else:
        listed = {obj.path for objects in found.objects.values() for obj in objects.values()}
        assert path in listed | {found.config.path}, f"{path} in {encoding} was skipped"


# -- depth: in a child process, since the C composer may take the process down ----------


def _parse_in_child(data: bytes, answer: Connection) -> None:
    """Parse in a forked child and say what went wrong in words (None: nothing)."""
    try:
        _parsed(data)
    except BaseException as exc:
        answer.send(f"{type(exc).__name__}: {str(exc)[:300]}")
    else:
        answer.send(None)


@given(st.one_of(DEPTHS, st.integers(min_value=1, max_value=60_000)),
       st.sampled_from(["[", "{a: ", "- ", "[{a: "]))
@example(999, "[")
@example(30_000, "[")
def test_any_nesting_depth_is_a_result_or_one_line(depth: int, opener: str) -> None:
    """A 60 KB file of nested brackets must not crash the process (issue 19: ~30,000 `[`
    segfaulted libyaml's composer) nor raise RecursionError."""
    closer = {"[": "]", "{a: ": "}", "- ": "", "[{a: ": "}]"}[opener]
    if opener == "- ":
        body = "".join("  " * i + "- " for i in range(min(depth, 2_000))) + "x"
    else:
        body = opener * depth + closer * depth
    data = f"apiVersion: govops.dev/v1\nkind: Model\nspec: {body}\n".encode()
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_parse_in_child, args=(data, send))
    child.start()
    child.join()
    assert child.exitcode == 0, f"depth {depth} of {opener!r}: the process died ({child.exitcode})"
    said = receive.recv()
    assert said is None, f"depth {depth} of {opener!r}: {said}"
