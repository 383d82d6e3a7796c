"""Changing the trust root: every change is a proposal (the next version's `root.json` and
`targets.json`) that the root keys sign, and that is published only once the verifier accepts
it on top of the current history.

One person holding enough root keys signs and publishes in one command; with keys held apart,
the proposal is a file passed from one holder to the next (`govops trust sign`), each adding
signatures, and the last one publishes. A proposal remembers the version it was made on: if
the trust moved meanwhile, it is refused rather than replayed over a newer version.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import Metadata, Root, Targets

from engine.attest.timestamp import TimestampAuthority
from engine.clock import instant
from engine.errors import GovopsError, Refused
from engine.trust.document import (
    ECDSA_SCHEME,
    SIGNERS,
    Grant,
    RoleGrants,
    decode_root,
    decode_targets,
    encode,
    new_root,
    new_targets,
    roles_of,
    root_grants,
    signed_bytes,
)
from engine.trust.history import TrustVersion

FORMAT = "govops-trust-proposal/v1"


class BadProposal(GovopsError):
    """A proposal file that cannot be read, or a change that makes no sense."""


@dataclass(frozen=True)
class Proposal:
    base: str | None  # the trust commit it builds on; None for the first root
    summary: str  # what it changes, in words, for whoever signs it next
    root: bytes  # root.json as it will be stored, with the signatures so far
    targets: bytes

    def encode(self) -> bytes:
        doc = {"format": FORMAT, "base": self.base, "summary": self.summary,
               "root": json.loads(self.root), "targets": json.loads(self.targets)}
        return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8")

    @classmethod
    def decode(cls, data: bytes, where: str) -> Proposal:
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} document")
            base = doc["base"]
            if base is not None and not isinstance(base, str):
                raise ValueError("base must be a commit or null")
            root = decode_root(json.dumps(doc["root"]).encode("utf-8"), f"{where}: root")
            targets = decode_targets(json.dumps(doc["targets"]).encode("utf-8"),
                                     f"{where}: targets")
            return cls(base, str(doc["summary"]), _stored(root), _stored(targets))
        except (ValueError, KeyError, TypeError, AttributeError, Refused) as exc:
            raise BadProposal(f"{where}: not a trust proposal ({exc})") from None


def _stored(metadata: Metadata[Any]) -> bytes:
    return encode(metadata)


def _check_roles(roles: Mapping[str, RoleGrants]) -> None:
    for spec in roles.values():
        _check_threshold(spec.name, len(spec.grants), spec.threshold)
    if roles[SIGNERS].threshold != 1:
        raise BadProposal("every ledger entry and receipt carries one signature: the signers "
                          "threshold is 1 (approvers may need more)")


def initial(root_keys: Sequence[Grant], threshold: int, roles: Mapping[str, RoleGrants],
            issued: str, expires: dt.datetime) -> Proposal:
    _check_threshold("root", len(root_keys), threshold)
    _check_roles(roles)
    root = new_root(1, root_keys, threshold, expires)
    targets = new_targets(1, roles, issued, expires)
    return Proposal(None, "the first trust root", _stored(root), _stored(targets))


def _check_threshold(role: str, count: int, threshold: int) -> None:
    if threshold < 1:
        raise BadProposal(f"the {role} threshold must be at least 1")
    if count < threshold:
        raise BadProposal(f"the {role} role has {count} keys or identities but needs "
                          f"{threshold} to act: add keys or lower the threshold")


def _next_targets(current: TrustVersion, roles: Mapping[str, RoleGrants], issued: str,
                  expires: dt.datetime | None,
                  authorities: Sequence[TimestampAuthority] | None = None,
                  tolerance: int | None = None,
                  anchor: tuple[int, str] | None = None,
                  branches: Sequence[str] | None = None) -> bytes:
    if instant(issued) < instant(current.issued):
        raise BadProposal(f"the change would be issued at {issued}, before the current "
                          f"version ({current.issued}): check the clock")
    until = expires or instant(current.expires)
    return _stored(new_targets(
        current.targets_version + 1, roles, issued, until,
        current.authorities if authorities is None else authorities,
        current.tolerance if tolerance is None else tolerance,
        anchor if anchor is not None else current.anchor,
        current.branches if branches is None else branches))


def anchoring(current: TrustVersion, current_root: bytes, anchor: tuple[int, str],
              issued: str) -> Proposal:
    """The next version vouching for ledger entry `anchor` (seq, hash) and all before it."""
    if current.anchor is not None and anchor[0] < current.anchor[0]:
        raise BadProposal(f"the trust already vouches for ledger entry #{current.anchor[0]}; "
                          f"an anchor never moves back (to #{anchor[0]})")
    return Proposal(current.commit, f"anchor the ledger at entry #{anchor[0]} ({anchor[1][:19]})",
                    current_root, _next_targets(current, current.roles, issued, None,
                                                anchor=anchor))


def protecting(current: TrustVersion, current_root: bytes, branches: Sequence[str],
               issued: str) -> Proposal:
    """The next version allowing deployments only of commits on `branches` (none: any)."""
    cleaned = [b.strip() for b in branches]
    if any(not b or b.startswith("-") or ".." in b for b in cleaned):
        raise BadProposal("a deploy branch is a branch name or an fnmatch pattern "
                          "(main, release/*)")
    summary = (f"deploy only commits of {', '.join(cleaned)}" if cleaned
               else "deploy commits of any branch")
    return Proposal(current.commit, summary, current_root,
                    _next_targets(current, current.roles, issued, None, branches=cleaned))


def timestamping(current: TrustVersion, current_root: bytes,
                 authorities: Sequence[TimestampAuthority], tolerance: int, summary: str,
                 issued: str) -> Proposal:
    """The next version with the same root and roles and these timestamp authorities."""
    if tolerance < 0:
        raise BadProposal("the timestamp tolerance is a number of seconds, 0 or more")
    return Proposal(current.commit, summary, current_root,
                    _next_targets(current, current.roles, issued, None, authorities, tolerance))


def changing_roles(current: TrustVersion, current_root: bytes, roles: Mapping[str, RoleGrants],
                   summary: str, issued: str, expires: dt.datetime | None = None) -> Proposal:
    """The next version with the same root and new govops roles."""
    _check_roles(roles)
    return Proposal(current.commit, summary, current_root,
                    _next_targets(current, roles, issued, expires))


def rotating(current: TrustVersion, current_root: bytes, root_keys: Sequence[Grant],
             threshold: int, issued: str, expires: dt.datetime) -> Proposal:
    """The next version with a new root (signed by the old root keys and the new ones)."""
    _check_threshold("root", len(root_keys), threshold)
    old = decode_root(current_root, "the current root")
    root = new_root(old.signed.version + 1, root_keys, threshold, expires)
    summary = (f"rotate the root to {len(root_keys)} keys, threshold {threshold} "
               f"(root version {old.signed.version + 1})")
    return Proposal(current.commit, summary, _stored(root),
                    _next_targets(current, current.roles, issued, expires))


def with_grant(roles: Mapping[str, RoleGrants], role: str, grant: Grant,
               threshold: int | None = None) -> dict[str, RoleGrants]:
    spec = roles[role]
    if any(g.keyid == grant.keyid for g in spec.grants):
        raise BadProposal(f"the {role} role already holds {grant.describe()}")
    return {**roles, role: RoleGrants(role, (*spec.grants, grant),
                                      threshold if threshold is not None else spec.threshold)}


def with_revocation(roles: Mapping[str, RoleGrants], role: str, keyid: str,
                    at: str) -> dict[str, RoleGrants]:
    """The role with the key's validity ending at `at` (its earlier signatures stay valid)."""
    spec = roles[role]
    found = [g for g in spec.grants if g.keyid == keyid]
    if not found:
        raise BadProposal(f"the {role} role holds no key or identity {keyid[:16]}")
    grant = found[0]
    if grant.valid_until is not None and instant(grant.valid_until) <= instant(at):
        raise BadProposal(f"{grant.describe()} is already revoked from {grant.valid_until}")
    revoked = dataclasses.replace(grant, valid_until=at)
    return {**roles, role: RoleGrants(role, tuple(revoked if g.keyid == keyid else g
                                                  for g in spec.grants), spec.threshold)}


