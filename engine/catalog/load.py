"""Build the catalog of a snapshot: find govops files, parse (through the cache), validate.

Only files that mention `govops.dev/` are parsed as objects, so a repo may hold Helm
templates, CI workflows and other YAML that govops neither parses nor rejects. Symlinks are
refused rather than followed: what is evaluated must be exactly what git stores at that path.
The same holds for files a requirements lock includes with `-r`: they are read from the same
revision, never from the work tree, and each is parsed once per blob id like any other file.
"""

from __future__ import annotations

import marshal
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple

from engine.catalog.advisory_sources import Source, configured_sources
from engine.catalog.cache import ParseCache
from engine.catalog.gpu_tables import check_gpus, check_precisions
from engine.catalog.lockfiles import (
    LockFile,
    parse_lockfile,
    parse_requirements_file,
    require_lockfile_family,
)
from engine.catalog.model import Catalog, Config, EnvironmentLock, GovObject
from engine.catalog.outcomes import (
    SKIPPED,
    Failed,
    Outcome,
    ParsedLock,
    ParsedObject,
    decode,
    encode,
    failed,
)
from engine.catalog.schema import (
    API_VERSION,
    CONFIG_FIELDS,
    CONFIG_KIND,
    OBJECT_KINDS,
    fields_for,
    validate,
)
from engine.catalog.stack_rules import check_stack
from engine.encoding import decode_utf8, mentions, require_utf8_name
from engine.errors import InputError, InputErrors
from engine.parallel import forked_map
from engine.repo import GitRepo, Snapshot
from engine.repo.snapshot import FileEntry
from engine.workdir import WorkDir

CONFIG_PATH = "govops.yaml"
MAX_OBJECT_BYTES = 1 << 20
MAX_LOCK_BYTES = 16 << 20
_MARKER = "govops.dev/"
# A Rego package as `package` writes it: dotted names, quoted parts for the rest (a["b-c"]).
_NAMESPACE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\["[^"\\]+"\])*')
# `-r` inside `-r`: read depth first, one frame each; no real lock chains more than a few.
MAX_INCLUDE_DEPTH = 32


class ResolvedLock(NamedTuple):
    """A lock file with its includes merged in, and (repo path, blob id) of each include."""

    lock: LockFile
    included: tuple[tuple[str, str], ...]


# Decoded outcomes by cache key (kind, parser version, blob id), kept by a long-lived process
# (the govops daemon: keep_decoded) so that every check gets the same outcome (never mutated)
# instead of decoding 100,000 lock records from the cache again (0.8 s at 10,000 objects).
# Content-addressed, so right for any repository; a one-shot command keeps none.
_DECODED: dict[str, Outcome] = {}
_DECODED_MAX = 200_000
_keep = False


def keep_decoded() -> None:
    global _keep
    _keep = True


def is_yaml(path: str) -> bool:
    return path.endswith((".yaml", ".yml"))


