"""Shared test builders and fakes: governed repositories (repos), the CLI runner (cli), sample
objects (samples), the Pulumi fakes (pulumi_fakes), the GitHub API stand-in (github_stub), the Sigstore
mock harness (sigstore_mock), and the ledger history builder and worker (ledger_history,
ledger_worker). Test modules import from here, never from one another."""
