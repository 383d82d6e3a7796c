"""Who may sign: the trust policy of a governed repo, read from govops.yaml at HEAD.

Read from git objects at HEAD, never from the revision being verified: a commit must not be
able to trust the key that signed it. (HEAD itself is still only as trustworthy as whoever can
merge to it; a root of trust outside the repo's reach belongs here when it lands.)
"""

from __future__ import annotations

from engine.attest.keys import load_public
from engine.attest.trust import TrustedIdentity, TrustedKey, TrustPolicy
from engine.catalog import Config, load_catalog
from engine.errors import InputError
from engine.repo import GitRepo


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