class CatalogLoader:
    """Parses files of one repository; shared by the head and the base of a comparison."""

    def __init__(self, repo: GitRepo, cache: ParseCache) -> None:
        self._repo = repo
        self._cache = cache

    # -- single documents -------------------------------------------------------------

    def _parse_object(self, path: str, entry: FileEntry) -> Outcome:
        """Parse + structural validation (on a cache miss); Skipped for YAML not govops's."""
        data = self._repo.read_blob_within(entry.oid, MAX_OBJECT_BYTES)
        if data is None:
            return Failed(f"file too large (over {MAX_OBJECT_BYTES} bytes)", None)
        if not mentions(data, _MARKER):
            return SKIPPED
        from engine.catalog.yamldoc import SeveralDocuments, parse_yaml  # ruamel: 15 ms

        try:
            try:
                parsed = parse_yaml(path, data)
            except SeveralDocuments as exc:
                if all(_foreign({"apiVersion": api, "kind": kind}) for api, kind in exc.heads):
                    return SKIPPED  # Kubernetes YAML: constraints, rendered manifests
                raise
            doc, lines = parsed.value, parsed.lines
            if _foreign(doc):
                return SKIPPED
            _check_header(path, doc, lines)
            kind = doc["kind"]
            validate(path, doc, lines, CONFIG_FIELDS if kind == CONFIG_KIND else fields_for(kind))
            if kind == "Stack":
                check_stack(path, doc, lines)
            if kind == "Model":
                _check_signature(path, doc, lines)
        except InputError as exc:
            return failed(exc)
        return ParsedObject(doc, lines)

    def parsed_objects(self, files: Iterable[tuple[str, FileEntry]],
                       errors: list[InputError] | None = None) -> dict[str, ParsedObject]:
        """Parsed form of each govops YAML file, by path. A bad file is added to `errors`
        when given (and left out), else raised with every other bad file (InputErrors)."""
        todo, found = [], []
        for path, entry in sorted(files):
            if entry.is_symlink:
                found.append(InputError(path, None, "is a symlink; govops reads only regular "
                                        "files (commit the file itself)"))
            else:
                todo.append((path, entry))
        parsed = self._through_cache(todo, "yaml", self._parse_object, found)
        for path in [p for p, result in parsed.items() if isinstance(result, ParsedObject)]:
            try:  # a govops file only: other YAML with such a name is not govops's business
                require_utf8_name(path)
            except InputError as exc:
                found.append(exc)
                del parsed[path]
        if errors is None:
            InputErrors.raise_all(found)
        else:
            errors.extend(found)
        return {path: result for path, result in parsed.items()
                if isinstance(result, ParsedObject)}

    def lockfiles(self, snapshot: Snapshot, paths: Iterable[str],
                  errors: list[InputError] | None = None) -> dict[str, ResolvedLock]:
        """Parsed lock files by path, with the files they include (`-r`) read from the same
        snapshot and merged in; one cache query for all the named files, and one per file
        they include. A bad lock file is added to `errors` when given (and left out), else
        raised with every other bad one."""
        found: list[InputError] = []
        by_family: dict[str, list[tuple[str, FileEntry]]] = {}
        for path in sorted(set(paths)):
            try:
                family = require_lockfile_family(path)
            except InputError as exc:
                found.append(exc)
                continue
            by_family.setdefault(family, []).append((path, snapshot.files[path]))
        out: dict[str, ResolvedLock] = {}
        for family, group in sorted(by_family.items()):
            parsed = self._through_cache(group, f"lock-{family}", self._parse_lock, found)
            for path, result in parsed.items():
                lock = _lock(result)
                if not lock.includes:
                    out[path] = ResolvedLock(lock, ())
                    continue
                included: dict[str, str] = {}
                try:
                    records = self._merged(snapshot, path, lock, "", (path,), included)
                except InputError as exc:
                    found.append(exc)
                    continue
                out[path] = ResolvedLock(LockFile(lock.format, tuple(records), lock.includes),
                                         tuple(included.items()))
        if errors is None:
            InputErrors.raise_all(found)
        else:
            errors.extend(found)
        return out

    def _merged(self, snapshot: Snapshot, path: str, lock: LockFile, own_path: str,
                stack: tuple[str, ...], included: dict[str, str]) -> list[Mapping[str, Any]]:
        """The records of `lock` with those of its includes at their `-r` lines, depth first
        as pip reads them. A file already included elsewhere is not read twice."""
        own = [r if not own_path else {**r, "path": own_path} for r in lock.records]
        targets = iter(lock.includes)
        records: list[Mapping[str, Any]] = []
        pending = next(targets, None)
        for record in [*own, None]:
            while pending is not None and (record is None or pending[0] < record["line"]):
                line, target = pending
                include = self._include(snapshot, path, line, target, stack)
                if include not in included:
                    entry = snapshot.files[include]
                    included[include] = entry.oid
                    parsed = self._through_cache([(include, entry)], "lock-requirements",
                                                 self._parse_include)[include]
                    records.extend(self._merged(snapshot, include, _lock(parsed),
                                                include, (*stack, include), included))
                pending = next(targets, None)
            if record is not None:
                records.append(record)
        return records

    @staticmethod
    def _include(snapshot: Snapshot, path: str, line: int, target: str,
                 stack: tuple[str, ...]) -> str:
        """The repo path `-r target` names, relative to the including file's folder as pip
        resolves it; refused if it leaves the repository, is missing, a symlink or a cycle."""
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        if target.startswith("/") or joined == ".." or joined.startswith("../"):
            raise InputError(path, line, f"-r {target}: an included file must be inside the "
                             "repository, relative to the including file")
        entry = snapshot.files.get(joined)
        if entry is None:
            raise InputError(path, line, f"-r {target}: {joined} does not exist in revision "
                             f"{snapshot.info.ref}")
        if entry.is_symlink:
            raise InputError(path, line, f"-r {target}: {joined} is a symlink; govops reads "
                             "only regular files (commit the file itself)")
        if len(stack) > MAX_INCLUDE_DEPTH:
            raise InputError(path, line, f"-r {target}: includes nested more than "
                             f"{MAX_INCLUDE_DEPTH} files deep (from {stack[0]})")
        if joined in stack:
            cycle = " -> ".join((*stack[stack.index(joined):], joined))
            raise InputError(path, line, f"-r {target}: include cycle {cycle}")
        return joined

    def _through_cache(self, files: list[tuple[str, FileEntry]], kind: str,
                       parse: Callable[[str, FileEntry], Outcome],
                       errors: list[InputError] | None = None) -> dict[str, Outcome]:
        """Outcomes by path, from the cache or parsed on a miss; a failure is named with this
        path (the same blob may sit at several paths) and added to `errors` when given (its
        path left out of the answer), else raised with every other failure.

        Misses are parsed on every core (engine.parallel): parsing is CPU-bound and each
        file is independent, and a cold 10,000-object repo is 10,000 misses."""
        keys = {path: ParseCache.key(kind, entry.oid) for path, entry in files}
        cached = self._cache.get_many(k for k in keys.values() if k not in _DECODED)
        found = {path: _DECODED.get(keys[path]) or _cached(cached.get(keys[path]))
                 for path, _ in files}
        misses = [(path, entry) for path, entry in files if found[path] is None]
        # A lock file takes ~1.5 ms to parse, a YAML object ~0.2 ms: fork for fewer of them.
        # Workers send the cache's bytes: pickling 100,000 package records back through the
        # pool's pipe cost more than parsing them (1.3 s against 0.5 s for 500 lock files).
        fresh = forked_map(lambda i: marshal.dumps(encode(parse(*misses[i]))), len(misses),
                           minimum=32 if kind.startswith("lock") else None)
        for (path, _), raw in zip(misses, fresh, strict=True):
            self._cache.put_encoded(keys[path], raw)
            found[path] = decode(marshal.loads(raw))
        if _keep:
            if len(_DECODED) >= _DECODED_MAX:
                _DECODED.clear()
            _DECODED.update((keys[path], result) for path, result in found.items()
                            if result is not None)
        out: dict[str, Outcome] = {}
        failures: list[InputError] = []
        for path, _ in files:
            result = found[path]
            assert result is not None
            if isinstance(result, Failed):
                failures.append(result.at(path))
            else:
                out[path] = result
        if errors is None:
            InputErrors.raise_all(failures)
        else:
            errors.extend(failures)
        return out

    def _parse_lock(self, path: str, entry: FileEntry) -> Outcome:
        return self._parse_text(path, entry, parse_lockfile)

    def _parse_include(self, path: str, entry: FileEntry) -> Outcome:
        return self._parse_text(path, entry, parse_requirements_file)

    def _parse_text(self, path: str, entry: FileEntry,
                    parse: Callable[[str, str], LockFile]) -> Outcome:
        data = self._repo.read_blob_within(entry.oid, MAX_LOCK_BYTES)
        if data is None:
            return Failed(f"file too large (over {MAX_LOCK_BYTES} bytes)", None)
        try:
            text = decode_utf8(path, data)
            return ParsedLock(parse(path, text))
        except InputError as exc:
            return failed(exc)

    # -- whole snapshots --------------------------------------------------------------

    def load(self, snapshot: Snapshot) -> Catalog:
        """The catalog of `snapshot`; InputErrors naming every file that cannot be used (all
        of them in one run), nothing half-loaded."""
        errors: list[InputError] = []
        yaml_files = [(p, e) for p, e in snapshot.files.items() if is_yaml(p)]
        parsed = self.parsed_objects(yaml_files, errors)
        config = Config(path=None)
        objects: dict[str, dict[str, GovObject]] = {kind: {} for kind in OBJECT_KINDS}
        for path, result in parsed.items():
            doc, lines = result.doc, result.lines
            if doc["kind"] == CONFIG_KIND:
                if path != CONFIG_PATH:
                    errors.append(InputError(path, lines.get("kind"),
                                             "a Config belongs in govops.yaml at the repo root"))
                    continue
                try:
                    config = _config(path, doc, lines)
                except InputError as exc:
                    errors.append(exc)
                continue
            obj = GovObject(doc["kind"], doc["metadata"]["name"], path, doc, lines,
                            snapshot.files[path].oid)
            same = objects[obj.kind].get(obj.name)
            if same is not None:
                errors.append(InputError(path, lines.get("metadata.name"),
                                         f"duplicate {obj.kind} name {obj.name!r} (also in "
                                         f"{same.path}:{same.line_of('metadata.name')})"))
                continue
            objects[obj.kind][obj.name] = obj
        locks = self._locks(snapshot, objects["Environment"], errors)
        InputErrors.raise_all(errors)
        return Catalog(config, objects, locks)  # the parses are stored on close or store_later

    def store_later(self) -> None:
        """Store the new parses on a thread while the caller waits on something else (a check:
        on the policy engine). Call it after the last fork of the command (engine.parallel):
        a child forked while SQLite writes inherits its locks."""
        self._cache.flush_later()

    def _locks(self, snapshot: Snapshot, environments: dict[str, GovObject],
               errors: list[InputError]) -> dict[str, EnvironmentLock]:
        declared_paths: dict[str, str] = {}
        for name, env in sorted(environments.items()):
            declared = env.doc["spec"].get("lockfile")
            if declared is None:
                continue
            line = env.line_of("spec.lockfile")
            path = posixpath.normpath(declared)
            if declared.startswith("/") or path.startswith("../") or path == "..":
                errors.append(InputError(env.path, line, f"lockfile {declared!r} must be a "
                                         "path inside the repository, relative to its root"))
                continue
            entry = snapshot.files.get(path)
            if entry is None:
                errors.append(InputError(env.path, line, f"lockfile {declared!r} does not "
                                         f"exist in revision {snapshot.info.ref}"))
                continue
            if entry.is_symlink:
                errors.append(InputError(path, None, "is a symlink; govops reads only regular "
                                         "files (commit the file itself)"))
                continue
            declared_paths[name] = path
        parsed = self.lockfiles(snapshot, declared_paths.values(), errors)
        return {name: EnvironmentLock(name, path, snapshot.files[path].oid, parsed[path].lock,
                                      parsed[path].included)
                for name, path in declared_paths.items() if path in parsed}


