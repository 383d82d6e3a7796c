"""A governed repository in memory for the catalog properties: fixtures/acme-ml's files as a
Snapshot over a stand-in for git's object store, so the real loader (CatalogLoader.load: the
marker test, parse_yaml, the header, schema and stack checks, govops.yaml, the lock files and
their includes) runs on thousands of variants without a commit each."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from engine.catalog.cache import ParseCache
from engine.catalog.load import CatalogLoader
from engine.catalog.model import Catalog
from engine.repo.snapshot import FileEntry, RevisionInfo, Snapshot
from tests.support.repos import fixture

ACME = fixture("acme-ml")
REGULAR = 0o100644
REVISION = RevisionInfo("c" * 40, "d" * 40, "A <a@acme.test>", "2026-11-02T10:00:00Z", "HEAD")


class BlobStore:
    """The one method of GitRepo the loader reads blobs with, over a dict of blobs by id."""

    def __init__(self, blobs: Mapping[str, bytes]) -> None:
        self._blobs = dict(blobs)

    def read_blob_within(self, oid: str, limit: int) -> bytes | None:
        data = self._blobs[oid]
        return None if len(data) > limit else data


def _oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def load(files: Mapping[str, bytes]) -> Catalog:
    """The catalog of a revision holding exactly `files`, through the real loader (no cache)."""
    blobs = {_oid(data): data for data in files.values()}
    snapshot = Snapshot(REVISION, {path: FileEntry(_oid(data), REGULAR)
                                   for path, data in files.items()})
    loader = CatalogLoader(BlobStore(blobs), ParseCache(None))  # type: ignore[arg-type]
    return loader.load(snapshot)


def governed_yaml() -> list[str]:
    """The acme-ml files the loader parses as govops objects, sorted."""
    return sorted(p for p, data in ACME.items()
                  if p.endswith((".yaml", ".yml")) and b"govops.dev/" in data)
