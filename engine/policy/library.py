"""The policy bundle of one evaluation: the default library plus the repo's own policies.

Repo-local policies are read from the evaluated revision's git objects, like everything else,
so a policy change is evaluated together with the change it arrives in.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785

from engine.advisories.merge import effective
from engine.catalog import Config
from engine.encoding import decode_utf8, require_utf8_name
from engine.errors import InputError
from engine.policy.metadata import PolicyMeta, read_metadata
from engine.repo import GitRepo, Snapshot
from engine.shipped import library_dir

LIBRARY_PREFIX = "@govops/"


@dataclass(frozen=True)
class PolicyModule:
    path: str
    source: str

    @property
    def is_test(self) -> bool:
        return self.path.endswith("_test.rego")


@dataclass(frozen=True)
class PolicyBundle:
    modules: tuple[PolicyModule, ...]
    data: Mapping[str, Any]
    digest: str

    @functools.cached_property
    def metadata(self) -> Mapping[str, PolicyMeta]:
        return MetadataByID(self.modules)

    @property
    def advisories(self) -> Mapping[str, Any]:
        found: Mapping[str, Any] = self.data.get("govops", {}).get("advisories", {})
        return found

    def encode(self) -> bytes:
        """Everything the bundle evaluates (every module's source, the data): what a decision
        entry records so the decision can be replayed with the exact policies it was made
        with, whatever govops or the library has become since."""
        doc: dict[str, Any] = {"modules": [[m.path, m.source] for m in self.modules],
                               "data": self.data, "digest": self.digest}
        return bytes(rfc8785.dumps(doc))

    @classmethod
    def decode(cls, raw: bytes, where: str) -> PolicyBundle:
        """A recorded bundle; InputError when it is not one or does not add up to its digest."""
        try:
            doc = json.loads(raw)
            modules = tuple(PolicyModule(str(path), str(source))
                            for path, source in doc["modules"])
            data = doc["data"]
            if not isinstance(data, dict):
                raise TypeError("data must be an object")
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(where, None, f"not a recorded policy bundle: {exc}") from None
        bundle = cls(modules, data, bundle_digest(modules, data))
        if bundle.digest != doc.get("digest"):
            raise InputError(where, None, f"adds up to {bundle.digest}, not the "
                             f"{doc.get('digest')} it records")
        return bundle


class MetadataByID(Mapping[str, PolicyMeta]):
    """METADATA by policy id, parsed on first access: only reports that show titles and
    remediations need it, and parsing loads ruamel.yaml, which `--format json` can skip."""

    def __init__(self, modules: tuple[PolicyModule, ...]) -> None:
        self._modules = modules
        self._found: dict[str, PolicyMeta] | None = None

    def _all(self) -> dict[str, PolicyMeta]:
        if self._found is None:
            self._found = {}
            for module in self._modules:
                if not module.is_test:
                    for meta in read_metadata(module.path, module.source):
                        self._found.setdefault(meta.id, meta)
        return self._found

    def __getitem__(self, key: str) -> PolicyMeta:
        return self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def _read_text(path: Path, shown: str) -> str:
    try:
        return decode_utf8(shown, path.read_bytes())
    except OSError as exc:
        raise InputError(shown, None, f"cannot read: {exc.strerror}") from None


def _load_json(path: Path, shown: str) -> Any:
    try:
        return json.loads(_read_text(path, shown))
    except json.JSONDecodeError as exc:
        raise InputError(shown, exc.lineno, f"malformed JSON: {exc.msg}") from None
    except RecursionError:
        raise InputError(shown, None, "malformed JSON: nested too deeply") from None


@dataclass(frozen=True)
class Library:
    """The default library on disk: modules, data and advisory records."""

    modules: tuple[PolicyModule, ...]
    data: Mapping[str, Any]
    advisories: Mapping[str, Any]
    # the synced advisory databases records were taken from (engine.advisories.synced)
    databases: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def load(cls, root: Path | None = None, include_tests: bool = False) -> Library:
        root = root or library_dir()
        if not root.is_dir():
            raise InputError(str(root), None, "policy library not found")
        modules = []
        for path in sorted(root.rglob("*.rego")):
            rel = path.relative_to(root).as_posix()
            module = PolicyModule(LIBRARY_PREFIX + rel, _read_text(path, LIBRARY_PREFIX + rel))
            if include_tests or not module.is_test:
                modules.append(module)
        data: dict[str, Any] = {}
        for path in sorted((root / "data").glob("*.json")):
            _deep_merge(data, _load_json(path, LIBRARY_PREFIX + "data/" + path.name))
        advisories: dict[str, Any] = {}
        for path in sorted((root / "advisories").glob("*.json")):
            record = _load_json(path, LIBRARY_PREFIX + "advisories/" + path.name)
            advisories[record["id"]] = record
        return cls(tuple(modules), data, effective(advisories))

    def with_advisories(self, extra: Mapping[str, Any]) -> Library:
        """This library plus advisory records given with `--advisories`; a record with the id
        of a shipped one replaces it (the user's copy is the newer one). Withdrawn records are
        left out and records of one vulnerability merged (engine.advisories.merge)."""
        return dataclasses.replace(self, advisories=effective({**self.advisories, **extra}))

    def with_databases(self, records: Mapping[str, Any],
                       snapshots: Sequence[Mapping[str, Any]]) -> Library:
        """This library plus the records a revision matched in synced databases, and which
        snapshots they came from (policy data: digest, recorded bundle and replay hold them)."""
        added = self.with_advisories(records) if records else self
        return dataclasses.replace(added, databases=(*self.databases, *snapshots))


def repo_modules(repo: GitRepo, snapshot: Snapshot, config: Config,
                 include_tests: bool = False) -> list[PolicyModule]:
    """The .rego files under `policies.paths` of govops.yaml, at this revision."""
    modules: list[PolicyModule] = []
    for i, declared in enumerate(config.policy_paths):
        prefix = declared.strip("/")
        matches = sorted(
            p for p in snapshot.files
            if p.endswith(".rego") and (p == prefix or p.startswith(prefix + "/"))
        )
        if not matches:
            raise InputError(config.path or "govops.yaml", config.lines.get(f"policies.paths[{i}]"),
                             f"policies path {declared!r} holds no .rego file")
        for path in matches:
            require_utf8_name(path)
            entry = snapshot.files[path]
            if entry.is_symlink:
                raise InputError(path, None, "is a symlink; govops reads only regular files")
            source = decode_utf8(path, repo.read_blob(entry.oid))
            module = PolicyModule(path, source)
            if include_tests or not module.is_test:
                modules.append(module)
    return modules


def build_bundle(library: Library, local: list[PolicyModule], config: Config,
                 manifests: Sequence[PolicyModule] = (),
                 manifest_data: Mapping[str, Any] | None = None) -> PolicyBundle:
    """`manifests`: the modules of the manifest policies (engine.policy.manifest_sources),
    evaluated by the same engine; `manifest_data`, what to evaluate of them."""
    data: dict[str, Any] = copy.deepcopy(dict(library.data))
    govops = data.setdefault("govops", {})
    govops["advisories"] = copy.deepcopy(dict(library.advisories))
    if library.databases:
        govops["advisoryDatabases"] = [dict(s) for s in library.databases]
    _deep_merge(govops.setdefault("config", {}), config.policy_data)
    govops["gpus"] = extend_table(config, "gpus", govops.get("gpus") or {}, config.gpus)
    govops["precisionBits"] = extend_table(config, "precisionBits",
                                           govops.get("precisionBits") or {},
                                           config.precision_bits)
    if manifest_data is not None:
        govops["manifests"] = copy.deepcopy(dict(manifest_data))
    modules = (*library.modules, *local, *manifests)
    return PolicyBundle(modules, data, bundle_digest(modules, data))


def extend_table(config: Config, key: str, shipped: Mapping[str, Any],
                 extra: Mapping[str, Any]) -> dict[str, Any]:
    """The shipped table plus the repo's own entries (engine.catalog.gpu_tables). An entry
    naming a shipped one, or a GPU reusing a shipped GPU's product label, is an input error:
    a repo may describe new hardware, not change what the library says about known hardware."""
    merged = copy.deepcopy(dict(shipped))
    products = {entry["product"]: name for name, entry in shipped.items()
                if isinstance(entry, Mapping) and "product" in entry}
    for name, entry in extra.items():
        at = f"policies.{key}.{name}"
        path = config.path or "govops.yaml"
        if name in shipped:
            raise InputError(path, config.lines.get(at), f"{at}: {name!r} ships with the "
                             "library and cannot be redefined by the repo; add a new name")
        product = entry.get("product") if isinstance(entry, Mapping) else None
        if product in products:
            raise InputError(path, config.lines.get(f"{at}.product", config.lines.get(at)),
                             f"{at}.product: {product!r} is the product label of the shipped "
                             f"GPU type {products[product]!r}; use that type")
        merged[name] = copy.deepcopy(entry)
    return merged


def bundle_digest(modules: tuple[PolicyModule, ...], data: Mapping[str, Any]) -> str:
    """The policy digest a decision carries: every module (path, sha256 of its source) and the
    data, RFC 8785."""
    fingerprint: dict[str, Any] = {
        "modules": [[m.path, hashlib.sha256(m.source.encode()).hexdigest()] for m in modules],
        "data": data,
    }
    return "sha256:" + hashlib.sha256(rfc8785.dumps(fingerprint)).hexdigest()
