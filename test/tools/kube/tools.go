//go:build tools

// Package tools pins kube-apiserver and etcd, which the Kubernetes discovery
// tests run. It lives in its own module so that Kubernetes's dependencies never
// enter gatehouse's go.mod. Build them with `make kube` (cached outside the
// repository).
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
