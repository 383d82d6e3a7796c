"""Manifest policies (issue 20): conftest-style and Gatekeeper-style policies that govops.yaml
lists under `manifests:` run against the objects `plan` renders for each stack, and their
results are ordinary results of the decision: at the stack line that produced the object,
denying or warning, identical on every engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.repo.scripted import Step
from tests.support.cli import check, one_error_line
from tests.support.repos import ENGINES, fixture, make_repo, unwaived

STACK = "stacks/prod-inference.yaml"
CHAT_LINE = 18  # `- name: chat`, the workload whose Deployment runs 3 replicas
CONFIG_TAIL = "manifests:\n  policies: [k8s/]\n"
REPLICAS = """package main

import rego.v1

deny contains msg if {
\tinput.kind == "Deployment"
\tinput.spec.replicas > 2
\tmsg := sprintf("Deployment %s runs %d replicas; this cluster allows 2", [input.metadata.name, input.spec.replicas])
}

warn_service contains msg if {
\tinput.kind == "Service"
\tinput.metadata.name == "chat"
\tmsg := "Service chat is exposed"
}
"""
REPLICAS_V0 = """package main

deny[msg] {
\tinput.kind == "Deployment"
\tinput.spec.replicas > 2
\tmsg := sprintf("Deployment %s runs %d replicas; this cluster allows 2", [input.metadata.name, input.spec.replicas])
}
"""


def _files(policies: dict[str, str], tail: str = CONFIG_TAIL) -> dict[str, bytes]:
    files = unwaived(fixture("acme-ml"))
    files["govops.yaml"] += tail.encode()
    files.update({path: text.encode() for path, text in policies.items()})
    return files


def _repo(tmp_path: Path, files: dict[str, bytes], *later: dict[str, bytes]) -> Path:
    steps = [Step("c1", files), *(Step(f"c{i + 2}", f) for i, f in enumerate(later))]
    make_repo(tmp_path / "repo", *steps)
    return tmp_path / "repo"


def _manifest_results(run_json: dict[str, object]) -> list[tuple[str, str, int, str, str]]:
    results = run_json["results"]
    assert isinstance(results, list)
    return sorted((r["id"], r["file"], r["line"], r["severity"], r["msg"]) for r in results
                  if r["id"].startswith(("main.", "k8s.")) or "/" in r["id"])


@pytest.mark.parametrize("engine", ENGINES)
def test_a_conftest_policy_denies_a_rendered_object_at_its_workload_line(
        tmp_path: Path, engine: str) -> None:
    repo = _repo(tmp_path, _files({"k8s/replicas.rego": REPLICAS}))
    run = check(repo, "--format", "json", engine=engine)
    assert run.exit_code == 1, run.stderr
    assert _manifest_results(run.json()) == [
        ("main.deny", STACK, CHAT_LINE, "deny", "Deployment inference/chat: Deployment chat "
         "runs 3 replicas; this cluster allows 2"),
        ("main.warn_service", STACK, CHAT_LINE, "warn", "Service inference/chat: Service "
         "chat is exposed")]


def test_the_same_decision_on_every_engine(tmp_path: Path) -> None:
    repo = _repo(tmp_path, _files({"k8s/replicas.rego": REPLICAS}))
    ids = {engine: check(repo, "--format", "json", engine=engine).json()["decision_id"]
           for engine in ENGINES}
    assert len(set(ids.values())) == 1, ids


def test_the_fix_passes(tmp_path: Path) -> None:
    files = _files({"k8s/replicas.rego": REPLICAS})
    stack = files[STACK].decode()
    assert stack.count("      replicas: 3\n") == 1
    fixed = {STACK: stack.replace("      replicas: 3\n", "      replicas: 2\n").encode()}
    repo = _repo(tmp_path, files, fixed)
    run = check(repo, "--format", "json")
    assert run.exit_code == 0, run.stdout
    assert [r[0] for r in _manifest_results(run.json())] == ["main.warn_service"]
    before = check(repo, "--rev", "HEAD~1", "--format", "json")
    assert before.exit_code == 1


def test_a_rego_v0_policy_runs_as_opa_reads_it(tmp_path: Path) -> None:
    repo = _repo(tmp_path, _files({"k8s/replicas.rego": REPLICAS_V0}))
    run = check(repo, "--format", "json")
    assert run.exit_code == 1, run.stderr
    assert [(r[0], r[2]) for r in _manifest_results(run.json())] == [("main.deny", CHAT_LINE)]


def test_only_the_namespaces_asked_for_are_evaluated(tmp_path: Path) -> None:
    other = REPLICAS.replace("package main", "package k8s.limits")
    both = {"k8s/limits.rego": other, "k8s/main.rego": "package main\n\nimport rego.v1\n\n"
            "deny contains \"never\" if false\n"}
    quiet = check(_repo(tmp_path / "a", _files(both)), "--format", "json")
    assert quiet.exit_code == 0 and _manifest_results(quiet.json()) == []
    for namespaces in ("[k8s.limits]", '["*"]'):
        tail = CONFIG_TAIL + f"  namespaces: {namespaces}\n"
        run = check(_repo(tmp_path / namespaces[1:4], _files({"k8s/limits.rego": other}, tail)),
                    "--format", "json")
        assert run.exit_code == 1, (namespaces, run.stderr)
        assert [r[0] for r in _manifest_results(run.json())] == [
            "k8s.limits.deny", "k8s.limits.warn_service"]


def test_structured_violations_and_boolean_rules_are_read_as_conftest_reads_them(
        tmp_path: Path) -> None:
    policy = """package main

