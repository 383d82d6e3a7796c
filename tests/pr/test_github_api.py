"""engine.pr.github_api against the GitHub stand-in: what goes on the wire, and every failure.

Each behaviour has its failing input beside its passing one. Nothing sleeps (a fake sleep records
what the client would have waited) and nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from importlib import metadata
from typing import Any

import pytest

from engine.pr.github_api import Comment, GitHubClient, GitHubError, _graphql_url
from tests.support.github_stub import (
    APP_LOGIN,
    INTEGRATION,
    STUB_LOGIN,
    STUB_TOKEN,
    GitHubStub,
    RecordedRequest,
    github_stub,
)

__all__ = ["github_stub"]  # the fixture, imported for pytest

REPO = "octo-org/octo-repo"
PR = 7
THREAD = f"/repos/{REPO}/issues/{PR}/comments"
VERSION = metadata.version("govops")
SECONDARY = ("You have exceeded a secondary rate limit. Please wait a few minutes before you "
             "try again.")


class FakeSleep:
    """Stands in for time.sleep: remembers each pause instead of taking it."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours *_proxy variables; the stub must be reached directly, never via a proxy."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def client(github_stub: GitHubStub, sleep: FakeSleep) -> GitHubClient:
    return GitHubClient(github_stub.url, STUB_TOKEN, REPO, sleep=sleep)


def failure(call: Callable[[], object], secret: str = STUB_TOKEN) -> GitHubError:
    """The GitHubError `call` raises, checked to be one line that never shows the token."""
    with pytest.raises(GitHubError) as info:
        call()
    text = str(info.value)
    assert text and "\n" not in text and "Traceback" not in text
    assert secret not in text
    assert info.value.exit_code == 2
    return info.value


def assert_api_headers(request: RecordedRequest, *, has_body: bool,
                       token: str = STUB_TOKEN) -> None:
    assert request.headers["authorization"] == f"Bearer {token}"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["user-agent"] == f"govops/{VERSION}"
    if has_body:
        assert request.headers["content-type"] == "application/json"
    else:
        assert "content-type" not in request.headers


def rate_limit_headers(reset_in: int) -> dict[str, str]:
    return {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0",
            "x-ratelimit-used": "5000", "x-ratelimit-resource": "core",
            "x-ratelimit-reset": str(int(time.time()) + reset_in)}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# -- listing ----------------------------------------------------------------------------------


def test_lists_every_page_by_following_link_next(github_stub: GitHubStub,
                                                 client: GitHubClient) -> None:
    seeded = github_stub.seed(REPO, PR, [f"comment {i}" for i in range(250)], author="alice")

    comments = client.issue_comments(PR)

    assert comments == [Comment(c["id"], c["body"], c["html_url"], "alice") for c in seeded]
    rid = github_stub.repository_id(REPO)
    assert [(r.method, r.path, r.query, r.json) for r in github_stub.requests] == [
        ("GET", THREAD, {"per_page": "100"}, None),
        ("GET", f"/repositories/{rid}/issues/{PR}/comments", {"per_page": "100", "page": "2"},
         None),
        ("GET", f"/repositories/{rid}/issues/{PR}/comments", {"per_page": "100", "page": "3"},
         None),
    ]
    for request in github_stub.requests:
        assert_api_headers(request, has_body=False)


def test_lists_a_pull_request_without_comments_in_one_request(github_stub: GitHubStub,
                                                              client: GitHubClient) -> None:
    github_stub.seed(REPO, PR + 1, ["on another pull request"])

    assert client.issue_comments(PR) == []
    assert [(r.method, r.path, r.query) for r in github_stub.requests] == [
        ("GET", THREAD, {"per_page": "100"})]


def test_comment_without_user_has_no_author(github_stub: GitHubStub,
                                            client: GitHubClient) -> None:
    github_stub.fail_next(200, [{"id": 5, "body": None, "html_url": "https://x/5", "user": None}])

    assert client.issue_comments(PR) == [Comment(5, "", "https://x/5", None)]


