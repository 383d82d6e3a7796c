"""Build the catalog of a snapshot: find govops files, parse (through the cache), validate.

Only files that mention `govops.dev/` are parsed as objects, so a repo may hold Helm
templates, CI workflows and other YAML that govops neither parses nor rejects. Symlinks are
refused rather than followed: what is evaluated must be exactly what git stores at that path.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from typing import Any

from engine.catalog.cache import ParseCache
from engine.catalog.lockfiles import LockFile, parse_lockfile, require_lockfile_format
from engine.catalog.model import Catalog, Config, EnvironmentLock, GovObject
from engine.catalog.schema import (
    API_VERSION,
    CONFIG_FIELDS,
    CONFIG_KIND,
    OBJECT_KINDS,
    fields_for,
    validate,
)
from engine.errors import InputError
from engine.repo import GitRepo, Snapshot
from engine.repo.snapshot import FileEntry

CONFIG_PATH = "govops.yaml"
MAX_OBJECT_BYTES = 1 << 20
MAX_LOCK_BYTES = 16 << 20
_MARKER = b"govops.dev/"


def is_yaml(path: str) -> bool:
    return path.endswith((".yaml", ".yml"))


class CatalogLoader:
    """Parses files of one repository; shared by the head and the base of a comparison."""

    def __init__(self, repo: GitRepo, cache: ParseCache) -> None:
        self._repo = repo
        self._cache = cache

    # -- single documents -------------------------------------------------------------

    def _parse_object(self, path: str, entry: FileEntry) -> dict[str, Any]:
        """Cached parse + structural validation; {"skip": True} for YAML that is not govops."""
        if self._repo.blob_size(entry.oid) > MAX_OBJECT_BYTES:
            return {"error": f"file too large (over {MAX_OBJECT_BYTES} bytes)", "line": None}
        data = self._repo.read_blob(entry.oid)
        if _MARKER not in data:
            return {"skip": True}
        from engine.catalog.yamldoc import parse_yaml  # only on a cache miss: ruamel is 15 ms

        try:
            parsed = parse_yaml(path, data)
            doc, lines = parsed.value, parsed.lines
            _check_header(path, doc, lines)
            kind = doc["kind"]
            validate(path, doc, lines, CONFIG_FIELDS if kind == CONFIG_KIND else fields_for(kind))
        except InputError as exc:
            return {"error": exc.message, "line": exc.line}
        return {"doc": doc, "lines": lines}

    def parsed_objects(self, files: Iterable[tuple[str, FileEntry]]) -> dict[str, dict[str, Any]]:
        """Parsed form of each YAML file, by path; raises on the first bad file (by path)."""
        todo = sorted(files)
        for path, entry in todo:
            if entry.is_symlink:
                raise InputError(path, None, "is a symlink; govops reads only regular files "
                                 "(commit the file itself)")
        parsed = self._through_cache(todo, "yaml", self._parse_object)
        return {path: result for path, result in parsed.items() if "skip" not in result}

    def lockfiles(self, files: list[tuple[str, FileEntry]]) -> dict[str, LockFile]:
        """Parsed lock files by path (one cache query for all of them)."""
        by_format: dict[str, list[tuple[str, FileEntry]]] = {}
        for path, entry in files:
            by_format.setdefault(require_lockfile_format(path), []).append((path, entry))
        out: dict[str, LockFile] = {}
        for fmt, group in sorted(by_format.items()):
            parsed = self._through_cache(group, f"lock-{fmt}", self._parse_lock)
            out.update((path, LockFile.from_json(result)) for path, result in parsed.items())
        return out

    def _through_cache(self, files: list[tuple[str, FileEntry]], kind: str,
                       parse: Callable[[str, FileEntry], dict[str, Any]],
                       ) -> dict[str, dict[str, Any]]:
        """Cached results by path, parsing the misses; a cached error is raised again with
        this path (the same blob may sit at several paths)."""
        keys = {path: ParseCache.key(kind, entry.oid) for path, entry in files}
        cached = self._cache.get_many(keys.values())
        out: dict[str, dict[str, Any]] = {}
        for path, entry in files:
            result = cached.get(keys[path])
            if result is None:
                result = parse(path, entry)
                self._cache.put(keys[path], result)
            if "error" in result:
                raise InputError(path, result["line"], result["error"])
            out[path] = result
        return out

    def _parse_lock(self, path: str, entry: FileEntry) -> dict[str, Any]:
        if self._repo.blob_size(entry.oid) > MAX_LOCK_BYTES:
            return {"error": f"file too large (over {MAX_LOCK_BYTES} bytes)", "line": None}
        from engine.catalog.yamldoc import decode_utf8

        try:
            text = decode_utf8(path, self._repo.read_blob(entry.oid))
            return parse_lockfile(path, text).as_json()
        except InputError as exc:
            return {"error": exc.message, "line": exc.line}

    # -- whole snapshots --------------------------------------------------------------

    def load(self, snapshot: Snapshot) -> Catalog:
        yaml_files = [(p, e) for p, e in snapshot.files.items() if is_yaml(p)]
        parsed = self.parsed_objects(yaml_files)
        config = Config(path=None)
        objects: dict[str, dict[str, GovObject]] = {kind: {} for kind in OBJECT_KINDS}
        for path, result in parsed.items():
            doc, lines = result["doc"], result["lines"]
            if doc["kind"] == CONFIG_KIND:
                if path != CONFIG_PATH:
                    raise InputError(path, lines.get("kind"),
                                     "a Config belongs in govops.yaml at the repo root")
                config = _config(path, doc, lines)
                continue
            obj = GovObject(doc["kind"], doc["metadata"]["name"], path, doc, lines)
            same = objects[obj.kind].get(obj.name)
            if same is not None:
                raise InputError(path, lines.get("metadata.name"),
                                 f"duplicate {obj.kind} name {obj.name!r} "
                                 f"(also in {same.path}:{same.line_of('metadata.name')})")
            objects[obj.kind][obj.name] = obj
        locks = self._locks(snapshot, objects["Environment"])
        self._cache.flush()
        return Catalog(config, objects, locks)

    def _locks(self, snapshot: Snapshot,
               environments: dict[str, GovObject]) -> dict[str, EnvironmentLock]:
        declared_paths: dict[str, str] = {}
        for name, env in sorted(environments.items()):
            declared = env.doc["spec"].get("lockfile")
            if declared is None:
                continue
            line = env.line_of("spec.lockfile")
            path = posixpath.normpath(declared)
            if declared.startswith("/") or path.startswith("../") or path == "..":
                raise InputError(env.path, line, f"lockfile {declared!r} must be a path inside "
                                 "the repository, relative to its root")
            entry = snapshot.files.get(path)
            if entry is None:
                raise InputError(env.path, line, f"lockfile {declared!r} does not exist in "
                                 f"revision {snapshot.info.ref}")
            if entry.is_symlink:
                raise InputError(path, None, "is a symlink; govops reads only regular files "
                                 "(commit the file itself)")
            declared_paths[name] = path
        unique = sorted(set(declared_paths.values()))
        parsed = self.lockfiles([(p, snapshot.files[p]) for p in unique])
        return {name: EnvironmentLock(name, path, snapshot.files[path].oid, parsed[path])
                for name, path in declared_paths.items()}


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
        trust_keys=tuple(trust.get("keys") or ()),
        trust_identities=tuple(trust.get("identities") or ()),
        lines=lines,
    )
