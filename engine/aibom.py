"""`govops bom` and `govops bom diff`: compose repo -> catalog -> bom into AIBOMs.

Like check.py, the only place that knows the order of these stages. The advisory records are
the policy library's plus any `--advisories DIR`, the same set `govops check` hands to ENV-003.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.advisories import AdvisoryIndex, advisories_digest
from engine.bom.build import Aibom, AibomSource, build_aibom
from engine.bom.diff import BomDiff, diff_aiboms
from engine.bom.identity import advisory_records, govops_version
from engine.catalog import CatalogLoader, ParseCache
from engine.repo import GitRepo, open_repo


@dataclass(frozen=True)
class BomOptions:
    repo: Path
    advisories: Path | None = None


def _build(repo: GitRepo, loader: CatalogLoader, rev: str, records: dict[str, Any]) -> Aibom:
    snapshot = repo.snapshot(rev)
    catalog = loader.load(snapshot)
    return build_aibom(AibomSource(
        catalog=catalog,
        revision=snapshot.info,
        repository=repo.name,
        advisories=AdvisoryIndex(records),
        advisories_digest=advisories_digest(records),
        tool_version=govops_version(),
    ))


def run_bom(options: BomOptions, rev: str | None) -> Aibom:
    records = advisory_records(options.advisories)
    repo = open_repo(options.repo)
    cache = ParseCache(repo.git_dir / "govops" / "cache.sqlite")
    try:
        return _build(repo, CatalogLoader(repo, cache), rev or "HEAD", records)
    finally:
        cache.close()


def run_bom_diff(options: BomOptions, base: str, head: str) -> BomDiff:
    records = advisory_records(options.advisories)
    repo = open_repo(options.repo)
    cache = ParseCache(repo.git_dir / "govops" / "cache.sqlite")
    try:
        loader = CatalogLoader(repo, cache)
        before = _build(repo, loader, base, records)
        after = _build(repo, loader, head, records)
    finally:
        cache.close()
    return diff_aiboms(before.document(), after.document())
