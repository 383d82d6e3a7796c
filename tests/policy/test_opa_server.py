"""The official OPA as a server: the resident local one (lifecycle, isolation, staleness) and
one given by URL (REST errors), against the real `opa` binary `make tools` builds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import engine.policy.backends.opa as embedded
from engine.policy.backends.resident import statuses, stop_all
from engine.repo.scripted import Step
from tests.support.cli import check, govops, one_error_line
from tests.support.repos import NOW, fixture, make_repo
from tests.support.resident import OPA_BINARY

LOCAL_POLICY = (b"package govops.policies.acme_owner\n\nimport rego.v1\n\n"
                b"deny contains {\"id\": \"ACME-9\", \"msg\": \"every model is refused\", "
                b"\"kind\": \"Model\", \"name\": name} if {\n"
                b"\tsome name, _ in input.objects.Model\n}\n")


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A state folder of this test alone; every server it started is stopped afterwards."""
    folder = tmp_path / "state"
    monkeypatch.setenv("GOVOPS_STATE_DIR", str(folder))
    yield folder
    stop_all()


def _acme(root: Path, **changes: bytes) -> Path:
    files = {**fixture("acme-ml"), **changes}
    make_repo(root, Step("acme-ml", files))
    return root


def _server_check(repo: Path, *args: str) -> dict[str, object]:
    run = check(repo, "--format", "json", *args, engine="opa-server")
    assert run.exit_code in (0, 1), run.stderr
    decision: dict[str, object] = run.json()
    assert decision["engine"] == "opa-server"
    return decision


def _running() -> list[int]:
    return [s.record.opa for s in statuses() if s.running and s.record is not None]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_resident_server_answers_like_the_embedded_opa_and_is_reused(
        state: Path, tmp_path: Path) -> None:
    repo = _acme(tmp_path / "acme")
    first = _server_check(repo)
    [pid] = _running()
    again = _server_check(repo)
    assert _running() == [pid]  # the same server answered the second check
    embedded_run = check(repo, "--format", "json", engine="opa").json()
    assert first["decision_id"] == again["decision_id"] == embedded_run["decision_id"]
    assert first["results"] == embedded_run["results"]
    assert str(first["engine_version"]).startswith("OPA 1.22.4 (resident, 127.0.0.1")
    folder = next(state.glob("opa/*"))
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert oct((folder / "server.json").stat().st_mode & 0o777) == "0o600"


def test_a_killed_server_is_restarted(state: Path, tmp_path: Path) -> None:
    repo = _acme(tmp_path / "acme")
    before = _server_check(repo)
    [pid] = _running()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    after = _server_check(repo)
    [new_pid] = _running()
    assert new_pid != pid
    assert after["decision_id"] == before["decision_id"]


def test_a_stale_server_holding_other_policies_is_never_used(state: Path,
                                                            tmp_path: Path) -> None:
    """Repo A's record is pointed at the server holding repo B's policies (a stale or
    tampered record): the entry policy answers for B's bundle, so A's check restarts its own
    server instead of using B's results."""
    plain = _acme(tmp_path / "plain")
    strict = _acme(tmp_path / "strict", **{"policies/acme_owner.rego": LOCAL_POLICY})
    good = _server_check(plain)
    refused = _server_check(strict)
    assert "ACME-9" in {r["id"] for r in refused["results"]}  # type: ignore[attr-defined]
    assert "ACME-9" not in {r["id"] for r in good["results"]}  # type: ignore[attr-defined]
    records = {json.loads((f / "server.json").read_text())["bundle"].partition("+")[0]: f
               for f in state.glob("opa/*")}
    assert len(records) == 2
    plain_folder = records[str(good["policy_digest"])]
    strict_record = json.loads((records[str(refused["policy_digest"])] / "server.json")
                               .read_text())
    record = json.loads((plain_folder / "server.json").read_text())
    record.update(port=strict_record["port"], token=strict_record["token"])
    (plain_folder / "server.json").write_text(json.dumps(record))
    again = _server_check(plain)
    assert again["decision_id"] == good["decision_id"]
    assert json.loads((plain_folder / "server.json").read_text())["port"] != \
        strict_record["port"]


