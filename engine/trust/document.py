"""One version of the trust root as TUF metadata, with python-tuf's Metadata API.

`root.json` is a TUF Root: the root keys and their threshold. Its `targets` role (who may
change the govops roles) is the root keys too; `snapshot` and `timestamp` are unused by govops
and name the root keys as well, so no key outside the root role can sign anything.

`targets.json` is a TUF Targets document that delegates the two govops roles:
- `signers`: the keys and keyless identities that may sign ledger entries and receipts;
- `approvers`: the keys and identities that may approve waivers, with a threshold.

Every key carries its validity (`x-govops-valid-from`, `x-govops-valid-until`, RFC 3339, in the
key's own fields, which TUF signs with the rest), and the targets document the time it was
issued (`x-govops-issued`), so history can be verified under the trust that was in force. An
approver's key names its owner (`x-govops-owner`, an email), so an approval can be told apart
from its author's own; a keyless approver is whoever its certificate names.
Keyless identities are securesystemslib `SigstoreKey`s (keytype `sigstore-oidc`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.signer import KEY_FOR_TYPE_AND_SCHEME, Key, SigstoreKey, SSlibKey
from tuf.api.metadata import (
    TOP_LEVEL_ROLE_NAMES,
    DelegatedRole,
    Delegations,
    Metadata,
    Role,
    Root,
    Targets,
)
from tuf.api.serialization import DeserializationError
from tuf.api.serialization.json import CanonicalJSONSerializer, JSONSerializer

from engine.attest.timestamp import TimestampAuthority
from engine.clock import instant
from engine.errors import Refused

ROOT_FILE, TARGETS_FILE = "root.json", "targets.json"
SIGNERS, APPROVERS = "signers", "approvers"
ROLES = (SIGNERS, APPROVERS)
VALID_FROM, VALID_UNTIL, ISSUED = "x-govops-valid-from", "x-govops-valid-until", "x-govops-issued"
OWNER = "x-govops-owner"
AUTHORITIES, TOLERANCE = "x-govops-timestamp-authorities", "x-govops-timestamp-tolerance"
ANCHOR = "x-govops-ledger-anchor"  # {"seq", "hash"}: the ledger entry the root keys vouch for
BRANCHES = "x-govops-deploy-branches"  # branch patterns whose commits alone may deploy
DEFAULT_TOLERANCE = 300  # seconds an entry's stated time may differ from its timestamp
ECDSA_SCHEME = "ecdsa-sha2-nistp256"

# securesystemslib reads keyless identities only once they are registered (its documented way
# to extend the key types Metadata.from_bytes accepts).
KEY_FOR_TYPE_AND_SCHEME.setdefault(("sigstore-oidc", "Fulcio"), SigstoreKey)


@dataclass(frozen=True)
class Grant:
    """A key or a keyless identity in a role, and when it may sign."""

    keyid: str
    public_pem: str | None = None  # a key...
    issuer: str | None = None  # ...or an identity: OIDC issuer and subject (exact, or ^regex)
    subject: str | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    owner: str | None = None  # a key's holder (an email): who approves when it signs

    @property
    def is_identity(self) -> bool:
        return self.public_pem is None

    def valid_at(self, moment: str) -> bool:
        when = instant(moment)
        return ((self.valid_from is None or instant(self.valid_from) <= when)
                and (self.valid_until is None or when < instant(self.valid_until)))

    def describe(self) -> str:
        who = (f"identity {self.subject} from {self.issuer}" if self.is_identity
               else f"key {self.keyid[:16]}" + (f" of {self.owner}" if self.owner else ""))
        window = (f" valid {self.valid_from or '-'} .. {self.valid_until or '-'}"
                  if self.valid_from or self.valid_until else "")
        return who + window


@dataclass(frozen=True)
class RoleGrants:
    name: str
    grants: tuple[Grant, ...]
    threshold: int


def key_grant(public: ec.EllipticCurvePublicKey, valid_from: str | None = None,
              valid_until: str | None = None, owner: str | None = None) -> Grant:
    pem = public.public_bytes(serialization.Encoding.PEM,
                              serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
    keyid = SSlibKey.from_crypto(public, scheme=ECDSA_SCHEME).keyid
    return Grant(keyid, public_pem=pem, valid_from=valid_from, valid_until=valid_until,
                 owner=owner)


def identity_grant(issuer: str, subject: str, valid_from: str | None = None,
                   valid_until: str | None = None) -> Grant:
    """A keyless identity; its keyid is the sha256 of its canonical key document, the way
    securesystemslib names keys."""
    keyval = {"issuer": issuer, "identity": subject}
    keyid = hashlib.sha256(_canonical({"keytype": "sigstore-oidc", "scheme": "Fulcio",
                                       "keyval": keyval})).hexdigest()
    return Grant(keyid, issuer=issuer, subject=subject, valid_from=valid_from,
                 valid_until=valid_until)


def _canonical(value: Any) -> bytes:
    from securesystemslib.formats import encode_canonical

    encoded = encode_canonical(value)
    assert isinstance(encoded, str)
    return encoded.encode("utf-8")


def _validity(grant: Grant) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if grant.valid_from is not None:
        fields[VALID_FROM] = grant.valid_from
    if grant.valid_until is not None:
        fields[VALID_UNTIL] = grant.valid_until
    if grant.owner is not None:
        fields[OWNER] = grant.owner
    return fields


def tuf_key(grant: Grant) -> Key:
    if grant.public_pem is not None:
        return SSlibKey(grant.keyid, "ecdsa", ECDSA_SCHEME, {"public": grant.public_pem},
                        _validity(grant))
    assert grant.issuer is not None and grant.subject is not None
    return SigstoreKey(grant.keyid, "sigstore-oidc", "Fulcio",
                       {"issuer": grant.issuer, "identity": grant.subject}, _validity(grant))


def grant_of(key: Key) -> Grant:
    fields = key.unrecognized_fields
    valid_from, valid_until = fields.get(VALID_FROM), fields.get(VALID_UNTIL)
    for moment in (valid_from, valid_until):
        if moment is not None:
            _check_time(moment, f"key {key.keyid[:16]}")
    owner = fields.get(OWNER)
    if owner is not None and not isinstance(owner, str):
        raise Refused(f"key {key.keyid[:16]}: {OWNER} must be an email")
    if key.keytype == "sigstore-oidc":
        return Grant(key.keyid, issuer=str(key.keyval.get("issuer")),
                     subject=str(key.keyval.get("identity")), valid_from=valid_from,
                     valid_until=valid_until)
    if key.keytype != "ecdsa" or key.scheme != ECDSA_SCHEME:
        raise Refused(f"key {key.keyid[:16]} is a {key.keytype}/{key.scheme} key; govops "
                      "trusts ECDSA P-256 keys and sigstore-oidc identities")
    return Grant(key.keyid, public_pem=str(key.keyval.get("public")), valid_from=valid_from,
                 valid_until=valid_until, owner=owner)


def _check_time(moment: Any, where: str) -> None:
    try:
        instant(str(moment))
    except ValueError:
        raise Refused(f"{where}: {moment!r} is not an RFC 3339 time") from None


# -- building documents --------------------------------------------------------------------------


def new_root(version: int, root_keys: Iterable[Grant], threshold: int,
             expires: datetime) -> Metadata[Root]:
    keys = {g.keyid: tuf_key(g) for g in root_keys}
    role = sorted(keys)
    roles = {name: Role(list(role), threshold) for name in TOP_LEVEL_ROLE_NAMES}
    return Metadata(Root(version=version, expires=expires, keys=keys, roles=roles,
                         consistent_snapshot=False))


def new_targets(version: int, roles: Mapping[str, RoleGrants], issued: str,
                expires: datetime, authorities: Sequence[TimestampAuthority] = (),
                tolerance: int = DEFAULT_TOLERANCE,
                anchor: tuple[int, str] | None = None,
                branches: Sequence[str] = ()) -> Metadata[Targets]:
    keys: dict[str, Key] = {}
    delegated: dict[str, DelegatedRole] = {}
    for name in ROLES:
        spec = roles[name]
        for grant in spec.grants:
            keys[grant.keyid] = tuf_key(grant)
        delegated[name] = DelegatedRole(name, sorted(g.keyid for g in spec.grants),
                                        spec.threshold, terminating=True, paths=[f"{name}/*"])
    fields: dict[str, Any] = {ISSUED: issued}
    if authorities:
        fields[AUTHORITIES] = [{"name": a.name, "url": a.url, "certificates": list(a.certificates)}
                               for a in authorities]
        fields[TOLERANCE] = tolerance
    if anchor is not None:
        fields[ANCHOR] = {"seq": anchor[0], "hash": anchor[1]}
    if branches:
        fields[BRANCHES] = list(branches)
    return Metadata(Targets(version=version, expires=expires, targets={},
                            delegations=Delegations(keys, roles=delegated),
                            unrecognized_fields=fields))


def encode(metadata: Metadata[Any]) -> bytes:
    return metadata.to_bytes(JSONSerializer(compact=False)) + b"\n"


def signed_bytes(metadata: Metadata[Any]) -> bytes:
    """What the signatures cover: the canonical JSON of the `signed` part."""
    return bytes(CanonicalJSONSerializer().serialize(metadata.signed))


def fingerprint(root: Metadata[Root]) -> str:
    """The name of a root to pin out of band: sha256 of its signed part (not of its
    signatures, so adding a signature does not change it)."""
    return "sha256:" + hashlib.sha256(signed_bytes(root)).hexdigest()


# -- reading documents ----------------------------------------------------------------------------


def decode_root(data: bytes, where: str) -> Metadata[Root]:
    return _decode(data, where, Root)


def decode_targets(data: bytes, where: str) -> Metadata[Targets]:
    return _decode(data, where, Targets)


def _decode(data: bytes, where: str, kind: type[Any]) -> Metadata[Any]:
    try:
        metadata: Metadata[Any] = Metadata.from_bytes(data)
    except (DeserializationError, ValueError, KeyError, TypeError) as exc:
        raise Refused(f"{where} is not TUF metadata: {exc}") from None
    if not isinstance(metadata.signed, kind):
        raise Refused(f"{where} holds {metadata.signed.type} metadata, not {kind.type}")
    return metadata


def issued_of(targets: Metadata[Targets], where: str) -> str:
    issued = targets.signed.unrecognized_fields.get(ISSUED)
    if not isinstance(issued, str):
        raise Refused(f"{where} does not say when it was issued ({ISSUED})")
    _check_time(issued, where)
    return issued


def authorities_of(targets: Metadata[Targets], where: str
                   ) -> tuple[tuple[TimestampAuthority, ...], int]:
    """The timestamp authorities the trust names (none: entries need no timestamp) and the
    tolerance, in seconds, between an entry's stated time and its timestamp."""
    fields = targets.signed.unrecognized_fields
    raw = fields.get(AUTHORITIES, [])
    tolerance = fields.get(TOLERANCE, DEFAULT_TOLERANCE)
    if not isinstance(raw, list) or not isinstance(tolerance, int) or tolerance < 0:
        raise Refused(f"{where}: {AUTHORITIES} must be a list and {TOLERANCE} whole seconds")
    found = []
    for item in raw:
        try:
            authority = TimestampAuthority(str(item["name"]), str(item["url"]),
                                           tuple(str(c) for c in item["certificates"]))
        except (KeyError, TypeError):
            raise Refused(f"{where}: a timestamp authority needs a name, a url and "
                          "certificates") from None
        _check_certificates(authority, where)
        found.append(authority)
    return tuple(found), tolerance