import rego.v1

violation contains {"msg": msg, "details": {"replicas": input.spec.replicas}} if {
\tinput.kind == "Deployment"
\tinput.spec.replicas > 2
\tmsg := "too many replicas"
}

deny_namespace if input.kind == "Namespace"
"""
    run = check(_repo(tmp_path, _files({"k8s/p.rego": policy})), "--format", "json")
    assert run.exit_code == 1
    found = _manifest_results(run.json())
    assert ("main.violation", STACK, CHAT_LINE, "deny",
            "Deployment inference/chat: too many replicas") in found
    assert ("main.deny_namespace", STACK, 13, "deny",
            "Namespace inference: deny_namespace") in found  # spec.namespace's line


@pytest.mark.parametrize("engine", ENGINES)
def test_a_result_govops_cannot_read_fails_the_check(tmp_path: Path, engine: str) -> None:
    policy = "package main\n\nimport rego.v1\n\ndeny contains 42 if input.kind == \"Service\"\n"
    run = check(_repo(tmp_path, _files({"k8s/p.rego": policy})), engine=engine)
    assert run.exit_code == 2
    assert "data.main.deny: a result must be a string or an object with a string msg" in \
        one_error_line(run)


def test_policy_unit_tests_beside_the_policies_are_not_evaluated(tmp_path: Path) -> None:
    tests = "package main\n\nimport rego.v1\n\ntest_nothing if true\n"
    run = check(_repo(tmp_path, _files({"k8s/replicas.rego": REPLICAS,
                                        "k8s/replicas_test.rego": tests})), "--format", "json")
    assert run.exit_code == 1
    assert "test_nothing" not in run.stdout


def test_manifest_policies_are_not_reported_as_unevaluated(tmp_path: Path) -> None:
    run = check(_repo(tmp_path, _files({"k8s/replicas.rego": REPLICAS})))
    assert "is not evaluated by govops" not in run.stderr


def test_without_manifests_in_govops_yaml_nothing_is_rendered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.commands.manifest_check as manifest_check

    def fail(*args: object, **named: object) -> None:
        raise AssertionError("rendered without manifest policies")

    monkeypatch.setattr(manifest_check, "rendered", fail)
    repo = _repo(tmp_path, _files({"k8s/replicas.rego": REPLICAS}, tail=""))
    assert check(repo).exit_code == 0


K8S_RULES = REPLICAS.replace("package main", "package k8s.rules")


@pytest.mark.parametrize(("tail", "policy", "expected"), [
    ("manifests:\n  policies: [nothing/]\n", REPLICAS,
     "govops: error: govops.yaml:16: manifests.policies: 'nothing/' holds no .rego, .yaml or "
     ".yml file"),
    ("manifests:\n  packs: [no-such-pack]\n", REPLICAS,
     "govops: error: govops.yaml:16: manifests.packs: no pack named 'no-such-pack' ships with "
     "govops"),
    ("manifests:\n  policies: [../outside]\n", REPLICAS,
     "govops: error: govops.yaml:16: manifests.policies: '../outside' must be a path inside "
     "the repository"),
    ("manifests:\n  policies: [k8s/]\n  files: [deploy/]\n", REPLICAS,
     "govops: error: govops.yaml:17: manifests.files: 'deploy/' holds no .yaml or .yml file"),
    ("manifests:\n  policies: [k8s/]\n  files: [/etc/kubernetes]\n", REPLICAS,
     "govops: error: govops.yaml:17: manifests.files: '/etc/kubernetes' must be a path inside "
     "the repository"),
    ("manifests:\n  policies: [k8s/]\n  namespaces: [\"not a package\"]\n", REPLICAS,
     "govops: error: govops.yaml:17: manifests.namespaces: 'not a package' is not a Rego "
     "package name"),
    ("manifests:\n  policies: [k8s/]\n  namespaces: [k8s]\n", REPLICAS,
     "govops: error: govops.yaml:17: manifests.namespaces: no policy under manifests.policies is "
     "in package k8s (their packages: main)"),
    ("manifests:\n  policies: [k8s/]\n", K8S_RULES,  # the default namespace, main
     "govops: error: govops.yaml:16: manifests.namespaces: no policy under manifests.policies is "
     "in package main (their packages: k8s.rules)"),
])
def test_bad_manifest_configuration_is_one_line(tmp_path: Path, tail: str, policy: str,
                                               expected: str) -> None:
    run = check(_repo(tmp_path, _files({"k8s/replicas.rego": policy}, tail)))
    assert one_error_line(run).startswith(expected)


# -- Gatekeeper ----------------------------------------------------------------------------

GO_TOOLS = Path(__file__).resolve().parents[2] / ".cache" / "go-tools" / "bin"
GATOR_POLICIES = GO_TOOLS / "gatekeeper-gator-policies" / "default"
MAX_REPLICAS = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8smaxreplicas
spec:
  crd:
    spec:
      names:
        kind: K8sMaxReplicas
      validation:
        openAPIV3Schema:
          type: object
          properties:
            max: {type: integer}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8smaxreplicas

        import rego.v1

        violation contains {"msg": msg} if {
          replicas := input.review.object.spec.replicas
          replicas > input.parameters.max
          msg := sprintf("%v replicas, at most %v", [replicas, input.parameters.max])
        }
"""