@contextmanager
def open_loader(repo: GitRepo) -> Iterator[CatalogLoader]:
    """A loader on the repository's parse cache, which is flushed and closed on the way out."""
    cache = ParseCache(WorkDir(repo.git_dir).parse_cache)
    try:
        yield CatalogLoader(repo, cache)
    finally:
        cache.close()


def load_config(repo: GitRepo, snapshot: Snapshot) -> Config:
    """govops.yaml of one snapshot alone (the defaults when it has none), for commands that
    need the configuration but not the objects."""
    entry = snapshot.files.get(CONFIG_PATH)
    if entry is None:
        return Config(path=None)
    with open_loader(repo) as loader:
        parsed = loader.parsed_objects([(CONFIG_PATH, entry)])
    found = parsed.get(CONFIG_PATH)
    if found is None or found.doc.get("kind") != CONFIG_KIND:
        raise InputError(CONFIG_PATH, None, "is not a govops Config (kind: Config)")
    return _config(CONFIG_PATH, found.doc, found.lines)


def load_catalog(repo: GitRepo, snapshot: Snapshot) -> Catalog:
    """The catalog of one snapshot, through the repository's parse cache."""
    with open_loader(repo) as loader:
        return loader.load(snapshot)


def _cached(raw: Any) -> Outcome | None:
    """A cached row's outcome; None (a miss) for no row or one this version cannot read."""
    if not isinstance(raw, dict):
        return None
    try:
        return decode(raw)
    except (ValueError, KeyError, TypeError):
        return None


