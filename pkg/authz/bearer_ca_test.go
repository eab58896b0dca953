package authz

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/introspect"
)

// A changed CA builds a new introspector: the old one (and its cached
// answers, got over TLS checked against the old CA) must not stay in use.
func TestIntrospectorRebuiltOnCAChange(t *testing.T) {
	a := IntrospectAuth{Issuer: "https://idp.example.com/", Introspect: introspect.Config{Endpoint: "https://idp.example.com/i", ClientID: "gw", ClientSecret: "s"}}
	old, err := buildIntroAuth(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if same, _ := buildIntroAuth(a, old); same.in != old.in {
		t.Error("unchanged config rebuilt the introspector (its cache and breaker lost)")
	}
	// Not a certificate: New refuses it, which shows it was called.
	a.Introspect.CAPEM = "changed"
	if _, err := buildIntroAuth(a, old); err == nil {
		t.Error("a changed CA kept the old introspector")
	}
}
