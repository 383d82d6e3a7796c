//go:build tools

// conftest, for the side-by-side pre-commit benchmark; built by tools/build_go_tools.py.
package tools

import _ "github.com/open-policy-agent/conftest"
