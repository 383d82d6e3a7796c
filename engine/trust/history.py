"""The verified history of the trust root, and the question every verifier asks of it: who was
trusted to sign (or approve) at time T?

Something signed at T counts when a trust version was in force at T (issued at or before T,
not yet expired) and the signer's validity window, as the current version states it, holds T.
The current version is the authority on windows because revocation must reach back: a key
found compromised since T0 is revoked from T0, and what it signed after T0 stops verifying even
if that was before the revocation was published. Rotating a key (revoking it from now) keeps
everything it signed before valid; a key granted later counts from its grant (`valid from`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass

from engine.attest.keys import load_public
from engine.attest.timestamp import TimestampAuthority
from engine.attest.trust import TrustedIdentity, TrustedKey, TrustPolicy
from engine.clock import instant
from engine.trust.document import APPROVERS, SIGNERS, Grant, RoleGrants


@dataclass(frozen=True)
class Anchor:
    """A ledger entry the root keys vouched for: a fresh clone must find exactly it there."""

    seq: int
    hash: str
    version: int  # the trust version that first vouched for it


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
    authorities: tuple[TimestampAuthority, ...] = ()  # key-signed entries need their timestamp
    tolerance: int = 300  # seconds an entry's stated time may differ from its timestamp
    anchor: tuple[int, str] | None = None  # the ledger entry (seq, hash) the root vouches for
    branches: tuple[str, ...] = ()  # only commits of these branches may deploy (none: any)

    def grants(self, role: str, moment: str) -> tuple[Grant, ...]:
        """The role's keys and identities whose validity holds `moment`."""
        return tuple(g for g in self.roles[role].grants if g.valid_at(moment))


@dataclass(frozen=True)
class TrustHistory:
    pin: str  # fingerprint of the first root, as pinned
    pin_source: str  # where the pin came from (an option, the environment, the local pin)
    versions: tuple[TrustVersion, ...]

    @property
    def current(self) -> TrustVersion:
        return self.versions[-1]

    @property
    def anchors(self) -> tuple[Anchor, ...]:
        """Every ledger entry the root keys ever vouched for, first vouched first."""
        found: dict[tuple[int, str], Anchor] = {}
        for version in self.versions:
            if version.anchor is not None and version.anchor not in found:
                found[version.anchor] = Anchor(*version.anchor, version.seq)
        return tuple(found.values())

    @functools.cached_property
    def _issued(self) -> tuple[dt.datetime, ...]:
        return tuple(instant(v.issued) for v in self.versions)

    def in_force(self, moment: str) -> TrustVersion | None:
        """The version issued last at or before `moment`; None before the first."""
        when = instant(moment)
        found = None
        for version, issued in zip(self.versions, self._issued, strict=True):
            if issued <= when:
                found = version
        return found

    def _acting(self, role: str, moment: str) -> TrustPolicy:
        """The role's members at `moment` as the attest stage's trust policy (empty: nobody),
        its label saying why when nobody."""
        version = self.in_force(moment)
        if version is None:
            return TrustPolicy((), (), f"the trust in force at {moment} (none: the first "
                               f"trust root was issued at {self.versions[0].issued})")
        if instant(moment) >= instant(version.expires):
            return TrustPolicy((), (), f"the trust in force at {moment} (trust #{version.seq}, "
                               f"which expired at {version.expires})")
        current = self.current
        policy = policy_of(current, current.grants(role, moment), role, moment)
        return dataclasses.replace(policy, authorities=version.authorities,
                                   tolerance=version.tolerance)

    def signers_at(self, moment: str) -> TrustPolicy:
        """Who may sign a ledger entry or receipt made at `moment`."""
        return self._acting(SIGNERS, moment)

    def approvers_at(self, moment: str) -> TrustPolicy:
        """Who may approve a waiver at `moment`."""
        return self._acting(APPROVERS, moment)

    def approvals_needed(self, moment: str | None = None) -> int:
        """How many approvals a waiver approved at `moment` needs: the approvers' threshold
        of the version in force then (the current one when no moment is given, or none was in
        force yet); at least one."""
        version = (self.in_force(moment) if moment is not None else None) or self.current
        return max(1, version.roles[APPROVERS].threshold)


@functools.lru_cache(maxsize=1024)
def _trusted_key(keyid: str, pem: str, owner: str | None) -> TrustedKey:
    """Parsed once per process: `audit verify` asks who was trusted for every entry."""
    return TrustedKey(keyid[:16], load_public(pem.encode("ascii"), keyid), owner)


def policy_of(version: TrustVersion, grants: tuple[Grant, ...], role: str,
              moment: str) -> TrustPolicy:
    keys = tuple(_trusted_key(g.keyid, g.public_pem, g.owner) for g in grants
                 if g.public_pem is not None)
    identities = tuple(TrustedIdentity(str(g.issuer), str(g.subject))
                       for g in grants if g.is_identity)
    return TrustPolicy(keys, identities, f"the {role} of trust #{version.seq} at {moment}")
