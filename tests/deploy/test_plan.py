"""`govops plan`: the gpu-workloads program in Pulumi's mock mode, its manifests and digest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from engine.cli.deploy import plan
from engine.commands.plan import PlanOptions, run_plan, stack_spec
from engine.deploy.manifests import ManifestError, SecretRefused, digest_of, read_manifests
from engine.deploy.render import build_plan
from engine.repo.scripted import Step, build_history, fixture_files
from tests.support.repos import ROOT

ACME = ROOT / "fixtures" / "acme-ml"
GPUS = json.loads((ROOT / "policies" / "data" / "gpus.json").read_text())["govops"]["gpus"]
STACKS = sorted(p.stem for p in (ACME / "stacks").glob("*.yaml"))


def invoke(*args: str) -> Any:
    return CliRunner().invoke(plan, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("acme") / "repo"
    build_history(path, [Step("acme fixtures", fixture_files(ACME))])
    return path


def catalog_doc(rel: str) -> Any:
    return yaml.safe_load((ACME / rel).read_text())


def planned(acme: Path, stack: str, out: Path) -> dict[str, Any]:
    run = invoke("--repo", str(acme), "--stack", stack, "--output", str(out), "--format", "json")
    assert run.exit_code == 0, run.output
    return json.loads(run.stdout)  # type: ignore[no-any-return]


def by_kind(out: Path) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(out.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        found.setdefault(doc["kind"], []).append(doc)
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_manifests_validate_for_kubernetes_1_30_strict(acme: Path, tmp_path: Path,
                                                       stack: str) -> None:
    out = tmp_path / "out"
    result = planned(acme, stack, out)
    files = sorted(out.glob("*.yaml"))
    assert [p.name for p in files] == [m["file"] for m in result["manifests"]]
    releases = []
    for path in files:
        doc = yaml.safe_load(path.read_text())
        if (doc["apiVersion"], doc["kind"]) == ("helm.sh/v3", "Release"):
            # A Helm release is not a Kubernetes object: kubernetes-validate has no schema for
            # it (tests/deploy/test_gpu_operator.py checks its fields instead).
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                kubernetes_validate.validate(doc, "1.30.0", strict=True)
            releases.append(path)
            continue
        kubernetes_validate.validate(doc, "1.30.0", strict=True)
    cli = subprocess.run([str(Path(sys.executable).with_name("kubernetes-validate")),
                          "--strict", "--kubernetes-version", "1.30.0", "--quiet",
                          *map(str, files)], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    warned = [line for line in (cli.stdout + cli.stderr).splitlines() if line.strip()]
    assert len(warned) == len(releases)
    assert all("Couldn't find schema for kind Release with api version helm.sh/v3" in line
               for line in warned)


@pytest.mark.parametrize("stack", STACKS)
def test_manifests_carry_the_governed_properties(acme: Path, tmp_path: Path, stack: str) -> None:
    out = tmp_path / "out"
    result = planned(acme, stack, out)
    spec = catalog_doc(f"stacks/{stack}.yaml")
    production = spec["metadata"].get("labels", {}).get("tier") == "production"
    decision = run_plan_spec(acme, stack)
    objects = by_kind(out)
    for docs in objects.values():
        for doc in docs:
            assert doc["metadata"]["name"]
            assert yaml.safe_load(yaml.safe_dump(doc)) == doc

    namespaces = {n["metadata"]["name"]: n for n in objects["Namespace"]}
    operator = spec["spec"]["gpu"].get("operator")
    assert set(namespaces) == {spec["spec"]["namespace"]} | (
        {operator.get("namespace", "gpu-operator")} if operator else set())
    assert len(objects.get("Release", [])) == (1 if operator else 0)
    (quota,) = objects["ResourceQuota"]
    assert quota["spec"]["hard"] == {"requests.nvidia.com/gpu": str(spec["spec"]["gpu"]["quota"])}
    assert quota["metadata"]["namespace"] == spec["spec"]["namespace"]

    product = GPUS[spec["spec"]["gpu"]["type"]]["product"]
    workloads = {w["name"]: w for w in spec["spec"]["workloads"]}
    controllers = {d["metadata"]["name"]: d for d in objects.get("Deployment", []) + objects.get("Job", [])}
    assert set(controllers) == set(workloads)
    for name, w in workloads.items():
        obj = controllers[name]
        model = catalog_doc(f"models/{w['model']}.yaml")
        env = catalog_doc(f"environments/{w['environment']}.yaml")
        if w["kind"] == "training":
            assert obj["kind"] == "Job"
            assert obj["spec"]["parallelism"] == w["replicas"]
            assert obj["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        else:
            assert obj["kind"] == "Deployment"
            assert obj["spec"]["replicas"] == w["replicas"]
            assert type(obj["spec"]["replicas"]) is int
        pod = obj["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        gpus = str(w["gpusPerReplica"])
        assert container["resources"]["limits"] == {"nvidia.com/gpu": gpus}
        assert container["image"] == env["spec"]["image"]
        assert "@sha256:" in container["image"]
        assert pod["nodeSelector"] == {"nvidia.com/gpu.product": product}
        assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists",
                                       "effect": "NoSchedule"}]
        notes = obj["metadata"]["annotations"]
        assert notes["govops.dev/model-digest"] == model["spec"]["digest"]
        assert notes["govops.dev/decision-id"] == decision["decision_id"]
        assert notes["govops.dev/aibom-serial"] == decision["aibom_serial"]
        assert notes["govops.dev/revision"] == result["revision"]
        labels = obj["metadata"]["labels"]
        assert labels["govops.dev/model"] == w["model"]
        assert labels["govops.dev/aibom-serial"] == decision["aibom_serial"].removeprefix("urn:uuid:")
        template = obj["spec"]["template"]["metadata"]
        assert template["annotations"] == {"govops.dev/model-digest": model["spec"]["digest"],
                                           "govops.dev/image": env["spec"]["image"]}
        assert template["labels"]["govops.dev/model"] == w["model"]

    inference = {n for n, w in workloads.items() if w["kind"] == "inference"}
    assert {s["metadata"]["name"] for s in objects.get("Service", [])} == inference
    pdbs = {p["metadata"]["name"] for p in objects.get("PodDisruptionBudget", [])}
    assert pdbs == (inference if production else set())


def run_plan_spec(acme: Path, stack: str) -> dict[str, str]:
    spec = stack_spec(PlanOptions(repo=acme, stack=stack))
    return {"decision_id": spec.decision_id, "aibom_serial": spec.aibom_serial}


def test_every_object_goes_through_the_explicit_provider(acme: Path) -> None:
    from engine.deploy.mock import capture, load_program
    from engine.shipped import programs_dir

    spec = stack_spec(PlanOptions(repo=acme, stack="prod-inference"))
    registered = capture(load_program(programs_dir() / spec.program), spec,
                         spec.program, spec.name)
    providers = [r for r in registered if r.is_provider]
    assert len(providers) == 1 and providers[0].inputs["context"] == "gpu-east-1"
    urn_tail = f"::{providers[0].name}::{providers[0].name}-id"
    assert all(r.provider and r.provider.endswith(urn_tail) for r in registered if not r.is_provider)


def test_same_digest_on_every_run_and_across_processes(acme: Path, tmp_path: Path) -> None:
    first = planned(acme, "prod-inference", tmp_path / "a")
    second = planned(acme, "prod-inference", tmp_path / "b")
    assert set(first) == {"stack", "revision", "digest", "manifests", "changes", "against"}
    assert first["stack"] == "prod-inference" and first["digest"].startswith("sha256:")
    assert first["against"] == {"source": "none", "description": "nothing applied yet",
                                "entry": None, "hash": None, "revision": None}
    assert first == second
    assert read_manifests(tmp_path / "a") == read_manifests(tmp_path / "b")
    assert digest_of(read_manifests(tmp_path / "a")) == first["digest"]
    other = subprocess.run(
        [sys.executable, "-c", "import sys; from engine.cli.deploy import plan; plan(sys.argv[1:])",
         "--repo", str(acme), "--stack", "prod-inference", "--format", "json"],
        capture_output=True, text=True, cwd=ROOT)
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout) == first


def test_a_changed_workload_changes_the_digest_and_is_an_update(tmp_path: Path) -> None:
    files = fixture_files(ACME)
    repo = tmp_path / "repo"
    stack = files["stacks/prod-inference.yaml"].decode()
    assert "      replicas: 3\n" in stack
    build_history(repo, [Step("acme", files),
                         Step("scale chat", {"stacks/prod-inference.yaml":
                                             stack.replace("      replicas: 3\n", "      replicas: 4\n", 1)})])
    run = invoke("--repo", str(repo), "--stack", "prod-inference", "--rev", "HEAD~1",
                 "--output", str(tmp_path / "before"), "--format", "json")
    before = json.loads(run.stdout)
    after = invoke("--repo", str(repo), "--stack", "prod-inference", "--previous",
                   str(tmp_path / "before"), "--format", "json")
    assert after.exit_code == 0, after.output
    result = json.loads(after.stdout)
    assert result["digest"] != before["digest"]
    actions = {(c["action"], c["file"]) for c in result["changes"]}
    assert ("update", "inference.deployment.chat.yaml") in actions
    assert {a for a, _ in actions} == {"update"}  # object annotations carry the revision
    chat = yaml.safe_load((tmp_path / "before" / "inference.deployment.chat.yaml").read_text())
    fallback = yaml.safe_load(
        (tmp_path / "before" / "inference.deployment.chat-fallback.yaml").read_text())
    assert chat["spec"]["replicas"] == 3
    assert "govops.dev/revision" not in fallback["spec"]["template"]["metadata"]["annotations"]
    assert all(c["action"] == "create" for c in before["changes"])


def test_unchanged_revision_against_its_own_manifests_has_no_changes(acme: Path, tmp_path: Path) -> None:
    planned(acme, "dev-sandbox", tmp_path / "out")
    again = invoke("--repo", str(acme), "--stack", "dev-sandbox", "--previous", str(tmp_path / "out"))
    assert again.exit_code == 0
    assert "changes against" in again.stdout and again.stdout.rstrip().endswith(": 0")


def test_unknown_stack_is_exit_2_naming_the_stacks(acme: Path, tmp_path: Path) -> None:
    run = invoke("--repo", str(acme), "--stack", "nope", "--output", str(tmp_path / "out"))
    assert run.exit_code == 2
    assert run.stdout == ""
    assert "unknown stack 'nope'" in run.stderr
    assert "dev-sandbox, prod-inference" in run.stderr
    assert not (tmp_path / "out").exists()


def test_the_work_tree_is_not_read(acme: Path, tmp_path: Path) -> None:
    first = planned(acme, "dev-sandbox", tmp_path / "a")
    stack = acme / "stacks" / "dev-sandbox.yaml"
    text = stack.read_text()
    try:
        stack.write_text(text.replace("quota: 8", "quota: 9"))
        assert planned(acme, "dev-sandbox", tmp_path / "b")["digest"] == first["digest"]
    finally:
        stack.write_text(text)


SECRET_PROGRAM = '''
import pulumi
import pulumi_kubernetes as k8s

def program(spec):
    k8s.core.v1.ConfigMap("cm", metadata=k8s.meta.v1.ObjectMetaArgs(name="cm", namespace="x"),
                          data={"token": pulumi.Output.secret("hunter2")})
'''


def test_a_pulumi_secret_is_refused(acme: Path, tmp_path: Path) -> None:
    programs = tmp_path / "programs"
    (programs / "gpu-workloads").mkdir(parents=True)
    (programs / "gpu-workloads" / "program.py").write_text(SECRET_PROGRAM)
    spec = stack_spec(PlanOptions(repo=acme, stack="dev-sandbox"))
    with pytest.raises(SecretRefused, match=r"ConfigMap 'cm': data is a Pulumi secret"):
        build_plan(spec, programs=programs)


OUTPUT_PROGRAM = '''
import pulumi_kubernetes as k8s

def program(spec):
    ns = k8s.core.v1.Namespace("ns", metadata=k8s.meta.v1.ObjectMetaArgs(name="x"))
    k8s.core.v1.ConfigMap("cm", metadata=k8s.meta.v1.ObjectMetaArgs(name="cm", namespace="x"),
                          data={"uid": ns.metadata.apply(lambda m: m.uid)})
'''


def test_an_input_known_only_after_deployment_is_refused(acme: Path, tmp_path: Path) -> None:
    """A plan is a preview: another object's server-side output (here a UID) is unknown."""
    programs = tmp_path / "programs"
    (programs / "gpu-workloads").mkdir(parents=True)
    (programs / "gpu-workloads" / "program.py").write_text(OUTPUT_PROGRAM)
    spec = stack_spec(PlanOptions(repo=acme, stack="dev-sandbox"))
    with pytest.raises(ManifestError, match=r"ConfigMap 'cm': data.uid is unknown until "
                       r"deployment"):
        build_plan(spec, programs=programs)


