package policy

import (
	"slices"
	"strings"
	"testing"
)

// protectedYAML: Route admin is protected by an Authentication, an
// Authorization and a RateLimit; Route public is a catch-all on the same
// Gateway that would serve admin's paths if admin were dropped. Gateway
// dgw protects every Route through its defaults.
const protectedYAML = `kind: Route
name: admin
spec:
  gateways: [gw]
  match: {path: {prefix: /admin}}
  backends: [{service: a}]
  authentication: [keys]
  authorization: z
  rateLimit: rl
---
kind: Route
name: public
spec:
  gateways: [gw, dgw]
  backends: [{service: b}]
---
kind: Gateway
name: dgw
spec:
  listeners: [{name: h, port: 9090, protocol: HTTP}]
  defaults: {authentication: [keys], rateLimit: rl}
`

// Deleting or renaming a policy object that a served Route or a Gateway's
// defaults name keeps the object at its last good version, so the Route
// keeps its protection and is never dropped in favour of the catch-all.
func TestDeletedPolicyStillReferencedIsKept(t *testing.T) {
	base := map[string]string{"r.yaml": protectedYAML, "z.yaml": authzYAML, "p.yaml": policiesYAML}
	keysYAML := "kind: Authentication\nname: keys\nspec:\n  apiKey: {header: x-api-key}\n"
	rlYAML := "kind: RateLimit\nname: rl\nspec:\n  limits: [{key: [consumer], requests: 10, per: minute}]\n"
	cases := []struct {
		name  string
		edit  map[string]string
		ref   string   // the object kept
		by    []string // its referrers, as reported
		where string   // position of the report
	}{
		{"delete Authorization", map[string]string{"z.yaml": ""}, "Authorization/z",
			[]string{"Route/admin (spec.authorization)"}, "z.yaml:1: "},
		{"rename Authorization", map[string]string{"z.yaml": strings.Replace(authzYAML, "name: z", "name: z2", 1)}, "Authorization/z",
			[]string{"Route/admin (spec.authorization)"}, "z.yaml:1: "},
		{"delete Authentication", map[string]string{"p.yaml": rlYAML}, "Authentication/keys",
			[]string{"Gateway/dgw (spec.defaults.authentication[0])", "Route/admin (spec.authentication[0])"}, "p.yaml:1: "},
		{"rename Authentication", map[string]string{"p.yaml": strings.Replace(policiesYAML, "name: keys", "name: keys2", 1)}, "Authentication/keys",
			[]string{"Gateway/dgw (spec.defaults.authentication[0])", "Route/admin (spec.authentication[0])"}, "p.yaml:1: "},
		{"delete RateLimit", map[string]string{"p.yaml": keysYAML}, "RateLimit/rl",
			[]string{"Gateway/dgw (spec.defaults.rateLimit)", "Route/admin (spec.rateLimit)"}, "p.yaml:6: "},
		{"rename RateLimit", map[string]string{"p.yaml": strings.Replace(policiesYAML, "name: rl", "name: rl2", 1)}, "RateLimit/rl",
			[]string{"Gateway/dgw (spec.defaults.rateLimit)", "Route/admin (spec.rateLimit)"}, "p.yaml:6: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range base {
				files[k] = v
			}
			prev := Load(testFS(t, files), nil)
			if len(prev.Rejected) != 0 {
				t.Fatalf("setup: %q", prev.Errors())
			}
			for k, v := range c.edit {
				files[k] = v
			}
			next := Load(testFS(t, files), prev)
			if next.Routes["admin"] == nil || next.Gateways["dgw"] == nil {
				t.Fatalf("protected Route or Gateway dropped: routes %v gateways %v errors %q", keys(next.Routes), keys(next.Gateways), next.Errors())
			}
			kind, name, _ := strings.Cut(c.ref, "/")
			if next.get(kind, name) != prev.get(kind, name) {
				t.Fatalf("%s not kept at its last good version", c.ref)
			}
			e := rejectedEntry(next, c.ref)
			if e == nil || !e.CarriedOver || len(e.Errors) != 1 {
				t.Fatalf("entry %+v", e)
			}
			want := c.where + c.ref + ": deleted or renamed, but still referenced by " + strings.Join(c.by, ", ") +
				": its last good version is still served; remove the reference first"
			if e.Errors[0] != want {
				t.Errorf("error\n got %q\nwant %q", e.Errors[0], want)
			}
			if len(next.Held) != 0 {
				t.Errorf("held: %v", next.Held)
			}
			assertConsistent(t, next)

			// Kept across further loads while referenced.
			again := Load(testFS(t, files), next)
			if again.get(kind, name) != prev.get(kind, name) || again.Routes["admin"] == nil {
				t.Fatalf("not kept on the next load: %q", again.Errors())
			}
		})
	}
}