def test_list_never_follows_a_next_page_to_another_origin(github_stub: GitHubStub,
                                                          client: GitHubClient) -> None:
    with GitHubStub(token=None) as elsewhere:
        next_page = f"{elsewhere.url}{THREAD}?page=2"
        github_stub.fail_next(200, [], {"Link": f'<{next_page}>; rel="next"'})

        error = failure(lambda: client.issue_comments(PR))

        assert elsewhere.requests == []
    assert str(error) == (
        f"GitHub answered the request to list the comments on {REPO}#{PR} with something "
        f"unexpected (its next page is on another origin, {next_page}): check that "
        f"GITHUB_API_URL ({github_stub.url}) is the GitHub REST API")
    assert len(github_stub.requests) == 1


def test_list_stops_on_a_link_loop(github_stub: GitHubStub, client: GitHubClient) -> None:
    first = f"{github_stub.url}{THREAD}?per_page=100"
    github_stub.fail_next(200, [], {"Link": f'<{first}>; rel="next"'})

    error = failure(lambda: client.issue_comments(PR))

    assert "its Link header points back to a page already read" in str(error)
    assert len(github_stub.requests) == 1


@pytest.mark.parametrize("body", [{"message": "not a list"}, "<html>hello</html>",
                                  [{"id": "one", "html_url": "https://x"}]])
def test_list_refuses_an_answer_that_is_not_comments(github_stub: GitHubStub,
                                                     client: GitHubClient, body: Any) -> None:
    github_stub.fail_next(200, body)

    error = failure(lambda: client.issue_comments(PR))

    assert str(error).startswith(f"GitHub answered the request to list the comments on "
                                 f"{REPO}#{PR} with something unexpected (not ")
    assert error.status is None


# -- who the token belongs to -----------------------------------------------------------------


def test_a_user_tokens_login_comes_from_get_user(github_stub: GitHubStub,
                                                 client: GitHubClient) -> None:
    assert client.login() == STUB_LOGIN
    [request] = github_stub.requests
    assert (request.method, request.path, request.json) == ("GET", "/user", None)
    assert_api_headers(request, has_body=False)


def test_an_app_tokens_login_is_its_bot_from_graphql(sleep: FakeSleep) -> None:
    """GET /user refuses an installation token; GraphQL's viewer names the bot, whose login is
    the one on the comments it writes."""
    with GitHubStub(login=APP_LOGIN, app=True) as stub:
        client = GitHubClient(stub.url, STUB_TOKEN, REPO, sleep=sleep)

        assert client.login() == APP_LOGIN
        assert client.create_comment(PR, "hello").author == APP_LOGIN
        get_user, graphql, _ = stub.requests
    assert (get_user.method, get_user.path) == ("GET", "/user")
    assert (graphql.method, graphql.path) == ("POST", "/graphql")
    assert graphql.json == {"query": "query { viewer { login } }"}
    assert_api_headers(graphql, has_body=True)
    assert sleep.calls == []


def test_an_app_token_whose_graphql_names_nobody_is_one_line(sleep: FakeSleep) -> None:
    with GitHubStub(login=APP_LOGIN, app=True) as stub:
        api = stub.url
        client = GitHubClient(api, STUB_TOKEN, REPO, sleep=sleep)
        stub.fail_next(403, {"message": INTEGRATION})
        stub.fail_next(200, {"errors": [{"message": "Something went wrong\nwhile executing"}]})

        error = failure(lambda: client.login())

    assert str(error) == (
        "GitHub answered the request to find the account GITHUB_TOKEN belongs to with GraphQL "
        f"(GET /user answered 403 {INTEGRATION}) with something unexpected (no viewer login: "
        f"Something went wrong while executing): check that GITHUB_API_URL ({api}) is the "
        "GitHub REST API")