def _check_certificates(authority: TimestampAuthority, where: str) -> None:
    from cryptography import x509

    if not authority.certificates:
        raise Refused(f"{where}: timestamp authority {authority.name} has no certificates")
    for pem in authority.certificates:
        try:
            x509.load_pem_x509_certificate(pem.encode("ascii"))
        except ValueError:
            raise Refused(f"{where}: timestamp authority {authority.name} has a certificate "
                          "that is not PEM") from None


def anchor_of(targets: Metadata[Targets], where: str) -> tuple[int, str] | None:
    """The ledger entry (seq, hash) this version's root keys vouch for, if any."""
    raw = targets.signed.unrecognized_fields.get(ANCHOR)
    if raw is None:
        return None
    if (not isinstance(raw, dict) or not isinstance(raw.get("seq"), int)
            or not isinstance(raw.get("hash"), str) or raw["seq"] < 1):
        raise Refused(f"{where}: {ANCHOR} must be a ledger seq and an entry hash")
    return raw["seq"], raw["hash"]


def branches_of(targets: Metadata[Targets], where: str) -> tuple[str, ...]:
    """The branch patterns whose commits alone may deploy (none: any commit may)."""
    raw = targets.signed.unrecognized_fields.get(BRANCHES, [])
    if not isinstance(raw, list) or not all(isinstance(b, str) and b.strip() for b in raw):
        raise Refused(f"{where}: {BRANCHES} must be a list of branch names or patterns")
    return tuple(raw)


def roles_of(targets: Metadata[Targets], where: str) -> dict[str, RoleGrants]:
    delegations = targets.signed.delegations
    if delegations is None or delegations.roles is None:
        raise Refused(f"{where} delegates no govops roles")
    found: dict[str, RoleGrants] = {}
    for name in ROLES:
        role = delegations.roles.get(name)
        if role is None:
            raise Refused(f"{where} does not delegate the {name} role")
        grants = []
        for keyid in role.keyids:
            key = delegations.keys.get(keyid)
            if key is None:
                raise Refused(f"{where}: the {name} role names key {keyid[:16]}, which it "
                              "does not list")
            grants.append(grant_of(key))
        found[name] = RoleGrants(name, tuple(grants), role.threshold)
    return found


def root_grants(root: Metadata[Root]) -> tuple[Grant, ...]:
    role = root.signed.roles["root"]
    return tuple(grant_of(root.signed.keys[k]) for k in role.keyids if k in root.signed.keys)
