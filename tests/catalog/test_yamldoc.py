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
    (b"a: [1\nb: 2\n", 2, "malformed YAML"),
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
