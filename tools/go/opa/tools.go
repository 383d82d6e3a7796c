//go:build tools

// The official OPA command, pinned by go.sum; built by tools/build_go_tools.py.
package tools

import _ "github.com/open-policy-agent/opa"
