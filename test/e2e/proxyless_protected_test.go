package e2e

import (
	"strings"
	"testing"
	"time"
)

// A real grpc-go client dialing a host with a protected Route: the Route
// is withheld (its calls fail with UNAVAILABLE, they do not fall through
// to the catch-all), a Route that opted in is served without its
// protections, nothing is NACKed, and `gatehouse status` says which is
// which.
func TestProxylessProtectedRoutesWithheld(t *testing.T) {
	t.Parallel()
	open, secret, legacy := startBackend(t, "open"), startBackend(t, "secret"), startBackend(t, "legacy")
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{
		"gateway.yaml":  gatewayYAML,
		"services.yaml": staticService("open", open) + "---\n" + staticService("secret", secret) + "---\n" + staticService("legacy", legacy),
		"routes.yaml": `kind: Authentication
name: keys
spec:
  apiKey: {header: x-api-key}
---
kind: Route
name: catch-all
spec:
  gateways: [public]
  hosts: [guarded.test]
  backends: [{service: open}]
---
kind: Route
name: admin
spec:
  gateways: [public]
  hosts: [guarded.test]
  match: {path: {prefix: /grpc.testing.TestService/Unary}}
  backends: [{service: secret}]
  authentication: [keys]
---
kind: Route
name: legacy
spec:
  gateways: [public]
  hosts: [guarded.test]
  match:
    path: {prefix: /grpc.testing.TestService/Unary}
    headers: [{name: x-variant, exact: legacy}]
  backends: [{service: legacy}]
  authentication: [keys]
  proxyless: {serveUnprotected: true}
`,
	})
	g := startGatehouse(t, dir)
	c := xdsClient(t, g, "public", "guarded-client", "guarded.test")
	waitFor(t, 10*time.Second, c, "legacy", "x-variant", "legacy")
	t.Logf("UnaryCall on the withheld Route: %s", call(c))
	for i := 0; i < 20; i++ {
		got := call(c)
		if !strings.HasPrefix(got, "error: ") || !strings.Contains(got, "Unavailable") {
			t.Fatalf("UnaryCall on the withheld Route answered %q, want an UNAVAILABLE error (never secret, never the catch-all)", got)
		}
	}
	assertNoNACKs(t, g)
	out, err := run(t, "status", "--server", g.AdminAddr)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Gateway/public: Route/admin is withheld from proxyless gRPC clients",
		"Gateway/public: Route/legacy is served to proxyless gRPC clients WITHOUT its authentication",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}
