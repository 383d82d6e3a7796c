"""The Kubernetes policies a repository runs against the manifests `plan` renders: conftest-style
Rego (namespaces of `deny`/`violation`/`warn` rules, as `conftest test --namespace` runs them)
and Gatekeeper ConstraintTemplates with their constraints, from the revision's
`manifests.policies` paths and the packs govops ships (`manifests.packs`).

Teams arrive with these policies already written; they must run unchanged. Everything is read
from git objects of the evaluated revision, and carried in the policy bundle (modules, plus
what to evaluate in `data.govops.manifests`), so a recorded decision replays them exactly.
A template's Rego is loaded under `govops_gatekeeper.<kind>` (Gatekeeper, too, keeps each
template in a package of its own) and padded so that its line numbers are those of the YAML
file it is written in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.catalog import Config
from engine.encoding import decode_utf8, require_utf8_name
from engine.errors import InputError
from engine.policy.library import PolicyModule
from engine.policy.metadata import package_of
from engine.repo import GitRepo, Snapshot
from engine.shipped import packs_dir

GATEKEEPER_ROOT = "govops_gatekeeper"
GATEKEEPER_TARGET = "admission.k8s.gatekeeper.sh"
PACK_PREFIX = "@govops/packs/"
ACTIONS = ("deny", "warn", "dryrun")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_PACKAGE_LINE = re.compile(r"^([ \t]*package[ \t]+)(\S+)", re.M)
_VIOLATION_RULE = re.compile(r"^[ \t]*violation\b", re.M)
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]*")


@dataclass(frozen=True)
class Constraint:
    """One Gatekeeper constraint: which objects it matches, and the template that judges them."""

    kind: str  # the template's CRD kind, e.g. K8sRequiredLabels
    name: str
    package: str  # the template's Rego: data.<package>.violation
    match: Mapping[str, Any]
    parameters: Any
    action: str  # deny | warn | dryrun (enforcementAction)
    path: str
    line: int

    @property
    def id(self) -> str:
        """The policy id of its results (what a waiver names)."""
        return f"{self.kind}/{self.name}"

    def as_data(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "package": self.package,
                "match": dict(self.match), "parameters": self.parameters,
                "action": self.action, "path": self.path, "line": self.line}

    @classmethod
    def from_data(cls, raw: Mapping[str, Any]) -> Constraint:
        return cls(str(raw["kind"]), str(raw["name"]), str(raw["package"]),
                   dict(raw.get("match") or {}), raw.get("parameters"),
                   str(raw.get("action") or "deny"), str(raw["path"]), int(raw["line"]))


@dataclass(frozen=True)
class ManifestPolicies:
    """conftest modules, template modules, the namespaces asked for and the constraints."""

    conftest: tuple[PolicyModule, ...] = ()
    templates: tuple[PolicyModule, ...] = ()
    namespaces: tuple[str, ...] = ("main",)
    constraints: tuple[Constraint, ...] = ()

    @property
    def modules(self) -> tuple[PolicyModule, ...]:
        return (*self.conftest, *self.templates)

    def __bool__(self) -> bool:
        return bool(self.conftest or self.constraints)

    def evaluated_namespaces(self) -> tuple[str, ...]:
        """The conftest namespaces asked: `*` is every package of the conftest modules (as
        conftest's --all-namespaces), the others as written."""
        found: list[str] = []
        for namespace in self.namespaces:
            if namespace == "*":
                found += [p for m in self.conftest if (p := package_of(m.source)) is not None]
            else:
                found.append(namespace)
        return tuple(dict.fromkeys(found))

    def as_data(self) -> dict[str, Any]:
        """What `data.govops.manifests` holds: enough to evaluate from a recorded bundle."""
        return {"namespaces": list(self.namespaces),
                "conftest": [m.path for m in self.conftest],
                "templates": [m.path for m in self.templates],
                "constraints": [c.as_data() for c in self.constraints]}

    @classmethod
    def of_bundle(cls, modules: Sequence[PolicyModule], data: Mapping[str, Any]
                  ) -> ManifestPolicies:
        """The manifest policies a (possibly recorded) bundle carries; none when it has none."""
        raw = (data.get("govops") or {}).get("manifests")
        if not isinstance(raw, Mapping):
            return cls()
        by_path = {m.path: m for m in modules}
        return cls(tuple(by_path[p] for p in raw.get("conftest") or () if p in by_path),
                   tuple(by_path[p] for p in raw.get("templates") or () if p in by_path),
                   tuple(str(n) for n in raw.get("namespaces") or ("main",)),
                   tuple(Constraint.from_data(c) for c in raw.get("constraints") or ()))


@dataclass(frozen=True)
class _File:
    path: str  # as shown: a repo path, or @govops/packs/<pack>/...
    text: str


def read_manifest_policies(repo: GitRepo, snapshot: Snapshot, config: Config
                           ) -> ManifestPolicies:
    """The manifest policies govops.yaml asks for at this revision (none when it asks none).
    InputError (file:line) for a path that holds nothing, an unknown pack, a template or
    constraint that is not one."""
    if not config.manifest_policies:
        return ManifestPolicies(namespaces=config.manifest_namespaces)
    files = [*_repo_files(repo, snapshot, config), *_pack_files(config)]
    conftest: list[PolicyModule] = []
    templates: dict[str, PolicyModule] = {}
    template_paths: dict[str, str] = {}
    schemas: dict[str, Any] = {}  # kind -> the parameters' openAPIV3Schema (None: none)
    pending: list[tuple[str, int, Mapping[str, Any]]] = []
    for file in files:
        if file.path.endswith(".rego"):
            if not file.path.endswith("_test.rego"):  # unit tests: `govops policy test`
                conftest.append(PolicyModule(file.path, file.text))
            continue
        for line, doc in _documents(file):
            kind = doc.get("kind")
            api = str(doc.get("apiVersion") or "")
            if kind == "ConstraintTemplate" and api.startswith("templates.gatekeeper.sh/"):
                crd_kind, modules = _template_modules(file, line, doc)
                if crd_kind in template_paths:
                    raise InputError(file.path, line, f"ConstraintTemplate {crd_kind} is also "
                                     f"defined in {template_paths[crd_kind]}")
                template_paths[crd_kind] = file.path
                schemas[crd_kind] = _at(doc, "spec", "crd", "spec", "validation",
                                        "openAPIV3Schema")
                templates.update((m.path, m) for m in modules)
            elif api.startswith("constraints.gatekeeper.sh/"):
                pending.append((file.path, line, doc))
            else:
                raise InputError(file.path, line, f"{kind or 'a document'} "
                                 f"({f'apiVersion {api}' if api else 'no apiVersion'}) is "
                                 "neither a Gatekeeper ConstraintTemplate nor a "
                                 "constraint; manifests.policies holds Rego files, templates "
                                 "and constraints")
    constraints = tuple(_constraint(path, line, doc, template_paths, schemas)
                        for path, line, doc in pending)
    _require_namespaces(config, conftest)
    from engine.policy.rego_v0 import upgrade_v0

    upgraded = upgrade_v0([*conftest, *templates.values()]).modules
    return ManifestPolicies(tuple(upgraded[:len(conftest)]), tuple(upgraded[len(conftest):]),
                            config.manifest_namespaces, constraints)


def _require_namespaces(config: Config, conftest: Sequence[PolicyModule]) -> None:
    """A namespace no module declares would evaluate nothing, and the policies meant for it
    would pass everything in silence (a `package k8s` policy with the default `main`)."""
    if not conftest:
        return
    packages = sorted({p for m in conftest if (p := package_of(m.source)) is not None})
    for i, namespace in enumerate(config.manifest_namespaces):
        if namespace != "*" and not any(p == namespace or p.startswith(f"{namespace}.")
                                        for p in packages):
            at = (f"manifests.namespaces[{i}]" if f"manifests.namespaces[{i}]" in config.lines
                  else "manifests.policies")
            raise InputError(config.path or "govops.yaml", config.lines.get(at),
                             f"manifests.namespaces: no policy under manifests.policies is in "
                             f"package {namespace} (their packages: {', '.join(packages)}); "
                             "name the namespaces to evaluate, or * for every one")


def manifest_rego_modules(repo: GitRepo, snapshot: Snapshot, config: Config
                          ) -> list[PolicyModule]:
    """The .rego files under `manifests.policies`, their unit tests included: what `govops
    policy test --repo` tests beside the govops policies (as `conftest verify` would)."""
    return [PolicyModule(f.path, f.text) for f in _repo_files(repo, snapshot, config)
            if f.path.endswith(".rego")]


def _repo_files(repo: GitRepo, snapshot: Snapshot, config: Config) -> Iterator[_File]:
    for i, declared in enumerate(config.manifest_paths):
        prefix = declared.strip("/")
        matches = sorted(p for p in snapshot.files
                         if p.endswith((".rego", ".yaml", ".yml"))
                         and (p == prefix or p.startswith(prefix + "/")))
        if not matches:
            raise InputError(config.path or "govops.yaml",
                             config.lines.get(f"manifests.policies[{i}]"),
                             f"manifests.policies: {declared!r} holds no .rego, .yaml or .yml "
                             "file")
        for path in matches:
            require_utf8_name(path)
            entry = snapshot.files[path]
            if entry.is_symlink:
                raise InputError(path, None, "is a symlink; govops reads only regular files")
            yield _File(path, decode_utf8(path, repo.read_blob(entry.oid)))


def _pack_files(config: Config) -> Iterator[_File]:
    root = packs_dir()
    shipped = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for i, name in enumerate(config.manifest_packs):
        if name not in shipped:
            raise InputError(config.path or "govops.yaml",
                             config.lines.get(f"manifests.packs[{i}]"),
                             f"manifests.packs: no pack named {name!r} ships with govops "
                             f"(packs: {', '.join(shipped) or 'none'})")
        for path in sorted((root / name).rglob("*")):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and path.suffix in (".rego", ".yaml", ".yml") \
                    and "/samples/" not in f"/{rel}":
                shown = PACK_PREFIX + rel
                yield _File(shown, decode_utf8(shown, Path(path).read_bytes()))


def _documents(file: _File) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for line, value in yaml_documents(file.path, file.text):
        if not isinstance(value, Mapping):
            raise InputError(file.path, line,
                             "expected a ConstraintTemplate or a constraint (a mapping)")
        yield line, value


def yaml_documents(path: str, text: str) -> Iterator[tuple[int, Any]]:
    """(first line, value) of each non-empty document of a YAML stream (safe YAML, as
    kubectl and Gatekeeper read it); InputError with the line of a malformed one."""
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(path, mark.line + 1 if mark else None,
                         f"malformed YAML: {getattr(exc, 'problem', None) or exc}") from None
    for node in nodes:
        if node is None:
            continue
        value = yaml.constructor.SafeConstructor().construct_document(node)
        if value is not None:
            yield node.start_mark.line + 1, value


def _at(doc: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            doc = doc[key] if isinstance(doc, list) and len(doc) > key else None
        else:
            doc = doc.get(key) if isinstance(doc, Mapping) else None
    return doc


def _template_modules(file: _File, line: int, doc: Mapping[str, Any]
                      ) -> tuple[str, list[PolicyModule]]:
    """The template's kind, and its Rego (and libs) as modules: the main one's package renamed
    to govops_gatekeeper.<kind>, every one padded to the line it starts on in the file."""
    kind = _at(doc, "spec", "crd", "spec", "names", "kind")
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise InputError(file.path, line, "ConstraintTemplate without spec.crd.spec.names.kind "
                         "(the kind its constraints have)")
    targets = [t for t in _at(doc, "spec", "targets") or () if isinstance(t, Mapping)]
    target = next((t for t in targets if t.get("target") == GATEKEEPER_TARGET), None)
    if target is None:
        raise InputError(file.path, line, f"ConstraintTemplate {kind} has no "
                         f"{GATEKEEPER_TARGET} target")
    rego, libs = target.get("rego"), list(target.get("libs") or ())
    for code in target.get("code") or ():
        if isinstance(code, Mapping) and code.get("engine") == "Rego":
            source = code.get("source") or {}
            rego = source.get("rego", rego)
            libs += list(source.get("libs") or ())
    if not isinstance(rego, str) or not rego.strip():
        raise InputError(file.path, line, f"ConstraintTemplate {kind} has no Rego")
    if not _VIOLATION_RULE.search(rego):
        raise InputError(file.path, line, f"ConstraintTemplate {kind}: its Rego defines no "
                         "violation rule (Gatekeeper asks violation[{\"msg\": ...}])")
    package = f"{GATEKEEPER_ROOT}.{kind.lower()}"
    main = _PACKAGE_LINE.sub(lambda m: m.group(1) + package, rego, count=1)
    modules = [PolicyModule(f"{file.path}#{kind}", _padded(file.text, rego, main))]
    for i, lib in enumerate(libs):
        if isinstance(lib, str):
            modules.append(PolicyModule(f"{file.path}#{kind}.lib{i}",
                                        _padded(file.text, lib, lib)))
    return kind, modules


def _padded(text: str, written: str, source: str) -> str:
    """`source` preceded by blank lines so that its lines are those `written` (a block scalar
    of the file) has in `text`; as it is when the block cannot be found verbatim."""
    first = next((line for line in written.splitlines() if line.strip()), "")
    at = text.find(first) if first else -1
    if at < 0:
        return source
    skipped = written[:written.find(first)].count("\n")
    return "\n" * (text.count("\n", 0, at) - skipped) + source


def _check_parameters(path: str, line: int, what: str, parameters: Any, schema: Any) -> None:
    """Refuse parameters the template does not declare, as Gatekeeper does ("unknown fields"),
    and parameters that do not fit its openAPIV3Schema: a constraint that silently judged with
    a misspelt parameter would pass what it means to deny."""
    if not isinstance(schema, Mapping):
        raise InputError(path, line, f"{what}: spec.parameters, but its ConstraintTemplate "
                         "declares none (spec.crd.spec.validation.openAPIV3Schema)")
    declared = schema.get("properties")
    if isinstance(parameters, Mapping) and isinstance(declared, Mapping) \
            and not schema.get("x-kubernetes-preserve-unknown-fields"):
        unknown = sorted(set(parameters) - set(declared))
        if unknown:
            raise InputError(path, line, f"{what}: spec.parameters.{unknown[0]} is not a "
                             "parameter its ConstraintTemplate declares")
    import jsonschema_rs

    try:
        jsonschema_rs.Draft4Validator(dict(schema)).validate(parameters)
    except jsonschema_rs.ValidationError as exc:
        raise InputError(path, line, f"{what}: spec.parameters do not fit its "
                         f"ConstraintTemplate's schema: {exc.message}") from None
    except (ValueError, TypeError) as exc:
        raise InputError(path, line, f"{what}: its ConstraintTemplate's openAPIV3Schema is "
                         f"not a schema: {exc}") from None


def _constraint(path: str, line: int, doc: Mapping[str, Any],
                templates: Mapping[str, str], schemas: Mapping[str, Any]) -> Constraint:
    kind, name = doc.get("kind"), _at(doc, "metadata", "name")
    if not isinstance(kind, str) or kind not in templates:
        known = ", ".join(sorted(templates)) or "none"
        raise InputError(path, line, f"constraint kind {kind!r}: no ConstraintTemplate in "
                         f"manifests.policies or manifests.packs defines it (templates: {known})")
    if not isinstance(name, str) or not name:
        raise InputError(path, line, f"{kind} constraint without metadata.name")
    spec = doc.get("spec") or {}
    action = str(spec.get("enforcementAction") or "deny")
    if action not in ACTIONS:
        raise InputError(path, line, f"{kind} {name}: enforcementAction {action!r} is not one "
                         f"of {', '.join(ACTIONS)}")
    match = spec.get("match") or {}
    if not isinstance(match, Mapping):
        raise InputError(path, line, f"{kind} {name}: spec.match must be a mapping")
    for selector in ("labelSelector", "namespaceSelector"):
        for expression in _at(match, selector, "matchExpressions") or ():
            operator = expression.get("operator") if isinstance(expression, Mapping) else None
            if operator not in OPERATORS:
                raise InputError(path, line, f"{kind} {name}: spec.match.{selector}: operator "
                                 f"{operator!r} is not one of {', '.join(OPERATORS)}")
    if "parameters" in spec:
        _check_parameters(path, line, f"{kind} {name}", spec["parameters"], schemas.get(kind))
    return Constraint(kind, name, f"{GATEKEEPER_ROOT}.{kind.lower()}", dict(match),
                      spec.get("parameters"), action, path, line)
