"""Trust roots for tests: key pairs made with `govops keygen`, a trust root made with the real
`govops trust init`, and a forger that writes whatever version it likes straight onto
`refs/govops/trust`, the way an insider with push access could."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from securesystemslib.signer import CryptoSigner, SSlibKey

from engine.attest.keys import load_private, load_public
from engine.attest.trust import TrustPolicy
from engine.repo import open_repo
from engine.trust.document import (
    APPROVERS,
    ECDSA_SCHEME,
    SIGNERS,
    Grant,
    RoleGrants,
    encode,
    key_grant,
    new_root,
    new_targets,
)
from engine.trust.store import TrustStore
from tests.support.cli import Run, govops

EXPIRES = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Keys:
    """Key pairs by name in one folder: `keys.pub("ci")`, `keys.key("r1")`."""

    folder: Path

    def make(self, *names: str) -> Keys:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            if not (self.folder / f"{name}.pub").exists():
                run = govops("keygen", "--output", str(self.folder / name))
                assert run.exit_code == 0, run.stderr
        return self

    def pub(self, name: str) -> Path:
        return self.folder / f"{name}.pub"

    def key(self, name: str) -> Path:
        return self.folder / f"{name}.key"

    def grant(self, name: str, valid_from: str | None = None,
              valid_until: str | None = None) -> Grant:
        return key_grant(load_public(self.pub(name).read_bytes(), name), valid_from,
                         valid_until, owner(name))


def owner(name: str) -> str:
    """The email of the person holding the test key `name`."""
    return f"{name}@acme.test"


def trust_init(repo: Path, keys: Keys, roots: Sequence[str] = ("root",), threshold: int = 1,
               signers: Sequence[str] = ("ci",), approvers: Sequence[str] = ("legal",),
               approver_threshold: int = 1, sign_with: Sequence[str] | None = None,
               *extra: str) -> Run:
    keys.make(*roots, *signers, *approvers)
    args = ["trust", "init", "--repo", str(repo), "--root-threshold", str(threshold),
            "--approver-threshold", str(approver_threshold)]
    args += [a for name in roots for a in ("--root-key", str(keys.pub(name)))]
    args += [a for name in signers for a in ("--signer-key", str(keys.pub(name)))]
    args += [a for name in approvers for a in ("--approver-key", str(keys.pub(name)),
                                               "--approver-owner", owner(name))]
    args += [a for name in (sign_with if sign_with is not None else roots)
             for a in ("--sign-with", str(keys.key(name)))]
    return govops(*args, *extra)


def forge(repo: Path, keys: Keys, *, root_version: int, roots: Sequence[str],
          targets_version: int, roles: Mapping[str, Sequence[str]], issued: str,
          sign_with: Sequence[str], previous_root: bytes | None = None,
          keep_root: bool = False, root_threshold: int = 1) -> str:
    """Append a version built and signed exactly as given, bypassing every check
    (`keep_root`: store `previous_root` unchanged and forge only the roles)."""
    grants = {name: RoleGrants(name, tuple(keys.grant(k) for k in roles.get(name, ())), 1)
              for name in (SIGNERS, APPROVERS)}
    root = new_root(root_version, [keys.grant(k) for k in roots], root_threshold, EXPIRES)
    targets = new_targets(targets_version, grants, issued, EXPIRES)
    for name in sign_with:  # any key at all: the forger signs with what it has
        private = load_private(keys.key(name))
        signer = CryptoSigner(private, SSlibKey.from_crypto(private.public_key(),
                                                            scheme=ECDSA_SCHEME))
        root.sign(signer, append=True)
        targets.sign(signer, append=True)
    root_bytes = previous_root if keep_root and previous_root else encode(root)
    store = TrustStore(open_repo(repo))
    return store.append(root_bytes, encode(targets), store.tip(), "forged", 0)


def current_root(repo: Path) -> bytes:
    versions = TrustStore(open_repo(repo)).versions()
    root = versions[-1].root
    assert root is not None
    return root


ISSUED = "2026-11-01T00:00:00Z"  # before every time the test histories use
TRUSTED_UNTIL = "2036-01-01T00:00:00Z"  # after every time a test runs at


def trusted(repo: Path, folder: Path, signer: Path | None = None,
            identities: Sequence[tuple[str, str]] = (), issued: str = ISSUED) -> str:
    """Give `repo` a trust root issued at `issued` whose signers are the public key `signer`
    and/or the keyless `identities`; its root and approver keys are made in `folder`. Pins it
    on this machine (like `govops trust init`) and returns the fingerprint."""
    from engine.commands.trust import KeyRef, Signing, trust_init

    keys = Keys(folder).make("trust-root", "trust-legal")
    signers = [KeyRef(signer)] if signer is not None else []
    signers += [KeyRef(None, issuer, subject) for issuer, subject in identities]
    done = trust_init(Signing(repo, (keys.key("trust-root"),)), [KeyRef(keys.pub("trust-root"))],
                      1, {SIGNERS: (signers, 1),
                          APPROVERS: ([KeyRef(keys.pub("trust-legal"), owner="legal@acme.test")],
                                      1)},
                      TRUSTED_UNTIL, issued=issued)
    assert done.published is not None
    return done.pin


def trusted_signers(history_repo: Path, moment: str = "2026-11-20T12:00:00Z") -> TrustPolicy:
    """The signers the repository's trust root trusts at `moment` (for in-process checks)."""
    from engine.commands.trust import trust_history

    return trust_history(history_repo, None).signers_at(moment)


def later(hours: float = 0, days: float = 0) -> str:
    """A time after now (entries appended by hand must not predate those the commands
    append with the clock: the ledger is in time order)."""
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours, days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
