"""Receipt verification on hostile bundles (issue 19): every mutation of a valid signed
bundle (flipped bytes, changed or removed JSON fields, odd base64, duplicate keys, a
certificate in place of the key) either verifies with exactly the statement that was signed,
or is Refused (exit 3) in one line; never another exception. Listing a bundle's declared
signer never raises.

The bundle is made here, with no network: a P-256 key derived from a constant and
deterministic ECDSA (RFC 6979), so the same bytes are mutated on every run. The timestamped
one (data/timestamped.json: that bundle with an RFC 3161 timestamp of its signature, and the
TSA's certificates) was recorded once from tests/support/tsa.py's TSA (`openssl ts -reply`):
a timestamp is checked against the certificates at its own time, so it verifies for good."""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from engine.attest.bundle import declared_signer, key_bundle
from engine.attest.dsse import pae
from engine.attest.keys import key_hint
from engine.attest.statement import DECISION, PAYLOAD_TYPE, Covered, payload, statement
from engine.attest.timestamp import TimestampAuthority
from engine.attest.trust import TrustedIdentity, TrustedKey, TrustPolicy
from engine.attest.verify import Expectation, Verified, verify_receipt
from engine.errors import GovopsError, Refused
from tests.properties.contract import is_one_line, outcome
from tests.properties.hostile import CONTROL, MARKUP

KEY = ec.derive_private_key(0x60_0505_1919, ec.SECP256R1())
COMMIT = "c" * 40
ARTIFACT = b'{"verdict": "pass"}\n'
STATEMENT = statement(DECISION, json.loads(ARTIFACT), "acme/ml-infra", COMMIT,
                      [Covered("decision.json", ARTIFACT)])
PAYLOAD = payload(STATEMENT)
SIGNATURE = KEY.sign(pae(PAYLOAD_TYPE, PAYLOAD), ec.ECDSA(hashes.SHA256(),
                                                          deterministic_signing=True))
BUNDLE = key_bundle(PAYLOAD_TYPE, PAYLOAD, SIGNATURE, key_hint(KEY.public_key()))
TRUST = TrustPolicy((TrustedKey("keys/ci.pub", KEY.public_key(), "ci@acme.test"),),
                    (TrustedIdentity("https://token.actions.githubusercontent.com",
                                     "^https://github.com/acme/"),),
                    label="the signers of trust #1")
EXPECT = Expectation(predicate_type=DECISION, artifact=ARTIFACT, commit=COMMIT)
RECORDED = json.loads((Path(__file__).parent / "data" / "timestamped.json").read_text())
STAMPED = json.dumps(RECORDED["bundle"], indent=2, sort_keys=True) + "\n"
STAMPED_TRUST = TrustPolicy(TRUST.keys, TRUST.identities, TRUST.label, (TimestampAuthority(
    RECORDED["authority"]["name"], "http://127.0.0.1:1/",
    tuple(RECORDED["authority"]["certificates"])),))


@functools.cache
def _sigstore_trust() -> Any:
    """Public Sigstore's trust root as sigstore-python ships it (offline), for certificate
    bundles: what `govops verify` uses without --trust-config."""
    from engine.attest.keyless import load_trust_config

    return load_trust_config(None)


def _verified(raw: bytes, trust: TrustPolicy = TRUST) -> Verified | GovopsError:
    """The contract: the very statement signed (with the timestamp the TSA gave, when the
    trust requires one), or Refused in one line (exit 3)."""
    found = outcome(lambda: verify_receipt(raw, trust, EXPECT, _sigstore_trust))
    if isinstance(found, Verified):
        assert found.statement == STATEMENT, found.statement
        assert found.signer == "key keys/ci.pub"
        assert found.timestamp == (_stamp() if trust.authorities else None), found.timestamp
    else:
        assert isinstance(found, Refused), f"{type(found).__name__}: {found}"
        assert found.exit_code == 3
        assert is_one_line(str(found)), f"not one line: {str(found)!r}"
    signer = outcome(lambda: declared_signer(raw))
    assert signer is None or isinstance(signer, str), signer
    return found


@functools.cache
def _stamp() -> str | None:
    """When the recorded TSA saw the signature."""
    return verify_receipt(STAMPED.encode(), STAMPED_TRUST, EXPECT).timestamp


