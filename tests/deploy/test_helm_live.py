"""Reading a Helm release back from Helm's own records (engine.deploy.helm_live): the deployed
revision's chart version and values are what the read-back compares with the planned Release
(tests/deploy/test_vendored_chart.py reads a real one from the live cluster)."""

from __future__ import annotations

import base64
import gzip
import json
from types import SimpleNamespace
from typing import Any

import pytest

from engine.deploy.helm_live import HelmReadFailed, as_manifest, deployed_release
from engine.deploy.live import owned_differences

PLANNED = {"apiVersion": "helm.sh/v3", "kind": "Release",
           "metadata": {"name": "gpu-operator", "namespace": "gpu-operator"},
           "spec": {"chart": "gpu-operator", "version": "v25.3.4", "atomic": True,
                    "values": {"driver": {"enabled": False}}}}


def secret(version: int, release: dict[str, Any] | bytes, compress: bool = True) -> Any:
    data = release if isinstance(release, bytes) else json.dumps(release).encode()
    data = gzip.compress(data) if compress else data
    # Helm base64-encodes the release; the API base64-encodes Secret data again
    encoded = base64.b64encode(base64.b64encode(data)).decode()
    return SimpleNamespace(metadata=SimpleNamespace(labels={"version": str(version)}),
                           data={"release": encoded})


class Core:
    def __init__(self, *secrets: Any) -> None:
        self.secrets = secrets
        self.asked: list[tuple[str, str]] = []

    def list_namespaced_secret(self, namespace: str, label_selector: str) -> Any:
        self.asked.append((namespace, label_selector))
        return SimpleNamespace(items=list(self.secrets))


def release(version: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"name": "gpu-operator", "chart": {"metadata": {"name": "gpu-operator",
                                                           "version": version}},
            "config": values, "info": {"status": "deployed"}}


def test_the_latest_deployed_revision_is_read_and_matches_the_plan() -> None:
    core = Core(secret(1, release("v25.3.3", {})),
                secret(2, release("v25.3.4", {"driver": {"enabled": False}})))
    found = deployed_release(core, "gpu-operator", "gpu-operator")
    assert core.asked == [("gpu-operator", "owner=helm,name=gpu-operator,status=deployed")]
    assert found is not None
    assert owned_differences(PLANNED, as_manifest(PLANNED, found)) == []
    plain = Core(secret(1, release("25.3.4", {"driver": {"enabled": False}}), compress=False))
    read = deployed_release(plain, "gpu-operator", "gpu-operator")
    assert read is not None and owned_differences(PLANNED, as_manifest(PLANNED, read)) == []


def test_another_chart_version_or_values_is_a_difference() -> None:
    upgraded = deployed_release(Core(secret(3, release("v25.10.0", {"driver": {
        "enabled": True}}))), "gpu-operator", "gpu-operator")
    assert upgraded is not None
    assert owned_differences(PLANNED, as_manifest(PLANNED, upgraded)) == [
        "spec.version: is 'v25.10.0', planned 'v25.3.4'",
        "spec.values.driver.enabled: is True, planned False"]


def test_no_deployed_revision_is_none_and_a_corrupt_record_fails() -> None:
    assert deployed_release(Core(), "gpu-operator", "gpu-operator") is None
    with pytest.raises(HelmReadFailed, match="cannot be decoded"):
        deployed_release(Core(secret(1, b"not json")), "gpu-operator", "gpu-operator")
