"""Pulumi fakes for the apply and rollback tests: a `pulumi` CLI that records every call and
answers like one with an empty file backend, and the stack they deploy."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from pulumi import automation as auto
from semver import VersionInfo

from engine.deploy import pulumi_run
from engine.deploy.manifests import Manifest

STACK = "prod-inference"
PROJECT = f"govops-{STACK}"
EXPORT = {"version": 3, "deployment": {"manifest": {"time": "2026-11-24T10:00:05Z"},
                                       "resources": [{"urn": "urn:pulumi:x::y::z::n"}]}}


def _history(kind: str, changes: Mapping[str, int]) -> str:
    return json.dumps([{"kind": kind, "startTime": "2026-11-24T10:00:00.000Z",
                        "message": "m", "environment": {}, "config": {}, "result": "succeeded",
                        "endTime": "2026-11-24T10:00:05.000Z", "version": 2,
                        "resourceChanges": dict(changes)}])


class FakePulumi(auto.PulumiCommand):
    """Records every call; answers like a pulumi CLI with an empty file backend."""

    def __init__(self) -> None:  # no `pulumi version` subprocess
        self.command = "pulumi"
        self.version = VersionInfo.parse(pulumi_run.PULUMI_VERSION)
        self.calls: list[tuple[list[str], str, dict[str, str]]] = []
        self.stacks: set[str] = set()
        self.last_op = "none"

    def run(self, args: list[str], cwd: str, additional_env: Mapping[str, str],
            on_output: Any = None, on_error: Any = None) -> auto.CommandResult:
        self.calls.append((list(args), cwd, dict(additional_env)))
        ok = auto.CommandResult
        if args[:2] == ["stack", "select"] and args[-1] not in self.stacks:
            raise auto.errors.create_command_error(
                ok("", f"error: no stack named '{args[-1]}' found", 255))
        if args[:2] == ["stack", "init"]:
            self.stacks.add(args[2])
        if args[0] in ("refresh", "up"):
            self.last_op = args[0]
        if args[:2] == ["stack", "history"]:
            if self.last_op == "refresh":
                return ok(_history("refresh", {"same": 0}), "", 0)
            return ok(_history("update", {"create": 11}), "", 0)
        if args[:2] == ["stack", "output"]:
            return ok("{}", "", 0)
        if args[:2] == ["stack", "export"]:
            return ok(json.dumps(EXPORT), "", 0)
        return ok("", "", 0)


def normalised(args: list[str]) -> list[str]:
    return [re.sub(r"^--client=127\.0\.0\.1:\d+$", "--client=127.0.0.1:<port>", a) for a in args]


def approved_cluster(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """With a fake `pulumi` there is no cluster to read back: the read-back then reports a
    cluster holding exactly what was approved (tests/deploy/test_live_apply.py reads a real
    one). The contexts it was asked about, in order."""
    from engine.deploy import readback
    from engine.deploy.manifests import digest_of

    asked: list[str] = []

    def read_back(manifests: Sequence[Manifest], context: str, stack: str | None = None,
                  kubeconfig: str | None = None) -> readback.LiveState:
        asked.append(context)
        return readback.LiveState(digest_of(manifests), (), readback.ClusterIdentity(
            "https://fake-cluster.invalid", None, "v1.34.3"))

    monkeypatch.setattr(readback, "read_back", read_back)
    return asked
