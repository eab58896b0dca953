package controller

import (
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
)

func rulesFixture(auth string, jwt bool, policy string, limits map[string]uint64, domainRLs []string, consumer string) ServiceRules {
	a := &authz.Config{APIKeyAuth: map[string]authz.APIKeyAuth{}, JWTAuth: map[string]authz.JWTAuth{},
		Consumers: map[string]authz.Consumer{consumer: {Groups: []string{consumer}}},
		Policies:  map[string]authz.Policy{policy: {Allow: &authz.Allow{Groups: []string{policy}}}}, MaxBodyBytes: len(policy)}
	if jwt {
		a.JWTAuth[auth] = authz.JWTAuth{Issuer: "https://" + auth}
	} else {
		a.APIKeyAuth[auth] = authz.APIKeyAuth{Header: "x-" + auth}
	}
	rl := &ratelimit.Config{Domains: map[string]*ratelimit.Domain{"gatehouse/gw": {RateLimits: domainRLs}},
		Limits: map[string]ratelimit.Limit{}, Plans: map[string]ratelimit.Plan{consumer: {}}, ConsumerPlan: map[string]string{consumer: consumer}}
	for k, n := range limits {
		rl.Limits[k] = ratelimit.Limit{Requests: n, Unit: ratelimit.Minute}
	}
	return ServiceRules{Authz: a, RateLimit: rl}
}

// withNames adds the other side's names only, keeps base's meaning for
// shared names (an Authentication that changed kind included), takes the
// services' own state from base, and modifies neither input.
func TestWithNames(t *testing.T) {
	base := rulesFixture("keys", false, "z", map[string]uint64{"rl#0": 10}, []string{"rl"}, "alice")
	other := rulesFixture("keys", true, "z2", map[string]uint64{"rl#0": 5, "rl2#0": 7}, []string{"rl2"}, "bob")
	other.Authz.Policies["z"] = authz.Policy{Allow: &authz.Allow{Groups: []string{"changed"}}}
	other.Authz.APIKeyAuth["new-keys"] = authz.APIKeyAuth{Query: "key"}
	other.RateLimit.Domains["gatehouse/new"] = &ratelimit.Domain{RateLimits: []string{"rl2"}}
	baseCopy := rulesFixture("keys", false, "z", map[string]uint64{"rl#0": 10}, []string{"rl"}, "alice")

	got := withNames(base, other)

	a := got.Authz
	if _, jwt := a.JWTAuth["keys"]; jwt || a.APIKeyAuth["keys"].Header != "x-keys" {
		t.Errorf("Authentication keys changed kind in the merge: apiKey %v jwt %v", a.APIKeyAuth, a.JWTAuth)
	}
	if a.APIKeyAuth["new-keys"].Query != "key" {
		t.Errorf("new Authentication missing: %v", a.APIKeyAuth)
	}
	if !reflect.DeepEqual(a.Policies["z"].Allow.Groups, []string{"z"}) || a.Policies["z2"].Allow == nil {
		t.Errorf("authorizations %+v: want base's z and other's z2", a.Policies)
	}
	if _, ok := a.Consumers["bob"]; ok || a.MaxBodyBytes != 1 {
		t.Errorf("consumers %v, body cap %d: want base's alone", a.Consumers, a.MaxBodyBytes)
	}
	rl := got.RateLimit
	if rl.Limits["rl#0"].Requests != 10 || rl.Limits["rl2#0"].Requests != 7 {
		t.Errorf("limits %+v: want base's rl#0 (10) and other's rl2#0 (7)", rl.Limits)
	}
	if d := rl.Domains["gatehouse/gw"]; d == nil || !reflect.DeepEqual(d.RateLimits, []string{"rl", "rl2"}) {
		t.Errorf("domain gatehouse/gw = %+v, want rl and rl2", d)
	}
	if d := rl.Domains["gatehouse/new"]; d == nil || !reflect.DeepEqual(d.RateLimits, []string{"rl2"}) {
		t.Errorf("domain gatehouse/new = %+v", d)
	}
	if _, ok := rl.ConsumerPlan["bob"]; ok {
		t.Errorf("consumer plans %v: want base's alone", rl.ConsumerPlan)
	}
	if err := rl.Validate(); err != nil {
		t.Errorf("merged rate-limit rules invalid: %v", err)
	}
	if !reflect.DeepEqual(base, baseCopy) {
		t.Errorf("base modified by the merge")
	}
}
