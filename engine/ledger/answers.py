"""The answers to the auditors' questions (`audit log`, `show`, `at`, `search`, `reindex`):
plain records that `engine.ledger.queries` builds and `engine.report.audit` renders.

Kept apart from the queries so that a renderer depends on these records only, never on SQLite
or the ledger store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


class Link(NamedTuple):
    role: str
    hash: str
    seq: int | None  # None: the hash is not an entry of this ledger


class EntrySummary(NamedTuple):
    seq: int
    hash: str
    commit: str  # the ledger commit holding the entry
    type: str
    time: str
    actor: str
    revision: str | None  # the governed repo's commit the entry is about
    stack: str | None
    verdict: str | None
    decision_id: str | None
    serial_number: str | None
    waiver: str | None  # the waiver an approval approves
    signer: str | None  # as the entry's bundle declares it (key hint or certificate identity)
    links: tuple[Link, ...]
    trust_version: int | None = None  # the trust version in force then, when a root is pinned


@dataclass(frozen=True)
class LogResult:
    stack: str | None
    type: str | None
    since: str | None
    until: str | None
    entries: tuple[EntrySummary, ...]


@dataclass(frozen=True)
class EntryFile:
    name: str
    size: int
    digest: str
    role: str  # entry (entry.json), signature (entry.sigstore.json) or recorded


@dataclass(frozen=True)
class ShowResult:
    entry: EntrySummary
    document: dict[str, Any]  # entry.json as recorded
    files: tuple[EntryFile, ...]
    linked: tuple[EntrySummary, ...]  # the entries it links to


class DeployedItem(NamedTuple):
    kind: str  # model, dataset, environment, package, image, driver
    name: str
    version: str | None  # a model's revision, a package's version, an image's digest
    digest: str | None
    purl: str | None
    environment: str | None  # the environment that brings it in (packages, images, drivers)


@dataclass(frozen=True)
class AtResult:
    stack: str
    time: str
    entry: EntrySummary | None  # the apply/rollback live then; None: nothing was deployed
    live_from: str | None
    live_until: str | None  # None: still live
    aibom: str | None  # ok, no-link, unreadable or no-stack: what the index found
    items: tuple[DeployedItem, ...]
    first: EntrySummary | None  # when nothing was: the stack's first apply/rollback, if any

    def of(self, kind: str) -> tuple[DeployedItem, ...]:
        return tuple(i for i in self.items if i.kind == kind)


class WaiverUse(NamedTuple):
    """A waiver a deployment rested on: who approved it (as its decision verified) and, when
    the deployment receipt records its re-judgement, the expiry and whether it held then."""

    waiver: str
    approvers: tuple[str, ...]
    expires: str | None
    valid_at_deploy: bool | None  # None: the receipt predates judging at deploy time


class Deployment(NamedTuple):
    """An apply/rollback that matched a search, the time it was live and what matched.

    Link, EntrySummary, DeployedItem and Deployment are NamedTuples rather than frozen
    dataclasses: a broad search builds one of each per matching deployment (9,000 of them for
    a policy every decision reports), and a NamedTuple is built 5x faster."""

    entry: EntrySummary
    stack: str
    live_from: str
    live_until: str | None
    matched: tuple[DeployedItem, ...]  # empty for policy and waiver searches
    waivers: tuple[WaiverUse, ...] = ()  # for a waiver search: that waiver as it stood


@dataclass(frozen=True)
class LiveRange:
    """Consecutive matching deployments of one stack, merged: from, until, which entries."""

    stack: str
    live_from: str
    live_until: str | None
    entries: tuple[int, ...]


@dataclass(frozen=True)
class PolicyHit:
    policy: str
    kind: str | None
    name: str | None
    file: str | None
    line: int | None
    severity: str | None
    waived: bool
    waiver: str | None
    approved_by: tuple[str, ...] = ()  # a waived result's waiver, as the decision verified it


@dataclass(frozen=True)
class DecisionHit:
    entry: EntrySummary
    results: tuple[PolicyHit, ...]


@dataclass(frozen=True)
class SearchResult:
    field: str  # package, model, policy or waiver
    value: str  # as asked (NAME, NAME@VERSION, DIGEST, ID)
    decisions: tuple[DecisionHit, ...]
    deployments: tuple[Deployment, ...]  # the first `limit` matching deployments, by seq
    ranges: tuple[LiveRange, ...]  # over every matching deployment
    total: int = 0  # matching deployments in all (deployments holds at most `limit`)
    limit: int | None = None  # None: all of them are listed


@dataclass(frozen=True)
class Reindexed:
    path: str
    kind: str  # rebuild (or incremental/current when only refreshed)
    reason: str
    seconds: float
    entries: int
    deployments: int
    deployed_items: int
    policy_results: int
    rebuilds: int


# -- audit diff (engine.ledger.deploy_diff) --------------------------------------------------------


@dataclass(frozen=True)
class ItemChange:
    kind: str  # model, dataset, environment, package, image, driver
    name: str
    environment: str | None  # the environment that brings it in (packages, images)
    change: str  # added, removed, changed
    old: tuple[str | None, str | None] | None  # (version, digest) before; None when added
    new: tuple[str | None, str | None] | None  # (version, digest) after; None when removed
    fields: tuple[str, ...]  # for a change: which of version, digest differ

    @property
    def before(self) -> str | None:
        return _shown(self.old, self.fields)

    @property
    def after(self) -> str | None:
        return _shown(self.new, self.fields)


def _shown(value: tuple[str | None, str | None] | None, fields: tuple[str, ...]) -> str | None:
    """What to show of (version, digest): the version, unless only the digest changed."""
    if value is None:
        return None
    return value[1] if fields == ("digest",) else (value[0] or value[1])


@dataclass(frozen=True)
class FieldChange:
    manifest: str  # "Deployment prod/chat"
    field: str  # "spec.replicas"; "" for a whole manifest added or removed
    before: Any
    after: Any
    follows: str | None = None  # the item change it only repeats ("model llama-3 digest")


@dataclass(frozen=True)
class DiffResult:
    before: EntrySummary
    after: EntrySummary
    items: tuple[ItemChange, ...]
    waivers_added: tuple[str, ...]
    waivers_removed: tuple[str, ...]
    manifests: tuple[FieldChange, ...]
    manifests_recorded: bool  # False when either entry records no manifests.json
