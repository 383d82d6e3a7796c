"""OPA's v0 -> v1 conversions are remembered per user (a check converts a team's v0 manifest
policies on every commit): the second time costs no process, an unreadable entry is only a
miss, and a rebuilt `opa` converts anew."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from engine.policy import rego_v0
from engine.policy.library import PolicyModule
from engine.statedir import STATE_ENV

V0 = 'package p\n\ndeny[msg] {\n\tinput.x\n\tmsg := "x"\n}\n'


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "state"))
    seen: list[list[str]] = []
    real = subprocess.run

    def spy(args: list[str], **named: object) -> object:
        seen.append(list(args))
        return real(args, **named)  # type: ignore[call-overload]

    monkeypatch.setattr(rego_v0.subprocess, "run", spy)
    return seen


def _convert() -> PolicyModule:
    upgraded = rego_v0.upgrade_v0([PolicyModule("p.rego", V0)])
    assert upgraded.converted == ["p.rego"]
    return upgraded.modules[0]


def test_a_conversion_is_done_once(runs: list[list[str]]) -> None:
    first = _convert()
    assert "deny contains msg if" in first.source and len(runs) == 1
    assert _convert() == first and len(runs) == 1


def test_an_unreadable_entry_is_converted_again(runs: list[list[str]], tmp_path: Path) -> None:
    first = _convert()
    for entry in (tmp_path / "state" / "rego-v0-v1").glob("*.json"):
        entry.write_text("{not json")
    assert _convert() == first and len(runs) == 2
    entries = list((tmp_path / "state" / "rego-v0-v1").glob("*.json"))
    assert [json.loads(e.read_text()) for e in entries] == [{"source": first.source}]


def test_a_refusal_is_remembered_too(runs: list[list[str]]) -> None:
    bad = PolicyModule("q.rego", "package q\n\ncontains[x] { x := 1 }\n")
    for _ in range(2):
        upgraded = rego_v0.upgrade_v0([bad])
        assert upgraded.refused and upgraded.modules == [bad]
    assert len(runs) == 1


def test_another_opa_build_converts_anew(runs: list[list[str]],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.policy.backends import resident

    _convert()
    found = resident.find_binary()
    assert found is not None
    monkeypatch.setattr(resident, "find_binary",
                        lambda: resident.Binary(found.path, found.identity + ":rebuilt"))
    _convert()
    assert len(runs) == 2
