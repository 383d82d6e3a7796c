//go:build tools

// The control plane the cluster tests run: kube-apiserver, kube-controller-manager and
// kube-scheduler of one Kubernetes release, built from k8s.io/kubernetes with each staging
// module replaced by its published version of the same release.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