def test_the_bundles_verify() -> None:
    """The mutations below start from bundles that verify; without its timestamp, the
    bundle is refused where the trust requires one."""
    assert isinstance(_verified(BUNDLE.encode()), Verified)
    assert isinstance(_verified(STAMPED.encode(), STAMPED_TRUST), Verified)
    assert _stamp() is not None
    assert isinstance(_verified(BUNDLE.encode(), STAMPED_TRUST), Refused)


# -- mutations -----------------------------------------------------------------------------

HOLE = "\u0000hole\u0000"  # stands for a value written as raw JSON text after dumping
# JSON values as text, including what json.dumps never writes.
JSON_TEXTS = [
    "null", "true", "0", "-0", "1e999", "-1e999", "NaN", "Infinity", "1" * 5000, "[]", "{}",
    '""', '"x"', '"\\u0000"', '"\\ud800"', '"\\udfff\\ud800"', "[" * 5000 + "]" * 5000,
    '{"a":' * 3000 + "1" + "}" * 3000, '"' + "A" * 100_000 + '"', '"\\/"', "[null]",
    '{"rawBytes": "AAAA"}', '{"hint": ""}', '[{"sig": ""}]', '[{"sig": "AAAA"}, {"sig": "AAAA"}]',
]
# Base64 text that decoders disagree about.
B64_EDITS = ["strip=", "space", "newline", "urlsafe", "junk", "cut", "extra=", "twice", "empty"]


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON document (keys and indexes), the root excluded."""
    found: list[tuple[Any, ...]] = []
    children = (value.items() if isinstance(value, dict)
                else enumerate(value) if isinstance(value, list) else ())
    for key, child in children:
        found += [(*here, key), *_paths(child, (*here, key))]
    return found


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _dumps(doc: Any, hole: str) -> bytes:
    return json.dumps(doc, indent=2).replace(json.dumps(HOLE), hole).encode("utf-8",
                                                                           "surrogatepass")


def _b64(text: str, edit: str, draw: st.DrawFn) -> str:
    if edit == "strip=":
        return text.rstrip("=")
    if edit == "space":
        at = draw(st.integers(min_value=0, max_value=len(text)))
        return text[:at] + " " + text[at:]
    if edit == "newline":
        return "\n".join(text[i:i + 76] for i in range(0, len(text), 76)) + "\n"
    if edit == "urlsafe":
        return text.replace("+", "-").replace("/", "_")
    if edit == "junk":
        at = draw(st.integers(min_value=0, max_value=len(text)))
        return text[:at] + draw(st.sampled_from(["!", "*", "é", "\x00", "%"])) + text[at:]
    if edit == "cut":
        return text[: draw(st.integers(min_value=0, max_value=len(text)))]
    if edit == "extra=":
        return text + "=="
    if edit == "twice":
        return base64.b64encode(text.encode()).decode()
    return ""


@st.composite
def _field(draw: st.DrawFn, doc: Any) -> bytes:
    """One JSON field replaced with a hostile value, or removed."""
    path = draw(st.sampled_from(_paths(doc)))
    parent, key = _at(doc, path[:-1]), path[-1]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[key]
        return _dumps(doc, "")
    hostile = draw(st.one_of(st.sampled_from(JSON_TEXTS),
                             st.sampled_from([*MARKUP, *CONTROL]).map(json.dumps),
                             st.text(max_size=20).map(json.dumps),
                             st.integers().map(str)))
    parent[key] = HOLE
    return _dumps(doc, hostile)


@st.composite
def _base64(draw: st.DrawFn, doc: Any) -> bytes:
    """A base64 field (payload, signature, hint) in another spelling, or broken."""
    paths = [p for p in _paths(doc) if p[-1] in ("payload", "sig", "hint", "signedTimestamp")]
    path = draw(st.sampled_from(paths))
    parent = _at(doc, path[:-1])
    parent[path[-1]] = _b64(parent[path[-1]], draw(st.sampled_from(B64_EDITS)), draw)
    return _dumps(doc, "")


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its key-value pairs, in order, where a key may repeat."""


