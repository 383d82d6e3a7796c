"""`govops policy test`: the Rego tests of the default library, of paths on disk, or of a
governed repo's own policies as staged (what the `govops-policy-test` pre-commit hook runs)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from engine.catalog import load_catalog
from engine.catalog.load import CONFIG_PATH
from engine.clock import utc_now
from engine.errors import GovopsError
from engine.policy.backends import select_backend
from engine.policy.library import PolicyModule, repo_modules
from engine.policy.manifest_sources import manifest_rego_modules
from engine.policy.testing import TestReport, run_tests
from engine.repo import open_repo


def repo_policy_modules(repo_path: Path) -> list[PolicyModule]:
    """The policies and tests a governed repo declares (`policies.paths` of govops.yaml, and
    the Rego of `manifests.policies`), as staged: what `git commit` would record, which is
    what the pre-commit hook must test."""
    repo = open_repo(repo_path)
    snapshot = repo.staged(utc_now())
    config = load_catalog(repo, snapshot).config
    if config.path is None and repo.workdir is not None \
            and (repo.workdir / CONFIG_PATH).is_file():
        raise GovopsError(f"{repo.workdir / CONFIG_PATH} is not staged: the policies tested "
                          "are those of what is staged (what the hook tests); git add it")
    modules = repo_modules(repo, snapshot, config, include_tests=True)
    known = {m.path for m in modules}
    return [*modules, *(m for m in manifest_rego_modules(repo, snapshot, config)
                        if m.path not in known)]


def governed_here(start: Path) -> Path | None:
    """The work tree of the git repository holding `start`, when it is a governed repository
    (govops.yaml at its root): `govops policy test` there tests that repository's policies,
    not the shipped library's."""
    import pygit2

    found = pygit2.discover_repository(str(start))
    if found is None:
        return None
    workdir = pygit2.Repository(found).workdir
    if workdir is None or not (Path(workdir) / CONFIG_PATH).is_file():
        return None
    return Path(workdir)


def run_policy_tests(engine: str, paths: Sequence[Path] = (), repo: Path | None = None,
                     timed: bool = False, only: re.Pattern[str] | None = None
                     ) -> TestReport | None:
    """The report of the tests asked for; None when `repo` declares no policies (nothing to
    test, which is not a failure). `timed`: each test's own duration; `only`: the tests whose
    name (data.<package>.<test>) it matches, as `opa test --run`."""
    if repo is not None and paths:
        raise GovopsError("give PATHS or --repo, not both")
    modules = repo_policy_modules(repo) if repo is not None else None
    if modules == []:
        return None
    return run_tests(select_backend(engine), paths, modules, timed=timed, only=only)
