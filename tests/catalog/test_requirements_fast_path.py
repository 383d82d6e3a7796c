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


# -- whole blocks (`_BLOCK`): the same records and errors as the line parser -------------------

B = "--hash=sha256:" + "b" * 64
BLOCK_TEXTS = [
    f"a==1.0 \\\n    {B}\n",
    f"a==1.0 \\\n    {B} \\\n    --hash=sha256:{'c' * 64}\n    # via b\nb==2.0 \\\n    {B}",
    f"--index-url https://download.pytorch.org/whl/cu124\n\na==1.0 \\\n    {B}\n-r base.txt\n",
    f"# comment \\\na==1.0 \\\n    {B}\n",  # a comment's backslash continues nothing
    f"x==1.0 \\\na==1.0 \\\n    {B}\n",  # a line continuing into a block: one bad requirement
    f"a==1.0 \\\n    {B}   \n\n\nb==2.0 \\\n\t{B}\n",
    f"a==1.0 \\\r\n    {B}\r\n",
    f"a==1.0 \\\n    --hash=sha256:{'B' * 64}\n",  # uppercase hex: refused with its line
    f"a==1.0 \\\n    --hash=sha512:{'d' * 128}\n",
    f"a==1.0 {B}\nb==2.0 \\\n    {B}\n",
    f"a==1.0 \\\n    {B}\n--bogus\n",  # an error after a block keeps its line
    f"a==1.0 \\\n    {B}\nb==2.0; python_version < '3.12' \\\n    {B}\nc[x]==1 \\\n    {B}\n",
    f"a==1.0 \\\n    {B} \\\n    # via b\n",  # a trailing backslash before a comment
    f"Foo_Bar==1.0+cu124 \\\n    {B}\n-c constraints.txt\n",
    f"a==1.0 \\\n    {B}\n  b==2.0 \\\n    {B}\n",  # indented requirement: not a block
    "",
    "\n\n# only comments\n",
]


def _lines_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requirements, "_by_blocks", lambda path, text: None)


@pytest.mark.parametrize("text", BLOCK_TEXTS)
def test_blocks_read_as_the_line_parser_reads_them(text: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    by_blocks = _parse(text)
    _lines_only(monkeypatch)
    assert by_blocks == _parse(text)


def test_blocks_are_what_reads_a_pip_compile_lock() -> None:
    """The fast path is taken (not silently skipped) on a real lock, and only the lines
    between blocks go through the line parser."""
    lock = next(p for p in _real_requirement_locks() if "--hash=sha256:" in p.read_text())
    text = lock.read_text(encoding="utf-8")
    found = requirements._by_blocks(str(lock), text)
    assert found is not None
    assert len(found.records) == len(parse_requirements(str(lock), text).records) > 10


def test_real_locks_read_the_same_by_blocks_and_by_lines(
        monkeypatch: pytest.MonkeyPatch) -> None:
    texts = {path: path.read_text(encoding="utf-8") for path in _real_requirement_locks()}
    by_blocks = {path: _parse(text) for path, text in texts.items()}
    _lines_only(monkeypatch)
    assert by_blocks == {path: _parse(text) for path, text in texts.items()}


# -- one package pinned twice ------------------------------------------------------------------


@pytest.mark.parametrize("blocks", [True, False])
def test_a_package_pinned_twice_differently_is_refused_at_the_second_line(
        blocks: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not blocks:
        _lines_only(monkeypatch)
    text = f"numpy==1.26.4 \\\n    {B}\nrequests==2.32.3 \\\n    {B}\nnumpy==2.1.3 \\\n    {B}\n"
    with pytest.raises(InputError) as caught:
        parse_requirements("r.txt", text)
    assert (caught.value.line, caught.value.message) == (
        5, "numpy is pinned twice: ==1.26.4 on line 1 and ==2.1.3 here; a lock file pins each "
           "package once")


def test_pins_under_different_markers_or_repeated_identically_are_kept() -> None:
    text = ("numpy==1.26.4 ; python_version < '3.12'\n"
            "numpy==2.1.3 ; python_version >= '3.12'\n"
            "requests==2.32.3\nrequests==2.32.3\n")
    assert [r["version"] for r in parse_requirements("r.txt", text).records] == [
        "1.26.4", "2.1.3", "2.32.3", "2.32.3"]
