"""The Sigstore trust configuration, loaded lazily: apart from engine.attest.verify so that a
caller that may never meet a certificate bundle (the pre-commit check) need not import the
bundle models (sigstore-models, pydantic: 0.1 s) to hold a loader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def trust_root_loader(path: Path | None) -> Callable[[], Any]:
    """The Sigstore ClientTrustConfig of `path` (public Sigstore when None), loaded once and
    only when a certificate bundle needs it: sigstore-python costs 0.3 s to import."""
    loaded: dict[str, Any] = {}

    def load() -> Any:
        from engine.attest.keyless import load_trust_config

        if "config" not in loaded:
            loaded["config"] = load_trust_config(path)
        return loaded["config"]

    return load
