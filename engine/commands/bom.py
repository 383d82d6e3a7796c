"""`govops bom` and `govops bom diff`: compose repo -> catalog -> bom into AIBOMs.

Like check, the only place that knows the order of these stages. The advisory records are
the policy library's plus any `--advisories DIR`, the same set `govops check` hands to ENV-003.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.advisories.match import AdvisoryIndex
from engine.advisories.merge import effective
from engine.advisories.records import advisories_digest, load_advisory_dir
from engine.advisories.synced import synced_for
from engine.attest.model_signatures import signature_texts
from engine.bom.build import Aibom, AibomSource, build_aibom
from engine.bom.diff import BomDiff, diff_aiboms
from engine.bom.identity import govops_version
from engine.catalog import CatalogLoader, open_loader
from engine.clock import instant, utc_now
from engine.policy.library import Library
from engine.repo import GitRepo, open_repo


@dataclass(frozen=True)
class BomOptions:
    repo: Path
    advisories: Path | None = None


def advisory_records(directory: Path | None) -> dict[str, Any]:
    """The advisories shipped with the policy library plus those of `--advisories DIR`."""
    library = Library.load()
    extra = load_advisory_dir(directory) if directory is not None else {}
    return dict(library.with_advisories(extra).advisories)


def _build(repo: GitRepo, loader: CatalogLoader, rev: str, records: dict[str, Any]) -> Aibom:
    snapshot = repo.snapshot(rev)
    catalog = loader.load(snapshot)
    synced = synced_for(catalog, instant(utc_now()))
    if synced.records:  # as check takes them (Library.with_databases)
        records = effective({**records, **synced.records})
    return build_aibom(AibomSource(
        catalog=catalog,
        revision=snapshot.info,
        repository=repo.name,
        advisories=AdvisoryIndex(records),
        advisories_digest=advisories_digest(records),
        tool_version=govops_version(),
        databases=synced.snapshots,
        signatures=signature_texts(repo, snapshot, catalog),
    ))


def run_spdx3(options: BomOptions, rev: str | None) -> str:
    """The SPDX 3.0.1 JSON-LD document of a revision (engine.bom.spdx3)."""
    from engine.bom.spdx3 import build_spdx3

    repo = open_repo(options.repo)
    snapshot = repo.snapshot(rev or "HEAD")
    with open_loader(repo) as loader:
        catalog = loader.load(snapshot)
    return build_spdx3(catalog, snapshot.info, repo.name, govops_version(),
                       signature_texts(repo, snapshot, catalog))


def run_bom(options: BomOptions, rev: str | None) -> Aibom:
    records = advisory_records(options.advisories)
    repo = open_repo(options.repo)
    with open_loader(repo) as loader:
        return _build(repo, loader, rev or "HEAD", records)


def run_bom_diff(options: BomOptions, base: str, head: str) -> BomDiff:
    records = advisory_records(options.advisories)
    repo = open_repo(options.repo)
    with open_loader(repo) as loader:
        before = _build(repo, loader, base, records)
        after = _build(repo, loader, head, records)
    return diff_aiboms(before.document(), after.document())