# The same template in Rego v0, which Gatekeeper 3.18 requires (it refuses `import rego.v1`).
MAX_REPLICAS_V0 = MAX_REPLICAS.replace("        import rego.v1\n\n", "").replace(
    'violation contains {"msg": msg} if {', 'violation[{"msg": msg}] {')


def _constraint(name: str, spec: str) -> str:
    return ("apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sMaxReplicas\n"
            f"metadata:\n  name: {name}\nspec:\n{spec}")


DEPLOYMENTS = "  match:\n    kinds:\n      - apiGroups: [apps]\n        kinds: [Deployment]\n"


def _gatekeeper(tmp_path: Path, constraint: str) -> list[tuple[str, str, int, str, str]]:
    repo = _repo(tmp_path, _files({"k8s/template.yaml": MAX_REPLICAS,
                                   "k8s/constraint.yaml": constraint}))
    run = check(repo, "--format", "json")
    assert run.exit_code in (0, 1), run.stderr
    assert (run.exit_code == 1) == any(r[3] == "deny" for r in _manifest_results(run.json()))
    return _manifest_results(run.json())


def test_a_constraint_template_with_a_constraint_denies_at_the_workload_line(
        tmp_path: Path) -> None:
    found = _gatekeeper(tmp_path, _constraint("two", DEPLOYMENTS + "  parameters:\n    max: 2\n"))
    assert found == [("K8sMaxReplicas/two", STACK, CHAT_LINE, "deny",
                      "Deployment inference/chat: [two] 3 replicas, at most 2")]


def test_a_constraint_warns_when_its_enforcement_action_says_so(tmp_path: Path) -> None:
    for action in ("warn", "dryrun"):
        found = _gatekeeper(tmp_path / action, _constraint(
            "two", DEPLOYMENTS + f"  enforcementAction: {action}\n  parameters:\n    max: 2\n"))
        assert [(r[0], r[3]) for r in found] == [("K8sMaxReplicas/two", "warn")]


