"""Where govops keeps its own files inside a governed repo: `.git/govops/`.

Everything there is derived or local state (the parse cache, the ledger index, the ledger
checkpoint, Pulumi's state and workspaces, append guards), never evaluated input, which is why
it lives inside `.git` and never in the work tree. Every path is named here once, so a reader
can see the whole folder in one place and no stage spells a path of another.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FOLDER = "govops"


@dataclass(frozen=True)
class WorkDir:
    """The `.git/govops` folder of one repository (given its git directory)."""

    git_dir: Path

    @property
    def root(self) -> Path:
        return self.git_dir / FOLDER

    @property
    def parse_cache(self) -> Path:
        """Parsed YAML and lock files by blob id (engine.catalog.cache)."""
        return self.root / "cache.sqlite"

    @property
    def ledger_index(self) -> Path:
        """The SQLite index of the ledger (engine.ledger.index)."""
        return self.root / "ledger-index.sqlite"

    @property
    def ledger_checkpoint(self) -> Path:
        """The last ledger tip known to verify (engine.ledger.store)."""
        return self.root / "ledger-checkpoint.json"

    @property
    def pulumi_state(self) -> Path:
        """Pulumi's local `file://` state backend (engine.deploy.pulumi_run)."""
        return self.root / "pulumi"

    def pulumi_workspace(self, project: str) -> Path:
        """The Automation API work directory of one Pulumi project."""
        return self.root / "pulumi-workspaces" / project

    @property
    def verified_approvals(self) -> Path:
        """Approval signatures already verified here (engine.approvals.verified)."""
        return self.root / "approvals-verified.json"

    @property
    def trust_pin(self) -> Path:
        """This machine's pin of the first trust root (engine.trust.pin): written by
        `govops trust init` and `govops trust pin`, never by anything the repo carries."""
        return self.root / "trust-root"

    def ref_guard(self, ref: str) -> Path:
        """The flock file serialising appends to `ref` (engine.repo.ref_store)."""
        return self.root / (ref.replace("/", "_") + ".guard")
