"""The synced advisories one revision is judged by: of each database (engine.advisories.
database) the records that affect a version its lock files pin, and the snapshot each came
from, which goes into the policy data (so the policy digest, the decision's recorded bundle and
its replay all hold exactly what was matched) and into the AIBOM.

Only matching records are taken: a check of a repo with 10,000 locked packages meets a few
dozen, and the policy bundle, which a resident OPA keeps loaded, changes only when what a
revision is affected by changes, not whenever a new package name appears.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.advisories.conda_names import pypi_name
from engine.advisories.database import Database, open_database
from engine.advisories.match import AdvisoryIndex
from engine.catalog import Catalog
from engine.catalog.advisory_sources import BUILT_IN, Source
from engine.catalog.lockfiles.model import normalize_name


@dataclass(frozen=True)
class SyncedAdvisories:
    records: Mapping[str, Mapping[str, Any]]
    snapshots: tuple[Mapping[str, Any], ...]  # Snapshot.as_json of each database read
    notes: tuple[str, ...]  # a configured source not synced, a database older than allowed


def synced_for(catalog: Catalog, now: dt.datetime,
               folder: Path | None = None) -> SyncedAdvisories:
    config = catalog.config
    sources: Iterable[Source] = (config.advisory_sources if config.advisory_sources is not None
                                 else BUILT_IN.values())
    records: dict[str, Mapping[str, Any]] = {}
    snapshots: list[Mapping[str, Any]] = []
    notes: list[str] = []
    databases = []
    for source in sources:
        database = open_database(source.name, folder)
        if database is None:
            if config.advisory_sources is not None:
                notes.append(f"{config.path}: advisory source {source.name} is not synced: "
                             "only the advisories shipped with the policies were matched "
                             "(run `govops advisories sync`)")
        else:
            databases.append(database)
    if not databases:  # the common hook case: 100,000 locked packages need not be listed
        return SyncedAdvisories({}, (), tuple(notes))
    # Each distinct pin once: 500 environments pin the same few thousand (name, version)s.
    packages = {(p["name"], p["version"], p["ecosystem"])
                for lock in catalog.locks.values() for p in lock.lock.records
                if p["version"] is not None}
    names = {n for name, ecosystem in {(p[0], p[2]) for p in packages}
             for n in _lookup_names(name, ecosystem)}
    for database in databases:
        snapshots.append(database.snapshot.as_json())
        records.update(_affecting(database, names, packages))
        limit = config.advisory_max_age_days
        age = database.snapshot.age_days(now)
        if limit is not None and age > limit:
            notes.append(f"{config.path}: advisory database {database.snapshot.source} was fetched "
                         f"{age:.0f} days ago ({database.snapshot.fetched}), more than "
                         f"advisories.maxAgeDays ({limit}): run `govops advisories sync`")
    return SyncedAdvisories(records, tuple(snapshots), tuple(notes))


def _lookup_names(name: str, ecosystem: str) -> set[str]:
    found = {normalize_name(name)}
    if ecosystem == "conda" and (pypi := pypi_name(name)) is not None:
        found.add(pypi)
    return found


def _affecting(database: Database, names: set[str],
               packages: set[tuple[str, str, str]]) -> dict[str, Mapping[str, Any]]:
    def pick(candidates: Mapping[str, Mapping[str, Any]]) -> set[str]:
        index = AdvisoryIndex(candidates)
        return {aid for name, version, ecosystem in packages
                for aid in index.matches(name, version, ecosystem)}

    whole = database.affecting(names, pick)
    return {aid: whole[aid] for aid in sorted(whole)}