@pytest.mark.parametrize(("match", "workloads"), [
    ("    namespaces: [inference]\n", {"chat", "chat-fallback", "embeddings"}),
    ("    namespaces: [infer*]\n", {"chat", "chat-fallback", "embeddings"}),
    ("    excludedNamespaces: [inference]\n", {"playground", "support-eval"}),
    ("    labelSelector:\n      matchLabels: {govops.dev/workload: embeddings}\n",
     {"embeddings"}),
    ("    labelSelector:\n      matchExpressions:\n        - {key: govops.dev/workload, "
     "operator: NotIn, values: [chat]}\n", {"chat-fallback", "embeddings", "playground",
                                             "support-eval"}),
    ("    namespaceSelector:\n      matchLabels: {govops.dev/stack: dev-sandbox}\n",
     {"playground", "support-eval"}),
    ("    scope: Cluster\n", set()),
])
def test_a_constraint_judges_only_what_it_matches(tmp_path: Path, match: str,
                                                 workloads: set[str]) -> None:
    found = _gatekeeper(tmp_path, _constraint("none", DEPLOYMENTS + match
                                              + "  parameters:\n    max: 0\n"))
    assert {r[4].split(":")[0].rpartition("/")[2] for r in found} == workloads


def test_gatekeepers_own_template_and_constraint_run_unchanged(tmp_path: Path) -> None:
    """Rego v0, as Gatekeeper's test data (and the gatekeeper-library) writes templates."""
    template = (GATOR_POLICIES / "template_k8srequiredlabels.yaml").read_text()
    constraint = (GATOR_POLICIES / "constraint_k8srequiredlabels.yaml").read_text()
    assert "violation[{" in template  # v0
    repo = _repo(tmp_path, _files({"k8s/template.yaml": template, "k8s/owner.yaml": constraint}))
    run = check(repo, "--format", "json")
    assert run.exit_code == 1, run.stderr
    message = ("[all-must-have-owner] All namespaces must have an `owner` label that points to "
               "your company username")
    owner = "K8sRequiredLabels/all-must-have-owner"
    assert _manifest_results(run.json()) == [  # spec.namespace, and spec.gpu.operator's own
        (owner, "stacks/dev-sandbox.yaml", 13, "deny", f"Namespace sandbox: {message}"),
        (owner, "stacks/dev-sandbox.yaml", 17, "deny", f"Namespace gpu-operator: {message}"),
        (owner, STACK, 13, "deny", f"Namespace inference: {message}")]


@pytest.mark.parametrize(("files", "expected"), [
    ({"k8s/c.yaml": _constraint("x", DEPLOYMENTS)},
     "govops: error: k8s/c.yaml:1: constraint kind 'K8sMaxReplicas': no ConstraintTemplate"),
    ({"k8s/t.yaml": MAX_REPLICAS.replace("violation contains", "allow contains")},
     "govops: error: k8s/t.yaml:1: ConstraintTemplate K8sMaxReplicas: its Rego defines no "
     "violation rule"),
    ({"k8s/t.yaml": MAX_REPLICAS,
      "k8s/c.yaml": _constraint("x", DEPLOYMENTS + "  enforcementAction: block\n")},
     "govops: error: k8s/c.yaml:1: K8sMaxReplicas x: enforcementAction 'block' is not one of"),
    ({"k8s/t.yaml": MAX_REPLICAS, "k8s/d.yaml": "apiVersion: v1\nkind: ConfigMap\n"},
     "govops: error: k8s/d.yaml:1: ConfigMap (apiVersion v1) is neither a Gatekeeper"),
    ({"k8s/t.yaml": MAX_REPLICAS + "\n---\n" + MAX_REPLICAS},
     "govops: error: k8s/t.yaml:29: ConstraintTemplate K8sMaxReplicas is also defined in "
     "k8s/t.yaml"),
    ({"k8s/t.yaml": MAX_REPLICAS,
      "k8s/c.yaml": _constraint("x", DEPLOYMENTS + "  parameters:\n    maximum: 2\n")},
     "govops: error: k8s/c.yaml:1: K8sMaxReplicas x: spec.parameters.maximum is not a "
     "parameter its ConstraintTemplate declares"),
    ({"k8s/t.yaml": MAX_REPLICAS,
      "k8s/c.yaml": _constraint("x", DEPLOYMENTS + "  parameters:\n    max: two\n")},
     "govops: error: k8s/c.yaml:1: K8sMaxReplicas x: spec.parameters do not fit its "
     "ConstraintTemplate's schema:"),
    ({"k8s/t.yaml": MAX_REPLICAS.replace("        openAPIV3Schema:", "        unused:"),
      "k8s/c.yaml": _constraint("x", DEPLOYMENTS + "  parameters:\n    max: 2\n")},
     "govops: error: k8s/c.yaml:1: K8sMaxReplicas x: spec.parameters, but its "
     "ConstraintTemplate declares none"),
    ({"k8s/t.yaml": MAX_REPLICAS,
      "k8s/c.yaml": _constraint("x", DEPLOYMENTS + "    labelSelector:\n      matchExpressions:"
                                "\n        - {key: a, operator: Equals, values: [b]}\n")},
     "govops: error: k8s/c.yaml:1: K8sMaxReplicas x: spec.match.labelSelector: operator "
     "'Equals' is not one of In, NotIn, Exists, DoesNotExist"),
    ({"k8s/t.yaml": MAX_REPLICAS + "  bad: [\n"},
     "govops: error: k8s/t.yaml:2"),
    ({"k8s/t.yaml": MAX_REPLICAS.replace("replicas > input.parameters.max", "replicas > cap")},
     "govops: error: k8s/t.yaml:24: rego_unsafe_var_error: var cap is unsafe (ConstraintTemplate "
     "K8sMaxReplicas)"),
])
def test_a_bad_template_or_constraint_is_one_line(tmp_path: Path, files: dict[str, str],
                                                 expected: str) -> None:
    run = check(_repo(tmp_path, _files(files)))
    assert one_error_line(run).startswith(expected)