def test_a_pulumi_secret_is_refused_by_the_cli(acme: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    programs = tmp_path / "programs"
    (programs / "gpu-workloads").mkdir(parents=True)
    (programs / "gpu-workloads" / "program.py").write_text(SECRET_PROGRAM)
    monkeypatch.setenv("GOVOPS_STACK_PROGRAMS", str(programs))
    run = invoke("--repo", str(acme), "--stack", "dev-sandbox", "--output", str(tmp_path / "out"))
    assert run.exit_code == 2
    assert "secret" in run.stderr and "hunter2" not in run.stderr + run.stdout
    assert not (tmp_path / "out").exists()


def test_plan_twice_in_one_process_then_a_normal_run(acme: Path) -> None:
    a = run_plan(PlanOptions(repo=acme, stack="dev-sandbox"))
    b = run_plan(PlanOptions(repo=acme, stack="prod-inference"))
    c = run_plan(PlanOptions(repo=acme, stack="dev-sandbox"))
    assert a.digest == c.digest != b.digest
    assert len(a.manifests) == len(c.manifests) == 11  # 7 objects, the operator and its
    # namespace, the admission policy and its binding


def test_the_pre_commit_path_does_not_import_pulumi() -> None:
    code = ("import sys, engine.commands.check, engine.cli.main, engine.commands.plan, engine.deploy.plan; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_kubernetes')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_failing_program_is_one_error_line(acme: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    programs = tmp_path / "programs"
    (programs / "gpu-workloads").mkdir(parents=True)
    (programs / "gpu-workloads" / "program.py").write_text(
        "def program(spec):\n    raise ValueError('no GPUs today')\n")
    monkeypatch.setenv("GOVOPS_STACK_PROGRAMS", str(programs))
    run = invoke("--repo", str(acme), "--stack", "dev-sandbox")
    assert run.exit_code == 2
    assert run.stderr.strip() == ("govops: error: program 'gpu-workloads' failed: "
                                  "ValueError: no GPUs today")
    monkeypatch.delenv("GOVOPS_STACK_PROGRAMS")
    assert run_plan(PlanOptions(repo=acme, stack="dev-sandbox")).manifests  # runtime recovers


TRICKY = ["yes", "NO", "On", "off", "y", "N", "Null", "NULL", "~", "true", "False", "", "1",
          "1.0", "0x1F", "0o17", "0b1", "1_000", "1:20", "1e5", "e5", ".5", ".inf", ".NaN",
          "2026-01-01", "2026-01-01T00:00:00Z", "+1", "-1", "-", "=", "a=b", "<<", "?", "? x",
          ",", "[a]", "{a}", "a,b", "a: b", "a #b", "#c", "- x", "key:", "a:", "::", "a::b",
          " lead", "trail ", "line\nbreak", "tab\there", "@at", "`tick", "*star", "&amp",
          "!bang", "%pct", "|", ">", "'q'", '"dq"', "\\", "é", "naïve: yes", "😀", "\u2028",
          "\x85", "\ufeffbom", "sha256:ab", "urn:uuid:1", "nvidia.com/gpu", "/path", "_x"]


def test_manifest_yaml_reads_back_as_the_same_document() -> None:
    """The manifest writer quotes whatever YAML would otherwise read as another type."""
    from engine.deploy.manifests import dump

    doc = {"strings": {t: t for t in TRICKY}, "list": TRICKY,
           "nested": [[1, [2, {}]], {"a": []}, {"b": {"c": [{"d": 1, "e": [1, 2]}]}}],
           "empty": {}, "none": [], "scalars": [0, -3, 0.5, True, False, 10**20]}
    assert yaml.safe_load(dump(doc)) == doc
    assert yaml.safe_load(dump({"a": 1})) == {"a": 1} and dump({"a": 1}) == b"a: 1\n"


def test_every_manifest_reads_back_as_the_document_it_was_made_from(acme: Path) -> None:
    for stack in STACKS:
        for manifest in run_plan(PlanOptions(repo=acme, stack=stack)).manifests:
            assert yaml.safe_load(manifest.text) == manifest.doc, manifest.file


def _own_program(tmp_path: Path, admission: str) -> Path:
    """A repo's own gpu-workloads: the shipped program with its `_admission` call replaced."""
    from engine.shipped import programs_dir

    source = (programs_dir() / "gpu-workloads" / "program.py").read_text()
    call = "waits: list[pulumi.Resource] = [namespace, *_admission(spec, provider)]"
    assert call in source
    folder = tmp_path / "gpu-workloads"
    folder.mkdir()
    (folder / "program.py").write_text(source.replace(call, admission))
    return tmp_path


def test_the_plan_holds_the_stacks_admission_policy_as_govops_wrote_it(acme: Path) -> None:
    spec = stack_spec(PlanOptions(repo=acme, stack="prod-inference"))
    manifests = {m.file: m.doc for m in build_plan(spec).manifests}
    policy, binding = json.loads(spec.admission)
    assert manifests["_cluster.validatingadmissionpolicy.govops-prod-inference.yaml"] == policy
    assert manifests["_cluster.validatingadmissionpolicybinding.govops-prod-inference.yaml"] == \
        binding
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert binding["spec"]["matchResources"]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "inference"}}