def test_a_second_repo_gets_its_own_lock_data(state: Path, tmp_path: Path) -> None:
    """Same policies, different lock content: one server, two data keys, no bleed."""
    files = fixture("acme-ml")
    lock_path = next(p for p in files if p.startswith("environments/") and
                     p.endswith(".txt"))
    changed = files[lock_path] + b"leftpad==1.0\n"  # no hash: ENV-001
    one = _acme(tmp_path / "one")
    two = _acme(tmp_path / "two", **{lock_path: changed})
    first = _server_check(one)
    second = _server_check(two)
    assert first["policy_digest"] == second["policy_digest"]
    assert len(_running()) == 1
    unhashed = [r for r in second["results"]  # type: ignore[attr-defined]
                if r["id"] == "ENV-001" and r.get("package") == "leftpad"]
    assert unhashed and unhashed[0]["file"] == lock_path
    assert not [r for r in _server_check(one)["results"]  # type: ignore[attr-defined]
                if r.get("package") == "leftpad"]
    assert _server_check(one)["decision_id"] == first["decision_id"]


def test_a_changed_binary_gets_a_new_server(state: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "bin" / "opa"
    binary.parent.mkdir()
    shutil.copy2(OPA_BINARY, binary)
    monkeypatch.setenv("GOVOPS_OPA", str(binary))
    repo = _acme(tmp_path / "acme")
    _server_check(repo)
    [pid] = _running()
    shutil.copy(OPA_BINARY, binary.with_name("opa.new"))
    os.replace(binary.with_name("opa.new"), binary)  # an upgrade in place
    _server_check(repo)
    [new_pid] = _running()
    assert new_pid != pid
    assert not _alive(pid)


def test_an_idle_server_stops_itself(state: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVOPS_OPA_IDLE", "1")
    repo = _acme(tmp_path / "acme")
    _server_check(repo)
    [pid] = _running()
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)
    assert _running() == []
    assert _server_check(repo)["engine"] == "opa-server"  # the next check starts another


def test_concurrent_first_checks_start_one_server(state: Path, tmp_path: Path) -> None:
    repo = _acme(tmp_path / "acme")
    script = str(Path(sys.executable).with_name("govops"))
    command = [script, "check", "--repo", str(repo), "--engine", "opa-server", "--now", NOW,
               "--format", "json"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=120) for run in runs]
    ids = {json.loads(out)["decision_id"] for out, _ in outputs}
    assert len(ids) == 1, outputs
    assert len(_running()) == 1


def test_engine_status_and_stop(state: Path, tmp_path: Path) -> None:
    assert "no resident OPA server" in govops("engine", "status").stdout
    repo = _acme(tmp_path / "acme")
    decision = _server_check(repo)
    [pid] = _running()
    status = govops("engine", "status").stdout
    assert f"{decision['policy_digest']}  running: OPA 1.22.4 pid {pid}" in status
    assert govops("engine", "stop").stdout.strip() == ("stopped 1 resident OPA server and 0 "
                                                       "govops daemons")
    assert not _alive(pid)
    assert "no resident OPA server" in govops("engine", "status").stdout


