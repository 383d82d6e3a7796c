"""Load one policy bundle into an OPA server through opa-python-client (OPA's REST API).

This is the cold path, taken once per policy bundle and server; the per-commit query is in
engine.policy.backends.opa_rest. The server's `data.govops_engine.bundle` names the bundle it
holds: it is cleared first and set last, so a half-loaded server never answers for a bundle
(the entry policy of engine.policy.backends.opa_server refuses to answer when it differs).
"""

from __future__ import annotations

import contextlib
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from engine.errors import EngineError, InputError
from engine.policy.backends.opa_rest import Endpoint, OpaUnreachable, request, rest_error
from engine.policy.library import PolicyModule

ENGINE_DATA = "govops_engine"  # data.govops_engine: {bundle, modules, locks, objects}
ENTRY_ID = "@govops-engine/entry.rego"
T = TypeVar("T")
_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.MULTILINE)


def is_reserved(package: str) -> bool:
    """The engine's namespace (a repo policy there could answer for the entry policy) and
    OPA's `system` (a `system.authz` rule there would switch the server's token off)."""
    return package.startswith(ENGINE_DATA) or package.split(".")[0] == "system"


def reserved_package(module: PolicyModule) -> str | None:
    """The package of a module that claims a reserved namespace, as far as a first look at its
    source tells (None when it does not). OPA's own parse is checked after loading too: a
    byte-order mark or a comment must not get a module past this."""
    match = _PACKAGE.search(module.source.lstrip("\ufeff"))
    if match and is_reserved(match.group(1)):
        return match.group(1)
    return None


def _client(endpoint: Endpoint) -> Any:
    """An OpaClient that talks only to this endpoint (no proxies from the environment)."""
    from opa_client.opa import OpaClient

    host, port = endpoint.address
    client = OpaClient(host=host, port=port, token=endpoint.token, retries=0, timeout=120.0)
    client._session.trust_env = False  # HTTP_PROXY must never see a loopback policy server
    return client


def _put_value(client: Any, path: str, value: Any) -> None:
    """PUT any JSON value at data/<path> (the client's own method takes only objects)."""
    response = client._session.put(f"{client.root_url}/data/{path}", data=json.dumps(value),
                                   headers={"Content-Type": "application/json"},
                                   timeout=client.timeout)
    if response.status_code != 204:
        raise EngineError(f"OPA refused data {path}: HTTP {response.status_code}")


def _policy_id(path: str) -> str:
    return urllib.parse.quote(path, safe="/@._-")


def load_bundle(endpoint: Endpoint, digest: str, modules: Sequence[PolicyModule],
                data: Mapping[str, Any], entry_source: str) -> None:
    """Replace what the server holds for govops with this bundle; InputError (file:line) for a
    policy OPA cannot compile, EngineError for anything else."""
    import requests
    from opa_client.errors import (
        DeleteDataError,
        DeletePolicyError,
        PolicyNotFoundError,
        RegoParseError,
    )

    client = _client(endpoint)
    try:
        try:
            state = client.get_data(ENGINE_DATA)["result"]
        except PolicyNotFoundError:
            state = {}
        previous = state.get("modules") or []
        previous_keys = state.get("dataKeys") or []
        client.update_or_create_data({"bundle": None, "modules": previous, "locks": {},
                                      "objects": {}, "dataKeys": previous_keys}, ENGINE_DATA)
        # Every module of the previous bundle goes first: an old version of one module may
        # conflict with a new version of another. Only modules govops loaded are touched.
        _until_settled(sorted(previous), lambda path: client.delete_policy(_policy_id(path)),
                       (DeletePolicyError,))
        wanted = [*modules, PolicyModule(ENTRY_ID, entry_source)]
        _until_settled(wanted, lambda m: client.update_policy_from_string(
            m.source, _policy_id(m.path), rego_compat=False), (RegoParseError,))
        _refuse_reserved(endpoint, client, wanted)
        if ENGINE_DATA in data:
            raise EngineError(f"the policy data may not use the engine's key {ENGINE_DATA!r}")
        for key in sorted(set(previous_keys) - set(data)):  # an earlier bundle's, gone now
            client.delete_data(urllib.parse.quote(key, safe=""))
        for key, value in data.items():
            if isinstance(value, dict):
                client.update_or_create_data(dict(value), urllib.parse.quote(key, safe=""))
            else:  # a top-level value that is not an object (a data file's `"b": 2`)
                _put_value(client, urllib.parse.quote(key, safe=""), value)
        client.update_or_create_data({"bundle": digest, "modules": [m.path for m in wanted],
                                      "locks": {}, "objects": {}, "dataKeys": sorted(data)},
                                     ENGINE_DATA)
    except RegoParseError as exc:
        raise rest_error(endpoint.url, 400, _error_body(exc)) from None
    except requests.RequestException as exc:
        raise OpaUnreachable(f"OPA at {endpoint.url} did not answer: "
                             f"{type(exc).__name__}") from None
    except (PolicyNotFoundError, DeletePolicyError, DeleteDataError, ValueError) as exc:
        raise EngineError(f"OPA at {endpoint.url}: {exc}") from None
    finally:
        client.close_connection()


def _refuse_reserved(endpoint: Endpoint, client: Any, modules: Sequence[PolicyModule]) -> None:
    """The packages as OPA parsed them: a module in a reserved namespace is removed with every
    other module govops loaded, and named (the bundle marker is still unset: nothing answered)."""
    parsed = request(endpoint, "GET", "/v1/policies").get("result") or []
    packages = {}
    for policy in parsed:
        terms = ((policy.get("ast") or {}).get("package") or {}).get("path") or []
        packages[urllib.parse.unquote(str(policy.get("id")))] = ".".join(
            str(t.get("value")) for t in terms[1:])
    for module in modules:
        package = packages.get(module.path, "")
        if module.path != ENTRY_ID and is_reserved(package):
            for loaded in modules:
                with contextlib.suppress(Exception):
                    client.delete_policy(_policy_id(loaded.path))
            raise InputError(module.path, None, f"package {package}: this namespace belongs "
                             "to the engine (govops_engine*) or to OPA (system)")


def put_content(endpoint: Endpoint, section: str, values: Mapping[str, Any]) -> None:
    """Add values under data.govops_engine.<section>.<key> (`locks`: lock-file package lists,
    `objects`: governed documents), in one JSON Patch request however many a server lacks (a
    cold server lacks every one of the repo): what a commit that changes them sends once.
    Through http.client like the query, not opa-python-client, whose import (0.27 s) would
    double such a commit's hook time."""
    if values:
        request(endpoint, "PATCH", f"/v1/data/{ENGINE_DATA}/{section}",
                [{"op": "add", "path": f"/{key}", "value": value}
                 for key, value in values.items()])


def _until_settled(items: Sequence[T], change: Callable[[T], object],
                   errors: tuple[type[Exception], ...]) -> None:
    """Apply `change` (PUT or DELETE a module) to every item. OPA compiles all it holds on each
    change, so a module calling a function of a module not yet loaded (or just deleted)
    fails: retry the failures until a pass changes nothing, then the first remaining failure
    is a real one."""
    pending = list(items)
    while pending:
        failed: list[tuple[T, Exception]] = []
        for item in pending:
            try:
                change(item)
            except errors as exc:
                failed.append((item, exc))
        if len(failed) == len(pending):
            raise failed[0][1]
        pending = [item for item, _ in failed]


def _error_body(exc: Any) -> bytes:
    import json

    return json.dumps({"code": exc.expression, "message": exc.message,
                       "errors": exc.errors}).encode()
