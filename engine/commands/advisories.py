"""`govops advisories sync|status`: which advisory sources to sync (the flags, else the
repository's govops.yaml, else OSV's PyPI export) and what each synced database holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.advisories.database import Snapshot, database_path, open_database
from engine.advisories.sync import Synced, sync
from engine.catalog.advisory_sources import BUILT_IN, DEFAULT, Source
from engine.catalog.load import load_config
from engine.errors import GovopsError, RevisionError
from engine.repo import open_repo


def chosen_sources(names: Sequence[str], repo: Path | None) -> tuple[Source, ...]:
    """`--source` names, else govops.yaml's advisories.sources at the repo's HEAD, else the
    default (OSV's PyPI export)."""
    if names:
        unknown = [n for n in names if n not in BUILT_IN]
        configured = {s.name: s for s in _configured(repo) or ()}
        missing = [n for n in unknown if n not in configured]
        if missing:
            raise GovopsError(f"--source {missing[0]!r}: not a source govops knows "
                              f"({', '.join(BUILT_IN)}) nor one govops.yaml names")
        return tuple(configured.get(n) or BUILT_IN[n] for n in names)
    return _configured(repo) or tuple(BUILT_IN[n] for n in DEFAULT)


def _configured(repo: Path | None) -> tuple[Source, ...] | None:
    if repo is None or not (repo / ".git").exists():
        return None
    git = open_repo(repo)
    try:
        snapshot = git.snapshot("HEAD")
    except RevisionError:  # no commit yet
        return None
    return load_config(git, snapshot).advisory_sources


def run_sync(sources: Sequence[Source], now: dt.datetime, progress: Callable[[str], None],
             folder: Path | None = None) -> list[Synced]:
    """Sync each source in turn; the first that fails stops the run (its line says which
    database is still in use), those synced before it stay synced."""
    return [sync(source, now, progress, folder) for source in sources]


@dataclass(frozen=True)
class SourceStatus:
    source: Source
    path: Path
    snapshot: Snapshot | None


def run_status(sources: Sequence[Source], folder: Path | None = None) -> list[SourceStatus]:
    out = []
    for source in sources:
        found = open_database(source.name, folder)
        out.append(SourceStatus(source, database_path(source.name, folder),
                                found.snapshot if found else None))
    return out
