package controller

import (
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
)

const planPolicy = `---
kind: Consumer
name: acme
spec:
  apiKeys: [{id: k2, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}]
  plan: gold
---
kind: Plan
name: gold
spec:
  rateLimits: [{requests: 100, per: second}]
  quota: {requests: 1000000, per: month}
`

// A Consumer's Plan reaches the rate-limit service with its limits and
// quota; a Consumer without a Plan is not in ConsumerPlan.
func TestRateLimitRulesConsumerPlans(t *testing.T) {
	rl := rulesOf(t, map[string]string{"all.yaml": protectedPolicy, "p.yaml": protectingPolicies + consumerV1 + planPolicy}).RateLimit
	if want := map[string]string{"acme": "gold"}; !reflect.DeepEqual(rl.ConsumerPlan, want) {
		t.Errorf("ConsumerPlan %v, want %v (alice has no plan)", rl.ConsumerPlan, want)
	}
	want := ratelimit.Plan{Limits: []ratelimit.Rate{{Requests: 100, Unit: ratelimit.Second}}, Quota: &ratelimit.Rate{Requests: 1000000, Unit: ratelimit.Month}}
	if got := rl.Plans["gold"]; !reflect.DeepEqual(got, want) {
		t.Errorf("plan gold = %+v, want %+v", got, want)
	}
}

// RateLimitRules never hands the service a name the snapshot does not
// define: a Route naming a missing RateLimit, a Consumer naming a missing
// Plan (the loader rejects both; a snapshot built another way must not
// make the service's configuration point at nothing).
func TestRateLimitRulesSkipDanglingNames(t *testing.T) {
	snap := &policy.Snapshot{
		Gateways: map[string]*policy.Gateway{"gw": {}},
		Routes: map[string]*policy.Route{"r": {Spec: policy.RouteSpec{Gateways: []string{"gw"}, RateLimit: "gone"}},
			"plain": {Spec: policy.RouteSpec{Gateways: []string{"gw"}}}},
		Consumers: map[string]*policy.Consumer{"c": {Spec: policy.ConsumerSpec{Plan: "gone"}}},
	}
	cfg := RateLimitRules(snap)
	if len(cfg.Domains) != 0 || len(cfg.Limits) != 0 || len(cfg.ConsumerPlan) != 0 {
		t.Errorf("dangling names handed over: domains %v, limits %v, consumer plans %v", cfg.Domains, cfg.Limits, cfg.ConsumerPlan)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("rules invalid: %v", err)
	}
}
