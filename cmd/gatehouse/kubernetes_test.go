package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/registry/kubernetes"
)

// TestPrintKube: the Kubernetes section of `gatehouse status` says when the
// API server is unreachable (and that the last endpoints keep serving), when
// the first configuration is held back, and per Service the counts.
func TestPrintKube(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var b strings.Builder
	printKube(&b, &kubernetes.Status{
		APIServer: "https://10.0.0.1:6443", Config: "in-cluster", Reachable: false,
		LastContact: now.Add(-30 * time.Second), LastError: "connection refused", LastErrorAt: now.Add(-2 * time.Second),
		Synced: false, Namespaces: []string{"shop"},
		Services: []kubernetes.ServiceStatus{{Name: "cart", KubeService: "cart", Namespace: "shop", Port: "grpc",
			Synced: true, Endpoints: 3, Draining: 1, NotReady: 2, Slices: 2, State: "ok"}},
	}, now)
	out := b.String()
	for _, want := range []string{
		"Kubernetes https://10.0.0.1:6443 (in-cluster): UNREACHABLE (serving the last known endpoints); last answer 30s ago; NOT SYNCED (first configuration held back)",
		"last error (2s ago): connection refused",
		"cart     shop/cart          grpc  3          1         2          2       ok",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	b.Reset()
	printKube(&b, nil, now)
	if b.Len() != 0 {
		t.Errorf("no Kubernetes Services: printed %q", b.String())
	}
}