# -- the same verdicts as conftest itself ---------------------------------------------------

CONFTEST = GO_TOOLS / "conftest"
CONFTEST_EXAMPLE = GO_TOOLS / "conftest-kubernetes-example" / "policy"


def _conftest_verdicts(policy: Path, manifests: Path) -> set[tuple[str, str, str]]:
    """(severity, object, message) of every failure and warning `conftest test` reports."""
    import json
    import subprocess

    import yaml

    done = subprocess.run([str(CONFTEST), "test", "--no-color", "-o", "json", "-p", str(policy),
                           str(manifests)], capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), done.stderr
    found = set()
    for report in json.loads(done.stdout):
        obj = yaml.safe_load(Path(report["filename"]).read_text())
        metadata = obj["metadata"]
        namespace = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
        shown = f"{obj['kind']} {namespace}{metadata['name']}"
        for key, severity in (("failures", "deny"), ("warnings", "warn")):
            found |= {(severity, shown, m["msg"]) for m in report.get(key) or ()}
    return found


def test_conftests_own_kubernetes_example_gives_what_conftest_gives(tmp_path: Path) -> None:
    """The example's five policy files, unchanged, against every stack: govops reports each
    failure and warning conftest reports on the manifests `plan --output` writes, no more."""
    from tests.support.cli import govops

    example = {f"k8s/{p.name}": p.read_text() for p in CONFTEST_EXAMPLE.glob("*.rego")}
    assert {"k8s/deny.rego", "k8s/labels.rego", "k8s/violation.rego", "k8s/warn.rego"} <= set(
        example)
    repo = _repo(tmp_path, _files(example))
    run = check(repo, "--format", "json")
    assert run.exit_code == 1, run.stderr
    ours = {(r[3], r[4].split(": ", 1)[0], r[4].split(": ", 1)[1])
            for r in _manifest_results(run.json())}
    theirs: set[tuple[str, str, str]] = set()
    for stack in ("prod-inference", "dev-sandbox"):
        out = tmp_path / stack
        planned = govops("plan", "--repo", str(repo), "--stack", stack, "--engine", "opa",
                         "--output", str(out), "--now", "2026-11-20T12:00:00Z")
        assert planned.exit_code in (0, 1), planned.stderr  # 1: the decision fails
        theirs |= _conftest_verdicts(CONFTEST_EXAMPLE, out)
    assert theirs, "conftest found nothing: the comparison would prove nothing"
    assert ours == theirs


GATOR = GO_TOOLS / "gator"
PARITY_CONSTRAINTS = "\n---\n".join([
    _constraint("two", DEPLOYMENTS + "  parameters:\n    max: 2\n"),
    _constraint("one-in-inference", DEPLOYMENTS + "    namespaces: [infer*]\n"
                "  enforcementAction: warn\n  parameters:\n    max: 1\n"),
    _constraint("none-outside-inference", DEPLOYMENTS + "    excludedNamespaces: [inference]\n"
                "  enforcementAction: dryrun\n  parameters:\n    max: 0\n"),
    _constraint("embeddings", DEPLOYMENTS + "    labelSelector:\n      matchExpressions:\n"
                "        - {key: govops.dev/workload, operator: In, values: [embeddings]}\n"
                "  parameters:\n    max: 1\n"),
    _constraint("sandbox", DEPLOYMENTS + "    namespaceSelector:\n      matchLabels: "
                "{govops.dev/stack: dev-sandbox}\n  parameters:\n    max: 0\n"),
])