def test_a_program_that_leaves_the_admission_policy_out_is_refused(acme: Path,
                                                                    tmp_path: Path) -> None:
    spec = stack_spec(PlanOptions(repo=acme, stack="prod-inference"))
    programs = _own_program(tmp_path, "waits: list[pulumi.Resource] = [namespace]")
    with pytest.raises(ManifestError, match=r"^stacks/gpu-workloads: the program does not "
                       r"register the stack's ValidatingAdmissionPolicy 'govops-prod-inference' "
                       r"\(spec.admission\); govops refuses to deploy without it$"):
        build_plan(spec, programs=programs)


def test_a_program_that_loosens_the_admission_policy_is_refused(acme: Path,
                                                                 tmp_path: Path) -> None:
    spec = stack_spec(PlanOptions(repo=acme, stack="prod-inference"))
    loosened = spec.admission.replace('"failurePolicy":"Fail"', '"failurePolicy":"Ignore"')
    assert loosened != spec.admission
    programs = _own_program(tmp_path, (
        "spec = type(spec)(**{**spec.__dict__, 'admission': " + repr(loosened) + "})\n"
        "    waits: list[pulumi.Resource] = [namespace, *_admission(spec, provider)]"))
    with pytest.raises(ManifestError, match="the program changes the stack's "
                       "ValidatingAdmissionPolicy 'govops-prod-inference'"):
        build_plan(spec, programs=programs)


