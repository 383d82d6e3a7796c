"""The pin: which first root a verifier trusts, given out of band, never read from the repo.

In order of precedence: `--trust-root` (a fingerprint `sha256:<64 hex>` or a root.json file),
the environment (`GOVOPS_TRUST_ROOT`, the same forms: a CI secret), and this machine's own pin
(`.git/govops/trust-root`, written by `govops trust init` and `govops trust pin`; a fresh clone
has none). No pin is an error: nothing falls back to trusting what HEAD says.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from engine.atomic import write_atomically
from engine.errors import GovopsError
from engine.trust.document import decode_root, fingerprint
from engine.workdir import WorkDir

PIN_ENV = "GOVOPS_TRUST_ROOT"
_FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{64}$")


class NoPin(GovopsError):
    """No trust root is pinned for this verification."""


@dataclass(frozen=True)
class Pin:
    fingerprint: str
    source: str  # --trust-root, GOVOPS_TRUST_ROOT, or the local pin file


def parse_pin(text: str, source: str) -> Pin:
    """A fingerprint, or the path of a root.json whose fingerprint is pinned."""
    value = text.strip()
    if _FINGERPRINT.match(value.lower()):
        return Pin(value.lower(), source)
    path = Path(value)
    if not path.is_file():
        raise GovopsError(f"{source}: {value!r} is neither a root fingerprint (sha256:<64 hex>) "
                          "nor a root.json file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GovopsError(f"{path}: cannot read: {exc.strerror}") from None
    root = decode_root(data, str(path))
    if root.signed.version != 1:
        raise GovopsError(f"{path}: pin the first root (version 1), not version "
                          f"{root.signed.version}: later roots are trusted through it")
    return Pin(fingerprint(root), f"{source} {path}")


def resolve_pin(git_dir: Path, option: str | None) -> Pin:
    if option:
        return parse_pin(option, "--trust-root")
    if os.environ.get(PIN_ENV):
        return parse_pin(os.environ[PIN_ENV], PIN_ENV)
    local = WorkDir(git_dir).trust_pin
    try:
        text = local.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NoPin("no trust root is pinned: pass --trust-root sha256:<fingerprint> (or a "
                    f"root.json), set {PIN_ENV}, or run `govops trust pin <fingerprint>` once "
                    "on this machine; get the fingerprint from whoever keeps the root keys, "
                    "not from the repository") from None
    except OSError as exc:
        raise GovopsError(f"{local}: cannot read the trust pin: {exc.strerror}") from None
    return parse_pin(text, str(local))


def save_pin(git_dir: Path, pin: str) -> Path:
    path = WorkDir(git_dir).trust_pin
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, pin + "\n")
    return path
