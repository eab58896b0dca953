package controller

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// A RateLimit's maxHitsAddend reaches the rate-limit service for each of
// its limits (1 when unset), and a Gateway's plan allowance is the largest
// of its plan-applying RateLimits'.
func TestRateLimitRulesCarryMaxHitsAddend(t *testing.T) {
	r := rulesOf(t, map[string]string{"p.yaml": `kind: Gateway
name: gw
spec: {listeners: [{name: http, port: 8080, protocol: HTTP}]}
---
kind: Service
name: s
spec: {discovery: {static: [{address: 127.0.0.1, port: 9000}]}}
---
kind: RateLimit
name: costly
spec:
  limits: [{key: [consumer], requests: 100, per: minute}]
  plan: true
  maxHitsAddend: 50
---
kind: RateLimit
name: plain
spec:
  limits: [{key: [route], requests: 10, per: second}]
  plan: true
---
kind: Route
name: a
spec: {gateways: [gw], hosts: [a.test], backends: [{service: s}], rateLimit: costly}
---
kind: Route
name: b
spec: {gateways: [gw], hosts: [b.test], backends: [{service: s}], rateLimit: plain}
`})
	rl := r.RateLimit
	if got := rl.Limits["costly#0"].MaxHits; got != 50 {
		t.Errorf("costly#0 MaxHits = %d, want 50", got)
	}
	if got := rl.Limits["plain#0"].MaxHits; got != 1 {
		t.Errorf("plain#0 MaxHits = %d, want 1", got)
	}
	if got := rl.Domains[wire.Domain("gw")].PlanMaxHits; got != 50 {
		t.Errorf("plan allowance = %d, want 50", got)
	}
}