def _gator_verdicts(policies: Path, manifests: Path) -> set[tuple[str, str, str, str]]:
    """(policy id, severity, object, message) of every violation `gator test` reports."""
    import json
    import subprocess

    done = subprocess.run([str(GATOR), "test", "-f", str(policies), "-f", str(manifests), "-o",
                           "json"], capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL)
    assert done.returncode in (0, 1) and not done.stderr.strip(), done.stderr
    found = set()
    for violation in json.loads(done.stdout):
        obj, constraint = violation["violatingObject"], violation["constraint"]
        metadata = obj["metadata"]
        namespace = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
        found.add((f"{constraint['kind']}/{constraint['metadata']['name']}",
                   "deny" if violation["enforcementAction"] == "deny" else "warn",
                   f"{obj['kind']} {namespace}{metadata['name']}",
                   f"[{constraint['metadata']['name']}] {violation['msg']}"))
    return found


def test_gatekeeper_policies_give_what_gatekeepers_gator_gives(tmp_path: Path) -> None:
    """Templates (Gatekeeper's own and one of ours, Rego v0 as Gatekeeper takes them) and
    constraints with every kind of match, against every stack: the same violations as gator, Gatekeeper's CLI, reports on
    the manifests `plan --output` writes."""
    from tests.support.cli import govops

    policies = {"k8s/labels-template.yaml": (GATOR_POLICIES / "template_k8srequiredlabels.yaml")
                .read_text(),
                "k8s/labels.yaml": (GATOR_POLICIES / "constraint_k8srequiredlabels.yaml")
                .read_text(),
                "k8s/replicas-template.yaml": MAX_REPLICAS_V0,
                "k8s/replicas.yaml": PARITY_CONSTRAINTS}
    assert MAX_REPLICAS_V0.count("violation[{") == 1
    repo = _repo(tmp_path, _files(policies))
    run = check(repo, "--format", "json")
    assert run.exit_code == 1, run.stderr
    ours = {(r[0], r[3], *r[4].split(": ", 1)) for r in _manifest_results(run.json())}
    folder = tmp_path / "policies"
    folder.mkdir()
    for name, text in policies.items():
        (folder / name.removeprefix("k8s/")).write_text(text)
    theirs: set[tuple[str, ...]] = set()
    for stack in ("prod-inference", "dev-sandbox"):
        out = tmp_path / stack
        planned = govops("plan", "--repo", str(repo), "--stack", stack, "--engine", "opa",
                         "--output", str(out), "--now", "2026-11-20T12:00:00Z")
        assert planned.exit_code in (0, 1), planned.stderr
        theirs |= _gator_verdicts(folder, out)
    assert {p[0] for p in theirs} == {  # every constraint found something: a real comparison
        "K8sRequiredLabels/all-must-have-owner", "K8sMaxReplicas/two",
        "K8sMaxReplicas/one-in-inference", "K8sMaxReplicas/none-outside-inference",
        "K8sMaxReplicas/embeddings", "K8sMaxReplicas/sandbox"}
    assert ours == theirs


# -- waivers, which stacks, rendering failures ------------------------------------------------

REPLICAS_WAIVER = """apiVersion: govops.dev/v1
kind: Waiver
metadata:
  name: chat-needs-three
spec:
  policy: main.deny
  target:
    kind: Stack
    name: prod-inference
  reason: The chat workload needs three replicas through the launch (CAP-77)
  approvedBy: [alice@acme.test, legal-review@acme.test]
  expires: 2027-01-15
"""


def test_a_manifest_result_is_waived_like_any_result(tmp_path: Path) -> None:
    from tests.support.approvals import approve_all

    repo = _repo(tmp_path, _files({"k8s/replicas.rego": REPLICAS,
                                   "waivers/chat-needs-three.yaml": REPLICAS_WAIVER}))
    assert approve_all(repo, tmp_path / "keys") == ["chat-needs-three"]
    run = check(repo, "--format", "json")
    assert run.exit_code == 0, run.stdout
    waived = [(w["id"], w["file"], w["line"], w["waiver"]) for w in run.json()["waived"]]
    assert waived == [("main.deny", STACK, CHAT_LINE, "chat-needs-three")]