def _pairs(value: Any) -> Any:
    if isinstance(value, dict):
        return _Pairs((k, _pairs(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_pairs(v) for v in value]
    return value


def _write(value: Any) -> str:
    if isinstance(value, _Pairs):
        return "{" + ", ".join(f"{json.dumps(k)}: {_write(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_write(v) for v in value) + "]"
    return json.dumps(value)


def _objects(value: Any) -> list[_Pairs]:
    found = [value] if isinstance(value, _Pairs) else []
    children = ([v for _, v in value] if isinstance(value, _Pairs)
                else value if isinstance(value, list) else [])
    for child in children:
        found += _objects(child)
    return found


@st.composite
def _duplicate(draw: st.DrawFn, doc: Any) -> bytes:
    """A key repeated in its object with another value, before or after the original: JSON
    parsers disagree about which one counts (Python's json: the last)."""
    tree = _pairs(doc)
    target = draw(st.sampled_from(_objects(tree)))
    at = draw(st.integers(min_value=0, max_value=len(target) - 1))
    key = target[at][0]
    value: Any = draw(st.sampled_from(["application/json", "AAAA", None, {}, [],
                                       base64.b64encode(b"{}").decode(), base64.b64encode(
                                           PAYLOAD.replace(b"pass", b"fail")).decode()]))
    target.insert(at + draw(st.integers(min_value=0, max_value=1)), (key, _pairs(value)))
    return _write(tree).encode()


@st.composite
def _certificate(draw: st.DrawFn, doc: Any) -> bytes:
    """The key hint replaced by a certificate (or a chain) whose bytes are anything."""
    raw = draw(st.one_of(st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
                         st.sampled_from(["", "AAAA", "MIIB", "!!!", "MA==", "MAA=", "MIIBAA=="]),
                         st.text(max_size=12)))
    material = doc["verificationMaterial"]
    del material["publicKey"]
    if draw(st.booleans()):
        material["certificate"] = {"rawBytes": raw}
    else:
        material["x509CertificateChain"] = {"certificates": [{"rawBytes": raw}]}
    return _dumps(doc, "")


@st.composite
def _flip(draw: st.DrawFn, raw: bytes) -> bytes:
    """One to three bytes of the file changed."""
    data = bytearray(raw)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(data) - 1))
        data[at] ^= draw(st.integers(min_value=1, max_value=255))
    return bytes(data)


@st.composite
def _timestamp(draw: st.DrawFn, doc: Any) -> bytes:
    """The timestamp response's DER changed: bytes flipped, cut or added."""
    stamps = doc["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
    der = base64.b64decode(stamps[0]["signedTimestamp"])
    edit = draw(st.sampled_from(["flip", "cut", "append"]))
    if edit == "flip":
        der = draw(_flip(der))
    elif edit == "cut":
        der = der[: draw(st.integers(min_value=0, max_value=len(der) - 1))]
    else:
        der += draw(st.binary(min_size=1, max_size=8))
    stamps[draw(st.sampled_from([0, len(stamps)]))::] = [
        {"signedTimestamp": base64.b64encode(der).decode()}]
    return _dumps(doc, "")


@st.composite
def mutated_bundle(draw: st.DrawFn, bundle: str) -> bytes:
    doc = json.loads(bundle)
    mutations = [_field, _field, _base64, _duplicate, _certificate]
    if "timestampVerificationData" in bundle:
        mutations += [_timestamp, _timestamp]
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        return draw(_flip(bundle.encode()))
    mutated: bytes = draw(draw(st.sampled_from(mutations))(doc))
    return mutated


@given(mutated_bundle(BUNDLE))
def test_a_mutated_bundle_verifies_as_signed_or_is_refused(raw: bytes) -> None:
    _verified(raw)


@given(mutated_bundle(STAMPED))
def test_a_mutated_timestamped_bundle_verifies_as_signed_or_is_refused(raw: bytes) -> None:
    """Under a trust that requires timestamps: the timestamp response is parsed and checked
    (engine.attest.timestamp, engine.attest.tsa_token) before the statement is read."""
    _verified(raw, STAMPED_TRUST)


@given(st.binary(max_size=300))
def test_any_bytes_are_refused(raw: bytes) -> None:
    assert not isinstance(_verified(raw), Verified)
