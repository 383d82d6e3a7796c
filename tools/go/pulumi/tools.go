//go:build tools

// The Pulumi CLI (tools/build_go_tools.py builds github.com/pulumi/pulumi/pkg/v3/cmd/pulumi):
// this import keeps its module, and every module it compiles, pinned in go.mod and go.sum.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
