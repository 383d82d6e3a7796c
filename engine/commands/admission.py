"""`govops admission --stack S [--rev REV]`: the admission policy of a stack as a revision
defines it (engine.deploy.admission), as YAML documents to apply to the cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.catalog import load_catalog
from engine.deploy.admission import stack_admission
from engine.deploy.spec import find_stack
from engine.repo import open_repo


def run_admission(repo_path: Path, stack: str, rev: str | None = None) -> list[dict[str, Any]]:
    """The policy and binding of `stack` at `rev` (default HEAD), read from git objects."""
    repo = open_repo(repo_path)
    catalog = load_catalog(repo, repo.snapshot(rev or "HEAD"))
    return stack_admission(stack, find_stack(catalog, stack).doc["spec"])


def as_yaml(documents: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True)