def test_workloads_wait_for_the_quota_and_the_admission_policy(
        acme: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pods created before the ResourceQuota or the admission binding are in force escape them,
    so the engine is told to create every workload after both."""
    import pulumi.runtime.mocks

    from engine.deploy.mock import capture, load_program
    from engine.shipped import programs_dir

    seen: dict[str, tuple[str, set[str]]] = {}
    original = pulumi.runtime.mocks.MockMonitor.RegisterResource

    def recording(self: Any, request: Any) -> Any:
        seen[request.name] = (request.type, {d.rsplit("::", 1)[-1] for d in request.dependencies})
        return original(self, request)

    monkeypatch.setattr(pulumi.runtime.mocks.MockMonitor, "RegisterResource", recording)
    spec = stack_spec(PlanOptions(repo=acme, stack="prod-inference"))
    capture(load_program(programs_dir() / spec.program), spec, spec.program, spec.name)
    workloads = {name: deps for name, (typ, deps) in seen.items()
                 if typ.split(":")[-1] in ("Deployment", "Service", "PodDisruptionBudget")}
    assert len(workloads) == 9
    for name, deps in workloads.items():
        assert {"prod-inference-gpu-quota", "prod-inference-admission-binding",
                "prod-inference-namespace"} <= deps, name
    assert seen["prod-inference-admission-binding"][1] == {"prod-inference-admission-policy"}
