"""The GitHub calls the pull-request bot needs: who the token belongs to, and list, create and
update issue comments.

Stdlib only (urllib), so the bot adds no HTTP dependency to the engine. Every failure ends as one
GitHubError line that says what to do, because the bot runs unattended in CI where a traceback
helps nobody. This module must never put the token in a message, never send it to another origin
than the API's, and never let a non-JSON body (a proxy's HTML page) turn into a crash.

Mirrors https://docs.github.com/en/rest/issues/comments, the pagination guide (follow the Link
header's rel="next" URL as given, never rebuild it) and the rate-limit guide (retry-after first,
then x-ratelimit-reset when x-ratelimit-remaining is 0, else wait a minute).

Who the token belongs to: `GET /user` answers for a personal or user token. A GitHub App's
installation token (GITHUB_TOKEN in Actions is one) gets 403 "Resource not accessible by
integration" there; GraphQL's `viewer { login }` then names the app's bot account
(`github-actions[bot]`), the login its REST comments carry as `user.login`.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from http.client import HTTPException, HTTPMessage
from importlib import metadata
from typing import IO, Any
from urllib.parse import urlsplit

from engine.errors import GovopsError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100  # the most GitHub serves per page: fewest requests for long threads
MAX_ATTEMPTS = 3  # per request, rate-limit and server-error retries included
SERVER_ERROR_PAUSE = 1.0
UNSPECIFIED_LIMIT_WAIT = 60.0  # the guide: no retry-after and quota left -> wait a minute
STATUS_PAGE = "https://www.githubstatus.com"

_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_REL = re.compile(r';\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))', re.IGNORECASE)


class GitHubError(GovopsError):
    """A GitHub API call that failed; the message is one line that says what to do.

    `status` is the HTTP status GitHub answered, or None when no answer came (network, bad
    configuration), so callers can tell "fix the token" from "try again later" without parsing."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Comment:
    """An issue (or pull request) comment, reduced to what the bot reads."""

    id: int
    body: str
    url: str
    author: str | None


@dataclass(frozen=True)
class _Call:
    """One logical call: what it does in words (for messages) and what a 404 means for it."""

    method: str
    action: str
    missing: str


@dataclass(frozen=True)
class _Reply:
    payload: Any
    headers: Message


@dataclass(frozen=True)
class _Failure:
    """An error answer, decoded defensively: GitHub's JSON if there is any, the reason if not."""

    status: int
    reason: str
    message: str | None
    errors: tuple[str, ...]
    headers: Message

    @classmethod
    def read(cls, exc: urllib.error.HTTPError) -> _Failure:
        try:
            raw = exc.read()
        except (OSError, HTTPException):
            raw = b""
        doc = _json_or_none(raw)
        message: str | None = None
        errors: tuple[str, ...] = ()
        if isinstance(doc, dict):
            if isinstance(doc.get("message"), str):
                message = _one_line(doc["message"])
            if isinstance(doc.get("errors"), list):
                errors = tuple(_describe(e) for e in doc["errors"])
        return cls(exc.code, _one_line(str(exc.reason)), message, errors, exc.headers)

    @property
    def detail(self) -> str:
        return f"{self.status} {self.message or self.reason}"

    @property
    def rate_limited(self) -> bool:
        """429, or a 403 that is a primary (no quota left) or secondary (message) rate limit."""
        if self.status == 429:
            return True
        return self.status == 403 and (
            self.headers.get("x-ratelimit-remaining") == "0"
            or "rate limit" in (self.message or "").lower()
        )

    def wait(self, now: float) -> float:
        """Seconds GitHub asks us to wait, in the order the rate-limit guide gives."""
        retry_after = _number(self.headers.get("retry-after"))
        if retry_after is not None:
            return max(0.0, retry_after)
        reset = _number(self.headers.get("x-ratelimit-reset"))
        if self.headers.get("x-ratelimit-remaining") == "0" and reset is not None:
            return max(0.0, reset - now)
        return UNSPECIFIED_LIMIT_WAIT


