package controller

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// An oauth2Introspection Authentication reaches the ext_authz service with
// its secret (read at load) and the policy's defaults for unset durations.
func TestAuthzRulesIntrospection(t *testing.T) {
	snap := &policy.Snapshot{Authentications: map[string]*policy.Authentication{
		"opaque": {Meta: policy.Meta{Kind: "Authentication", Name: "opaque"}, Spec: policy.AuthenticationSpec{
			OAuth2Introspection: &policy.IntrospectionAuth{
				Endpoint: "https://idp.example.com/introspect", Issuer: "https://idp.example.com/",
				ClientID: "gatehouse", ClientSecretValue: policy.NewSecret("s3cret"),
				CacheTTL: policy.Duration(30 * time.Second),
			}}},
	}}
	cfg, err := AuthzRules(snap, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := cfg.IntrospectAuth["opaque"]
	if !ok {
		t.Fatalf("no introspection auth in %+v", cfg)
	}
	c := a.Introspect
	if a.Issuer != "https://idp.example.com/" || c.ClientID != "gatehouse" || c.ClientSecret != "s3cret" ||
		c.CacheTTL != 30*time.Second || c.Timeout != policy.DefaultIntrospectionTimeout ||
		c.NegativeTTL != policy.DefaultIntrospectionNegativeTTL || c.AllowHTTP {
		t.Errorf("got %+v", a)
	}
}
