// Package security_envoy attacks the Envoy configuration gatehouse emits:
// spoofed identity headers on every Gateway and listener, failOpen used
// to let unauthenticated callers through, protected Routes served to
// proxyless gRPC clients, and tokens hidden from ext_authz. Policies are
// generated at random (fixed seeds) and loaded through pkg/policy, so
// every combination the model allows is tried, not only the examples.
package security_envoy

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"testing/fstest"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

const jwks = `'{"keys":[{"kty":"EC","crv":"P-256","kid":"p1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}'`

// fixed are the objects every generated policy has: JWT Authentications
// with claim headers in mixed case (one forwards its token), an API-key
// Authentication, Authorizations of each kind and a RateLimit.
const fixed = `kind: Service
name: web
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Service
name: rpc
spec:
  protocol: GRPC
  discovery: {static: [{address: 127.0.0.1, port: 9002}]}
---
kind: Authentication
name: jwt-a
spec:
  jwt:
    issuer: https://a.example.com/
    audiences: [api]
    jwks: {inline: ` + jwks + `}
    claimsToHeaders:
      - {claim: sub, header: X-User-Id}
      - {claim: role, header: X-Role}
---
kind: Authentication
name: jwt-b
spec:
  jwt:
    issuer: https://b.example.com/
    audiences: [api]
    jwks: {inline: ` + jwks + `}
    claimsToHeaders:
      - {claim: tenant, header: x-tenant}
    forwardToken: true
---
kind: Authentication
name: jwt-unused
spec:
  jwt:
    issuer: https://c.example.com/
    audiences: [api]
    jwks: {inline: ` + jwks + `}
    claimsToHeaders:
      - {claim: admin, header: X-Is-Admin}
---
kind: Authentication
name: keys
spec:
  apiKey: {header: x-api-key}
---
kind: Authorization
name: open-on-error
spec:
  inline: |
    package envoy.authz
    default allow := false
  failOpen: true
---
kind: Authorization
name: closed
spec:
  inline: |
    package envoy.authz
    default allow := false
---
kind: Authorization
name: cidrs
spec:
  allow: {sourceCIDRs: [10.0.0.0/8]}
---
kind: Authorization
name: cidrs-groups-open
spec:
  allow: {sourceCIDRs: [10.0.0.0/8], groups: [ops]}
  failOpen: true
---
kind: RateLimit
name: rl
spec:
  limits: [{key: [remote_address], requests: 10, per: second}]
`

// claimHeaders is every claimsToHeaders header of the fixed policy,
// lower-cased as HTTP/2 and Envoy carry them.
var claimHeaders = []string{"x-user-id", "x-role", "x-tenant", "x-is-admin"}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.Intn(len(xs))] }