class _GetRedirectsOnly(urllib.request.HTTPRedirectHandler):
    """Follows GitHub's redirects for reads (a renamed repository answers 301) but not for writes
    (urllib would turn a POST into a GET), and never carries the token to another origin."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: HTTPMessage, newurl: str) -> urllib.request.Request | None:
        if req.get_method() != "GET":
            return None
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(new.full_url) != _origin(req.full_url):
            new.remove_header("Authorization")
        return new


class GitHubClient:
    """Issue-comment calls against one repository, with the retries GitHub's guides ask for.

    `sleep` is injected so that tests (and impatient callers) never really wait; `max_wait` is
    the longest single rate-limit pause worth taking before giving up with a message instead."""

    def __init__(self, api_url: str, token: str, repository: str, *, max_wait: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep, timeout: float = 30.0) -> None:
        if not token:
            raise GitHubError("GITHUB_TOKEN is not set: export a token that may comment on pull "
                              "requests (in GitHub Actions: GITHUB_TOKEN: ${{ github.token }})")
        if any(c.isspace() or not c.isprintable() for c in token):
            raise GitHubError("GITHUB_TOKEN contains whitespace or control characters: set it "
                              "to the token alone")
        self._api_url = _api_root(api_url)
        self._token = token
        self._repository = _repository(repository)
        self._max_wait = max_wait
        self._sleep = sleep
        self._timeout = timeout
        self._user_agent = _user_agent()
        self._opener = urllib.request.build_opener(_GetRedirectsOnly())

    @classmethod
    def from_environment(cls, repository: str,
                         environ: Mapping[str, str] | None = None) -> GitHubClient:
        """A client configured the way GitHub Actions configures a job's environment."""
        env = os.environ if environ is None else environ
        return cls(env.get("GITHUB_API_URL") or DEFAULT_API_URL,
                   env.get("GITHUB_TOKEN", "").strip(), repository)

    @property
    def api_url(self) -> str:
        return self._api_url

    @property
    def repository(self) -> str:
        return self._repository

    def login(self) -> str:
        """The login of the account the token belongs to (a bot's ends in `[bot]`): the author
        of every comment this client writes."""
        call = _Call("GET", "find the account GITHUB_TOKEN belongs to",
                     f"GitHub has no authenticated user at {self._api_url}/user: check that "
                     "GITHUB_API_URL is the GitHub REST API")
        answer = self._attempts(call, f"{self._api_url}/user")
        if isinstance(answer, _Failure):
            if answer.status != 403:
                raise self._explain(call, answer)
            return self._viewer(answer)  # an installation token: a GitHub App's bot
        login = _field(answer.payload, "login")
        if not isinstance(login, str) or not login:
            raise self._unexpected(call, "no login")
        return login

    def _viewer(self, refused: _Failure) -> str:
        """The bot's login from GraphQL, for a token that `GET /user` refused."""
        url = _graphql_url(self._api_url)
        call = _Call("POST", "find the account GITHUB_TOKEN belongs to with GraphQL (GET /user "
                             f"answered {refused.detail})",
                     f"GitHub has no GraphQL API at {url}: check that GITHUB_API_URL is the "
                     "GitHub REST API")
        doc = self._send(call, url, {"query": "query { viewer { login } }"}).payload
        login = _field(doc, "data", "viewer", "login")
        if not isinstance(login, str) or not login:
            errors = _field(doc, "errors")
            said = "; ".join(_describe(e) for e in errors) if isinstance(errors, list) else ""
            raise self._unexpected(call, "no viewer login" + (f": {said}" if said else ""))
        return login

    def issue_comments(self, number: int) -> list[Comment]:
        """Every comment on pull request (or issue) `number`, oldest first, across all pages."""
        call = self._thread_call("GET", f"list the comments on {self._thread(number)}", number)
        url: str | None = f"{self._repo_url}/issues/{number}/comments?per_page={PER_PAGE}"
        comments: list[Comment] = []
        seen: set[str] = set()
        while url is not None:
            seen.add(url)
            reply = self._send(call, url)
            if not isinstance(reply.payload, list):
                raise self._unexpected(call, "not a list of comments")
            comments.extend(self._comment(call, doc) for doc in reply.payload)
            url = _next_link(reply.headers.get_all("Link") or [])
            if url is not None and url in seen:
                raise self._unexpected(call, "its Link header points back to a page already read")
            if url is not None and _origin(url) != _origin(self._api_url):
                raise self._unexpected(call, f"its next page is on another origin, {url}")
        return comments

    def create_comment(self, number: int, body: str) -> Comment:
        call = self._thread_call("POST", f"comment on {self._thread(number)}", number)
        reply = self._send(call, f"{self._repo_url}/issues/{number}/comments", {"body": body})
        return self._comment(call, reply.payload)

    def update_comment(self, comment_id: int, body: str) -> Comment:
        _positive("comment id", comment_id)
        where = f"comment {comment_id} in {self._repository}"
        call = _Call("PATCH", f"update {where}",
                     f"GitHub found no {where}: it may have been deleted; if it exists, the "
                     f"token cannot see {self._repository}")
        reply = self._send(call, f"{self._repo_url}/issues/comments/{comment_id}", {"body": body})
        return self._comment(call, reply.payload)

    @property
    def _repo_url(self) -> str:
        return f"{self._api_url}/repos/{self._repository}"

    def _thread(self, number: int) -> str:
        _positive("pull request number", number)
        return f"{self._repository}#{number}"

    def _thread_call(self, method: str, action: str, number: int) -> _Call:
        return _Call(method, action,
                     f"GitHub found no pull request {self._repository}#{number}: check the "
                     f"repository and the number, or the token cannot see {self._repository}")

    def _send(self, call: _Call, url: str, body: Mapping[str, str] | None = None) -> _Reply:
        """One request, retried after a rate limit GitHub lets us wait out or one server error."""
        answer = self._attempts(call, url, body)
        if isinstance(answer, _Failure):
            raise self._explain(call, answer)
        return answer

    def _attempts(self, call: _Call, url: str,
                  body: Mapping[str, str] | None = None) -> _Reply | _Failure:
        """The reply, or the error answer that no retry can help (rate limits and a server
        error are retried, or end in a GitHubError, here)."""
        attempt, server_errors = 0, 0
        while True:
            attempt += 1
            try:
                with self._opener.open(self._request(call, url, body),
                                       timeout=self._timeout) as response:
                    raw, headers = response.read(), response.headers
            except urllib.error.HTTPError as exc:
                failure = _Failure.read(exc)
            except (OSError, HTTPException) as exc:  # URLError, refused, reset, timed out
                raise self._error(f"cannot reach the GitHub API at {self._api_url} to "
                                  f"{call.action}: {_reason(exc)}; check GITHUB_API_URL and the "
                                  "network, then run again") from exc
            else:
                payload = _json_or_none(raw)
                if payload is None:
                    raise self._unexpected(call, "not JSON")
                return _Reply(payload, headers)
            if failure.rate_limited:
                self._wait_out(call, failure, attempt)
            elif failure.status >= 500 and server_errors == 0 and attempt < MAX_ATTEMPTS:
                server_errors += 1
                self._sleep(SERVER_ERROR_PAUSE)
            else:
                return failure

    def _request(self, call: _Call, url: str,
                 body: Mapping[str, str] | None) -> urllib.request.Request:
        headers = {"Authorization": f"Bearer {self._token}",
                   "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": API_VERSION,
                   "User-Agent": self._user_agent}
        data = None
        if body is not None:
            data = json.dumps(dict(body)).encode()
            headers["Content-Type"] = "application/json"
        return urllib.request.Request(url, data=data, headers=headers, method=call.method)

    def _wait_out(self, call: _Call, failure: _Failure, attempt: int) -> None:
        now = time.time()
        wait = failure.wait(now)
        if wait > self._max_wait:
            until = datetime.fromtimestamp(now + wait, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            raise self._error(f"GitHub rate limit exceeded when trying to {call.action} "
                              f"({failure.detail}): it resets at {until}, in {wait:.0f} s, "
                              f"more than the {self._max_wait:g} s govops waits; run again "
                              "after that", failure.status)
        if attempt >= MAX_ATTEMPTS:
            raise self._error(f"GitHub rate limit still exceeded after {attempt} attempts to "
                              f"{call.action} ({failure.detail}): run again later",
                              failure.status)
        self._sleep(wait)

    def _explain(self, call: _Call, failure: _Failure) -> GitHubError:
        status, detail = failure.status, failure.detail
        if status == 401:
            text = (f"GitHub rejected the token when trying to {call.action} ({detail}): "
                    "GITHUB_TOKEN is invalid or expired; set it to a current token")
        elif status == 403:
            level = "read" if call.method == "GET" else "write"
            text = (f"GitHub refused to {call.action} ({detail}): the token lacks permission; "
                    f"give it `pull-requests: {level}` (or `issues: {level}`) on "
                    f"{self._repository}")
        elif status == 404:
            text = f"{call.missing} ({detail})"
        elif status == 422:
            errors = f": {'; '.join(failure.errors)}" if failure.errors else ""
            text = (f"GitHub rejected the request to {call.action} ({detail}{errors}): "
                    "shorten or fix the comment body")
        elif status >= 500:
            text = (f"GitHub failed with a server error when trying to {call.action} ({detail}), "
                    f"also on retry: GitHub may be having an outage ({STATUS_PAGE}); run again "
                    "later")
        else:
            text = (f"GitHub refused to {call.action} ({detail}): check that GITHUB_API_URL "
                    "is the GitHub REST API")
        return self._error(text, status)

    def _comment(self, call: _Call, doc: object) -> Comment:
        comment = _comment_or_none(doc)
        if comment is None:
            raise self._unexpected(call, "not a comment")
        return comment

    def _unexpected(self, call: _Call, what: str) -> GitHubError:
        return self._error(f"GitHub answered the request to {call.action} with something "
                           f"unexpected ({what}): check that GITHUB_API_URL ({self._api_url}) "
                           "is the GitHub REST API")

    def _error(self, message: str, status: int | None = None) -> GitHubError:
        """The one place errors are made, so the token is redacted even if GitHub echoes it."""
        return GitHubError(_one_line(message).replace(self._token, "***"), status)


def _api_root(api_url: str) -> str:
    root = api_url.strip().rstrip("/")
    parts = urlsplit(root)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment:
        raise GitHubError(f"GITHUB_API_URL {api_url!r} is not an http(s) URL: set it to the "
                          f"REST API root, e.g. {DEFAULT_API_URL}")
    return root


def _graphql_url(api_root: str) -> str:
    """GraphQL beside the REST root: api.github.com/graphql, or HOST/api/graphql for GitHub
    Enterprise Server (whose REST root is HOST/api/v3)."""
    if api_root.endswith("/api/v3"):
        return api_root.removesuffix("/v3") + "/graphql"
    return f"{api_root}/graphql"


def _repository(repository: str) -> str:
    owner, _, name = repository.partition("/")
    if not (_OWNER.fullmatch(owner) and _NAME.fullmatch(name) and name not in (".", "..")):
        raise GitHubError(f"repository {repository!r} is not OWNER/NAME: give it the way "
                          "GITHUB_REPOSITORY does, e.g. octo-org/octo-repo")
    return repository


def _positive(what: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise GitHubError(f"{what} {value!r} is not a positive integer")


def _user_agent() -> str:
    try:
        return f"govops/{metadata.version('govops')}"
    except metadata.PackageNotFoundError:
        return "govops/0+unknown"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _next_link(values: list[str]) -> str | None:
    """The rel="next" target of Link header values (RFC 8288), or None on the last page."""
    for value in values:
        for match in _LINK.finditer(value):
            for rel in _REL.finditer(match.group(2)):
                if "next" in (rel.group(1) or rel.group(2)).lower().split():
                    return match.group(1).strip()
    return None


def _comment_or_none(doc: object) -> Comment | None:
    if not isinstance(doc, dict):
        return None
    comment_id, body, url, user = doc.get("id"), doc.get("body"), doc.get("html_url"), \
        doc.get("user")
    if isinstance(comment_id, bool) or not isinstance(comment_id, int) \
            or not isinstance(url, str) or not (body is None or isinstance(body, str)):
        return None
    login = user.get("login") if isinstance(user, dict) else None
    return Comment(comment_id, body or "", url, login if isinstance(login, str) else None)


def _field(doc: Any, *path: str) -> Any:
    """doc[path[0]][path[1]]..., or None where a step is missing or not an object."""
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:  # also UnicodeDecodeError
        return None


def _describe(error: object) -> str:
    """One entry of a 422's errors[]: its message, else what field failed which check."""
    if isinstance(error, dict):
        if isinstance(error.get("message"), str):
            return _one_line(error["message"])
        return " ".join(str(error[k]) for k in ("resource", "field", "code") if k in error)
    return _one_line(str(error))


def _number(value: str | None) -> float | None:
    """A header's number of seconds, or None if absent or not a finite number."""
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _reason(exc: BaseException) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return _one_line(str(reason)) or type(reason).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split())


__all__ = ["DEFAULT_API_URL", "Comment", "GitHubClient", "GitHubError"]
