package controller

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// The introspection Authentication's caFile reaches the introspector, so
// the endpoint is checked against that CA and nothing else.
func TestIntrospectAuthCA(t *testing.T) {
	in := &policy.IntrospectionAuth{Endpoint: "https://idp.example.com/i", ClientID: "gw", CAPEM: []byte("-----BEGIN CERTIFICATE-----\n")}
	if got := IntrospectAuth(in).Introspect.CAPEM; got != string(in.CAPEM) {
		t.Errorf("CAPEM %q, want %q", got, in.CAPEM)
	}
	in.CAPEM = nil
	if got := IntrospectAuth(in).Introspect.CAPEM; got != "" {
		t.Errorf("CAPEM %q without caFile", got)
	}
}