def _lock(outcome: Outcome) -> LockFile:
    assert isinstance(outcome, ParsedLock), outcome  # lock parsers give nothing else
    return outcome.lock


def _check_signature(path: str, doc: Any, lines: dict[str, int]) -> None:
    signature = doc["spec"].get("signature")
    if signature is None:
        return
    if ("key" in signature) == ("identity" in signature):
        raise InputError(path, lines.get("spec.signature"), "spec.signature names who signed "
                         "the weights with exactly one of key (a public key file in the repo) "
                         "or identity ({subject, issuer} of a Sigstore certificate)")


def _foreign(doc: Any) -> bool:
    """A Kubernetes object (or other YAML) that only mentions `govops.dev/`, in a label or an
    annotation: the manifests `govops plan` writes carry `govops.dev/stack`. Not govops's when
    neither its apiVersion nor its kind is; a govops file with a misspelt apiVersion still
    has a govops kind, and stays an error."""
    if not isinstance(doc, dict):
        return False
    api, kind = doc.get("apiVersion"), doc.get("kind")
    return (isinstance(api, str) and "govops" not in api.lower()
            and kind not in (*OBJECT_KINDS, CONFIG_KIND))


def _check_header(path: str, doc: Any, lines: dict[str, int]) -> None:
    if not isinstance(doc, dict):
        raise InputError(path, 1, "expected a mapping with apiVersion, kind, metadata and spec")
    api = doc.get("apiVersion")
    if api != API_VERSION:
        raise InputError(path, lines.get("apiVersion", 1),
                         f"unsupported apiVersion {api!r} (expected {API_VERSION})")
    kind = doc.get("kind")
    if kind not in (*OBJECT_KINDS, CONFIG_KIND):
        raise InputError(path, lines.get("kind", 1), f"unknown kind {kind!r} (expected one of "
                         f"{', '.join((*OBJECT_KINDS, CONFIG_KIND))})")


