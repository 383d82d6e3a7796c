"""Build a real git repository with a scripted history from fixture folders.

Used by the tests, `make demo` and the benchmarks, so all three exercise git exactly as users
do: commits with fixed authors and times, made by pygit2 in a real work tree with an index.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

AUTHOR = ("Ada Platform", "ada@acme.test")
START = "2026-11-02T10:00:00Z"


@dataclass(frozen=True)
class Step:
    """One commit: files to write (path -> text or bytes), paths to delete, links to make."""

    message: str
    write: Mapping[str, str | bytes] = field(default_factory=dict)
    delete: Sequence[str] = ()
    symlinks: Mapping[str, str] = field(default_factory=dict)
    time: str | None = None
    author: tuple[str, str] = AUTHOR  # name, email (also the committer)
    renames: Mapping[str, str] = field(default_factory=dict)  # old path -> new (`git mv`)


def fixture_files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by POSIX path relative to it."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _seconds(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def stage(repo: pygit2.Repository, write: Mapping[str, str | bytes] = {},
          delete: Sequence[str] = (), symlinks: Mapping[str, str] = {}) -> None:
    """Change the work tree and the index the way `git add`/`git rm` would."""
    root = Path(repo.workdir)
    index = repo.index
    for rel, content in write.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        index.add(rel)
    for rel, link in symlinks.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        os.symlink(link, target)
        index.add(rel)
    for rel in delete:
        (root / rel).unlink(missing_ok=True)
        index.remove(rel)
    index.write()


def commit(repo: pygit2.Repository, message: str, when: str,
           author: tuple[str, str] = AUTHOR) -> str:
    seconds = _seconds(when)
    sig = pygit2.Signature(author[0], author[1], seconds, 0)
    tree = repo.index.write_tree()
    parents = [] if repo.head_is_unborn else [repo.head.target]
    return str(repo.create_commit("HEAD", sig, sig, message, tree, parents))


def build_history(path: Path, steps: Sequence[Step], start: str = START) -> pygit2.Repository:
    """Init a repo at `path` and make one commit per step, an hour apart unless timed."""
    repo = pygit2.init_repository(str(path), initial_head="main")
    repo.config["user.name"] = AUTHOR[0]
    repo.config["user.email"] = AUTHOR[1]
    moment = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    for step in steps:
        moved = {new: (Path(repo.workdir) / old).read_bytes() for old, new in step.renames.items()}
        stage(repo, {**moved, **step.write}, [*step.delete, *step.renames], step.symlinks)
        when = step.time or moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        commit(repo, step.message, when, step.author)
        moment = dt.datetime.fromisoformat(when.replace("Z", "+00:00")) + dt.timedelta(hours=1)
    return repo
