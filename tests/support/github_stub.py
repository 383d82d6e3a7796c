"""A stand-in for the GitHub REST API's issue-comment endpoints, on 127.0.0.1 only.

Tests of the pull-request bot run against this instead of api.github.com so that they need no
token, no network and no luck: it keeps comments per (repository, number), paginates with
GitHub's Link header, answers GitHub's error shapes, records every request, and plays scripted
failures (rate limits, server errors) on demand. Use it through the fixture:

    from tests.support.github_stub import github_stub  # noqa: F401

    def test_x(github_stub: GitHubStub) -> None:
        github_stub.seed("octo/repo", 7, ["a", "b"])
        client = GitHubClient(github_stub.url, github_stub.token, "octo/repo")

Like GitHub, page links point at /repositories/{id}/... rather than /repos/{owner}/{name}/...,
so a client that rebuilds the next URL instead of following it fails here as it would there.

Who the token belongs to, as GitHub answers it: with a user token (the default) `GET /user`
gives the user's login; with an app's installation token (`app=True`, as GITHUB_TOKEN in
Actions) `GET /user` is 403 "Resource not accessible by integration" and only GraphQL's
`viewer { login }` (POST /graphql) names the bot, e.g. `github-actions[bot]`. Comments the
token writes carry that login as `user.login`, with `type` "Bot" for a bot, "User" otherwise.
An app's token may edit only its own comments (403 otherwise); a user token edits any (as a
maintainer's would).
It must never listen on anything but 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

STUB_TOKEN = "ghs_stubTokenForTests0123456789abcdef"
STUB_LOGIN = "govops-bot"
APP_LOGIN = "github-actions[bot]"
INTEGRATION = "Resource not accessible by integration"
MAX_BODY = 65536
DOCS = "https://docs.github.com/rest/issues/comments"

_THREAD = re.compile(
    r"/(?:repos/(?P<owner>[^/]+)/(?P<name>[^/]+)|repositories/(?P<rid>\d+))"
    r"/issues/(?P<number>\d+)/comments")
_ONE = re.compile(r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)/issues/comments/(?P<id>\d+)")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stub saw it; header names are lower-cased."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any


@dataclass(frozen=True)
class Answer:
    """A response to send: a dict or list body goes out as JSON, a str as is (as HTML)."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