def _config(path: str, doc: dict[str, Any], lines: dict[str, int]) -> Config:
    policies = doc.get("policies") or {}
    trust = doc.get("trust") or {}
    return Config(
        path=path,
        policy_paths=tuple(policies.get("paths") or ()),
        policy_data=policies.get("data") or {},
        gpus=check_gpus(path, policies.get("gpus") or {}, lines),
        precision_bits=check_precisions(path, policies.get("precisionBits") or {}, lines),
        trust_keys=tuple(trust.get("keys") or ()),
        trust_identities=tuple(trust.get("identities") or ()),
        advisory_sources=_advisory_sources(path, doc.get("advisories") or {}, lines),
        advisory_max_age_days=_max_age(path, doc.get("advisories") or {}, lines),
        **_manifests(path, doc.get("manifests") or {}, lines),
        lines=lines,
    )


def _manifests(path: str, manifests: dict[str, Any], lines: dict[str, int]) -> dict[str, Any]:
    """The Config fields of `manifests:`. Namespaces as conftest's --namespace takes them
    (`*` for --all-namespaces); the default is conftest's own, `main`."""
    namespaces = tuple(manifests.get("namespaces") or ("main",))
    for i, namespace in enumerate(namespaces):
        if namespace != "*" and not _NAMESPACE.fullmatch(namespace):
            raise InputError(path, lines.get(f"manifests.namespaces[{i}]"),
                             f"manifests.namespaces: {namespace!r} is not a Rego package name "
                             "(such as main or k8s.security) nor * (every package)")
    for key in ("policies", "files"):
        for i, declared in enumerate(manifests.get(key) or ()):
            normal = posixpath.normpath(declared)
            if declared.startswith("/") or normal == ".." or normal.startswith("../"):
                raise InputError(path, lines.get(f"manifests.{key}[{i}]"),
                                 f"manifests.{key}: {declared!r} must be a path inside the "
                                 "repository, relative to its root")
    return {"manifest_paths": tuple(manifests.get("policies") or ()),
            "manifest_namespaces": namespaces,
            "manifest_packs": tuple(manifests.get("packs") or ()),
            "manifest_files": tuple(manifests.get("files") or ())}


def _advisory_sources(path: str, advisories: dict[str, Any], lines: dict[str, int]
                      ) -> tuple[Source, ...] | None:
    declared = advisories.get("sources")
    if declared is None:
        return None
    if not isinstance(declared, list):
        raise InputError(path, lines.get("advisories.sources"), "advisories.sources must be a "
                         "list of source names or {name, url, format}")
    return configured_sources(declared, path, lines)


def _max_age(path: str, advisories: dict[str, Any], lines: dict[str, int]) -> int | None:
    days = advisories.get("maxAgeDays")
    if days is not None and days < 1:
        raise InputError(path, lines.get("advisories.maxAgeDays"), "advisories.maxAgeDays "
                         "must be at least 1")
    return days if isinstance(days, int) else None
