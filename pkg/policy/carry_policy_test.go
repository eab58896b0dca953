package policy

import (
	"strings"
	"testing"
)

const authzYAML = `kind: Authorization
name: z
spec:
  rego: policies/ok.rego
`

const routeZ = `kind: Route
name: r
spec:
  gateways: [gw]
  backends: [{service: a}]
  authorization: z
  authentication: [keys]
  rateLimit: rl
`

const policiesYAML = `kind: Authentication
name: keys
spec:
  apiKey: {header: x-api-key}
---
kind: RateLimit
name: rl
spec:
  limits: [{key: [consumer], requests: 10, per: minute}]
`

// A Route naming an Authorization whose edit is rejected keeps working with
// the Authorization's previous version.
func TestCarryOverRejectedAuthorization(t *testing.T) {
	files := map[string]string{"z.yaml": authzYAML, "r.yaml": routeZ, "p.yaml": policiesYAML}
	prev := Load(testFS(t, files), nil)
	if len(prev.Rejected) != 0 || prev.Routes["r"] == nil || prev.Authorizations["z"].Spec.RegoSource == "" {
		t.Fatalf("setup: %q", prev.Errors())
	}
	files["z.yaml"] = strings.Replace(authzYAML, "ok.rego", "broken.rego", 1)
	next := Load(testFS(t, files), prev)
	if next.Authorizations["z"] != prev.Authorizations["z"] || next.Routes["r"] == nil {
		t.Fatalf("authorizations %v routes %v errors %q", keys(next.Authorizations), keys(next.Routes), next.Errors())
	}
	if e := rejectedEntry(next, "Authorization/z"); e == nil || !e.CarriedOver {
		t.Fatalf("entry %+v", e)
	}
	if _, ok := findErr(next, "z.yaml:4: Authorization/z: spec.rego: ", "policies/broken.rego:4: rego_parse_error"); !ok {
		t.Errorf("errors: %q", next.Errors())
	}
	assertConsistent(t, next)

	// Without a previous version the Route goes too, and says why.
	fresh := Load(testFS(t, files), nil)
	if fresh.Routes["r"] != nil || fresh.Authorizations["z"] != nil {
		t.Fatalf("served without a valid Authorization")
	}
	if _, ok := findErr(fresh, "r.yaml:6: Route/r: spec.authorization: ", `Authorization "z" was rejected`); !ok {
		t.Errorf("errors: %q", fresh.Errors())
	}
	assertConsistent(t, fresh)
}

// A Gateway whose default RateLimit is deleted keeps it at its last good
// version (its Routes must not lose the limit); on a fresh start the Gateway
// is rejected, so none of its Routes is served.
func TestGatewayDefaultsResolve(t *testing.T) {
	gw := "kind: Gateway\nname: edge\nspec:\n  listeners: [{name: h, port: 9090, protocol: HTTP}]\n  defaults: {authentication: [keys], rateLimit: rl}\n"
	files := map[string]string{"g.yaml": gw, "p.yaml": policiesYAML}
	prev := Load(testFS(t, files), nil)
	if len(prev.Rejected) != 0 || prev.Gateways["edge"] == nil {
		t.Fatalf("setup: %q", prev.Errors())
	}
	files["p.yaml"] = "kind: Authentication\nname: keys\nspec:\n  apiKey: {header: x-api-key}\n"
	next := Load(testFS(t, files), prev)
	if next.Gateways["edge"] == nil || next.RateLimits["rl"] != prev.RateLimits["rl"] {
		t.Fatalf("gateways %v rate limits %v errors %q", keys(next.Gateways), keys(next.RateLimits), next.Errors())
	}
	if _, ok := findErr(next, "p.yaml:6: RateLimit/rl: ", "deleted or renamed, but still referenced by Gateway/edge (spec.defaults.rateLimit)"); !ok {
		t.Errorf("errors: %q", next.Errors())
	}
	assertConsistent(t, next)
	fresh := Load(testFS(t, files), nil)
	if fresh.Gateways["edge"] != nil {
		t.Fatalf("Gateway served with a dangling default")
	}
	if _, ok := findErr(fresh, "g.yaml:5: Gateway/edge: spec.defaults.rateLimit: ", `RateLimit "rl" does not exist`); !ok {
		t.Errorf("errors: %q", fresh.Errors())
	}
	// rateLimit: none and authentication: [] reference nothing.
	files["g.yaml"] = strings.Replace(gw, "{authentication: [keys], rateLimit: rl}", "{authentication: [], rateLimit: none}", 1)
	if s := Load(testFS(t, files), nil); s.Gateways["edge"] == nil {
		t.Fatalf("errors: %q", s.Errors())
	}
}