def test_a_staged_check_renders_only_the_stacks_the_change_touches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pygit2

    import engine.commands.manifest_check as manifest_check
    from engine.repo.scripted import stage

    repo = _repo(tmp_path, _files({"k8s/replicas.rego": REPLICAS}))
    asked: list[list[str]] = []
    real = manifest_check.rendered

    def spy(*args: object, **named: object) -> object:
        asked.append(list(args[3]))  # type: ignore[call-overload]
        return real(*args, **named)  # type: ignore[arg-type]

    monkeypatch.setattr(manifest_check, "rendered", spy)
    check(repo)
    assert asked == [["dev-sandbox", "prod-inference"]]  # a full check: every stack
    model = (repo / "models" / "bge-large-en-v1.5.yaml").read_text()
    stage(pygit2.Repository(str(repo)), write={
        "models/bge-large-en-v1.5.yaml": model.replace("risk: minimal", "risk: limited")})
    asked.clear()
    staged = check(repo, "--staged", "--format", "json")
    assert staged.exit_code == 1  # chat's three replicas: prod-inference serves bge-large
    assert asked == [["prod-inference"]]
    stage(pygit2.Repository(str(repo)), write={"govops.yaml": (repo / "govops.yaml").read_text()
                                               + "# a comment\n"})
    asked.clear()
    check(repo, "--staged")
    assert asked == [["dev-sandbox", "prod-inference"]]  # govops.yaml changed: every stack


def test_a_stack_that_cannot_be_rendered_is_denied(tmp_path: Path) -> None:
    files = _files({"k8s/replicas.rego": REPLICAS})
    stack = files[STACK].decode()
    assert "    type: nvidia-h100-80gb\n" in stack
    files[STACK] = stack.replace("    type: nvidia-h100-80gb\n", "    type: nvidia-x1\n").encode()
    run = check(_repo(tmp_path, files), "--format", "json")
    assert run.exit_code == 1
    render = [r for r in run.json()["results"] if r["id"] == "govops.render"]
    assert [(r["file"], r["name"]) for r in render] == [(STACK, "prod-inference")]
    assert "GPU type 'nvidia-x1' has no nvidia.com/gpu.product" in render[0]["msg"]