// Removing the reference first, then the object, removes both cleanly.
func TestDeletedPolicyGoneOnceUnreferenced(t *testing.T) {
	files := map[string]string{"r.yaml": protectedYAML, "z.yaml": authzYAML, "p.yaml": policiesYAML}
	prev := Load(testFS(t, files), nil)
	files["r.yaml"] = strings.Replace(protectedYAML, "  authorization: z\n", "", 1)
	files["z.yaml"] = ""
	next := Load(testFS(t, files), prev)
	if next.Authorizations["z"] != nil || len(next.Rejected) != 0 || next.Routes["admin"] == nil {
		t.Fatalf("authorizations %v errors %q", keys(next.Authorizations), next.Errors())
	}
}

// With no last good version (a fresh start), a Route whose reference does
// not resolve is rejected and holds back every Gateway it names: the
// catch-all must not serve its paths.
func TestDanglingRouteWithoutLastGoodHoldsGateway(t *testing.T) {
	files := map[string]string{"r.yaml": protectedYAML, "p.yaml": policiesYAML}
	for _, c := range []struct{ name, edit, file, want string }{
		{"missing Authorization", "", "z.yaml", `spec.authorization: Authorization "z" does not exist`},
		{"rejected Authorization", strings.Replace(authzYAML, "ok.rego", "broken.rego", 1), "z.yaml", `spec.authorization: Authorization "z" was rejected (see its errors)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := map[string]string{}
			for k, v := range files {
				fs[k] = v
			}
			fs[c.file] = c.edit
			s := Load(testFS(t, fs), nil)
			if s.Routes["admin"] != nil {
				t.Fatal("admin served with a dangling reference")
			}
			held := s.Held["gw"]
			if len(held) != 1 || !strings.HasPrefix(held[0], "Route/admin (r.yaml:1) cannot be served (") || !strings.Contains(held[0], c.want) {
				t.Fatalf("held %q", s.Held)
			}
			if _, ok := s.Held["dgw"]; ok {
				t.Errorf("dgw held although admin does not name it")
			}
			assertConsistent(t, s)
		})
	}
	// A Route that names a missing Gateway holds back the others it names.
	two := strings.Replace(protectedYAML, "gateways: [gw]", "gateways: [gw, nosuch]", 1)
	s := Load(testFS(t, map[string]string{"r.yaml": two, "p.yaml": policiesYAML, "z.yaml": authzYAML}), nil)
	if got := slices.Sorted(func(yield func(string) bool) {
		for k := range s.Held {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(got, []string{"gw"}) {
		t.Fatalf("held %v", s.Held)
	}
}

// A protected Route that is itself invalid and has no last good version
// holds its Gateway back too; with a last good version it is carried over
// and nothing is held.
func TestInvalidRouteWithoutLastGoodHoldsGateway(t *testing.T) {
	files := map[string]string{"r.yaml": protectedYAML, "z.yaml": authzYAML, "p.yaml": policiesYAML}
	prev := Load(testFS(t, files), nil)
	files["r.yaml"] = strings.Replace(protectedYAML, "  rateLimit: rl\n", "  rateLimit: rl\n  timeout: x\n", 1)
	fresh := Load(testFS(t, files), nil)
	if fresh.Routes["admin"] != nil || fresh.Routes["public"] == nil {
		t.Fatalf("routes %v", keys(fresh.Routes))
	}
	want := "Route/admin (r.yaml:1) cannot be served (it is rejected (see its errors)) and has no last good version; another Route could serve its paths"
	if h := fresh.Held["gw"]; len(h) != 1 || h[0] != want {
		t.Fatalf("held %q", fresh.Held)
	}
	next := Load(testFS(t, files), prev)
	if next.Routes["admin"] == nil || len(next.Held) != 0 {
		t.Fatalf("routes %v held %q", keys(next.Routes), next.Held)
	}
}

// A Route defined twice holds its Gateway once per definition, each naming
// a dangling reference once.
func TestDuplicateDanglingRouteHeldOnce(t *testing.T) {
	admin := protectedYAML[:strings.Index(protectedYAML, "---")]
	s := Load(testFS(t, map[string]string{"r.yaml": protectedYAML, "r2.yaml": admin, "p.yaml": policiesYAML}), nil)
	h := s.Held["gw"]
	if len(h) != 2 {
		t.Fatalf("held %q", s.Held)
	}
	for _, m := range h {
		if strings.Count(m, `Authorization "z" does not exist`) != 1 {
			t.Errorf("reason not once: %q", m)
		}
	}
}
