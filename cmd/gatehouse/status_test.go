package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/xds/server"
)

// gatehouse status prints the proxyless notes of the served policy.
func TestStatusPrintsProxylessNotes(t *testing.T) {
	now := time.Now()
	st := serverStatus{Status: controller.Status{Ready: true, LastBuild: now, Gateways: []string{"public"}, Proxyless: []string{
		"Gateway/public: Route/admin is withheld from proxyless gRPC clients (their calls to it fail with UNAVAILABLE): they cannot enforce its authentication; set proxyless: {serveUnprotected: true} on the Route or Gateway to serve it unprotected",
	}}}
	var b strings.Builder
	printStatus(&b, st, nil, now)
	want := "\nProtected routes and proxyless gRPC clients (1):\n  Gateway/public: Route/admin is withheld from proxyless gRPC clients"
	if !strings.Contains(b.String(), want) {
		t.Errorf("status output lacks %q:\n%s", want, b.String())
	}
}

// A delta proxy's row says "delta", and its NACK names the resources the
// rejected response carried.
func TestStatusPrintsDeltaNACK(t *testing.T) {
	now := time.Now()
	p := server.ProxyStatus{NodeID: "e1", Gateway: "public", Client: "envoy", Protocol: "delta", ConnectedSince: now,
		Types: map[string]server.TypeStatus{server.TypeListeners: {Sent: "abcdef0123", Acked: "0123456789", NACKs: 1,
			NACK: &server.NACK{Error: "port in use", Version: "abcdef0123", At: now, Resources: []string{"public-8443"}}}}}
	var b strings.Builder
	printStatus(&b, serverStatus{}, []server.ProxyStatus{p}, now)
	for _, want := range []string{
		"NODE  GATEWAY  CLIENT  XDS    CONNECTED",
		"e1    public   envoy   delta  0s",
		"NACK e1 listeners version abcdef01 (1 on this stream) rejecting public-8443: port in use",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, b.String())
		}
	}
}

// Held-back Gateways are listed, sorted, with every reason and what keeps
// being served.
func TestPrintHeld(t *testing.T) {
	var b strings.Builder
	printHeld(&b, map[string][]string{"b": {"Route/y (r.yaml:7) cannot be served (x)"}, "a": {"one", "two"}})
	want := "Gateway a HELD BACK: it keeps its last good configuration (none since this server started) until these Routes resolve or are removed:\n" +
		"  one\n  two\n" +
		"Gateway b HELD BACK: it keeps its last good configuration (none since this server started) until these Routes resolve or are removed:\n" +
		"  Route/y (r.yaml:7) cannot be served (x)\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	printHeld(&b, nil)
	if b.String() != "" {
		t.Errorf("nothing held printed %q", b.String())
	}
}

// The proxy table fits 100 columns, however long node ids are.
func TestStatusProxyTableFits(t *testing.T) {
	now := time.Now()
	ts := server.TypeStatus{Sent: "abcdef0123", Acked: "0123456789"}
	p := server.ProxyStatus{NodeID: strings.Repeat("envoy-node-", 8), Gateway: "public-gateway-eu-west", Client: "envoy", Protocol: "delta", ConnectedSince: now,
		Types: map[string]server.TypeStatus{server.TypeClusters: ts, server.TypeEndpoints: ts, server.TypeListeners: ts, server.TypeRoutes: ts, server.TypeSecrets: ts}}
	var b strings.Builder
	printStatus(&b, serverStatus{}, []server.ProxyStatus{p}, now)
	for _, line := range strings.Split(b.String(), "\n") {
		if len(line) > tableWidth {
			t.Errorf("%d columns: %q", len(line), line)
		}
	}
}