@pytest.mark.parametrize(("status", "expected"), [
    (401, "GitHub rejected the token when trying to find the account GITHUB_TOKEN belongs to "
          "(401 Unauthorized): GITHUB_TOKEN is invalid or expired; set it to a current token"),
    (404, "GitHub has no authenticated user at {url}/user: check that GITHUB_API_URL is the "
          "GitHub REST API (404 Not Found)"),
])
def test_who_am_i_failures_are_one_line(github_stub: GitHubStub, client: GitHubClient,
                                        status: int, expected: str) -> None:
    github_stub.fail_next(status)

    assert str(failure(lambda: client.login())) == expected.format(url=github_stub.url)
    assert len(github_stub.requests) == 1  # a 401 or 404 is not the app case: no GraphQL


def test_a_rate_limited_get_user_is_waited_out_not_taken_for_an_app(
        github_stub: GitHubStub, client: GitHubClient, sleep: FakeSleep) -> None:
    github_stub.fail_next(403, {"message": SECONDARY}, {"retry-after": "2"})

    assert client.login() == STUB_LOGIN
    assert sleep.calls == [2.0]
    assert [r.path for r in github_stub.requests] == ["/user", "/user"]


@pytest.mark.parametrize(("api", "graphql"), [
    ("https://api.github.com", "https://api.github.com/graphql"),
    ("https://ghe.acme.test/api/v3", "https://ghe.acme.test/api/graphql"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080/graphql"),
])
def test_graphql_lives_beside_the_rest_root(api: str, graphql: str) -> None:
    assert _graphql_url(api) == graphql


# -- the stub's pagination, which the client relies on ----------------------------------------


def stub_get(stub: GitHubStub, target: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    request = urllib.request.Request(stub.url + target,
                                     headers={"Authorization": f"Bearer {STUB_TOKEN}"})
    with urllib.request.urlopen(request) as response:
        links = dict((rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"',
                                                            response.headers.get("Link", "")))
        return json.loads(response.read()), links


def test_stub_links_first_prev_next_last_absolutely(github_stub: GitHubStub) -> None:
    github_stub.seed(REPO, PR, [str(i) for i in range(250)])
    base = f"{github_stub.url}/repositories/{github_stub.repository_id(REPO)}/issues/{PR}/comments"

    first, first_links = stub_get(github_stub, f"{THREAD}?per_page=100")
    middle, middle_links = stub_get(github_stub, f"{THREAD}?per_page=100&page=2")
    last, last_links = stub_get(github_stub, f"{THREAD}?per_page=100&page=3")

    assert [len(first), len(middle), len(last)] == [100, 100, 50]
    assert first_links == {"next": f"{base}?per_page=100&page=2",
                           "last": f"{base}?per_page=100&page=3"}
    assert middle_links == {"prev": f"{base}?per_page=100&page=1",
                            "next": f"{base}?per_page=100&page=3",
                            "last": f"{base}?per_page=100&page=3",
                            "first": f"{base}?per_page=100&page=1"}
    assert last_links == {"prev": f"{base}?per_page=100&page=2",
                          "first": f"{base}?per_page=100&page=1"}


def test_stub_pages_30_by_default_and_at_most_100(github_stub: GitHubStub) -> None:
    github_stub.seed(REPO, PR, [str(i) for i in range(250)])

    default, default_links = stub_get(github_stub, THREAD)
    capped, capped_links = stub_get(github_stub, f"{THREAD}?per_page=1000")
    _, single_links = stub_get(github_stub, f"/repos/{REPO}/issues/{PR + 1}/comments")

    assert len(default) == 30 and default_links["last"].endswith("per_page=30&page=9")
    assert len(capped) == 100 and capped_links["last"].endswith("per_page=100&page=3")
    assert single_links == {}


def test_stub_refuses_unknown_paths_and_missing_bodies(github_stub: GitHubStub) -> None:
    def status(method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(github_stub.url + path, data=body, method=method,
                                         headers={"Authorization": f"Bearer {STUB_TOKEN}"})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    assert status("GET", f"/repos/{REPO}/pulls") == (404, {
        "message": "Not Found", "documentation_url": "https://docs.github.com/rest/issues/comments",
        "status": "404"})
    assert status("POST", THREAD, b"{}")[0] == 422
    assert status("POST", THREAD, b"not json")[0] == 400
    assert status("POST", THREAD, b'{"body": "ok"}')[0] == 201


# -- create and update ------------------------------------------------------------------------


def test_creates_a_comment(github_stub: GitHubStub, client: GitHubClient) -> None:
    comment = client.create_comment(PR, "## govops\npass")

    [stored] = github_stub.comments(REPO, PR)
    assert comment == Comment(stored["id"], "## govops\npass", stored["html_url"], STUB_LOGIN)
    [request] = github_stub.requests
    assert (request.method, request.path, request.query, request.json) == (
        "POST", THREAD, {}, {"body": "## govops\npass"})
    assert_api_headers(request, has_body=True)


def test_creates_a_comment_of_the_maximum_length(github_stub: GitHubStub,
                                                 client: GitHubClient) -> None:
    assert client.create_comment(PR, "x" * 65536).body == "x" * 65536


def test_create_with_a_too_long_body_is_a_validation_error(github_stub: GitHubStub,
                                                           client: GitHubClient,
                                                           sleep: FakeSleep) -> None:
    error = failure(lambda: client.create_comment(PR, "x" * 65537))

    assert str(error) == (
        f"GitHub rejected the request to comment on {REPO}#{PR} (422 Validation Failed: body is "
        "too long (maximum is 65536 characters)): shorten or fix the comment body")
    assert error.status == 422
    assert github_stub.comments(REPO, PR) == []
    assert len(github_stub.requests) == 1 and sleep.calls == []


def test_validation_message_with_newlines_stays_one_line(github_stub: GitHubStub,
                                                         client: GitHubClient) -> None:
    github_stub.fail_next(422, {"message": "Invalid request.\n\n\"body\" wasn't supplied."})

    error = failure(lambda: client.create_comment(PR, "hello"))

    assert str(error) == (
        f"GitHub rejected the request to comment on {REPO}#{PR} (422 Invalid request. \"body\" "
        "wasn't supplied.): shorten or fix the comment body")


def test_updates_a_comment(github_stub: GitHubStub, client: GitHubClient) -> None:
    [seeded] = github_stub.seed(REPO, PR, ["old"], author=STUB_LOGIN)

    comment = client.update_comment(seeded["id"], "new")

    assert comment == Comment(seeded["id"], "new", seeded["html_url"], STUB_LOGIN)
    assert [c["body"] for c in github_stub.comments(REPO, PR)] == ["new"]
    [request] = github_stub.requests
    assert (request.method, request.path, request.query, request.json) == (
        "PATCH", f"/repos/{REPO}/issues/comments/{seeded['id']}", {}, {"body": "new"})
    assert_api_headers(request, has_body=True)


def test_update_of_an_unknown_comment_is_not_found(github_stub: GitHubStub,
                                                   client: GitHubClient) -> None:
    github_stub.seed("octo-org/other", PR, ["elsewhere"])
    other_id = github_stub.comments("octo-org/other", PR)[0]["id"]

    error = failure(lambda: client.update_comment(other_id, "new"))

    assert str(error) == (
        f"GitHub found no comment {other_id} in {REPO}: it may have been deleted; if it exists, "
        f"the token cannot see {REPO} (404 Not Found)")
    assert error.status == 404
    assert github_stub.comments("octo-org/other", PR)[0]["body"] == "elsewhere"


@pytest.mark.parametrize("number", [0, -3])
def test_a_number_that_is_not_positive_is_refused_before_any_request(
        github_stub: GitHubStub, client: GitHubClient, number: int) -> None:
    error = failure(lambda: client.create_comment(number, "x"))

    assert str(error) == f"pull request number {number} is not a positive integer"
    assert github_stub.requests == []


# -- authentication and permission -----------------------------------------------------------


def test_a_wrong_token_is_bad_credentials(github_stub: GitHubStub, sleep: FakeSleep) -> None:
    wrong = "ghp_wrongTokenValue0123456789"
    client = GitHubClient(github_stub.url, wrong, REPO, sleep=sleep)

    error = failure(lambda: client.issue_comments(PR), secret=wrong)

    assert str(error) == (
        f"GitHub rejected the token when trying to list the comments on {REPO}#{PR} "
        "(401 Bad credentials): GITHUB_TOKEN is invalid or expired; set it to a current token")
    assert error.status == 401
    assert_api_headers(github_stub.requests[0], has_body=False, token=wrong)
    assert len(github_stub.requests) == 1 and sleep.calls == []


def test_a_token_without_write_permission_is_forbidden(github_stub: GitHubStub,
                                                       client: GitHubClient,
                                                       sleep: FakeSleep) -> None:
    github_stub.fail_next(403, {"message": "Resource not accessible by integration",
                                "documentation_url": "https://docs.github.com/rest"})

    error = failure(lambda: client.create_comment(PR, "hello"))

    assert str(error) == (
        f"GitHub refused to comment on {REPO}#{PR} (403 Resource not accessible by integration): "
        f"the token lacks permission; give it `pull-requests: write` (or `issues: write`) on "
        f"{REPO}")
    assert error.status == 403
    assert len(github_stub.requests) == 1 and sleep.calls == []


def test_a_token_without_read_permission_is_forbidden(github_stub: GitHubStub,
                                                      client: GitHubClient) -> None:
    github_stub.fail_next(403, "<html>Forbidden</html>")

    error = failure(lambda: client.issue_comments(PR))

    assert str(error) == (
        f"GitHub refused to list the comments on {REPO}#{PR} (403 Forbidden): the token lacks "
        f"permission; give it `pull-requests: read` (or `issues: read`) on {REPO}")


def test_the_token_is_redacted_even_when_github_echoes_it(github_stub: GitHubStub,
                                                          client: GitHubClient) -> None:
    github_stub.fail_next(403, {"message": f"token {STUB_TOKEN} may not write here"})

    error = failure(lambda: client.create_comment(PR, "hello"))

    assert "(403 token *** may not write here)" in str(error)


def test_a_missing_pull_request_is_not_found(github_stub: GitHubStub,
                                             client: GitHubClient) -> None:
    github_stub.fail_next(404)

    error = failure(lambda: client.issue_comments(PR))

    assert str(error) == (
        f"GitHub found no pull request {REPO}#{PR}: check the repository and the number, or the "
        f"token cannot see {REPO} (404 Not Found)")
    assert error.status == 404


# -- rate limits ------------------------------------------------------------------------------


def test_primary_rate_limit_beyond_max_wait_fails_without_sleeping(
        github_stub: GitHubStub, client: GitHubClient, sleep: FakeSleep) -> None:
    github_stub.fail_next(403, {"message": "API rate limit exceeded for installation ID 1."},
                          rate_limit_headers(reset_in=3600))

    error = failure(lambda: client.issue_comments(PR))

    assert re.fullmatch(
        rf"GitHub rate limit exceeded when trying to list the comments on {REPO}#{PR} \(403 API "
        r"rate limit exceeded for installation ID 1\.\): it resets at "
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, in 3\d\d\d s, more than the 60 s govops waits; run "
        r"again after that", str(error)), str(error)
    assert error.status == 403
    assert sleep.calls == [] and len(github_stub.requests) == 1


def test_primary_rate_limit_within_max_wait_sleeps_until_reset(
        github_stub: GitHubStub, client: GitHubClient, sleep: FakeSleep) -> None:
    github_stub.fail_next(403, {"message": "API rate limit exceeded for installation ID 1."},
                          rate_limit_headers(reset_in=5))
    github_stub.seed(REPO, PR, ["hello"])

    assert [c.body for c in client.issue_comments(PR)] == ["hello"]
    [waited] = sleep.calls
    assert 0 <= waited <= 5
    assert len(github_stub.requests) == 2


def test_429_with_retry_after_within_max_wait_sleeps_then_succeeds(
        github_stub: GitHubStub, client: GitHubClient, sleep: FakeSleep) -> None:
    github_stub.fail_next(429, headers={"retry-after": "7"})

    comment = client.create_comment(PR, "hello")

    assert sleep.calls == [7.0]
    assert comment.body == "hello" and len(github_stub.comments(REPO, PR)) == 1
    first, second = github_stub.requests
    assert (first.method, first.path, first.json) == (second.method, second.path, second.json) \
        == ("POST", THREAD, {"body": "hello"})
    assert_api_headers(second, has_body=True)


def test_429_with_retry_after_beyond_max_wait_fails_without_sleeping(
        github_stub: GitHubStub, sleep: FakeSleep) -> None:
    client = GitHubClient(github_stub.url, STUB_TOKEN, REPO, sleep=sleep, max_wait=60)
    github_stub.fail_next(429, headers={"retry-after": "120"})

    error = failure(lambda: client.create_comment(PR, "hello"))

    assert ", in 120 s, more than the 60 s govops waits; run again after that" in str(error)
    assert str(error).startswith(f"GitHub rate limit exceeded when trying to comment on "
                                 f"{REPO}#{PR} (429 Too Many Requests): it resets at ")
    assert error.status == 429
    assert sleep.calls == [] and github_stub.comments(REPO, PR) == []


def test_a_rate_limit_that_persists_gives_up_after_three_attempts(
        github_stub: GitHubStub, client: GitHubClient, sleep: FakeSleep) -> None:
    github_stub.fail_next(429, headers={"retry-after": "1"}, times=3)

    error = failure(lambda: client.issue_comments(PR))

    assert str(error) == (
        f"GitHub rate limit still exceeded after 3 attempts to list the comments on {REPO}#{PR} "
        "(429 Too Many Requests): run again later")
    assert sleep.calls == [1.0, 1.0] and len(github_stub.requests) == 3


def test_secondary_rate_limit_honours_retry_after(github_stub: GitHubStub,
                                                  client: GitHubClient,
                                                  sleep: FakeSleep) -> None:
    github_stub.fail_next(403, {"message": SECONDARY}, {"retry-after": "30"})

    client.create_comment(PR, "hello")

    assert sleep.calls == [30.0] and len(github_stub.comments(REPO, PR)) == 1


def test_secondary_rate_limit_without_retry_after_waits_a_minute(
        github_stub: GitHubStub, client: GitHubClient, sleep: FakeSleep) -> None:
    github_stub.fail_next(403, {"message": SECONDARY})

    client.create_comment(PR, "hello")

    assert sleep.calls == [60.0]


def test_secondary_rate_limit_beyond_max_wait_fails(github_stub: GitHubStub,
                                                    client: GitHubClient,
                                                    sleep: FakeSleep) -> None:
    github_stub.fail_next(403, {"message": SECONDARY}, {"retry-after": "600"})

    error = failure(lambda: client.create_comment(PR, "hello"))

    assert f"(403 {SECONDARY}): it resets at " in str(error)
    assert "in 600 s, more than the 60 s govops waits" in str(error)
    assert sleep.calls == [] and github_stub.comments(REPO, PR) == []


# -- server and network failures --------------------------------------------------------------


def test_a_server_error_is_retried_once(github_stub: GitHubStub, client: GitHubClient,
                                        sleep: FakeSleep) -> None:
    github_stub.fail_next(500)
    github_stub.seed(REPO, PR, ["hello"])

    assert [c.body for c in client.issue_comments(PR)] == ["hello"]
    assert sleep.calls == [1.0] and len(github_stub.requests) == 2


def test_a_server_error_twice_fails(github_stub: GitHubStub, client: GitHubClient,
                                    sleep: FakeSleep) -> None:
    github_stub.fail_next(500, times=2)

    error = failure(lambda: client.issue_comments(PR))

    assert str(error) == (
        f"GitHub failed with a server error when trying to list the comments on {REPO}#{PR} "
        "(500 Internal Server Error), also on retry: GitHub may be having an outage "
        "(https://www.githubstatus.com); run again later")
    assert error.status == 500
    assert sleep.calls == [1.0] and len(github_stub.requests) == 2


def test_a_non_json_server_error_is_one_line(github_stub: GitHubStub, client: GitHubClient,
                                             sleep: FakeSleep) -> None:
    github_stub.fail_next(502, "<html>\n<body>Bad gateway</body>\n</html>", times=2)

    error = failure(lambda: client.update_comment(42, "new"))

    assert str(error).startswith(
        f"GitHub failed with a server error when trying to update comment 42 in {REPO} "
        "(502 Bad Gateway), also on retry")


def test_a_closed_port_names_the_api_url(sleep: FakeSleep) -> None:
    api = f"http://127.0.0.1:{closed_port()}"
    client = GitHubClient(api, STUB_TOKEN, REPO, sleep=sleep)

    error = failure(lambda: client.issue_comments(PR))

    assert re.fullmatch(
        rf"cannot reach the GitHub API at {re.escape(api)} to list the comments on {REPO}#{PR}: "
        r".*Connection refused; check GITHUB_API_URL and the network, then run again",
        str(error)), str(error)
    assert error.status is None and sleep.calls == []


def test_a_server_that_never_answers_times_out(sleep: FakeSleep) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        api = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = GitHubClient(api, STUB_TOKEN, REPO, sleep=sleep, timeout=0.1)

        error = failure(lambda: client.create_comment(PR, "hello"))

    assert str(error).startswith(f"cannot reach the GitHub API at {api} to comment on "
                                 f"{REPO}#{PR}: timed out;")
    assert error.status is None


# -- redirects --------------------------------------------------------------------------------


def test_a_read_redirected_to_another_origin_drops_the_token(github_stub: GitHubStub,
                                                             client: GitHubClient) -> None:
    with GitHubStub(token=None) as elsewhere:
        elsewhere.seed(REPO, PR, ["moved"])
        github_stub.fail_next(301, {"message": "Moved Permanently"},
                              {"Location": f"{elsewhere.url}{THREAD}?per_page=100"})

        assert [c.body for c in client.issue_comments(PR)] == ["moved"]
        [request] = elsewhere.requests
    assert "authorization" not in request.headers
    assert request.headers["user-agent"] == f"govops/{VERSION}"


def test_a_read_redirected_within_the_api_keeps_the_token(github_stub: GitHubStub,
                                                          client: GitHubClient) -> None:
    github_stub.seed(REPO, PR, ["renamed"])
    moved = f"/repositories/{github_stub.repository_id(REPO)}/issues/{PR}/comments"
    github_stub.fail_next(301, {"message": "Moved Permanently"},
                          {"Location": f"{github_stub.url}{moved}?per_page=100"})

    assert [c.body for c in client.issue_comments(PR)] == ["renamed"]
    assert [r.path for r in github_stub.requests] == [THREAD, moved]
    assert_api_headers(github_stub.requests[1], has_body=False)


def test_a_write_is_never_redirected(github_stub: GitHubStub, client: GitHubClient) -> None:
    github_stub.fail_next(307, {"message": "Temporary Redirect"},
                          {"Location": f"{github_stub.url}{THREAD}"})

    error = failure(lambda: client.create_comment(PR, "hello"))

    assert str(error).startswith(f"GitHub refused to comment on {REPO}#{PR} (307 Temporary "
                                 "Redirect): ")
    assert len(github_stub.requests) == 1 and github_stub.comments(REPO, PR) == []


# -- configuration from the environment -------------------------------------------------------


def test_from_environment_uses_token_and_api_url(github_stub: GitHubStub) -> None:
    github_stub.seed(REPO, PR, ["hello"])
    client = GitHubClient.from_environment(
        REPO, {"GITHUB_TOKEN": f"{STUB_TOKEN}\n", "GITHUB_API_URL": f"{github_stub.url}/"})

    assert client.api_url == github_stub.url and client.repository == REPO
    assert [c.body for c in client.issue_comments(PR)] == ["hello"]
    assert_api_headers(github_stub.requests[0], has_body=False)


def test_from_environment_defaults_to_api_github_com() -> None:
    client = GitHubClient.from_environment(REPO, {"GITHUB_TOKEN": STUB_TOKEN,
                                                  "GITHUB_API_URL": ""})

    assert client.api_url == "https://api.github.com"


@pytest.mark.parametrize("environ", [{}, {"GITHUB_TOKEN": ""}, {"GITHUB_TOKEN": "  \n"}])
def test_from_environment_without_a_token_fails(environ: dict[str, str]) -> None:
    error = failure(lambda: GitHubClient.from_environment(REPO, environ))

    assert str(error) == ("GITHUB_TOKEN is not set: export a token that may comment on pull "
                          "requests (in GitHub Actions: GITHUB_TOKEN: ${{ github.token }})")
    assert error.status is None


def test_a_token_with_whitespace_inside_is_refused_without_showing_it() -> None:
    token = "ghp_first half\nsecond"
    error = failure(lambda: GitHubClient("https://api.github.com", token, REPO), secret=token)

    assert "first half" not in str(error) and "GITHUB_TOKEN contains whitespace" in str(error)


@pytest.mark.parametrize("repository", ["octo-org/octo-repo", "a/b", "Octo-1/re.po_x-y"])
def test_repository_owner_name_is_accepted(repository: str) -> None:
    client = GitHubClient.from_environment(repository, {"GITHUB_TOKEN": STUB_TOKEN})

    assert client.repository == repository


@pytest.mark.parametrize("repository", ["octo-repo", "octo-org/", "/octo-repo", "",
                                        "octo-org/octo-repo/extra", "octo org/repo",
                                        "octo-org/..", "https://github.com/octo-org/octo-repo",
                                        "-octo/repo"])
def test_a_repository_that_is_not_owner_name_is_refused(repository: str) -> None:
    error = failure(lambda: GitHubClient.from_environment(repository,
                                                          {"GITHUB_TOKEN": STUB_TOKEN}))

    assert str(error) == (f"repository {repository!r} is not OWNER/NAME: give it the way "
                          "GITHUB_REPOSITORY does, e.g. octo-org/octo-repo")


@pytest.mark.parametrize("api_url", ["api.github.com", "ftp://api.github.com", "https://",
                                     "https://api.github.com?x=1"])
def test_an_api_url_that_is_not_http_is_refused(api_url: str) -> None:
    error = failure(lambda: GitHubClient.from_environment(
        REPO, {"GITHUB_TOKEN": STUB_TOKEN, "GITHUB_API_URL": api_url}))

    assert str(error) == (f"GITHUB_API_URL {api_url!r} is not an http(s) URL: set it to the REST "
                          "API root, e.g. https://api.github.com")


def test_the_stub_fixture_is_stopped_by_its_context(sleep: FakeSleep) -> None:
    with GitHubStub() as stub:
        api = stub.url
    client = GitHubClient(api, STUB_TOKEN, REPO, sleep=sleep)

    assert failure(lambda: client.issue_comments(PR)).status is None
