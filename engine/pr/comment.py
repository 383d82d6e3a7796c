"""The one govops comment of a pull request: found by its hidden marker among the comments of
the account the token belongs to, created the first time, edited in place afterwards, left
alone when unchanged. The marker is handed in by the caller (the report stage writes it into
the body).

A marker proves nothing: anyone can write it into a comment. Only a comment by our own account
is ever edited (GitHub would refuse to edit anyone else's with a 403 on every push; a token
that may edit others' comments would overwrite a person's words). A comment by another account
that carries the marker is left untouched and reported back, so the caller can say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from engine.pr.github_api import Comment, GitHubClient


@dataclass(frozen=True)
class Posted:
    action: Literal["created", "updated", "unchanged"]
    comment: Comment
    others: tuple[Comment, ...] = ()  # comments by other accounts that carry the marker


def find(comments: Sequence[Comment], marker: str, login: str) -> Comment | None:
    """The comment this bot keeps for the pull request: the first by `login` with the marker."""
    return next((c for c in comments if c.author == login and marker in c.body), None)


def impostors(comments: Sequence[Comment], marker: str, login: str) -> tuple[Comment, ...]:
    """Comments that carry the marker but were written by another account than `login`."""
    return tuple(c for c in comments if c.author != login and marker in c.body)


def post(client: GitHubClient, number: int, body: str, marker: str) -> Posted:
    """Create the comment the first time, edit it in place afterwards (never a second one of
    our own); never touch a comment of another account, whatever it holds. Who we are is asked
    only when some comment carries the marker."""
    comments = client.issue_comments(number)
    existing: Comment | None = None
    others: tuple[Comment, ...] = ()
    if any(marker in c.body for c in comments):
        login = client.login()
        existing, others = find(comments, marker, login), impostors(comments, marker, login)
    if existing is None:
        return Posted("created", client.create_comment(number, body), others)
    if existing.body == body:
        return Posted("unchanged", existing, others)
    return Posted("updated", client.update_comment(existing.id, body), others)
