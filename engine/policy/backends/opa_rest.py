"""OPA's REST API through the standard library, for the requests every check makes.

Loading a server (policies, data) goes through opa-python-client (engine.policy.backends.
opa_load). The per-commit query does not: importing opa-python-client takes 0.27 s here (it
imports requests and aiohttp), more than the pre-commit hook's whole budget of 0.25 s, while
http.client takes 0.02 s.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from engine.errors import EngineError, InputError


@dataclass(frozen=True)
class Endpoint:
    """An OPA server: its base URL (http://host:port) and the bearer token it wants, if any."""

    url: str
    token: str | None = None

    @property
    def address(self) -> tuple[str, int]:
        parsed = urllib.parse.urlsplit(self.url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise EngineError(f"OPA URL {self.url!r}: only http://host:port is supported")
        return parsed.hostname, parsed.port or 80

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers


class OpaUnreachable(EngineError):
    """Nothing answers at the endpoint: a resident server is restarted, a URL is an error."""


def request(endpoint: Endpoint, method: str, path: str, body: Any = None,
            timeout: float = 60.0) -> Any:
    """The decoded JSON answer of one request; REST errors become one line (InputError with
    the policy's file:line when OPA names one, EngineError otherwise)."""
    host, port = endpoint.address
    payload = None if body is None else json.dumps(body, separators=(",", ":")).encode()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path, body=payload, headers=endpoint.headers())
        response = connection.getresponse()
        raw = response.read()
    except (ConnectionError, TimeoutError, OSError, http.client.HTTPException) as exc:
        raise OpaUnreachable(f"OPA at {endpoint.url} did not answer {method} {path}: "
                             f"{exc or type(exc).__name__}") from None
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return json.loads(raw) if raw.strip() else {}
    raise rest_error(endpoint.url, response.status, raw)


def rest_error(url: str, status: int, raw: bytes) -> InputError | EngineError:
    """OPA's error body ({code, message, errors: [{code, message, location}]}) as one line."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    for item in body.get("errors") or []:
        location = item.get("location") or {} if isinstance(item, dict) else {}
        if location.get("file") and location.get("row"):
            message = " ".join(str(item.get("message", "")).split())  # OPA's are multi-line
            return InputError(str(location["file"]), int(location["row"]),
                              f"{item.get('code', 'rego_error')}: {message}")
    text = str(body.get("message") or raw.decode("utf-8", "replace").strip() or "no body")
    code = f" {body['code']}" if body.get("code") else ""
    return EngineError(f"OPA at {url} answered HTTP {status}{code}: "
                       f"{text.splitlines()[0] if text else ''}")


_REF_PART = re.compile(r'\.?([A-Za-z_]\w*)|\["((?:[^"\\]|\\.)*)"\]')


def data_path(document: str) -> str:
    """`govops.policies` -> `/v1/data/govops/policies`; a quoted part (`acme["k8s-rules"]`,
    a package name Rego allows) is one path segment, percent-encoded."""
    parts, position = [], 0
    while position < len(document):
        match = _REF_PART.match(document, position)
        if match is None:
            raise EngineError(f"not a data reference: {document!r}")
        parts.append(match.group(1) if match.group(1) is not None
                     else json.loads(f'"{match.group(2)}"'))
        position = match.end()
    return "/v1/data/" + "/".join(urllib.parse.quote(part, safe="") for part in parts)


def query_document(endpoint: Endpoint, document: str, input: Any) -> tuple[bool, Any]:
    """(defined, value) of data.<document> for this input. With strict builtin errors, as
    the embedded OPA and rego-cpp evaluate: `to_number("MIT")` is an error on every backend,
    never an undefined that silently drops a deny."""
    answer = request(endpoint, "POST", data_path(document) + "?strict-builtin-errors=true",
                     {"input": input})
    return ("result" in answer, answer.get("result"))
