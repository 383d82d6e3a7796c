"""Whether each Model's weights carry a valid OpenSSF model signature (OMS, the `model-signing`
library NVIDIA NGC and Kubeflow Hub sign with), by the signer its `spec.signature` names.

A digest in YAML only says which weights were meant; a signature says who vouched for them.
The bundle and the public key are read from the revision being judged (never from the work
tree), and the weights from `GOVOPS_MODEL_FILES/<model name>/` when that folder is given:
model_signing hashes every file there and compares the manifest the signer signed, so a
changed, added or removed file fails. Weights that cannot be reached are not verified, and
say so: a signature that was not checked is never reported as a valid one. The facts go into
the policy input (MDL-006 decides what they mean) and the AIBOM.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.catalog import Catalog, GovObject
from engine.repo import GitRepo, Snapshot

FILES_VARIABLE = "GOVOPS_MODEL_FILES"


@dataclass(frozen=True)
class ModelSignature:
    """What checking a Model's `spec.signature` showed."""

    verified: bool
    signer: str  # "key <repo path>" or "<subject> (<issuer>)": who must have signed
    problem: str | None = None  # why it is not verified
    checked: bool = True  # False: the weights could not be reached, so nothing was checked

    def as_input(self) -> dict[str, Any]:
        return {"verified": self.verified, "checked": self.checked, "signer": self.signer,
                "problem": self.problem}


def signature_text(signature: ModelSignature) -> str:
    """How the AIBOM states it: `verified, signed by <signer>` or why not."""
    if signature.verified:
        return f"verified, signed by {signature.signer}"
    return f"not verified (signer {signature.signer}): {signature.problem}"


def signature_texts(repo: GitRepo, snapshot: Snapshot, catalog: Catalog) -> dict[str, str]:
    """Each signed Model's signature as the AIBOMs (CycloneDX and SPDX) state it."""
    return {name: signature_text(s) for name, s in verify_models(repo, snapshot, catalog).items()}


def files_root() -> Path | None:
    configured = os.environ.get(FILES_VARIABLE, "").strip()
    return Path(configured) if configured else None


def verify_models(repo: GitRepo, snapshot: Snapshot, catalog: Catalog,
                  root: Path | None = None) -> dict[str, ModelSignature]:
    """The signature facts of every Model that declares a `spec.signature`, by name."""
    root = root if root is not None else files_root()
    out: dict[str, ModelSignature] = {}
    for name, model in sorted(catalog.objects.get("Model", {}).items()):
        declared = model.doc["spec"].get("signature")
        if isinstance(declared, Mapping):
            out[name] = _verify(repo, snapshot, name, model, declared, root)
    return out


def _signer(declared: Mapping[str, Any]) -> str:
    identity = declared.get("identity")
    if isinstance(identity, Mapping):
        return f"{identity['subject']} ({identity['issuer']})"
    return f"key {declared['key']}"


def _verify(repo: GitRepo, snapshot: Snapshot, name: str, model: GovObject,
            declared: Mapping[str, Any], root: Path | None) -> ModelSignature:
    signer = _signer(declared)
    bundle = _blob(repo, snapshot, str(declared["bundle"]))
    if bundle is None:
        return ModelSignature(False, signer, f"its signature bundle {declared['bundle']} is "
                              "not in this revision")
    key = _blob(repo, snapshot, str(declared["key"])) if "key" in declared else None
    if "key" in declared and key is None:
        return ModelSignature(False, signer, f"its public key {declared['key']} is not in "
                              "this revision")
    weights = root / name if root is not None else None
    if weights is None or not weights.is_dir():
        where = (f"{weights} does not exist" if weights is not None
                 else f"{FILES_VARIABLE} is not set")
        return ModelSignature(False, signer, f"its weights could not be reached to verify "
                              f"the signature ({where}; {FILES_VARIABLE}/{name}/ holds them)",
                              checked=False)
    with tempfile.TemporaryDirectory(prefix="govops-oms-") as tmp:
        bundle_file = Path(tmp) / "model.sig"
        bundle_file.write_bytes(bundle)
        try:
            config = _verifier(declared, key, Path(tmp))
            config.verify(weights, bundle_file)
        except Exception as exc:  # model_signing raises ValueError, OSError, sigstore errors
            return ModelSignature(False, signer, _why(exc))
    return ModelSignature(True, signer)


def _verifier(declared: Mapping[str, Any], key: bytes | None, tmp: Path) -> Any:
    from model_signing import verifying  # imported on use: it pulls in the Sigstore stack

    config: Any = verifying.Config()  # type: ignore[no-untyped-call]  # untyped upstream
    if key is not None:
        key_file = tmp / "key.pub"
        key_file.write_bytes(key)
        return config.use_elliptic_key_verifier(public_key=key_file)
    identity = declared["identity"]
    trust = os.environ.get("GOVOPS_MODEL_TRUST_CONFIG")  # a private Sigstore's trust config
    return config.use_sigstore_verifier(
        identity=str(identity["subject"]), oidc_issuer=str(identity["issuer"]),
        trust_config=Path(trust) if trust else None)


_MISMATCH = re.compile(r"Hash mismatch for '([^']+)'")


def _why(exc: Exception) -> str:
    """model_signing's reason in one short clause."""
    text = str(exc)
    changed = _MISMATCH.findall(text)
    if changed:
        return f"{', '.join(sorted(set(changed)))} differ{'s' if len(changed) == 1 else ''} " \
               "from the signed manifest"
    if text.startswith("Key mismatch"):
        return "it was signed by another key"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first if len(first) <= 200 else first[:197] + "..."


def _blob(repo: GitRepo, snapshot: Snapshot, path: str) -> bytes | None:
    entry = snapshot.files.get(path.strip("/"))
    return None if entry is None else repo.read_blob(entry.oid)
