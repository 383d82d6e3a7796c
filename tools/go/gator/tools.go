//go:build tools

// gator, Gatekeeper's own CLI, for the tests that compare govops' Gatekeeper evaluation with
// Gatekeeper's; built by tools/build_go_tools.py.
package tools

import _ "github.com/open-policy-agent/gatekeeper/v3/cmd/gator"
