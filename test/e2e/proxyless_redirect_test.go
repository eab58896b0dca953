package e2e

import (
	"strings"
	"testing"
	"time"
)

// A real grpc-go client dialing a host with a redirect and a direct
// response Route: grpc-go has neither action, so the translator withholds
// both (calls fail with UNAVAILABLE instead of falling through to the
// catch-all), the route table is not NACKed, and `gatehouse status` says
// so.
func TestProxylessRedirectsWithheld(t *testing.T) {
	t.Parallel()
	open, ready := startBackend(t, "open"), startBackend(t, "ready")
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{
		"gateway.yaml":  gatewayYAML,
		"services.yaml": staticService("open", open) + "---\n" + staticService("ready", ready),
		"routes.yaml": `kind: Route
name: catch-all
spec:
  gateways: [public]
  hosts: [moved.test]
  backends: [{service: open}]
---
kind: Route
name: ready
spec:
  gateways: [public]
  hosts: [moved.test]
  match:
    path: {prefix: /grpc.testing.TestService/Unary}
    headers: [{name: x-variant, exact: ready}]
  backends: [{service: ready}]
---
kind: Route
name: maintenance
spec:
  gateways: [public]
  hosts: [moved.test]
  match:
    path: {prefix: /grpc.testing.TestService/Unary}
    headers: [{name: x-variant, exact: maint}]
  directResponse: {status: 503, body: back soon}
---
kind: Route
name: moved
spec:
  gateways: [public]
  hosts: [moved.test]
  match: {path: {prefix: /grpc.testing.TestService/Unary}}
  redirect: {host: elsewhere.test, code: 308}
`,
	})
	g := startGatehouse(t, dir)
	c := xdsClient(t, g, "public", "moved-client", "moved.test")
	took := waitFor(t, 10*time.Second, c, "ready", "x-variant", "ready")
	t.Logf("configuration served after %v", took)
	for _, md := range [][]string{nil, {"x-variant", "maint"}} {
		for i := 0; i < 10; i++ {
			got := call(c, md...)
			if !strings.HasPrefix(got, "error: ") || !strings.Contains(got, "Unavailable") {
				t.Fatalf("UnaryCall %v on a withheld redirect/direct response answered %q, want an UNAVAILABLE error (never the catch-all)", md, got)
			}
		}
	}
	assertNoNACKs(t, g)
	out, err := run(t, "status", "--server", g.AdminAddr)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Gateway/public: Route/moved is withheld from proxyless gRPC clients",
		"Gateway/public: Route/maintenance is withheld from proxyless gRPC clients",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}
