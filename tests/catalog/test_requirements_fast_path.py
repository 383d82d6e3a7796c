"""The `name==version` fast path of the requirements parser gives exactly the records packaging's
full grammar gives, on real lock files and on the version forms PEP 440 allows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.catalog.lockfiles import requirements
from engine.catalog.lockfiles.requirements import parse_requirements
from engine.errors import InputError
from tests.support.realworld import realworld_inputs

H = "sha256:" + "a" * 64
LINES = [
    "torch==2.5.1+cu124", "torch==2.6.0rc1", "numpy==2.0.0.post1", "pkg==1.0.dev3",
    "pkg==1.0a1", "pkg==1.0b2.post3.dev4", "Foo_Bar.baz==1.0", "a==0", "a==1.2.3.4.5",
    "torch==2.5.1+cu124.local.7", "pkg==1.0.*", "pkg==v1.0", "pkg==1.0-1", "pkg==1.0RC1",
    "pkg===1.0", "pkg[extra]==1.0", "pkg==1.0; python_version >= '3.10'", "pkg>=1.0",
    "pkg==1.0.post", "pkg==1!2.0", "pkg @ https://example.test/pkg-1.0.tar.gz",
]


def _slow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requirements, "_PINNED", re.compile(r"(?!)"))


def _parse(text: str) -> object:
    try:
        return parse_requirements("r.txt", text).records
    except InputError as exc:
        return ("error", exc.line, exc.message)


@pytest.mark.parametrize("line", LINES)
def test_each_version_form_parses_as_packaging_parses_it(line: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    text = f"{line} \\\n    --hash={H}\n"
    fast = _parse(text)
    _slow(monkeypatch)
    assert fast == _parse(text)


def _real_requirement_locks() -> list[Path]:
    return sorted((realworld_inputs() / "lockfiles").rglob("*.txt"))


def test_real_pip_compile_locks_parse_the_same_on_both_paths(
        monkeypatch: pytest.MonkeyPatch) -> None:
    locks = _real_requirement_locks()
    assert len(locks) >= 3, locks
    texts = {path: path.read_text(encoding="utf-8") for path in locks}
    fast = {path: _parse(text) for path, text in texts.items()}
    _slow(monkeypatch)
    slow = {path: _parse(text) for path, text in texts.items()}
    assert fast == slow
    packages = sum(len(v) for v in fast.values() if isinstance(v, tuple))
    assert all(isinstance(v, tuple) for v in fast.values()), fast  # none refused
    assert packages > 300, packages  # real locks, not empty ones


def test_a_malformed_hash_on_a_fast_line_is_still_refused() -> None:
    with pytest.raises(InputError) as caught:
        parse_requirements("r.txt", "a==1.0\nb==2.0 --hash=sha256:XYZ\n")
    assert caught.value.line == 2
    assert "malformed --hash" in caught.value.message
