"""The one line a Pulumi failure becomes (engine.deploy.pulumi_run.last_line): the engine writes
a resource's failure to stdout under Diagnostics and ends with generic lines ("error: update
failed", an empty stderr); the user must see the specific one."""

from __future__ import annotations

from pathlib import Path

from pulumi import automation as auto

from engine.deploy.pulumi_run import last_line

DIAGNOSTICS = """Updating (prod-inference):
 +  kubernetes:apps/v1:Deployment chat creating (0s)
 +  kubernetes:apps/v1:Deployment chat creating failed error: 1 error occurred:
Diagnostics:
  kubernetes:apps/v1:Deployment (chat):
    error: 1 error occurred:
    \t* the Kubernetes API server reported that "inference/chat" failed to fully initialize \
or become live: pods "chat-7d9" is forbidden: exceeded quota: prod-inference-gpu-quota

  pulumi:pulumi:Stack (govops-prod-inference-prod-inference):
    error: update failed
"""


def _error(stdout: str, stderr: str) -> Exception:
    return auto.errors.create_command_error(auto.CommandResult(stdout, stderr, 255))


def test_the_specific_diagnostic_is_the_line_not_the_generic_ending() -> None:
    line = last_line(_error(DIAGNOSTICS, ""))
    assert line.startswith('the Kubernetes API server reported that "inference/chat" failed')
    assert line.endswith("exceeded quota: prod-inference-gpu-quota")


def test_an_error_on_stderr_alone_is_the_line() -> None:
    assert last_line(_error("", "error: cluster gpu-east-1 unreachable")) == \
        "error: cluster gpu-east-1 unreachable"


def test_without_any_error_line_the_last_real_line_not_a_label() -> None:
    assert last_line(_error("something odd happened\n", "")) == "something odd happened"
    assert last_line(_error("", "")) == "CommandError"


def test_a_cluster_that_cannot_be_read_adds_nothing_to_the_engines_error(tmp_path: Path) -> None:
    """The diagnosis of a stuck rollout is an addition: no kubeconfig, no context, no API
    server, and the engine's own line stands alone (tests/deploy/test_live_errors.py shows
    what it adds when the cluster answers)."""
    from engine.deploy.diagnose import stuck_rollouts
    from engine.deploy.manifests import parse_recorded

    manifests = parse_recorded({"ns.deployment.x.yaml": b"apiVersion: apps/v1\nkind: Deployment"
                                b"\nmetadata: {name: x, namespace: ns}\n"})
    assert stuck_rollouts(manifests, "nowhere", kubeconfig=str(tmp_path / "missing")) == []
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "
                      "'https://127.0.0.1:9'}}]\ncontexts: [{name: here, context: {cluster: c, "
                      "user: u}}]\nusers: [{name: u, user: {token: t}}]\ncurrent-context: here\n")
    assert stuck_rollouts(manifests, "here", kubeconfig=str(config)) == []
