"""`govops pr comment` against the GitHub API stand-in on 127.0.0.1 (tests/support/github_stub.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from engine.bom.diff import diff_aiboms
from engine.commands.check import CheckOptions, run_check
from engine.pr.github_api import GitHubClient, GitHubError
from engine.repo.scripted import Step
from engine.report.pr_comment import LIMIT, MARKER, render
from tests.support.approvals import approve_all
from tests.support.cli import Run, govops
from tests.support.github_stub import APP_LOGIN, STUB_TOKEN, GitHubStub, github_stub
from tests.support.repos import NOW, fixture, make_repo

__all__ = ["github_stub"]  # the fixture, used by name

REPO = "acme/ml-governance"
ENV = "environments/vllm-serve.yaml"
STACK = "stacks/prod-inference.yaml"
PINNED = "ghcr.io/acme/vllm@sha256:c0be114bf260e9f05643f4bd755a2cf35674646de21b424d86c2a5e489fe33c6"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """base: acme-ml with an unpinned image (ENV-002, inherited); head: chat cut to one
    replica (STK-004, introduced); head2: chat back to 3 replicas."""
    files = fixture("acme-ml")
    env = files[ENV].decode().replace(PINNED, "ghcr.io/acme/vllm:latest")
    stack = files[STACK].decode()
    make_repo(tmp_path / "repo",
              Step("base", {**files, ENV: env.encode()}),
              Step("one replica", {STACK: stack.replace("      replicas: 3\n",
                                                        "      replicas: 1\n", 1)}),
              Step("back to three", {STACK: stack}))
    approve_all(tmp_path / "repo", tmp_path / "keys")
    return tmp_path / "repo"


@pytest.fixture
def env(github_stub: GitHubStub, monkeypatch: pytest.MonkeyPatch) -> GitHubStub:
    monkeypatch.setenv("GITHUB_TOKEN", STUB_TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", github_stub.url)
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                  "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return github_stub


def comment(repo: Path, head: str, *extra: str) -> Run:
    return govops("pr", "comment", "--repo", str(repo), "--base", "HEAD~2", "--head", head,
                  "--github-repo", REPO, "--pr", "7", "--now", NOW, *extra)


def test_created_the_first_time_and_updated_in_place_afterwards(repo: Path,
                                                                 env: GitHubStub) -> None:
    first = comment(repo, "HEAD~1")
    assert first.exit_code == 0, first.stderr
    [made] = env.comments(REPO, 7)
    assert first.stdout.startswith(f"created comment {made['id']} on {REPO}#7: ")
    assert made["body"].startswith(MARKER + "\n## ❌ govops: FAIL")
    second = comment(repo, "HEAD")
    assert second.exit_code == 0, second.stderr
    assert second.stdout.startswith(f"updated comment {made['id']} on {REPO}#7: ")
    [updated] = env.comments(REPO, 7)  # never a second comment
    assert updated["id"] == made["id"]
    assert updated["body"].startswith(MARKER + "\n## ❌ govops: FAIL")  # ENV-002 remains
    assert "introduces no policy failures; 1 failure already on the base" in updated["body"]
    calls = [(r.method, r.path) for r in env.requests]
    assert calls == [("GET", f"/repos/{REPO}/issues/7/comments"),
                     ("POST", f"/repos/{REPO}/issues/7/comments"),
                     ("GET", f"/repos/{REPO}/issues/7/comments"),
                     ("GET", "/user"),  # a comment carries the marker: is it ours?
                     ("PATCH", f"/repos/{REPO}/issues/comments/{made['id']}")]
    for request in env.requests:
        assert request.headers["authorization"] == f"Bearer {STUB_TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
    assert env.requests[0].query == {"per_page": "100"}
    assert env.requests[1].json == {"body": made["body"]}
    assert env.requests[4].json == {"body": updated["body"]}
    third = comment(repo, "HEAD")
    assert third.stdout.startswith(f"unchanged comment {made['id']} ")
    assert [r.method for r in env.requests[5:]] == ["GET", "GET"]  # nothing to edit
    assert first.stderr == second.stderr == third.stderr == ""  # no other comment has the marker


def test_found_among_more_than_a_hundred_comments(repo: Path, env: GitHubStub) -> None:
    env.seed(REPO, 7, [f"review remark {i}" for i in range(130)], author="reviewer")
    [ours] = env.seed(REPO, 7, [f"{MARKER}\nan older govops comment"], author="govops-bot")
    env.seed(REPO, 7, [f"later remark {i}" for i in range(40)], author="reviewer")
    run = comment(repo, "HEAD~1")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith(f"updated comment {ours['id']} ")
    assert len(env.comments(REPO, 7)) == 171
    # two pages, who we are, then the edit
    assert [r.method for r in env.requests] == ["GET", "GET", "GET", "PATCH"]
    assert env.requests[2].path == "/user"
    assert env.requests[-1].path == f"/repos/{REPO}/issues/comments/{ours['id']}"


def test_lists_only_the_failures_the_pull_request_introduces(repo: Path) -> None:
    run = comment(repo, "HEAD~1", "--dry-run")
    assert run.exit_code == 0, run.stderr
    body = run.stdout
    assert "introduces **1** policy failure; 1 failure already on the base" in body
    new_section = body.split("### New failures")[1].split("###")[0]
    assert "STK-004" in new_section and "ENV-002" not in new_section
    # the waiver it relies on, and who approved it (verified)
    assert "| llama-license-ok | legal@acme.test | existing | MDL-002 |" in body
    assert "### AIBOM diff" in body
    assert "- **prod-inference**: 1 update; 10 more only change" in body
    assert "  - update deployment `inference/chat`" in body


def test_dry_run_needs_no_token_and_calls_nothing(repo: Path, github_stub: GitHubStub,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_API_URL", github_stub.url)
    assert comment(repo, "HEAD~1", "--dry-run").exit_code == 0
    assert github_stub.requests == []
    run = comment(repo, "HEAD~1")
    assert run.exit_code == 2 and "GITHUB_TOKEN is not set" in run.stderr
    assert github_stub.requests == []


def _one_error(run: Run) -> str:
    assert run.exit_code == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("govops: error: "), run.stderr
    assert STUB_TOKEN not in run.stderr
    return lines[0]


@pytest.mark.parametrize(("status", "headers", "expected"), [
    (401, None, "GITHUB_TOKEN is invalid or expired"),
    (403, None, "the token lacks permission"),
    (404, None, f"GitHub found no pull request {REPO}#7"),
    (422, None, "GitHub rejected the request"),
    (429, {"retry-after": "3600"}, "GitHub rate limit exceeded"),
    (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "4102444800"},
     "GitHub rate limit exceeded"),
])
def test_api_errors_are_one_line_and_exit_2(repo: Path, env: GitHubStub, status: int,
                                            headers: dict[str, str] | None,
                                            expected: str) -> None:
    env.fail_next(status, headers=headers)
    assert expected in _one_error(comment(repo, "HEAD~1"))
    assert env.comments(REPO, 7) == []


def test_a_rate_limit_worth_waiting_for_is_waited_for(repo: Path, env: GitHubStub) -> None:
    env.fail_next(429, headers={"retry-after": "0"})
    run = comment(repo, "HEAD~1")
    assert run.exit_code == 0, run.stderr
    assert [r.method for r in env.requests] == ["GET", "GET", "POST"]


def test_a_failing_create_leaves_no_comment(repo: Path, env: GitHubStub) -> None:
    env.fail_next(200, body=[])  # the listing: no comments yet; then the create is refused
    env.fail_next(422, body={"message": "Validation Failed",
                             "errors": [{"message": "body is too long"}]})
    run = comment(repo, "HEAD~1")
    assert "body is too long" in _one_error(run)


def test_a_long_comment_is_cut_below_githubs_limit_with_a_note(repo: Path) -> None:
    checked = run_check(CheckOptions(repo=repo, rev="HEAD~1", base="HEAD~2", engine="opa",
                                     now=NOW))
    decision = checked.decision
    [stk] = [r for r in decision.results if r.id == "STK-004"]
    many = tuple(dataclasses.replace(stk, line=i, msg=f"{stk.msg} ({i})") for i in range(3000))
    big = dataclasses.replace(decision, results=decision.results + many)
    empty = diff_aiboms({"components": []}, {"components": []})
    body = render(big, checked.metadata, empty, [], "govops check --format markdown")
    assert len(body) <= LIMIT
    assert "Truncated to fit GitHub's 65,536-character limit" in body
    assert "The full report: `govops check --format markdown`" in body
    assert body.count("<details>") == body.count("</details>")  # never cut open
    assert body.startswith(MARKER) and body.rstrip().endswith("</sub>")
    small = render(decision, checked.metadata, empty, [], "x")
    assert "Truncated" not in small and len(small) < 10_000


# -- whose comment it is ----------------------------------------------------------------------

IMPOSTOR = f"{MARKER}\n## ✅ govops: PASS\n\nNothing to see here (written by a person)."


def _note(others: list[dict[str, Any]]) -> str:
    named = ", ".join(f"{c['id']} by {c['user']['login']}" for c in others)
    return (f"govops: note: {len(others)} comment(s) on {REPO}#7 carry govops's marker but were "
            f"written by another account ({named}): left untouched; govops edits only its own "
            "comment\n")


def test_someone_elses_comment_with_the_marker_is_left_untouched(repo: Path,
                                                                 env: GitHubStub) -> None:
    """A user token may edit anyone's comment (a maintainer's would): before, the bot
    overwrote the first comment holding its marker, whoever wrote it."""
    [theirs] = env.seed(REPO, 7, [IMPOSTOR], author="mallory")
    first = comment(repo, "HEAD~1")
    assert first.exit_code == 0, first.stderr
    mallory, ours = env.comments(REPO, 7)
    assert mallory == theirs  # byte for byte, updated_at included
    assert ours["user"]["login"] == env.login and ours["body"].startswith(MARKER)
    assert first.stdout.startswith(f"created comment {ours['id']} on {REPO}#7: ")
    assert first.stderr == _note([theirs])
    assert [(r.method, r.path) for r in env.requests] == [
        ("GET", f"/repos/{REPO}/issues/7/comments"), ("GET", "/user"),
        ("POST", f"/repos/{REPO}/issues/7/comments")]
    second = comment(repo, "HEAD")  # the next push: ours is edited, theirs still not
    assert second.exit_code == 0, second.stderr
    assert second.stdout.startswith(f"updated comment {ours['id']} ")
    assert second.stderr == _note([theirs])
    assert env.comments(REPO, 7)[0] == theirs
    assert env.requests[-1].path == f"/repos/{REPO}/issues/comments/{ours['id']}"
    assert [r.method for r in env.requests[3:]] == ["GET", "GET", "PATCH"]


def test_an_app_token_edits_its_own_comment_and_not_the_impostors_before_it(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GITHUB_TOKEN in Actions: GET /user is refused, GraphQL names github-actions[bot]; an
    impostor's marker comment placed first would have drawn a 403 on every push."""
    with GitHubStub(login=APP_LOGIN, app=True) as stub:
        monkeypatch.setenv("GITHUB_TOKEN", STUB_TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", stub.url)
        for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                      "ALL_PROXY"):
            monkeypatch.delenv(proxy, raising=False)
        [theirs] = stub.seed(REPO, 7, [IMPOSTOR], author="mallory")
        [old] = stub.seed(REPO, 7, [f"{MARKER}\nan older govops comment"], author=APP_LOGIN)
        [quoted] = stub.seed(REPO, 7, [f"> {MARKER}\nwhy does this fail?"], author="reviewer")
        run = comment(repo, "HEAD~1")
        assert run.exit_code == 0, run.stderr
        assert run.stdout.startswith(f"updated comment {old['id']} on {REPO}#7: ")
        assert run.stderr == _note([theirs, quoted])
        mallory, ours, reviewer = stub.comments(REPO, 7)
        assert (mallory, reviewer) == (theirs, quoted)
        assert ours["id"] == old["id"] and ours["body"].startswith(MARKER + "\n## ❌ govops")
        assert [(r.method, r.path) for r in stub.requests] == [
            ("GET", f"/repos/{REPO}/issues/7/comments"), ("GET", "/user"), ("POST", "/graphql"),
            ("PATCH", f"/repos/{REPO}/issues/comments/{old['id']}")]


def test_an_app_token_may_not_edit_another_accounts_comment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The stub refuses as GitHub does, which is what the bot used to run into."""
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                  "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    with GitHubStub(login=APP_LOGIN, app=True) as stub:
        [theirs] = stub.seed(REPO, 7, [IMPOSTOR], author="mallory")
        client = GitHubClient(stub.url, STUB_TOKEN, REPO)
        with pytest.raises(GitHubError) as refused:
            client.update_comment(theirs["id"], "overwritten")
        assert refused.value.status == 403
        assert stub.comments(REPO, 7) == [theirs]