// A Consumer edit that breaks keeps its previous version, unless a newly
// loaded Consumer now holds one of its credentials: a key must identify one
// Consumer in every Snapshot.
func TestCarryOverConsumerCredentials(t *testing.T) {
	c1 := "kind: Consumer\nname: c1\nspec:\n  apiKeys: [{id: k, sha256: " + hashA + "}]\n"
	c2 := "kind: Consumer\nname: c2\nspec:\n  apiKeys: [{id: k, sha256: " + hashB + "}]\n"
	prev := Load(testFS(t, map[string]string{"c1.yaml": c1, "c2.yaml": c2}), nil)
	if len(prev.Consumers) != 2 {
		t.Fatalf("setup: %q", prev.Errors())
	}
	// c1 breaks (and drops key A); c2 takes key A. c2 is valid and served;
	// the old c1 would clash with it, so it is dropped.
	bad1 := "kind: Consumer\nname: c1\nspec:\n  apiKeys: [{id: k, sha256: nothex}]\n"
	c2a := strings.Replace(c2, hashB, hashA, 1)
	next := Load(testFS(t, map[string]string{"c1.yaml": bad1, "c2.yaml": c2a}), prev)
	if next.Consumers["c2"] == nil || next.Consumers["c1"] != nil {
		t.Fatalf("consumers %v errors %q", keys(next.Consumers), next.Errors())
	}
	if _, ok := findErr(next, "c1.yaml:1: Consumer/c1: ", "the previous version cannot be kept either"); !ok {
		t.Errorf("errors: %q", next.Errors())
	}
	assertConsistent(t, next)

	// A broken edit that clashes with nothing keeps the previous version.
	next = Load(testFS(t, map[string]string{"c1.yaml": bad1, "c2.yaml": c2}), prev)
	if next.Consumers["c1"] != prev.Consumers["c1"] {
		t.Fatalf("c1 not carried over: %q", next.Errors())
	}
	assertConsistent(t, next)
}

// Objects of the new kinds in a file with a YAML syntax error are carried
// over like the others.
func TestCarryOverPoliciesSyntaxError(t *testing.T) {
	files := map[string]string{"p.yaml": policiesYAML, "r.yaml": routeZ, "z.yaml": authzYAML}
	prev := Load(testFS(t, files), nil)
	files["p.yaml"] = policiesYAML + "  oops: [\n"
	next := Load(testFS(t, files), prev)
	if next.Authentications["keys"] != prev.Authentications["keys"] || next.RateLimits["rl"] != prev.RateLimits["rl"] || next.Routes["r"] == nil {
		t.Fatalf("not carried over: %q", next.Errors())
	}
	for _, ref := range []string{"Authentication/keys", "RateLimit/rl"} {
		if e := rejectedEntry(next, ref); e == nil || !e.CarriedOver {
			t.Errorf("%s: entry %+v", ref, e)
		}
	}
	assertConsistent(t, next)
}

// As TestCarryOverConsumerCredentials, for the other two credentials: a
// broken Consumer's previous version is not carried over when a newly
// loaded Consumer now holds its JWT subject, or its certificate identity.
func TestCarryOverConsumerSubjectAndCertificate(t *testing.T) {
	for _, tc := range []struct{ name, mine, theirs, msg string }{
		{"jwt subject", "  jwtSubjects: [{issuer: i, sub: s}]\n", "  jwtSubjects: [{issuer: i, sub: t}]\n",
			`spec.jwtSubjects[0]: the same JWT subject now belongs to Consumer "c2"`},
		{"certificate", "  certificates: [{uriSAN: \"spiffe://x/a\"}]\n", "  certificates: [{uriSAN: \"spiffe://x/b\"}]\n",
			`spec.certificates[0]: the same certificate identity now belongs to Consumer "c2"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c1 := "kind: Consumer\nname: c1\nspec:\n" + tc.mine
			c2 := "kind: Consumer\nname: c2\nspec:\n" + tc.theirs
			prev := Load(testFS(t, map[string]string{"c1.yaml": c1, "c2.yaml": c2}), nil)
			if len(prev.Consumers) != 2 {
				t.Fatalf("setup: %q", prev.Errors())
			}
			// c1 breaks (and drops its credential); c2 takes it. The old c1
			// would clash with c2, so it is dropped.
			bad1 := "kind: Consumer\nname: c1\nspec:\n  apiKeys: [{id: k, sha256: nothex}]\n"
			next := Load(testFS(t, map[string]string{"c1.yaml": bad1, "c2.yaml": "kind: Consumer\nname: c2\nspec:\n" + tc.mine}), prev)
			if next.Consumers["c2"] == nil || next.Consumers["c1"] != nil {
				t.Fatalf("consumers %v errors %q", keys(next.Consumers), next.Errors())
			}
			if e, ok := findErr(next, "c1.yaml:1: Consumer/c1: ", "the previous version cannot be kept either: "); !ok || !strings.HasSuffix(e, tc.msg) {
				t.Errorf("errors: %q", next.Errors())
			}
			assertConsistent(t, next)
			// Without the clash the previous c1 is kept.
			next = Load(testFS(t, map[string]string{"c1.yaml": bad1, "c2.yaml": c2}), prev)
			if next.Consumers["c1"] != prev.Consumers["c1"] {
				t.Fatalf("c1 not carried over: %q", next.Errors())
			}
			assertConsistent(t, next)
		})
	}
}
