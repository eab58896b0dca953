package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/controller"
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
