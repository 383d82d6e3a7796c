"""Verify the trust ref from the pinned first root, as a TUF client verifies root rotation.

- Version 1's root is the pinned one (by fingerprint) and is signed by a threshold of its own
  root keys.
- A version that changes the root raises its version by one and is signed by a threshold of
  the previous root's keys and a threshold of its own (TUF rotation): a new root cannot grant
  itself trust.
- Every version issues a new targets document (the govops roles, and the time they take
  effect) one version up, signed by a threshold of the targets role of its root (the root
  keys), issued no earlier than the one before it.
- A version that changes nothing, holds anything else, or merges two histories is refused.

Fails closed and names the first bad version; nothing after it is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root, Targets

from engine.clock import instant, utc
from engine.errors import Refused
from engine.trust.document import (
    ROOT_FILE,
    TARGETS_FILE,
    anchor_of,
    authorities_of,
    branches_of,
    decode_root,
    decode_targets,
    fingerprint,
    issued_of,
    roles_of,
    root_grants,
    signed_bytes,
)
from engine.trust.history import TrustHistory, TrustVersion
from engine.trust.store import TRUST_REF, StoredVersion


def signed_by(delegator: Root, role: str, metadata: Metadata[Any]) -> tuple[str, ...]:
    """The keyids of `role` (in `delegator`) whose signatures on `metadata` verify; Refused
    when they fall short of the role's threshold."""
    payload = signed_bytes(metadata)
    result = delegator.get_verification_result(role, payload, metadata.signatures)
    if not result.verified:
        have, need = len(result.signed), delegator.roles[role].threshold
        raise Refused(f"signed by {have} of the {role} keys of root version "
                      f"{delegator.version}, which needs {need}")
    return tuple(sorted(result.signed))


def _check_shape(stored: StoredVersion, previous: StoredVersion | None) -> None:
    if stored.others or set(stored.files) != {ROOT_FILE, TARGETS_FILE}:
        raise Refused(f"holds {sorted([*stored.files, *stored.others])}, not exactly "
                      f"{ROOT_FILE} and {TARGETS_FILE}")
    if len(stored.parents) > 1:
        raise Refused("is a merge; the trust history is a single chain")
    if previous is not None and stored.files == previous.files:
        raise Refused("changes nothing")


def _root(stored: StoredVersion, previous: TrustVersion | None, before: Metadata[Root] | None,
          pin: str) -> tuple[Metadata[Root], tuple[str, ...]]:
    assert stored.root is not None
    root = decode_root(stored.root, ROOT_FILE)
    if before is None:
        if fingerprint(root) != pin:
            raise Refused(f"its root is {fingerprint(root)}, not the pinned {pin}")
        if root.signed.version != 1:
            raise Refused(f"the first root has version {root.signed.version}, not 1")
        return root, signed_by(root.signed, "root", root)
    assert previous is not None
    if signed_bytes(root) == signed_bytes(before):
        return before, previous.root_signers
    if root.signed.version != before.signed.version + 1:
        raise Refused(f"root version {root.signed.version} follows root version "
                      f"{before.signed.version}")
    try:
        signed_by(before.signed, "root", root)
    except Refused as exc:
        raise Refused(f"the new root is {exc}") from None
    return root, signed_by(root.signed, "root", root)


def _targets(stored: StoredVersion, root: Metadata[Root], previous: TrustVersion | None
             ) -> tuple[Metadata[Targets], tuple[str, ...]]:
    """Every version issues new targets (the govops roles and the time they take effect),
    one version up, signed by the targets role of its root (after a rotation, the new one)."""
    assert stored.targets is not None
    targets = decode_targets(stored.targets, TARGETS_FILE)
    expected = 1 if previous is None else previous.targets_version + 1
    if targets.signed.version != expected:
        raise Refused(f"targets version {targets.signed.version} where {expected} was due")
    try:
        return targets, signed_by(root.signed, "targets", targets)
    except Refused as exc:
        raise Refused(f"its govops roles are {exc}") from None


def verify_versions(stored: Sequence[StoredVersion], pin: str, pin_source: str) -> TrustHistory:
    """The verified history; Refused naming the first version that does not verify."""
    if not stored:
        raise Refused(f"{TRUST_REF} holds no trust root: create one with `govops trust init`")
    versions: list[TrustVersion] = []
    before_root: Metadata[Root] | None = None
    previous_stored: StoredVersion | None = None
    for item in stored:
        previous = versions[-1] if versions else None
        try:
            _check_shape(item, previous_stored)
            root, root_signers = _root(item, previous, before_root, pin)
            targets, targets_signers = _targets(item, root, previous)
            issued = issued_of(targets, TARGETS_FILE)
            if previous is not None and instant(issued) < instant(previous.issued):
                raise Refused(f"was issued at {issued}, before version {previous.seq} "
                              f"({previous.issued})")
            expires = min(root.signed.expires, targets.signed.expires)
            authorities, tolerance = authorities_of(targets, TARGETS_FILE)
            anchor = anchor_of(targets, TARGETS_FILE)
            if previous is not None and previous.anchor is not None and (
                    anchor is None or anchor[0] < previous.anchor[0]):
                raise Refused(f"drops or moves back the ledger anchor #{previous.anchor[0]} "
                              "of the version before it")
            version = TrustVersion(
                seq=item.seq, commit=item.commit, root_version=root.signed.version,
                targets_version=targets.signed.version, fingerprint=fingerprint(root),
                issued=issued, expires=utc(expires), root_keys=root_grants(root),
                root_threshold=root.signed.roles["root"].threshold,
                roles=roles_of(targets, TARGETS_FILE), root_signers=root_signers,
                targets_signers=targets_signers, authorities=authorities,
                tolerance=tolerance, anchor=anchor,
                branches=branches_of(targets, TARGETS_FILE))
        except (Refused, UnsignedMetadataError, ValueError) as exc:
            raise Refused(f"trust version #{item.seq} ({item.commit[:12]}) does not verify: "
                          f"{exc}") from None
        versions.append(version)
        before_root, previous_stored = root, item
    return TrustHistory(pin, pin_source, tuple(versions))
