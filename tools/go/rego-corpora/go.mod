module govops.local/build/rego-corpora

go 1.26.0

require (
	github.com/open-policy-agent/conftest v0.71.1
	github.com/open-policy-agent/gatekeeper/v3 v3.18.0
)