def test_policy_test_runs_the_manifest_policies_own_unit_tests(tmp_path: Path) -> None:
    """conftest's example ships its unit tests (base_test.rego) beside its policies: `govops
    policy test --repo` runs them, as `conftest verify` does, and a broken policy fails them."""
    from tests.support.cli import govops

    example = {f"k8s/{p.name}": p.read_text() for p in CONFTEST_EXAMPLE.glob("*.rego")}
    assert "k8s/base_test.rego" in example
    repo = _repo(tmp_path / "good", _files(example))
    run = govops("policy", "test", "--repo", str(repo), "--engine", "opa", "--format", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    names = {r["name"] for r in run.json()["results"] if r["package"] == "data.main"}
    assert {"test_deployment_without_security_context", "test_services_issue_warning"} <= names
    broken = {**example, "k8s/warn.rego": example["k8s/warn.rego"].replace(
        "kubernetes.is_service", "kubernetes.is_deployment")}
    failed = govops("policy", "test", "--repo", str(_repo(tmp_path / "bad", _files(broken))),
                    "--engine", "opa")
    assert failed.exit_code == 1
    assert "test_services_issue_warning" in failed.stdout


def test_a_recorded_bundle_replays_the_manifest_policies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundle a decision records carries the manifest policies (modules, namespaces,
    constraints): replaying it decides as recorded after the pack on disk has changed."""
    from engine.commands.check import CheckOptions, replay_check, run_check
    from engine.policy.library import PolicyBundle

    pack = tmp_path / "packs" / "acme"
    pack.mkdir(parents=True)
    (pack / "template.yaml").write_text(MAX_REPLICAS)
    (pack / "constraint.yaml").write_text(_constraint("two", DEPLOYMENTS
                                                      + "  parameters:\n    max: 2\n"))
    monkeypatch.setenv("GOVOPS_POLICY_PACKS", str(tmp_path / "packs"))
    repo = _repo(tmp_path, _files({}, tail="manifests:\n  packs: [acme]\n"))
    options = CheckOptions(repo=repo, engine="opa", now="2026-11-20T12:00:00Z")
    checked = run_check(options)
    assert [r.id for r in checked.decision.results] == ["K8sMaxReplicas/two"]
    recorded = PolicyBundle.decode(checked.bundle.encode(), "policy-bundle.json")
    (pack / "constraint.yaml").write_text(_constraint("two", DEPLOYMENTS
                                                      + "  parameters:\n    max: 5\n"))
    assert run_check(options).decision.results == ()  # today's pack allows five
    replayed = replay_check(options, recorded, checked.now)
    assert replayed.decision.decision_id == checked.decision.decision_id


# -- plain Kubernetes YAML of the repository, conftest's exceptions ----------------------------

EXCEPTIONS = GO_TOOLS / "conftest-exceptions-example"


def _exceptions_repo(tmp_path: Path) -> Path:
    """conftest's exceptions example as published: a policy whose `exception` rule excepts
    `run_as_root` for one Deployment, and a stream of two Deployments to judge."""
    files = {f"k8s/{p.name}": p.read_text() for p in (EXCEPTIONS / "policy").glob("*.rego")}
    files["deploy/deployments.yaml"] = (EXCEPTIONS / "deployments.yaml").read_text()
    tail = CONFIG_TAIL + "  files: [deploy/]\n"
    return _repo(tmp_path, _files(files, tail))


def test_plain_kubernetes_yaml_is_judged_with_conftests_exceptions_as_conftest_does(
        tmp_path: Path) -> None:
    import subprocess

    repo = _exceptions_repo(tmp_path)
    run = check(repo, "--format", "json")
    assert run.exit_code == 1, run.stderr
    assert [(r["id"], r["file"], r["line"], r["kind"], r["name"], r["msg"])
            for r in run.json()["results"]] == [
        ("main.deny_run_as_root", "deploy/deployments.yaml", 1, "File",
         "deploy/deployments.yaml", "Deployment cannot-run-as-root: Containers must not run as "
         "root in Deployment cannot-run-as-root")]
    done = subprocess.run([str(CONFTEST), "test", "--no-color", "-p",
                           str(EXCEPTIONS / "policy"), str(EXCEPTIONS / "deployments.yaml")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "1 failure, 1 exception" in done.stdout  # the same failure, the other excepted
    assert "Containers must not run as root in Deployment cannot-run-as-root" in done.stdout


def test_a_staged_check_judges_only_the_plain_files_it_changes(tmp_path: Path) -> None:
    import pygit2

    from engine.repo.scripted import stage

    repo = _exceptions_repo(tmp_path)
    stage(pygit2.Repository(str(repo)), write={"deploy/other.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: new-one\nspec:\n"
        "  template:\n    spec:\n      containers: [{name: c, image: nginx}]\n")})
    run = check(repo, "--staged", "--format", "json")
    assert run.exit_code == 1
    assert [(r["file"], r["msg"].split(":")[0]) for r in run.json()["results"]] == [
        ("deploy/other.yaml", "Deployment new-one")]


@pytest.mark.parametrize(("exception", "expected"), [
    ('exception contains "run_as_root" if true',
     "data.main.exception: must be a set of lists of rule names"),
])
def test_an_exception_govops_cannot_read_fails_the_check(tmp_path: Path, exception: str,
                                                         expected: str) -> None:
    policy = (EXCEPTIONS / "policy" / "policy.rego").read_text()
    files = {"k8s/policy.rego": policy, "k8s/exception.rego":
             f"package main\n\nimport rego.v1\n\n{exception}\n",
             "deploy/deployments.yaml": (EXCEPTIONS / "deployments.yaml").read_text()}
    run = check(_repo(tmp_path, _files(files, CONFIG_TAIL + "  files: [deploy/]\n")))
    assert run.exit_code == 2
    assert expected in one_error_line(run)


@pytest.mark.parametrize(("fmt", "expected"), [
    ("text", "main.deny"),
    ("markdown", "main.deny"),
    ("github", f"::error file={STACK},line={CHAT_LINE}"),
    ("junit", "main.deny"),
])
def test_a_manifest_result_shows_in_every_format(tmp_path: Path, fmt: str,
                                                 expected: str) -> None:
    run = check(_repo(tmp_path, _files({"k8s/replicas.rego": REPLICAS})), "--format", fmt)
    assert run.exit_code == 1
    assert expected in run.stdout
    if fmt == "text":  # a table: the message wraps, the place does not
        assert f"{STACK}:{CHAT_LINE}" in run.stdout
    else:
        assert "Deployment chat runs 3 replicas" in run.stdout


def test_a_manifest_result_in_sarif_points_at_the_stack_line(tmp_path: Path) -> None:
    import json

    run = check(_repo(tmp_path, _files({"k8s/replicas.rego": REPLICAS})), "--format", "sarif")
    assert run.exit_code == 1
    results = json.loads(run.stdout)["runs"][0]["results"]
    located = [(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results]
    assert ("main.deny", STACK, CHAT_LINE) in located