# -- signing ---------------------------------------------------------------------------------------


def sign(proposal: Proposal, previous_root: bytes | None,
         keys: Sequence[ec.EllipticCurvePrivateKey]) -> Proposal:
    """Add each key's signature wherever it counts: on a new root if it is a root key of the
    previous root or of the new one, and on the targets if it is a key of the new root's
    targets role. A key that counts nowhere is refused (it was most likely the wrong file)."""
    root = decode_root(proposal.root, "the proposed root")
    targets = decode_targets(proposal.targets, "the proposed targets")
    new_root_ids = set(root.signed.roles["root"].keyids)
    targets_ids = set(root.signed.roles["targets"].keyids)
    old_root_ids: set[str] = set()
    root_changed = True
    if previous_root is not None:
        old = decode_root(previous_root, "the current root")
        old_root_ids = set(old.signed.roles["root"].keyids)
        root_changed = signed_bytes(old) != signed_bytes(root)
    for private in keys:
        public = SSlibKey.from_crypto(private.public_key(), scheme=ECDSA_SCHEME)
        signer = CryptoSigner(private, public)
        counted = False
        if root_changed and public.keyid in new_root_ids | old_root_ids:
            _sign_once(root, signer, public.keyid)
            counted = True
        if public.keyid in targets_ids:
            _sign_once(targets, signer, public.keyid)
            counted = True
        if not counted:
            raise BadProposal(f"key {public.keyid[:16]} is not a root key of this trust "
                              "(or of the root it replaces): it cannot sign this change")
    return dataclasses.replace(proposal, root=_stored(root), targets=_stored(targets))


def _sign_once(metadata: Metadata[Root] | Metadata[Targets], signer: CryptoSigner,
               keyid: str) -> None:
    if keyid not in metadata.signatures:
        metadata.sign(signer, append=True)


def describe_roles(roles: Mapping[str, RoleGrants]) -> str:
    return "; ".join(f"{name}: {len(spec.grants)} (threshold {spec.threshold})"
                     for name, spec in sorted(roles.items()))


def current_roles(targets: bytes) -> dict[str, RoleGrants]:
    return roles_of(decode_targets(targets, "the current targets"), "the current targets")


def current_root_keys(root: bytes) -> tuple[Grant, ...]:
    return root_grants(decode_root(root, "the current root"))

