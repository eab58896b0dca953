package translate

import (
	"bytes"
	"github.com/gatehouse-dev/gatehouse/test/testutil/cpumeter"
	"reflect"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// addPolicies puts authentication, authorization and rate limits on every
// Route of a bigSnapshot: a Gateway default (JWT or API key), then per
// Route one of four Authorizations (Rego fail-closed, Rego fail-open,
// sourceCIDRs, sourceCIDRs and groups) and one of three RateLimits (the
// default with a local limit and a plan, one keyed by route and claim,
// none).
func addPolicies(p *policy.Snapshot) {
	p.Authentications = map[string]*policy.Authentication{
		"jwt": {Meta: policy.Meta{Kind: policy.KindAuthentication, Name: "jwt"}, Spec: policy.AuthenticationSpec{JWT: &policy.JWTAuth{
			Issuer: "https://idp.example.com/", Audiences: []string{"api"},
			JWKS:            policy.JWKS{URI: "https://idp.example.com/jwks.json"},
			ClaimsToHeaders: []policy.ClaimToHeader{{Claim: "sub", Header: "x-user"}},
		}}},
		"keys": {Meta: policy.Meta{Kind: policy.KindAuthentication, Name: "keys"}, Spec: policy.AuthenticationSpec{APIKey: &policy.APIKeyAuth{Header: "x-api-key"}}},
	}
	p.Authorizations = map[string]*policy.Authorization{
		"rego":      {Meta: policy.Meta{Name: "rego"}, Spec: policy.AuthorizationSpec{Inline: "package envoy.authz\nallow := true"}},
		"rego-open": {Meta: policy.Meta{Name: "rego-open"}, Spec: policy.AuthorizationSpec{Inline: "package envoy.authz\nallow := true", FailOpen: true}},
		"cidrs":     {Meta: policy.Meta{Name: "cidrs"}, Spec: policy.AuthorizationSpec{Allow: &policy.AllowRules{SourceCIDRs: []string{"10.0.0.0/8"}}}},
		"partners":  {Meta: policy.Meta{Name: "partners"}, Spec: policy.AuthorizationSpec{Allow: &policy.AllowRules{SourceCIDRs: []string{"10.0.0.0/8"}, Groups: []string{"partners"}}}},
	}
	p.RateLimits = map[string]*policy.RateLimit{
		"default": {Meta: policy.Meta{Name: "default"}, Spec: policy.RateLimitSpec{Plan: true, Limits: []policy.Limit{
			{Key: []string{policy.KeyConsumer}, Requests: 100, Per: policy.UnitMinute},
			{Key: []string{policy.KeyRemoteAddress}, Requests: 20, Per: policy.UnitSecond, Local: true},
		}}},
		"per-route": {Meta: policy.Meta{Name: "per-route"}, Spec: policy.RateLimitSpec{FailureMode: policy.FailureModeDeny, Limits: []policy.Limit{
			{Key: []string{policy.KeyRoute, "claim:sub"}, Requests: 10, Per: policy.UnitSecond},
		}}},
	}
	gw := p.Gateways["public"]
	gw.Spec.Defaults = &policy.GatewayDefaults{Authentication: &[]string{"jwt", "keys"}, RateLimit: "default"}
	authz := []string{"rego", "rego-open", "cidrs", "partners"}
	rls := []string{"", "per-route", policy.RateLimitNone}
	i := 0
	for _, n := range sortedKeys(p.Routes) {
		r := p.Routes[n]
		r.Spec.Authorization = authz[i%len(authz)]
		r.Spec.RateLimit = rls[i%len(rls)]
		i++
	}
}

// BenchmarkTranslatePolicies is BenchmarkTranslate's full build with
// authentication, authorization and rate limits on every Route.
func BenchmarkTranslatePolicies(b *testing.B) {
	p := bigSnapshot(b, 1000, 1000, 100)
	addPolicies(p)
	b.ReportAllocs()
	b.ResetTimer()
	defer cpumeter.Start(b).Stop()
	for i := 0; i < b.N; i++ {
		if _, err := Translate(p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBigSnapshotWithPolicies(t *testing.T) {
	p := bigSnapshot(t, 20, 60, 5)
	addPolicies(p)
	groups, err := Translate(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := groups[GroupKey{"public", ClientEnvoy}]
	n := 0
	eachRoute(g, func(_ string, r *routev3.Route) {
		if len(r.GetTypedPerFilterConfig()) == 0 {
			t.Errorf("route %s: no per-route filter configs", r.GetName())
		}
		n++
	})
	if n == 0 {
		t.Fatal("no routes")
	}
	grpcRules(t, groups[GroupKey{"public", ClientGRPC}])
	if len(groups[GroupKey{"public", ClientGRPC}].Skipped) == 0 {
		t.Error("proxyless group does not list what it skips")
	}
}

func TestPoliciesDeterministicAndInputUntouched(t *testing.T) {
	p := bigSnapshot(t, 20, 60, 5)
	addPolicies(p)
	before := bigSnapshot(t, 20, 60, 5)
	addPolicies(before)
	first, err := Translate(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, before) {
		t.Fatal("Translate changed its input snapshot")
	}
	want := serialize(t, first)
	for i := 0; i < 3; i++ {
		q := reshuffle(p)
		q.Authentications, q.Authorizations, q.RateLimits = map[string]*policy.Authentication{}, map[string]*policy.Authorization{}, map[string]*policy.RateLimit{}
		for _, k := range reverseKeys(p.Authentications) {
			q.Authentications[k] = p.Authentications[k]
		}
		for _, k := range reverseKeys(p.Authorizations) {
			q.Authorizations[k] = p.Authorizations[k]
		}
		for _, k := range reverseKeys(p.RateLimits) {
			q.RateLimits[k] = p.RateLimits[k]
		}
		again, err := Translate(q, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(serialize(t, again), want) {
			t.Fatalf("run %d: output differs from the first run", i)
		}
	}
}