class GitHubStub:
    """The stand-in server. `token=None` accepts any request; otherwise only that bearer token."""

    def __init__(self, token: str | None = STUB_TOKEN, login: str = STUB_LOGIN,
                 app: bool = False) -> None:
        self.token = token
        self.login = login
        self.app = app  # an installation token: no GET /user, GraphQL viewer only
        self._lock = threading.Lock()
        self._threads: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self._repo_ids: dict[str, int] = {}
        self._next_id = 1_000_001
        self._scripted: list[Answer] = []
        self._requests: list[RecordedRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> GitHubStub:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        # a short poll so that stop() (shutdown waits for the next poll) costs no test 0.5 s
        self._thread = threading.Thread(target=server.serve_forever, args=(0.01,),
                                        name="github-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server, self._thread = None, None

    def __enter__(self) -> GitHubStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API root, as GITHUB_API_URL would give it."""
        assert self._server is not None, "the stub is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- state for tests -----------------------------------------------------------------------

    def seed(self, repo: str, number: int, bodies: Sequence[str],
             author: str = "someone") -> list[dict[str, Any]]:
        """Pre-create comments on `repo`#`number`, in order; returns copies of them."""
        with self._lock:
            made = [self._add(repo, number, body, author) for body in bodies]
        return [dict(c) for c in made]

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._threads.get((repo, number), [])]

    def repository_id(self, repo: str) -> int:
        """The numeric id GitHub-style page links use for `repo`."""
        with self._lock:
            return self._repo_id(repo)

    def fail_next(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None,
                  times: int = 1) -> None:
        """Answer the next `times` requests (to any endpoint) with this instead of serving them.

        body None sends GitHub's usual {"message", "documentation_url"} for the status."""
        if body is None:
            body = {"message": HTTPStatus(status).phrase, "documentation_url": DOCS,
                    "status": str(status)}
        with self._lock:
            self._scripted.extend([Answer(status, body, dict(headers or {}))] * times)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    # -- serving -------------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: Mapping[str, str],
               raw: bytes) -> Answer:
        """Record the request, then answer it: scripted failure, auth, routing, validation."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            body = json.loads(raw) if raw else None
            parsed = True
        except ValueError:
            body, parsed = None, False
        with self._lock:
            self._requests.append(RecordedRequest(method, parts.path, query, dict(headers), body))
            if self._scripted:
                return self._scripted.pop(0)
            if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
                return _error(401, "Bad credentials", "https://docs.github.com/rest")
            if not parsed:
                return _error(400, "Problems parsing JSON")
            return self._route(method, parts.path, query, body)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if path == "/user" and method == "GET":
            if self.app:
                return _error(403, INTEGRATION, "https://docs.github.com/rest/users/users"
                                                "#get-the-authenticated-user")
            return Answer(200, _user(self.login))
        if path == "/graphql" and method == "POST":
            return self._graphql(body)
        thread = _THREAD.fullmatch(path)
        if thread and method == "GET":
            repo = self._repo_named(thread)
            if repo is None:
                return _error(404, "Not Found")
            return self._page(repo, int(thread["number"]), query)
        if thread and method == "POST" and thread["owner"]:
            invalid = _invalid_body(body)
            if invalid:
                return invalid
            repo = f"{thread['owner']}/{thread['name']}"
            return Answer(201, dict(self._add(repo, int(thread["number"]), body["body"],
                                              self.login)))
        one = _ONE.fullmatch(path)
        if one and method == "PATCH":
            found = self._find(f"{one['owner']}/{one['name']}", int(one["id"]))
            if found is None:
                return _error(404, "Not Found")
            if self.app and found["user"]["login"] != self.login:
                return _error(403, INTEGRATION)  # an app may edit only its own comments
            invalid = _invalid_body(body)
            if invalid:
                return invalid
            found.update(body=body["body"], updated_at=_now())
            return Answer(200, dict(found))
        return _error(404, "Not Found")

    def _graphql(self, body: Any) -> Answer:
        """The one query the stub knows, `viewer { login }`; GitHub's error shape otherwise."""
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, str):
            return _error(400, "Problems parsing JSON")
        if "viewer" not in query or "login" not in query:
            return Answer(200, {"errors": [{"message": "the stub answers only viewer { login }"}]})
        return Answer(200, {"data": {"viewer": {"login": self.login}}})

    def _page(self, repo: str, number: int, query: dict[str, str]) -> Answer:
        """One page the way GitHub cuts it, with first/prev/next/last links as they apply."""
        per_page = min(max(_int(query.get("per_page"), 30), 1), 100)
        page = max(_int(query.get("page"), 1), 1)
        items = self._threads.get((repo, number), [])
        last = max(1, -(-len(items) // per_page))
        chunk = [dict(c) for c in items[(page - 1) * per_page: page * per_page]]
        base = f"{self.url}/repositories/{self._repo_id(repo)}/issues/{number}/comments"

        def link(to: int, rel: str) -> str:
            return f'<{base}?{urlencode({**query, "per_page": per_page, "page": to})}>; rel="{rel}"'

        links = []
        if page > 1:
            links += [link(min(page - 1, last), "prev")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first")]
        return Answer(200, chunk, {"Link": ", ".join(links)} if links else {})

    def _add(self, repo: str, number: int, body: str, author: str) -> dict[str, Any]:
        comment_id, self._next_id = self._next_id, self._next_id + 1
        self._repo_id(repo)
        now = _now()
        comment = {"id": comment_id, "body": body,
                   "html_url": f"https://github.com/{repo}/pull/{number}#issuecomment-{comment_id}",
                   "user": _user(author), "created_at": now, "updated_at": now}
        self._threads.setdefault((repo, number), []).append(comment)
        return comment

    def _find(self, repo: str, comment_id: int) -> dict[str, Any] | None:
        for (owner_name, _), comments in self._threads.items():
            for comment in comments:
                if owner_name == repo and comment["id"] == comment_id:
                    return comment
        return None

    def _repo_id(self, repo: str) -> int:
        return self._repo_ids.setdefault(repo, 1_300_000 + len(self._repo_ids))

    def _repo_named(self, match: re.Match[str]) -> str | None:
        if match["owner"]:
            return f"{match['owner']}/{match['name']}"
        wanted = int(match["rid"])
        return next((repo for repo, rid in self._repo_ids.items() if rid == wanted), None)


def _handler(stub: GitHubStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = stub.answer(self.command, self.path, headers, raw)
            if isinstance(answer.body, str):
                payload, kind = answer.body.encode(), "text/html; charset=utf-8"
            else:
                payload, kind = json.dumps(answer.body).encode(), "application/json; charset=utf-8"
            self.send_response(answer.status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output to the tests' own

    return Handler


def _user(login: str) -> dict[str, Any]:
    """An account as GitHub embeds it in a comment (and answers GET /user), abridged."""
    return {"login": login, "id": 100_000 + sum(map(ord, login)),
            "type": "Bot" if login.endswith("[bot]") else "User"}


def _invalid_body(body: Any) -> Answer | None:
    """GitHub's 422s for a missing or too long comment body."""
    if not isinstance(body, dict) or not isinstance(body.get("body"), str):
        return _error(422, "Invalid request.\n\n\"body\" wasn't supplied.")
    if len(body["body"]) > MAX_BODY:
        return Answer(422, {"message": "Validation Failed",
                            "errors": [{"resource": "IssueComment", "code": "custom",
                                        "field": "body",
                                        "message": "body is too long (maximum is 65536 characters)"}],
                            "documentation_url": DOCS, "status": "422"})
    return None


def _error(status: int, message: str, docs: str = DOCS) -> Answer:
    return Answer(status, {"message": message, "documentation_url": docs, "status": str(status)})


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def github_stub() -> Iterator[GitHubStub]:
    """A fresh stub per test, accepting only STUB_TOKEN, stopped when the test ends."""
    with GitHubStub() as stub:
        yield stub
