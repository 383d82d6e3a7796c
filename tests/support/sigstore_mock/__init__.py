"""Offline Sigstore test harness: @sigstore/mock on 127.0.0.1 and @sigstore/verify cross-checks.

Use the fixture by importing it into a test module (or tests/conftest.py):

    from tests.support.sigstore_mock import SigstoreMock, sigstore_mock  # noqa: F401

Node.js and the npm packages pinned in package-lock.json are required (`make test` runs
`npm ci`); without them the fixture fails the test, it never skips.
"""

from tests.support.sigstore_mock.fixture import (
    IDENTITY,
    ISSUER,
    SigstoreMock,
    client_trust_config,
    make_token,
    production_trusted_root_path,
    require_node,
    sigstore_mock,
    verify_with_sigstore_js,
)

__all__ = [
    "IDENTITY",
    "ISSUER",
    "SigstoreMock",
    "client_trust_config",
    "make_token",
    "production_trusted_root_path",
    "require_node",
    "sigstore_mock",
    "verify_with_sigstore_js",
]
