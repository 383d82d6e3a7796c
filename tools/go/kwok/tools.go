//go:build tools

// kwok, the Kubernetes SIG's kubelet simulator: it makes the test cluster's GPU nodes and their
// pods look alive without containers. This import keeps its modules pinned in go.mod and go.sum.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
