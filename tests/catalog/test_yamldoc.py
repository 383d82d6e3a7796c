from __future__ import annotations

import pytest

from engine.catalog.yamldoc import parse_yaml
from engine.errors import InputError

DOC = b"""apiVersion: govops.dev/v1
kind: Model
metadata: {name: m, owners: [a@acme.test]}
spec:
  parameters: 8.0e9
  value: 0.5
  expires: 2027-01-31
  on: yes
  datasets:
    - a
    - b
"""


def test_values_become_json_and_every_field_has_its_line() -> None:
    doc = parse_yaml("m.yaml", DOC)
    assert doc.value["spec"] == {"parameters": 8000000000, "value": 0.5, "expires": "2027-01-31",
                                 "on": "yes", "datasets": ["a", "b"]}
    assert isinstance(doc.value["spec"]["parameters"], int)
    assert doc.lines["metadata.name"] == 3
    assert doc.lines["metadata.owners[0]"] == 3
    assert doc.lines["spec.expires"] == 7
    assert doc.lines["spec.datasets[1]"] == 11


@pytest.mark.parametrize(("data", "line", "fragment"), [
    (b"a: [1\nb: 2\n", 1, "malformed YAML"),  # where the `[` is left open
    (b"a: 1\nb:\n  c: 1\n  c: 2\n", 4, "duplicate key 'c'"),
    (b"a: &x 1\nb: *x\n", 1, "anchors and aliases"),
    (b"a: 1\n---\nb: 2\n", 3, "one object per file"),
    (b"a: 1\nb: \xff\n", 2, "not UTF-8"),
    (b"", 1, "empty YAML document"),
    (b"a: .nan\n", 1, "NaN"),
])
def test_bad_yaml_names_the_line(data: bytes, line: int, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_yaml("x.yaml", data)
    assert caught.value.path == "x.yaml"
    assert caught.value.line == line
    assert fragment in caught.value.message


# libyaml composes, but types are YAML 1.2's (ruamel.yaml's safe loader), never PyYAML's 1.1.
@pytest.mark.parametrize(("text", "value"), [
    ("yes", "yes"), ("off", "off"), ("y", "y"), ("True", True), ("FALSE", False),
    ("~", None), ("null", None), ("", None), ("0o17", 15), ("0x1F", 31), ("017", 17),
    ("-12", -12), ("1_000", 1000), ("3.0e9", 3000000000), ("1.5", 1.5), ("-.5", -0.5),
    ("1:20", "1:20"), ("2027-01-15", "2027-01-15"), ("2027-01-15T10:00:00Z",
                                                     "2027-01-15T10:00:00Z"),
    ("'123'", "123"), ("!!str 12", "12"), ("!!int 12", 12), ("!!float 2", 2),
    ("123456789012345678901234567890", 123456789012345678901234567890),
])
def test_scalars_are_typed_as_yaml_1_2(text: str, value: object) -> None:
    parsed = parse_yaml("x.yaml", f"a: {text}\n".encode()).value["a"]
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(("data", "line", "fragment"), [
    (b"a: 1\nexpires: 2026-02-30\n", 2, "malformed YAML value '2026-02-30': day is out of range"),
    (b"a: !!bool maybe\n", 1, "malformed YAML value 'maybe': not a bool"),
    (b"a: !!int foo\n", 1, "malformed YAML value 'foo'"),
    (b"a:\n  b: !!timestamp nope\n", 2, "malformed YAML value 'nope'"),
    (b"a: " + b"9" * 5000 + b"\n", 1, "Exceeds the limit"),
    (b"a: 1.0e400\n", 1, "NaN and infinite"),
    (b"a: !custom x\n", 1, "could not determine a constructor for the tag '!custom'"),
    (b"%YAML 1.1\n---\na: yes\n", 1, "%YAML 1.1: govops reads YAML 1.2"),
    (b"a:\n  - " + b"[" * 30000 + b"]" * 30000 + b"\n", 2, "exceeded maximum nesting depth"),
])
def test_bad_values_name_their_line(data: bytes, line: int, fragment: str) -> None:
    """Each was a Python traceback (ValueError, KeyError) before, or a YAML 1.1 reading."""
    with pytest.raises(InputError) as caught:
        parse_yaml("x.yaml", data)
    assert (caught.value.path, caught.value.line) == ("x.yaml", line)
    assert fragment in caught.value.message


def test_a_yaml_1_2_directive_is_read() -> None:
    assert parse_yaml("x.yaml", b"%YAML 1.2\n---\na: yes\n").value == {"a": "yes"}