def test_auto_prefers_the_resident_opa_then_embedded_then_regopy(
        state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _acme(tmp_path / "acme")
    auto = check(repo, "--format", "json", engine="auto").json()
    assert auto["engine"] == "opa-server"
    monkeypatch.delenv("GOVOPS_OPA")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert check(repo, "--format", "json", engine="auto").json()["engine"] == "opa"
    monkeypatch.setattr(embedded, "_IMPORT_ERROR", ImportError("no opa_bindings"))
    last = check(repo, "--format", "json", engine="auto").json()
    assert last["engine"] == "regopy"
    assert ("auto fell back to it, the last resort (resident OPA: no `opa` on PATH"
            in last["engine_version"])
    assert "embedded OPA: the opa engine cannot load" in last["engine_version"]
    assert last["decision_id"] == auto["decision_id"]
    warning = check(repo, engine="auto").stderr
    assert warning.startswith("govops: warning: regopy answered (regopy 1.5.2; auto fell back "
                              "to it, the last resort (resident OPA: no `opa`"), warning


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def opa_url(tmp_path: Path) -> Iterator[str]:
    """An `opa run --server` of this test's own (no token), stopped by PID afterwards."""
    port = _free_port()
    log = (tmp_path / "opa.log").open("wb")
    server = subprocess.Popen([str(OPA_BINARY), "run", "--server", "--addr",
                               f"127.0.0.1:{port}", "--skip-version-check",
                               "--log-level=error"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_an_opa_url_is_loaded_once_and_reloaded_for_other_policies(
        opa_url: str, tmp_path: Path) -> None:
    plain = _acme(tmp_path / "plain")
    strict = _acme(tmp_path / "strict", **{"policies/acme_owner.rego": LOCAL_POLICY})
    first = _server_check(plain, "--opa-url", opa_url)
    assert str(first["engine_version"]).endswith(f"({opa_url})")
    assert first["decision_id"] == check(plain, "--format", "json").json()["decision_id"]
    refused = _server_check(strict, "--opa-url", opa_url)
    assert "ACME-9" in {r["id"] for r in refused["results"]}  # type: ignore[attr-defined]
    back = _server_check(plain, "--opa-url", opa_url)  # the server now holds strict's bundle
    assert back["decision_id"] == first["decision_id"]


def test_rest_errors_are_one_line_exit_2(state: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _acme(tmp_path / "acme")
    nobody = f"http://127.0.0.1:{_free_port()}"
    line = one_error_line(check(repo, "--opa-url", nobody, engine="opa-server"))
    assert line.startswith(f"govops: error: OPA at {nobody} did not answer")
    _server_check(repo)  # a resident server wants its token
    record = json.loads(next(state.glob("opa/*/server.json")).read_text())
    url = f"http://127.0.0.1:{record['port']}"
    monkeypatch.setenv("GOVOPS_OPA_TOKEN", "not-the-token")
    line = one_error_line(check(repo, "--opa-url", url, engine="opa-server"))
    assert line.startswith(f"govops: error: OPA at {url} answered HTTP 401 unauthorized"), line
    assert check(repo, "--opa-url", "ftp://example", engine="opa-server").exit_code == 2


@pytest.mark.parametrize("source", [
    b"package govops_engine_entry\n\nanswer := {}\n",
    b"\xef\xbb\xbfpackage govops_engine_entry\n\nanswer := {}\n",  # a byte-order mark first
    b"package system.authz\n\nimport rego.v1\n\nallow if true\n",  # would lift the token
])
def test_a_repo_policy_may_not_claim_a_reserved_namespace(state: Path, tmp_path: Path,
                                                         source: bytes) -> None:
    repo = _acme(tmp_path / "acme", **{"policies/entry.rego": source})
    line = one_error_line(check(repo, engine="opa-server"))
    assert line.startswith("govops: error: policies/entry.rego: package "), line
    assert line.endswith("this namespace belongs to the engine (govops_engine*) or to OPA "
                         "(system)")
    assert _running() == []


def test_opas_own_parse_is_the_last_word_on_a_reserved_package(
        state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Should the first look at the source miss a reserved package, the package OPA parsed
    refuses the module, and the server that briefly held it is stopped."""
    import engine.policy.backends.opa_server as server

    monkeypatch.setattr(server, "reserved_package", lambda module: None)
    repo = _acme(tmp_path / "acme", **{
        "policies/authz.rego": b"package system.authz\n\nimport rego.v1\n\nallow if true\n"})
    line = one_error_line(check(repo, engine="opa-server"))
    assert line == ("govops: error: policies/authz.rego: package system.authz: this namespace "
                    "belongs to the engine (govops_engine*) or to OPA (system)")
    assert _running() == []


def test_a_policy_opa_cannot_compile_names_its_line(state: Path, tmp_path: Path) -> None:
    repo = _acme(tmp_path / "acme", **{"policies/typo.rego": b"package govops.policies.typo\n\nimport rego.v1\n\n"
                              b"deny contains x if {\n\tx := no_such_function(1)\n}\n"})
    line = one_error_line(check(repo, engine="opa-server"))
    assert line.startswith("govops: error: policies/typo.rego:6: rego_type_error: "), line


def test_an_answer_without_policy_results_fails_closed(state: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that answers for the bundle but gives no results is an error, never a pass."""
    import engine.policy.backends.opa_rest as rest

    real = rest.query_document

    def thin(endpoint: Any, document: str, input: Any) -> tuple[bool, Any]:
        defined, value = real(endpoint, document, input)
        if isinstance(value, dict) and "policies" in value:
            value = {k: v for k, v in value.items() if k != "policies"}
        return defined, value

    monkeypatch.setattr(rest, "query_document", thin)
    repo = _acme(tmp_path / "acme")
    line = one_error_line(check(repo, engine="opa-server"))
    assert line.startswith("govops: error: OPA at http://127.0.0.1:"), line
    assert line.endswith("answered for the bundle without its policy results")


def test_a_port_someone_else_listens_on_is_not_trusted() -> None:
    from engine.policy.backends.resident import _listens

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        port = other.getsockname()[1]
        assert _listens(os.getpid(), port)  # this process holds it
        assert not _listens(1, port)  # not pid 1's socket
        assert not _listens(os.getpid(), _free_port())  # nobody listens there


def test_the_resident_opa_has_none_of_the_committers_environment(
        state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Repo policies can read OPA's environment (opa.runtime().env): the resident server is
    started with nothing of the committer's, where tokens live."""
    monkeypatch.setenv("GOVOPS_TEST_SECRET", "hunter2")
    snoop = (b"package govops.policies.snoop\n\nimport rego.v1\n\n"
             b"warn contains {\"id\": \"SNOOP\", \"kind\": \"Model\", \"name\": name, \"msg\": "
             b"concat(\"\", [\"env:\", object.get(opa.runtime().env, \"GOVOPS_TEST_SECRET\", "
             b"\"none\")])} if {\n\tsome name, _ in input.objects.Model\n}\n")
    repo = _acme(tmp_path / "acme", **{"policies/snoop.rego": snoop})
    decision = _server_check(repo)
    seen = {r["msg"] for r in decision["results"] if r["id"] == "SNOOP"}  # type: ignore[attr-defined]
    assert seen == {"env:none"}


REF_HEAD_POLICY = b"""# METADATA
# title: Every model is reviewed (written in package govops, as a ref head)
# custom:
#   id: ACME-009
#   severity: deny
#   remediation: Review it.
package govops

import rego.v1

policies.acme_009.deny contains v if {
\tsome name, _ in object.get(input.objects, "Model", {})
\tv := {"id": "ACME-009", "msg": concat("", ["Model ", name, " is not reviewed."]),
\t\t"kind": "Model", "name": name}
}
"""


def test_policies_asked_for_in_halves_answer_as_the_whole(state: Path, tmp_path: Path) -> None:
    """The server is asked for two halves of the policy packages at once (two cores); a rule
    no package line announces (a ref head in package govops) must still be evaluated, so such
    a bundle is asked for whole, and both answer exactly as the embedded OPA does."""
    for name, extra in (("plain", {}), ("ref-head", {"policies/acme_009.rego": REF_HEAD_POLICY})):
        repo = tmp_path / name
        files = fixture("violations")
        if extra:
            files = {**files, **extra, "govops.yaml": files["govops.yaml"].replace(
                b"policies:\n", b"policies:\n  paths: [policies/]\n")}
        make_repo(repo, Step("violations", files))
        served = _server_check(repo)
        embedded_run = check(repo, "--format", "json", engine="opa").json()
        assert served["results"] == embedded_run["results"]
        assert served["decision_id"] == embedded_run["decision_id"]
        ids = {r["id"] for r in served["results"]}  # type: ignore[attr-defined]
        assert ("ACME-009" in ids) == bool(extra), ids
        # Results of packages in both halves (sorted names, every other one) came back.
        assert {"DAT-001", "MDL-001", "MDL-002", "WVR-001"} <= ids, ids


@pytest.mark.parametrize(("packages", "groups"), [
    (["govops.policies.b", "govops.policies.a", "govops.lib.x", "main",
      "govops.policies.c.deep"], [["a", "c"], ["b"]]),
    (["govops.policies.a", "govops"], None),  # ref heads may add any name
    (["govops.policies.a", "govops.policies"], None),
    (["govops.policies.a", 'govops["policies"].b'], None),  # quoted: not read here
    (["govops.policies.a", "govops.lib.x"], None),  # one policy package: nothing to split
])
def test_policy_groups(packages: list[str], groups: list[list[str]] | None) -> None:
    from engine.policy.backends.opa_server import policy_groups
    from engine.policy.library import PolicyModule

    modules = [PolicyModule(f"m{i}.rego", f"# a comment\npackage {p}\n\nx := 1\n")
               for i, p in enumerate(packages)]
    assert policy_groups(modules, 2) == groups
    assert policy_groups(modules, 1) is None


def test_the_shipped_policies_are_split_by_what_they_cost() -> None:
    """Alphabetical halves gave one core 0.63 s of OPA's work and the other 0.23 s at 10,000
    objects; by measured cost each gets within a tenth of the other."""
    from engine.policy.backends.opa_server import _COST, policy_groups
    from engine.policy.library import Library

    modules = [m for m in Library.load().modules if m.path.count("/") == 1]
    groups = policy_groups(modules, 2)
    assert groups is not None
    assert sorted(n for g in groups for n in g) == sorted(_COST)  # every policy, once
    first, second = (sum(_COST[n] for n in g) for g in groups)
    assert abs(first - second) <= 0.1 * max(first, second), groups


def test_documents_are_held_by_blob_and_an_edit_is_never_answered_from_the_old_one(
        state: Path, tmp_path: Path) -> None:
    """The server holds each governed document under a key made from the git blob it was
    parsed from (no JSON encoding of 10,000 documents per check): an edited file is a new
    blob, so the server is sent the new document and answers on it, as the embedded OPA does."""
    repo = _acme(tmp_path / "repo")
    first = _server_check(repo)
    model = next(p for p, text in fixture("acme-ml").items()
                 if p.startswith("models/") and b"license: llama3" in text)
    files = {**fixture("acme-ml")}
    files[model] = files[model].replace(b"license: llama3", b"license: proprietary")
    make_repo(repo, Step("acme-ml", fixture("acme-ml")), Step("a licence nobody allowed", files))
    served = _server_check(repo)
    assert served["decision_id"] != first["decision_id"]
    assert any(r["id"] == "MDL-002" and r["file"] == model
               for r in served["results"])  # type: ignore[attr-defined]
    embedded_run = check(repo, "--format", "json", engine="opa").json()
    assert served["results"] == embedded_run["results"]
    assert served["decision_id"] == embedded_run["decision_id"]


def test_a_document_key_changes_with_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """A parser that reads the same blob differently must not be answered from documents an
    older parser sent: the parser version is part of the key, as in the parse cache."""
    from engine.policy.backends import opa_server

    doc = {"kind": "Model"}
    by_blob = opa_server.object_key(doc, "a" * 40)
    assert by_blob != opa_server.object_key(doc, "b" * 40)
    assert by_blob != opa_server.object_key(doc)  # content keys and blob keys never meet
    monkeypatch.setattr(opa_server, "PARSER_VERSION", "999")
    assert opa_server.object_key(doc, "a" * 40) != by_blob