// genPolicy is one random policy: three Gateways with random defaults,
// listeners and proxyless opt-ins, and a dozen Routes with random
// policies, hosts, backends and opt-ins.
func genPolicy(seed int64) string {
	r := rand.New(rand.NewSource(seed))
	// Client IP settings come from their own source, so that the other
	// choices of a seed stay what they were before them.
	rc := rand.New(rand.NewSource(^seed))
	var b strings.Builder
	b.WriteString(fixed)
	for g := 0; g < 3; g++ {
		fmt.Fprintf(&b, "---\nkind: Gateway\nname: g%d\nspec:\n  listeners:\n", g)
		fmt.Fprintf(&b, "    - {name: main, port: %d, protocol: HTTP%s}\n", 8000+10*g, pick(rc, "", "", ", proxyProtocol: true"))
		if r.Intn(2) == 0 {
			fmt.Fprintf(&b, "    - {name: side, port: %d, protocol: HTTP, hostnames: [api.example.com]}\n", 8001+10*g)
		}
		b.WriteString(pick(rc, "", "", "  clientIP: {xffTrustedHops: 2}\n", "  clientIP: {trustedHeader: x-real-ip}\n"))
		b.WriteString(pick(r, "", "  defaults: {authentication: [jwt-a]}\n", "  defaults: {authentication: [keys, jwt-b], rateLimit: rl}\n", "  defaults: {rateLimit: rl}\n"))
		b.WriteString(pick(r, "", "", "  proxyless: {serveUnprotected: true}\n", "  proxyless: {serveUnprotected: false}\n"))
	}
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&b, "---\nkind: Route\nname: r%d\nspec:\n", i)
		gws := []string{}
		for g := 0; g < 3; g++ {
			if r.Intn(2) == 0 {
				gws = append(gws, fmt.Sprintf("g%d", g))
			}
		}
		if len(gws) == 0 {
			gws = []string{"g0"}
		}
		fmt.Fprintf(&b, "  gateways: [%s]\n", strings.Join(gws, ", "))
		b.WriteString(pick(r, "", "  hosts: [api.example.com]\n", "  hosts: [api.example.com, \"*.example.com\"]\n", "  hosts: [\"*\"]\n"))
		fmt.Fprintf(&b, "  match: {path: {prefix: /p%d}%s}\n", i, pick(r, "", "", ", query: [{name: q, present: true}]"))
		b.WriteString(pick(r, "  backends: [{service: web}]\n", "  backends: [{service: rpc}]\n"))
		b.WriteString(pick(r, "", "  authentication: []\n", "  authentication: [jwt-a]\n", "  authentication: [keys]\n", "  authentication: [jwt-a, jwt-b]\n", "  authentication: [jwt-b, keys]\n"))
		b.WriteString(pick(r, "", "  authorization: open-on-error\n", "  authorization: closed\n", "  authorization: cidrs\n", "  authorization: cidrs-groups-open\n"))
		b.WriteString(pick(r, "", "", "  rateLimit: rl\n", "  rateLimit: none\n"))
		b.WriteString(pick(r, "", "", "", "  proxyless: {serveUnprotected: true}\n", "  proxyless: {serveUnprotected: false}\n"))
		b.WriteString(pick(r, "", "", "  streaming: true\n", "  websocket: true\n"))
		if r.Intn(4) == 0 {
			b.WriteString("  headers: {request: {remove: [x-debug]}}\n")
		}
	}
	return b.String()
}

// seeds is how many random policies each test tries.
const seeds = 150

// forEachPolicy loads and translates every generated policy.
func forEachPolicy(t *testing.T, fn func(t *testing.T, snap *policy.Snapshot, groups map[translate.GroupKey]*translate.Group)) {
	t.Helper()
	for seed := int64(1); seed <= seeds; seed++ {
		src := genPolicy(seed)
		snap := policy.Load(fstest.MapFS{"p.yaml": {Data: []byte(src)}}, nil)
		if len(snap.Rejected) > 0 {
			t.Fatalf("seed %d: generated policy rejected: %+v\n%s", seed, snap.Rejected, src)
		}
		groups, err := translate.Translate(snap, translate.Options{})
		if err != nil {
			t.Fatalf("seed %d: Translate: %v\n%s", seed, err, src)
		}
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { fn(t, snap, groups) })
	}
}

// hcms returns every connection manager of a group, by "listener/chain".
func hcms(t *testing.T, g *translate.Group) map[string]*hcmv3.HttpConnectionManager {
	t.Helper()
	out := map[string]*hcmv3.HttpConnectionManager{}
	for _, res := range g.Listeners {
		l := res.(*listenerv3.Listener)
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				if f.GetName() != "envoy.filters.network.http_connection_manager" {
					continue // the connection limit
				}
				h := &hcmv3.HttpConnectionManager{}
				if err := f.GetTypedConfig().UnmarshalTo(h); err != nil {
					t.Fatal(err)
				}
				out[l.GetName()+"/"+fc.GetName()] = h
			}
		}
		if al := l.GetApiListener(); al != nil {
			h := &hcmv3.HttpConnectionManager{}
			if err := al.GetApiListener().UnmarshalTo(h); err != nil {
				t.Fatal(err)
			}
			out[l.GetName()] = h
		}
	}
	return out
}

// routes calls fn for every route of every route table of g, with the
// virtual host's domains.
func routes(g *translate.Group, fn func(rc string, domains []string, r *routev3.Route)) {
	for _, res := range g.Routes {
		rc := res.(*routev3.RouteConfiguration)
		for _, vh := range rc.GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				fn(rc.GetName(), vh.GetDomains(), r)
			}
		}
	}
}
