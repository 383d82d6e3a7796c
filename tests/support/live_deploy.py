"""Running govops against the live test cluster (tests/support/cluster.py): an environment in
which `govops apply`/`rollback` find the built pulumi CLI and provider and a kubeconfig naming
the stack's context, and nothing is downloaded; and reading objects back from the API server to
compare them with the manifests a ledger entry recorded."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.deploy.applied import MANIFESTS_FILE
from engine.deploy.live import object_key, owned_differences
from engine.ledger.entry import StoredEntry
from tests.support.cli import govops
from tests.support.cluster import TOOLS, Cluster, client, write_kubeconfig
from tests.support.repos import NOW


@contextmanager
def deploying(cluster: Cluster, folder: Path, context: str) -> Iterator[Path]:
    """The environment of a deployment to `cluster` under `context`; the kubeconfig."""
    kubeconfig = write_kubeconfig(folder / "kubeconfig", cluster.server, cluster.ca,
                                  cluster.token, context)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{TOOLS}{os.pathsep}{os.environ['PATH']}")
        patch.setenv("KUBECONFIG", str(kubeconfig))
        patch.setenv("PULUMI_HOME", str(folder / "pulumi-home"))
        patch.setenv("PULUMI_SKIP_UPDATE_CHECK", "true")
        patch.setenv("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "true")
        yield kubeconfig


def attest_recorded(repo: Path, key: Path, revs: Iterable[str], out: Path) -> None:
    """`govops attest --record` of each revision, as CI does before an apply may deploy it;
    each one's receipts in `out`-<rev>."""
    for rev in revs:
        run = govops("attest", "--repo", str(repo), "--rev", rev, "--key", str(key),
                     "--output", f"{out}-{rev}", "--now", NOW, "--record")
        assert run.exit_code == 0, run.stderr


def live_object(cluster: Cluster, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The object the API server holds for `manifest` (None when there is none)."""
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import NotFoundError

    api_version, kind, namespace, name = object_key(manifest)
    resource = DynamicClient(client(cluster)).resources.get(api_version=api_version, kind=kind)
    try:
        found = resource.get(name=name, namespace=namespace or None)
    except NotFoundError:
        return None
    return dict(found.to_dict())


def recorded(item: StoredEntry) -> dict[str, dict[str, Any]]:
    """file -> manifest, as the apply or rollback entry recorded them."""
    files = json.loads(item.recorded[MANIFESTS_FILE])
    return {name: yaml.safe_load(text) for name, text in files.items()}


def live_differences(cluster: Cluster, item: StoredEntry) -> dict[str, list[str]]:
    """file -> how the live object departs from what `item` recorded (files with none left
    out; a missing object is one difference). Helm releases are not API objects and are left
    to the test (Helm's own release Secrets)."""
    found: dict[str, list[str]] = {}
    for name, manifest in recorded(item).items():
        if manifest["kind"] == "Release":  # not an API object: see helm_records
            continue
        live = live_object(cluster, manifest)
        differences = ["missing from the cluster"] if live is None else owned_differences(
            manifest, live)
        if differences:
            found[name] = differences
    return found
