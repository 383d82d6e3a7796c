"""The verified history of the trust root, and the question every verifier asks of it: who was
trusted to sign (or approve) at time T?

A version is in force from the time it was issued until the next version was issued; within
it, a key or identity counts only inside its own validity window, and nothing counts after the
version in force expired. So rotating a key keeps everything it signed before valid, and a
revoked key's later signatures fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.attest.keys import load_public
from engine.attest.trust import TrustedIdentity, TrustedKey, TrustPolicy
from engine.clock import instant
from engine.trust.document import APPROVERS, SIGNERS, Grant, RoleGrants

NOBODY = TrustPolicy((), ())


@dataclass(frozen=True)
class TrustVersion:
    seq: int  # position on the trust ref, 1 = the pinned first root
    commit: str
    root_version: int
    targets_version: int
    fingerprint: str  # of this version's root
    issued: str
    expires: str  # the earlier of the root's and the targets' expiry
    root_keys: tuple[Grant, ...]
    root_threshold: int
    roles: Mapping[str, RoleGrants]
    root_signers: tuple[str, ...]  # keyids whose signatures on root.json verified
    targets_signers: tuple[str, ...]  # keyids whose signatures on targets.json verified

    def grants(self, role: str, moment: str) -> tuple[Grant, ...]:
        """The role's keys and identities that may act at `moment` (none once expired)."""
        if instant(moment) >= instant(self.expires):
            return ()
        return tuple(g for g in self.roles[role].grants if g.valid_at(moment))


@dataclass(frozen=True)
class TrustHistory:
    pin: str  # fingerprint of the first root, as pinned
    pin_source: str  # where the pin came from (an option, the environment, the local pin)
    versions: tuple[TrustVersion, ...]

    @property
    def current(self) -> TrustVersion:
        return self.versions[-1]

    def in_force(self, moment: str) -> TrustVersion | None:
        """The version issued last at or before `moment`; None before the first."""
        when = instant(moment)
        found = None
        for version in self.versions:
            if instant(version.issued) <= when:
                found = version
        return found

    def signers_at(self, moment: str) -> TrustPolicy:
        """Who may sign a ledger entry or receipt made at `moment`, as the attest stage's
        trust policy (empty: nobody)."""
        version = self.in_force(moment)
        if version is None:
            return NOBODY
        return policy_of(version, version.grants(SIGNERS, moment))

    def approvers_at(self, moment: str) -> tuple[TrustPolicy, int]:
        """Who may approve a waiver at `moment`, and how many approvals it needs."""
        version = self.in_force(moment)
        if version is None:
            return NOBODY, 1
        return (policy_of(version, version.grants(APPROVERS, moment)),
                version.roles[APPROVERS].threshold)


def policy_of(version: TrustVersion, grants: tuple[Grant, ...]) -> TrustPolicy:
    keys = tuple(TrustedKey(f"trust #{version.seq} key {g.keyid[:16]}",
                            load_public(g.public_pem.encode("ascii"), g.keyid))
                 for g in grants if g.public_pem is not None)
    identities = tuple(TrustedIdentity(str(g.issuer), str(g.subject))
                       for g in grants if g.is_identity)
    return TrustPolicy(keys, identities)
