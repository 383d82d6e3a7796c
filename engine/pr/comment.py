"""The one govops comment of a pull request: found by its hidden marker among every comment,
created the first time, edited in place afterwards, left alone when unchanged. The marker is
handed in by the caller (the report stage writes it into the body)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from engine.pr.github_api import Comment, GitHubClient


@dataclass(frozen=True)
class Posted:
    action: Literal["created", "updated", "unchanged"]
    comment: Comment


def find(comments: Sequence[Comment], marker: str) -> Comment | None:
    """The comment this bot keeps for the pull request: the first with the marker."""
    return next((c for c in comments if marker in c.body), None)


def post(client: GitHubClient, number: int, body: str, marker: str) -> Posted:
    """Create the comment the first time, edit it in place afterwards (never a second one)."""
    existing = find(client.issue_comments(number), marker)
    if existing is None:
        return Posted("created", client.create_comment(number, body))
    if existing.body == body:
        return Posted("unchanged", existing)
    return Posted("updated", client.update_comment(existing.id, body))
