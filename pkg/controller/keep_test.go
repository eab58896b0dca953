package controller

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// protectedPolicy: Route admin is protected by an Authentication, an
// Authorization and a RateLimit; Route app is a catch-all that would serve
// /admin without them if admin were dropped.
const protectedPolicy = basePolicy + `---
kind: Route
name: admin
spec:
  gateways: [public]
  match: {path: {prefix: /admin}}
  backends: [{service: app}]
  authentication: [keys]
  authorization: z
  rateLimit: rl
`

const protectingPolicies = `kind: Authentication
name: keys
spec:
  apiKey: {header: x-api-key}
---
kind: Authorization
name: z
spec:
  inline: |
    package envoy.authz
    default allow := false
---
kind: RateLimit
name: rl
spec:
  limits: [{key: [remote_address], requests: 10, per: minute}]
`

// publishedRoute is the JSON (compact) of the route named name in the
// public/envoy group's route configurations, or "" if none has it.
func (f *fixture) publishedRoute(t *testing.T, name string) string {
	t.Helper()
	snap, ok := f.pub.Snapshot(translate.GroupKey{Gateway: "public", Client: translate.ClientEnvoy})
	if !ok {
		return ""
	}
	for _, r := range snap.GetResources(resource.RouteType) {
		for _, vh := range r.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				if rt.GetName() != name {
					continue
				}
				raw, err := protojson.Marshal(rt)
				if err != nil {
					t.Fatal(err)
				}
				var b bytes.Buffer
				if err := json.Compact(&b, raw); err != nil {
					t.Fatal(err)
				}
				return b.String()
			}
		}
	}
	return ""
}

// assertProtected checks that the published admin Route still carries its
// authentication, authorization and rate limit.
func (f *fixture) assertProtected(t *testing.T) {
	t.Helper()
	got := f.publishedRoute(t, "admin")
	for _, want := range []string{`"gatehouse.authentication":"keys"`, `"gatehouse.authorization":"z"`, `"rl#0"`} {
		if !strings.Contains(got, want) {
			t.Errorf("published admin route lacks %s: %s", want, got)
		}
	}
}

// Deleting or renaming a policy object that the admin Route names keeps
// the Route, with the object's last good version, in what is published.
func TestDeletedPolicyKeepsPublishedRoute(t *testing.T) {
	for _, c := range []struct{ name, from, to string }{
		{"delete Authentication", "kind: Authentication\nname: keys\nspec:\n  apiKey: {header: x-api-key}\n---\n", ""},
		{"rename Authorization", "name: z\n", "name: z2\n"},
		{"delete RateLimit", "---\nkind: RateLimit\nname: rl\nspec:\n  limits: [{key: [remote_address], requests: 10, per: minute}]\n", "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := start(t, map[string]string{"all.yaml": protectedPolicy, "p.yaml": protectingPolicies})
			f.assertProtected(t)
			edited := strings.Replace(protectingPolicies, c.from, c.to, 1)
			if edited == protectingPolicies {
				t.Fatal("edit changed nothing")
			}
			f.dir.set(map[string]string{"all.yaml": protectedPolicy, "p.yaml": edited})
			f.ctrl.PolicyChanged()
			f.waitFor(t, "the edit reported", func() bool { return len(f.ctrl.Status().Rejected) == 1 })
			st := f.ctrl.Status()
			if r := st.Rejected[0]; !r.CarriedOver || !strings.Contains(r.Errors[0], "deleted or renamed, but still referenced by Route/admin") {
				t.Fatalf("rejected %+v", r)
			}
			f.assertProtected(t)
		})
	}
}

// A fresh start whose admin Route names a missing Authorization publishes
// nothing for its Gateway (the catch-all must not serve /admin); once a
// good version was published, a new dangling Route leaves it as it was.
func TestDanglingRouteHoldsGateway(t *testing.T) {
	noAuthz := strings.Replace(protectingPolicies, "name: z\n", "name: other\n", 1)
	f := start(t, map[string]string{"all.yaml": protectedPolicy, "p.yaml": noAuthz})
	if _, ok := f.pub.Snapshot(translate.GroupKey{Gateway: "public", Client: translate.ClientEnvoy}); ok {
		t.Fatalf("gateway public published with Route admin unresolvable: admin route %q", f.publishedRoute(t, "admin"))
	}
	st := f.ctrl.Status()
	if h := st.Held["public"]; len(h) != 1 || !strings.Contains(h[0], `Route/admin (all.yaml:`) || !strings.Contains(h[0], `Authorization "z" does not exist`) {
		t.Fatalf("held %q", st.Held)
	}

	// Fixed: published and protected.
	f.dir.set(map[string]string{"all.yaml": protectedPolicy, "p.yaml": protectingPolicies})
	f.ctrl.PolicyChanged()
	f.waitFor(t, "published", func() bool { return f.publishedRoute(t, "admin") != "" })
	f.assertProtected(t)
	before := f.versions(t)

	// A new Route with a dangling reference: the Gateway keeps what it had.
	bad := protectedPolicy + "---\nkind: Route\nname: secret\nspec:\n  gateways: [public]\n  match: {path: {prefix: /secret}}\n  backends: [{service: app}]\n  authorization: nope\n"
	f.dir.set(map[string]string{"all.yaml": bad, "p.yaml": protectingPolicies})
	f.ctrl.PolicyChanged()
	f.waitFor(t, "held", func() bool { return len(f.ctrl.Status().Held["public"]) == 1 })
	if after := f.versions(t); after["routes"] != before["routes"] {
		t.Fatalf("held gateway's routes changed: %v -> %v", before, after)
	}
}

// The same for a Gateway's defaults: deleting the Authentication and the
// RateLimit they name leaves every Route of the Gateway protected.
func TestDeletedGatewayDefaultKeepsProtection(t *testing.T) {
	gw := strings.Replace(basePolicy, "listeners: [{name: http, port: 8080, protocol: HTTP}]\n",
		"listeners: [{name: http, port: 8080, protocol: HTTP}]\n  defaults: {authentication: [keys], rateLimit: rl}\n", 1)
	if gw == basePolicy {
		t.Fatal("edit changed nothing")
	}
	f := start(t, map[string]string{"all.yaml": gw, "p.yaml": protectingPolicies})
	check := func() {
		t.Helper()
		got := f.publishedRoute(t, "app")
		for _, want := range []string{`"gatehouse.authentication":"keys"`, `"rl#0"`} {
			if !strings.Contains(got, want) {
				t.Errorf("published app route lacks %s: %s", want, got)
			}
		}
	}
	check()
	f.dir.set(map[string]string{"all.yaml": gw, "p.yaml": "kind: Authorization\nname: z\nspec:\n  inline: |\n    package envoy.authz\n    default allow := false\n"})
	f.ctrl.PolicyChanged()
	f.waitFor(t, "the edit reported", func() bool { return len(f.ctrl.Status().Rejected) == 2 })
	for _, r := range f.ctrl.Status().Rejected {
		if !r.CarriedOver || !strings.Contains(r.Errors[0], "still referenced by Gateway/public (spec.defaults.") {
			t.Errorf("rejected %+v", r)
		}
	}
	check()
}
