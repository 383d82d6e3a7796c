"""Who may sign and approve: `govops trust init|add-key|revoke|rotate|sign|pin|show|log` over
the trust root on `refs/govops/trust` (engine.trust), and the trust policy verifiers use.

The trust root is verified from a first root pinned out of band; govops.yaml's `trust` section
(read at HEAD, never from the revision being verified) is what verifiers still read until
every verifier moves to the trust root.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import ec

from engine.atomic import write_atomically
from engine.attest.keys import load_private, load_public
from engine.attest.timestamp import TimestampAuthority
from engine.attest.trust import TrustedIdentity, TrustedKey, TrustPolicy
from engine.catalog import Config, load_catalog
from engine.clock import epoch, instant, parse_time, utc, utc_now
from engine.errors import GovopsError, InputError, Refused
from engine.repo import GitRepo, open_repo
from engine.trust.change import (
    Proposal,
    anchoring,
    changing_roles,
    initial,
    protecting,
    rotating,
    sign,
    timestamping,
    with_grant,
    with_revocation,
)
from engine.trust.document import (
    APPROVERS,
    ROOT_FILE,
    SIGNERS,
    TARGETS_FILE,
    Grant,
    RoleGrants,
    authorities_of,
    decode_root,
    decode_targets,
    fingerprint,
    identity_grant,
    key_grant,
)
from engine.trust.history import TrustHistory, TrustVersion
from engine.trust.pin import Pin, parse_pin, resolve_pin, save_pin
from engine.trust.store import TRUST_REF, StoredVersion, TrustMoved, TrustStore
from engine.trust.verify import verify_versions

if TYPE_CHECKING:  # signing is for the commands that record, not for verifiers
    from engine.attest.signers import Signer, SignerOptions


def trust_policy(repo: GitRepo, config: Config, rev: str) -> TrustPolicy:
    """The trust section of govops.yaml with its key files read from the same revision."""
    snapshot = repo.snapshot(rev)
    keys = []
    for i, declared in enumerate(config.trust_keys):
        entry = snapshot.files.get(declared.strip("/"))
        line = config.lines.get(f"trust.keys[{i}]")
        if entry is None or entry.is_symlink:
            raise InputError(config.path or "govops.yaml", line,
                             f"trusted key {declared!r} is not a file in revision {rev}")
        keys.append(TrustedKey(declared, load_public(repo.read_blob(entry.oid), declared)))
    identities = tuple(TrustedIdentity(i["issuer"], i["subject"])
                       for i in config.trust_identities)
    return TrustPolicy(tuple(keys), identities)


def repo_trust(repo: GitRepo) -> TrustPolicy:
    catalog = load_catalog(repo, repo.snapshot("HEAD"))
    return trust_policy(repo, catalog.config, "HEAD")


# -- the trust root (refs/govops/trust) ------------------------------------------------------------

DEFAULT_LIFETIME = dt.timedelta(days=365)


@dataclass(frozen=True)
class KeyRef:
    """A key (a PEM public key file) or a keyless identity named on the command line."""

    key: Path | None = None
    issuer: str | None = None
    subject: str | None = None
    owner: str | None = None  # who holds the key (an email): approvers' keys must say

    def grant(self, valid_from: str | None = None, valid_until: str | None = None) -> Grant:
        if self.key is not None:
            try:
                data = self.key.read_bytes()
            except OSError as exc:
                raise GovopsError(f"{self.key}: cannot read: {exc.strerror}") from None
            return key_grant(load_public(data, str(self.key)), valid_from, valid_until,
                             self.owner.strip().lower() if self.owner else None)
        if not self.issuer or not self.subject:
            raise GovopsError("name a key file, or an identity with both issuer and subject")
        return identity_grant(self.issuer, self.subject, valid_from, valid_until)


@dataclass(frozen=True)
class TrustChange:
    """What a trust command did: published a new version, or kept a proposal for more
    signatures (and said what is still missing)."""

    summary: str
    published: TrustVersion | None
    pin: str  # the fingerprint of the first root
    proposal: Path | None = None
    missing: str | None = None
    pinned_at: Path | None = None  # where `init` pinned the new root on this machine


@dataclass(frozen=True)
class Signing:
    """Where a change goes and who signs it now."""

    repo: Path
    sign_with: tuple[Path, ...] = ()
    proposal: Path | None = None  # write the proposal here if the signatures fall short
    trust_root: str | None = None  # the pin (see engine.trust.pin)


def _expiry(text: str | None, issued: str) -> dt.datetime:
    if text is None:
        return instant(issued) + DEFAULT_LIFETIME
    moment = parse_time(text)
    if moment <= instant(issued):
        raise GovopsError(f"--expires {text!r} is not after now ({issued})")
    return moment


def _keys(paths: Sequence[Path]) -> list[ec.EllipticCurvePrivateKey]:
    return [load_private(path) for path in paths]


def _publish(repo: GitRepo, signing: Signing, proposal: Proposal, pin: Pin,
             stored: list[StoredVersion]) -> TrustChange:
    """Publish the proposal if the history with it verifies; otherwise keep it (with
    `--proposal`) or refuse, saying which signatures are missing."""
    store = TrustStore(repo)
    if proposal.base != store.tip():
        raise TrustMoved(f"the proposal was made on trust commit {proposal.base or '(none)'}, "
                         f"but {TRUST_REF} is now at {store.tip() or '(none)'}: make it again")
    candidate = StoredVersion(len(stored) + 1, "proposed", (proposal.base,) if proposal.base
                              else (), {ROOT_FILE: proposal.root, TARGETS_FILE: proposal.targets},
                              ())
    try:
        history = verify_versions([*stored, candidate], pin.fingerprint, pin.source)
    except Refused as exc:
        missing = str(exc).split(": ", 1)[-1].removeprefix("does not verify: ")
        if signing.proposal is None:
            raise Refused(f"{proposal.summary}: not published, {missing}; pass --proposal FILE "
                          "to keep it for the other key holders (govops trust sign FILE)"
                          ) from None
        write_atomically(signing.proposal, proposal.encode().decode("utf-8"))
        return TrustChange(proposal.summary, None, pin.fingerprint, signing.proposal, missing)
    commit = store.append(proposal.root, proposal.targets, proposal.base,
                          f"govops trust #{len(stored) + 1}: {proposal.summary}",
                          epoch(utc_now()))
    if signing.proposal is not None:
        signing.proposal.unlink(missing_ok=True)
    return TrustChange(proposal.summary, dataclasses.replace(history.current, commit=commit),
                       pin.fingerprint)


def _current(repo: GitRepo, option: str | None) -> tuple[TrustHistory, list[StoredVersion], Pin]:
    pin = resolve_pin(repo.git_dir, option)
    stored = TrustStore(repo).versions()
    return verify_versions(stored, pin.fingerprint, pin.source), stored, pin


def trust_history(repo_path: Path, option: str | None) -> TrustHistory:
    """The verified trust history of the repository, from the pinned first root."""
    return verifier_trust(open_repo(repo_path), option)


def verifier_trust(repo: GitRepo, option: str | None) -> TrustHistory:
    """What every verifier trusts: the trust history from the pinned first root. A repository
    without one is refused, with the one command that makes one from govops.yaml's old
    `trust` section when it has one: that section no longer grants anything by itself."""
    if TrustStore(repo).tip() is None:
        raise _no_trust_root(repo)
    history, _, _ = _current(repo, option)
    return history


def _no_trust_root(repo: GitRepo) -> Refused:
    try:
        config = load_catalog(repo, repo.snapshot("HEAD")).config
    except GovopsError:
        config = None
    if config is not None and (config.trust_keys or config.trust_identities):
        return Refused(f"{TRUST_REF} holds no trust root, and govops.yaml's trust section no "
                       "longer grants trust (anyone who can merge could add a key to it): make "
                       "a trust root from it once, with a root key kept off the repository: "
                       "govops trust init --from-config --root-key ROOT.pub --sign-with "
                       "ROOT.key")
    return Refused(f"{TRUST_REF} holds no trust root: create one with govops trust init")


def configured_signers(repo: GitRepo) -> list[Grant]:
    """The keys and identities of govops.yaml's trust section at HEAD, as grants (the
    migration path of `trust init --from-config`)."""
    policy = repo_trust(repo)
    return ([key_grant(k.key) for k in policy.keys]
            + [identity_grant(i.issuer, i.subject) for i in policy.identities])


def trust_init(signing: Signing, root_keys: Sequence[KeyRef], root_threshold: int,
               roles: Mapping[str, tuple[Sequence[KeyRef], int]],
               expires: str | None, from_config: bool = False,
               issued: str | None = None) -> TrustChange:
    """The first root: its keys, the signers and approvers, signed by the root keys given
    (`from_config`: the signers also include govops.yaml's trust section at HEAD). `issued`
    (default: now) is when the trust takes effect, for histories made by a program."""
    repo = open_repo(signing.repo)
    if TrustStore(repo).tip() is not None:
        raise GovopsError(f"{TRUST_REF} already holds a trust root: change it with "
                          "add-key, revoke or rotate")
    issued = issued or utc_now()
    until = _expiry(expires, issued)
    for refs, _ in (roles.get(APPROVERS, ((), 1)),):
        for ref in refs:
            _check_owner(APPROVERS, ref)
    grants = {name: RoleGrants(name, tuple(k.grant() for k in refs), threshold)
              for name, (refs, threshold) in roles.items()}
    if from_config:
        signers = grants[SIGNERS]
        known = {g.keyid for g in signers.grants}
        extra = tuple(g for g in configured_signers(repo) if g.keyid not in known)
        if not extra and not signers.grants:
            raise GovopsError("--from-config: govops.yaml's trust section names no key or "
                              "identity")
        grants[SIGNERS] = RoleGrants(SIGNERS, (*signers.grants, *extra), signers.threshold)
    proposal = initial([k.grant() for k in root_keys], root_threshold, grants, issued, until)
    proposal = sign(proposal, None, _keys(signing.sign_with))
    pin = Pin(fingerprint(decode_root(proposal.root, "the proposed root")), "the new root")
    done = _publish(repo, signing, proposal, pin, [])
    if done.published is None:
        return done
    return dataclasses.replace(done, pinned_at=save_pin(repo.git_dir, pin.fingerprint))


def trust_change(signing: Signing, change: Callable[[TrustVersion, StoredVersion], Proposal]
                 ) -> TrustChange:
    """Make the change `change` proposes on the current version, sign it and publish it."""
    repo = open_repo(signing.repo)
    history, stored, pin = _current(repo, signing.trust_root)
    proposal = change(history.current, stored[-1])
    proposal = sign(proposal, stored[-1].root, _keys(signing.sign_with))
    return _publish(repo, signing, proposal, pin, stored)


def _check_owner(role: str, who: KeyRef) -> None:
    """An approver's key names its holder: without one, its approvals could not be told apart
    from its holder approving their own waiver."""
    if role == APPROVERS and who.key is not None and not (who.owner or "").strip():
        raise GovopsError(f"{who.key}: an approver's key must name its owner (an email, "
                          "--owner / --approver-owner), so that no one approves a waiver they "
                          "wrote")
    if who.owner is not None and "@" not in who.owner:
        raise GovopsError(f"owner {who.owner!r} is not an email")


def add_key(role: str, who: KeyRef, valid_from: str | None, valid_until: str | None,
            threshold: int | None) -> Callable[[TrustVersion, StoredVersion], Proposal]:
    _check_owner(role, who)

    def change(current: TrustVersion, stored: StoredVersion) -> Proposal:
        issued = utc_now()
        # A key granted now counts from now, not for what was signed before it was trusted.
        grant = who.grant(_moment(valid_from) or issued, _moment(valid_until))
        roles = with_grant(current.roles, role, grant, threshold)
        assert stored.root is not None
        return changing_roles(current, stored.root, roles,
                              f"add {grant.describe()} to {role}", issued)
    return change


def revoke_key(role: str, who: KeyRef | str, at: str | None
               ) -> Callable[[TrustVersion, StoredVersion], Proposal]:
    def change(current: TrustVersion, stored: StoredVersion) -> Proposal:
        issued = utc_now()
        keyid = who if isinstance(who, str) else who.grant().keyid
        keyid = _keyid(current, role, keyid)
        moment = _moment(at) or issued
        roles = with_revocation(current.roles, role, keyid, moment)
        assert stored.root is not None
        return changing_roles(current, stored.root, roles,
                              f"revoke {keyid[:16]} from {role} as of {moment}", issued)
    return change


def rotate_root(root_keys: Sequence[KeyRef], threshold: int, expires: str | None
                ) -> Callable[[TrustVersion, StoredVersion], Proposal]:
    def change(current: TrustVersion, stored: StoredVersion) -> Proposal:
        issued = utc_now()
        assert stored.root is not None
        return rotating(current, stored.root, [k.grant() for k in root_keys], threshold,
                        issued, _expiry(expires, issued))
    return change


def trust_sign(signing: Signing, proposal_path: Path) -> TrustChange:
    """Add signatures to a proposal file; publish it once the history with it verifies."""
    try:
        data = proposal_path.read_bytes()
    except OSError as exc:
        raise GovopsError(f"{proposal_path}: cannot read: {exc.strerror}") from None
    proposal = Proposal.decode(data, str(proposal_path))
    repo = open_repo(signing.repo)
    if proposal.base is None:
        stored: list[StoredVersion] = []
        pin = Pin(fingerprint(decode_root(proposal.root, "the proposed root")), "the new root")
    else:
        _, stored, pin = _current(repo, signing.trust_root)
    proposal = sign(proposal, stored[-1].root if stored else None, _keys(signing.sign_with))
    done = _publish(repo, dataclasses.replace(signing, proposal=proposal_path), proposal, pin,
                    stored)
    if done.published is not None and proposal.base is None:
        return dataclasses.replace(done, pinned_at=save_pin(repo.git_dir, pin.fingerprint))
    return done


def anchor_ledger(tip: tuple[int, str]) -> Callable[[TrustVersion, StoredVersion], Proposal]:
    """Vouch for the ledger up to its entry `tip` (seq, hash)."""
    def change(current: TrustVersion, stored: StoredVersion) -> Proposal:
        assert stored.root is not None
        return anchoring(current, stored.root, tip, utc_now())
    return change


TSA_URL_ENV = "GOVOPS_TSA_URL"


def recording_signer(repo_path: Path, options: SignerOptions) -> Signer:
    """The signer a recording command uses: with a key, every signature timestamped by the
    TSA the options name, else GOVOPS_TSA_URL, else the first TSA of the repository's trust
    (read as stored: the TSA's answer is checked against the verified trust when verified)."""
    url = options.tsa_url or os.environ.get(TSA_URL_ENV) or _trust_tsa_url(repo_path)
    from engine.attest.signers import make_signer

    return make_signer(dataclasses.replace(options, tsa_url=url))


def _trust_tsa_url(repo_path: Path) -> str | None:
    try:
        versions = TrustStore(open_repo(repo_path)).versions()
        if not versions or versions[-1].targets is None:
            return None
        authorities, _ = authorities_of(decode_targets(versions[-1].targets, TARGETS_FILE),
                                        TARGETS_FILE)
    except GovopsError:
        return None
    return authorities[0].url if authorities else None


def set_timestamping(authority: TimestampAuthority | None, remove: str | None,
                     tolerance: int | None
                     ) -> Callable[[TrustVersion, StoredVersion], Proposal]:
    """Add (or replace, by name) a timestamp authority, or remove one, or set the tolerance."""
    def change(current: TrustVersion, stored: StoredVersion) -> Proposal:
        kept = [a for a in current.authorities
                if a.name not in {remove, authority.name if authority else None}]
        if remove is not None and len(kept) == len(current.authorities):
            raise GovopsError(f"the trust names no timestamp authority {remove!r}")
        authorities = [*kept, *([authority] if authority else [])]
        said = (f"timestamp authority {authority.name} ({authority.url})" if authority
                else f"remove timestamp authority {remove}" if remove
                else f"timestamp tolerance {tolerance} s")
        assert stored.root is not None
        return timestamping(current, stored.root, authorities,
                            current.tolerance if tolerance is None else tolerance, said,
                            utc_now())
    return change


def set_branches(branches: Sequence[str]) -> Callable[[TrustVersion, StoredVersion], Proposal]:
    """Allow deployments only of commits reachable from these branches (none: of any)."""
    def change(current: TrustVersion, stored: StoredVersion) -> Proposal:
        assert stored.root is not None
        return protecting(current, stored.root, branches, utc_now())
    return change


def timestamp_authority(name: str, url: str, chain: Path) -> TimestampAuthority:
    """A TSA from its URL and a PEM file holding its certificate first and its root last."""
    try:
        text = chain.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise GovopsError(f"{chain}: cannot read the certificate chain: {exc}") from None
    pems = tuple(f"-----BEGIN CERTIFICATE-----{body}-----END CERTIFICATE-----\n"
                 for body in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)"
                                        r"-----END CERTIFICATE-----", text, re.S))
    if not pems:
        raise InputError(str(chain), None, "holds no PEM certificate (the TSA's, then its root)")
    return TimestampAuthority(name, url, pems)


def trust_pin(repo_path: Path, text: str) -> tuple[Pin, Path]:
    """Pin the first root on this machine (fingerprint or root.json), after checking that
    the repository's trust history verifies from it."""
    repo = open_repo(repo_path)
    pin = parse_pin(text, "the pin given")
    verify_versions(TrustStore(repo).versions(), pin.fingerprint, pin.source)
    return pin, save_pin(repo.git_dir, pin.fingerprint)


def _moment(text: str | None) -> str | None:
    return utc(parse_time(text)) if text else None


def _keyid(current: TrustVersion, role: str, text: str) -> str:
    """A full keyid from a prefix of at least 8 hex digits."""
    found = [g.keyid for g in current.roles[role].grants if g.keyid.startswith(text.lower())]
    if len(text) < 8 or len(found) != 1:
        raise GovopsError(f"{text!r} names {len(found)} keys of the {role} role: give the key "
                          "file, the identity, or at least 8 hex digits of one keyid")
    return found[0]
