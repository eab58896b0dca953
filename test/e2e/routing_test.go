package e2e

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"
)

const gatewayYAML = `kind: Gateway
name: public
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
`

func staticService(name string, b ...*backend) string {
	var eps []string
	for _, x := range b {
		eps = append(eps, fmt.Sprintf("      - {address: 127.0.0.1, port: %d}", x.Port))
	}
	return fmt.Sprintf("kind: Service\nname: %s\nspec:\n  protocol: GRPC\n  discovery:\n    static:\n%s\n", name, strings.Join(eps, "\n"))
}

// A 90/10 weighted Route splits proxyless gRPC traffic within ±3 points.
func TestWeightedSplit(t *testing.T) {
	t.Parallel()
	stable, canary := startBackend(t, "stable"), startBackend(t, "canary")
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{
		"gateway.yaml":  gatewayYAML,
		"services.yaml": staticService("stable", stable) + "---\n" + staticService("canary", canary),
		"route.yaml": `kind: Route
name: split
spec:
  gateways: [public]
  hosts: [split.test]
  backends:
    - {service: stable, weight: 90}
    - {service: canary, weight: 10}
`,
	})
	g := startGatehouse(t, dir)
	c := xdsClient(t, g, "public", "split-client", "split.test")
	waitFor(t, 10*time.Second, c, "stable")

	const n = 2000
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		counts[call(c)]++
	}
	share := 100 * float64(counts["canary"]) / n
	t.Logf("canary share over %d calls: %.1f%% (want 10±3); answers %v", n, share, counts)
	if counts["stable"]+counts["canary"] != n {
		t.Fatalf("some calls failed: %v", counts)
	}
	if math.Abs(share-10) > 3 {
		t.Fatalf("canary share %.1f%% is outside 10±3", share)
	}
	assertNoNACKs(t, g)
}

// Path-prefix, exact and header matches reach the right Service, and the
// more specific Route wins whatever the file order.
func TestMatchingMostSpecificWins(t *testing.T) {
	t.Parallel()
	catchAll, unary, headerB := startBackend(t, "catch-all"), startBackend(t, "unary"), startBackend(t, "header-b")
	dir := t.TempDir()
	// File names sort the least specific Route last and first, so file
	// order cannot be what decides.
	writePolicy(t, dir, map[string]string{
		"gateway.yaml":  gatewayYAML,
		"services.yaml": staticService("catch-all", catchAll) + "---\n" + staticService("unary", unary) + "---\n" + staticService("header-b", headerB),
		"a-catch-all.yaml": `kind: Route
name: a-catch-all
spec:
  gateways: [public]
  hosts: [match.test]
  match: {path: {prefix: /}}
  backends: [{service: catch-all}]
`,
		"m-prefix.yaml": `kind: Route
name: m-prefix
spec:
  gateways: [public]
  hosts: [match.test]
  match: {path: {prefix: /grpc.testing.TestService/Unary}}
  backends: [{service: unary}]
`,
		"z-header.yaml": `kind: Route
name: z-header
spec:
  gateways: [public]
  hosts: [match.test]
  match:
    path: {prefix: /grpc.testing.TestService/Unary}
    headers: [{name: x-variant, exact: b}]
  backends: [{service: header-b}]
`,
	})
	g := startGatehouse(t, dir)
	c := xdsClient(t, g, "public", "match-client", "match.test")
	waitFor(t, 10*time.Second, c, "unary")
	for i := 0; i < 20; i++ {
		if got := call(c); got != "unary" {
			t.Fatalf("UnaryCall without header went to %q, want unary (longer prefix beats /)", got)
		}
		if got := call(c, "x-variant", "b"); got != "header-b" {
			t.Fatalf("UnaryCall with x-variant: b went to %q, want header-b (header condition beats same prefix)", got)
		}
		if got := call(c, "x-variant", "c"); got != "unary" {
			t.Fatalf("UnaryCall with x-variant: c went to %q, want unary", got)
		}
	}
	assertNoNACKs(t, g)
}

// Editing a static endpoint list moves traffic; the delay is reported.
func TestStaticEndpointEditMovesTraffic(t *testing.T) {
	t.Parallel()
	old, nu := startBackend(t, "old"), startBackend(t, "new")
	dir, g, c := serveOneRoute(t, "edit.test", old)

	for i, b := range []*backend{nu, old, nu} {
		start := time.Now()
		writePolicy(t, dir, map[string]string{"app.yaml": staticService("app", b)})
		waitFor(t, 5*time.Second, c, b.Name)
		d := time.Since(start)
		t.Logf("edit %d: traffic moved to %s %v after the file was written (target < 1s)", i+1, b.Name, d.Round(time.Millisecond))
		// Every call now goes to the new endpoint.
		for j := 0; j < 20; j++ {
			if got := call(c); got != b.Name {
				t.Fatalf("after edit %d, call went to %q, want %q", i+1, got, b.Name)
			}
		}
	}
	assertNoNACKs(t, g)
}

// A Route with a dangling reference, added while serving, is rejected alone:
// traffic is untouched and status names it. A syntax error keeps the file's
// last good objects.
func TestBadEditsKeepServing(t *testing.T) {
	t.Parallel()
	app := startBackend(t, "app")
	dir, g, c := serveOneRoute(t, "bad.test", app)

	writePolicy(t, dir, map[string]string{"dangling.yaml": `kind: Route
name: dangling
spec:
  gateways: [public]
  hosts: [bad.test]
  match: {path: {prefix: /grpc}}
  backends: [{service: nope}]
`})
	waitStatus(t, g, "Route/dangling", `Service "nope"`)
	out, err := run(t, "status", "--server", g.AdminAddr)
	if err != nil || !strings.Contains(out, "Route/dangling") || !strings.Contains(out, "nope") {
		t.Fatalf("gatehouse status does not show the dangling reference (err %v):\n%s", err, out)
	}
	for i := 0; i < 20; i++ {
		if got := call(c); got != "app" {
			t.Fatalf("after adding a dangling Route, call went to %q", got)
		}
	}

	// A syntax error in the route file keeps Route/r served.
	writePolicy(t, dir, map[string]string{"route.yaml": "kind: Route\nname: r\nspec: [oops\n"})
	waitStatus(t, g, "route.yaml", "")
	for i := 0; i < 20; i++ {
		if got := call(c); got != "app" {
			t.Fatalf("after a syntax error, call went to %q", got)
		}
	}
	assertNoNACKs(t, g)
}

// serveOneRoute serves Gateway public with Route r sending host to Service
// app (static: backend b), and returns the policy directory, the running
// gatehouse and a proxyless client that already reached b.
func serveOneRoute(t *testing.T, host string, b *backend) (string, *gatehouse, testpb.TestServiceClient) {
	t.Helper()
	dir := t.TempDir()
	route := "kind: Route\nname: r\nspec:\n  gateways: [public]\n  hosts: [" + host + "]\n  backends: [{service: app}]\n"
	writePolicy(t, dir, map[string]string{"gateway.yaml": gatewayYAML, "app.yaml": staticService("app", b), "route.yaml": route})
	g := startGatehouse(t, dir)
	c := xdsClient(t, g, "public", host+"-client", host)
	waitFor(t, 10*time.Second, c, b.Name)
	return dir, g, c
}
