"""The manifest-policy part of `govops check`: render the stacks a check judges (as `plan`
renders them, in Pulumi's mock mode) and run the repository's conftest and Gatekeeper
policies against every object, into results of the decision.

Only when govops.yaml asks for manifest policies: rendering imports Pulumi, which the
pre-commit path otherwise never loads. A full check renders every stack; a check against a
base (`--staged`, `--base`) renders the stacks the change touches: a changed Stack, a Stack
naming a changed Model or Environment, and every Stack when govops.yaml, a manifest policy or
a vendored chart changed. With `manifests.files`, the plain Kubernetes YAML under those paths
is judged too (against a base, only the files the change touches), each object at the line its
document starts on. The decision and AIBOM a manifest names are not known before the
decision is made, so the objects are rendered with a placeholder decision id and AIBOM serial
(docs/policies.md); everything else is what `plan` renders for the same revision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from engine.catalog import Catalog
from engine.catalog.changes import ObjectDiff
from engine.catalog.load import CONFIG_PATH
from engine.encoding import decode_utf8
from engine.errors import GovopsError, InputError
from engine.policy.backends import RegoBackend
from engine.policy.decision import Result
from engine.policy.manifest_eval import ManifestTarget, manifest_results
from engine.policy.manifest_sources import ManifestPolicies, yaml_documents
from engine.repo import GitRepo, Snapshot
from engine.repo.snapshot import diff_snapshots

PENDING_DECISION = "sha256:" + "0" * 64
PENDING_SERIAL = "urn:uuid:00000000-0000-0000-0000-000000000000"
RENDER_POLICY = "govops.render"
FILE_KIND = "File"  # the kind of a result about a plain YAML file of the repo (its path)


def _changed(base: Snapshot | None, head: Snapshot, policies: ManifestPolicies
             ) -> set[str] | None:
    """The paths a check against `base` changes; None when everything is to be judged again
    (no base, or govops.yaml or a manifest policy changed)."""
    if base is None:
        return None
    changed = {c.path for c in diff_snapshots(base, head)}
    sources = {m.path.partition("#")[0] for m in policies.modules}
    sources |= {c.path for c in policies.constraints}
    return None if changed & sources or CONFIG_PATH in changed else changed


def judged_stacks(catalog: Catalog, base: Snapshot | None, head: Snapshot,
                  diffs: Sequence[ObjectDiff], policies: ManifestPolicies) -> list[str]:
    """The stacks whose manifests this check judges (see the module docstring)."""
    stacks = catalog.objects.get("Stack", {})
    changed = _changed(base, head, policies)
    charts = tuple(f"{str(chart).strip('/')}/" for stack in stacks.values()
                   if isinstance(chart := ((stack.doc.get("spec", {}).get("gpu") or {})
                                           .get("operator") or {}).get("chart"), str))
    if changed is None or any(c.startswith(charts) for c in changed):
        return sorted(stacks)
    touched = {(d.kind, d.name) for d in diffs}
    out = []
    for name, stack in sorted(stacks.items()):
        workloads = stack.doc.get("spec", {}).get("workloads") or []
        if ("Stack", name) in touched or any(
                ("Model", w.get("model")) in touched or ("Environment", w.get("environment"))
                in touched for w in workloads if isinstance(w, dict)):
            out.append(name)
    return out


def rendered(repo: GitRepo, snapshot: Snapshot, catalog: Catalog, stacks: Iterable[str]
             ) -> tuple[list[ManifestTarget], list[Result]]:
    """Every object the stacks render, located at its stack's line; a deny result for a
    stack that cannot be rendered (its manifests would otherwise go unjudged)."""
    from engine.deploy.charts import ChartSource
    from engine.deploy.provenance import stack_field
    from engine.deploy.render import build_plan  # imports pulumi
    from engine.deploy.spec import build_stack_spec

    charts = ChartSource(snapshot.files, repo.read_blob)
    revision = snapshot.info.commit or "0" * 40
    targets: list[ManifestTarget] = []
    failures: list[Result] = []
    for name in stacks:
        stack = catalog.objects["Stack"][name]
        try:
            spec = build_stack_spec(catalog, name, revision, PENDING_DECISION, PENDING_SERIAL,
                                    charts=charts)
            plan = build_plan(spec)
        except GovopsError as exc:
            failures.append(Result(
                file=stack.path, line=stack.line_of("spec"), id=RENDER_POLICY, kind="Stack",
                name=name, severity="deny", field="spec",
                msg=f"Stack {name} cannot be rendered, so the manifest policies cannot judge "
                    f"its objects: {exc}"))
            continue
        for manifest in plan.manifests:
            field = stack_field(stack.doc, manifest.doc)
            targets.append(ManifestTarget(manifest.doc, stack.path, stack.line_of(field),
                                          "Stack", name, field))
    return targets, failures


def plain_targets(repo: GitRepo, head: Snapshot, catalog: Catalog,
                  only: set[str] | None) -> list[ManifestTarget]:
    """The Kubernetes objects of the YAML files under `manifests.files` (those in `only`,
    when given), each at the line its document starts on; a govops file or YAML that is no
    Kubernetes object (no apiVersion and kind) is left alone."""
    config = catalog.config
    targets: list[ManifestTarget] = []
    for i, declared in enumerate(config.manifest_files):
        prefix = declared.strip("/")
        paths = sorted(p for p in head.files if p.endswith((".yaml", ".yml"))
                       and (p == prefix or p.startswith(prefix + "/")))
        if not paths:
            raise InputError(config.path or CONFIG_PATH,
                             config.lines.get(f"manifests.files[{i}]"),
                             f"manifests.files: {declared!r} holds no .yaml or .yml file")
        for path in paths:
            entry = head.files[path]
            if (only is not None and path not in only) or entry.is_symlink:
                continue
            for line, obj in yaml_documents(path, decode_utf8(path, repo.read_blob(entry.oid))):
                if isinstance(obj, Mapping) and isinstance(obj.get("kind"), str) \
                        and isinstance(obj.get("apiVersion"), str) \
                        and not obj["apiVersion"].startswith("govops.dev/"):
                    targets.append(ManifestTarget(obj, path, line, FILE_KIND, path))
    return targets


def manifest_check(repo: GitRepo, backend: RegoBackend, policies: ManifestPolicies,
                   catalog: Catalog, base: Snapshot | None, head: Snapshot,
                   diffs: Sequence[ObjectDiff]) -> list[Result]:
    """The results of the manifest policies on the stacks this check judges, and on the
    plain Kubernetes YAML of the repository when govops.yaml names some."""
    if not policies:
        return []
    targets, failures = rendered(repo, head, catalog,
                                 judged_stacks(catalog, base, head, diffs, policies))
    targets += plain_targets(repo, head, catalog, _changed(base, head, policies))
    return [*failures, *manifest_results(backend, policies, targets)]
