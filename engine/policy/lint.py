"""What a repository's own policies get wrong without failing: results whose id is not the one
their METADATA declares, policies without METADATA, and results pointing at a field the format
does not have. Each would otherwise pass silently: the report shows no title or remediation,
or file:line falls back to the nearest parent of a misspelt path.

Only the repository's own modules are read (the shipped library is held to this by its tests),
so a check of a repository without policies of its own parses no METADATA for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from engine.catalog.schema import OBJECT_KINDS, fields_for
from engine.policy.library import PolicyBundle, PolicyModule
from engine.policy.manifest_sources import ManifestPolicies
from engine.policy.metadata import PolicyMeta, package_of, read_metadata

_INDEX = re.compile(r"\[\d+\]")
# A conftest or Gatekeeper rule head at the start of a line: `deny contains msg if`,
# `deny[msg] {`, `violation[{"msg": m}] {`, `warn_latest contains ...`.
_VERDICT_RULE = re.compile(r"^(deny|violation|warn)(?:_\w*)?\s*(?:\[|contains\b|if\b|\{|:?=)",
                           re.M)
EVALUATED = "govops.policies."
_OPEN = ("free", "strmap")  # fields whose contents the format leaves open


def _manifest_modules(bundle: PolicyBundle) -> set[str]:
    """Paths of the manifest policies' modules (conftest and Gatekeeper style, run against
    rendered manifests by engine.policy.manifest_eval): not govops policies."""
    return {m.path for m in ManifestPolicies.of_bundle(bundle.modules, bundle.data).modules}


def _own(bundle: PolicyBundle) -> dict[str, PolicyModule]:
    """package -> module of the repository's own policy modules (their METADATA is read only
    for the packages that report something: a check stays free of ruamel for the rest)."""
    found: dict[str, PolicyModule] = {}
    manifests = _manifest_modules(bundle)
    for module in bundle.modules:
        if module.path.startswith("@") or module.is_test or module.path in manifests:
            continue
        package = package_of(module.source)
        if package:
            found[package] = module
    return found


def _known_field(kind: str, field: str) -> bool:
    fields = fields_for(kind)
    pattern = _INDEX.sub("[]", field)
    if pattern in fields or pattern.removesuffix("[]") in fields:  # an item of a list field
        return True
    return any(pattern.startswith(f"{known}.") and fields[known][0] in _OPEN
               for known in fields)


def lint_results(bundle: PolicyBundle, raws: Iterable[tuple[str, str, Any]]) -> list[str]:
    """Notes about the repository's own policies, from the (severity, package, raw result)
    triples an evaluation produced; sorted, each once."""
    own = _own(bundle)
    if not own:
        return []
    notes: set[str] = set()
    read: dict[str, list[PolicyMeta]] = {}  # METADATA by package, read once
    for _, package, raw in raws:
        module = own.get(package)
        if module is None or not isinstance(raw, dict):
            continue
        path = module.path
        if package not in read:
            read[package] = read_metadata(path, module.source)
        metas = read[package]
        rid = str(raw.get("id"))
        if not metas:
            notes.add(f"{path}: package {package} has no METADATA block with custom.id: its "
                      f"{rid} results show no title, severity or remediation")
        elif rid not in {m.id for m in metas}:
            declared = ", ".join(sorted(m.id for m in metas))
            notes.add(f"{path}: package {package} reports id {rid}, but its METADATA declares "
                      f"{declared}")
        kind, field = raw.get("kind"), raw.get("field")
        if kind in OBJECT_KINDS and isinstance(field, str) and field \
                and not _known_field(str(kind), field):
            notes.add(f"{path}: {rid} points at {kind} field {field!r}, which the format does "
                      "not have (docs/reference.md lists every field)")
    return sorted(notes)


def unevaluated(bundle: PolicyBundle) -> list[str]:
    """A note for each of the repository's own modules that states verdicts (deny, violation
    or warn rules, as conftest and Gatekeeper policies do) in a package govops never asks:
    only data.govops.policies.* is evaluated, so such a policy decides nothing, silently."""
    notes = []
    manifests = _manifest_modules(bundle)
    for module in bundle.modules:
        if module.path.startswith("@") or module.is_test or module.path in manifests:
            continue
        package = package_of(module.source) or ""
        if package.startswith(EVALUATED) or package == EVALUATED.rstrip("."):
            continue
        match = _VERDICT_RULE.search(module.source)
        if match:
            line = module.source.count("\n", 0, match.start()) + 1
            notes.append(f"{module.path}:{line}: package {package or '?'} is not evaluated by "
                         f"govops (it asks only data.govops.policies.*): this {match.group(1)} "
                         "rule decides nothing; put the policy in package "
                         "govops.policies.<name>, or list its folder under "
                         "manifests.policies to run it against rendered manifests as conftest "
                         "does (docs/policies.md)")
    return notes
