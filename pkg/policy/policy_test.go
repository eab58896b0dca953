package policy

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestPoliciesDecode: valid objects of the new kinds load and carry what
// the translator and the services need.
func TestPoliciesDecode(t *testing.T) {
	s := Load(testFS(t, map[string]string{"p.yaml": `kind: Authentication
name: file-jwt
spec:
  jwt:
    issuer: https://idp.example.com/
    audiences: [api, web]
    jwks: {file: keys/jwks.json}
---
kind: Authentication
name: inline-jwt
spec:
  jwt:
    issuer: other
    audiences: [api]
    jwks:
      inline: '{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}'
---
kind: Authentication
name: http-jwt
spec:
  jwt:
    issuer: lab
    audiences: [api]
    jwks: {uri: "http://127.0.0.1:8081/jwks", allowInsecureHTTP: true, cacheDuration: 30s}
---
kind: Authentication
name: query-key
spec:
  apiKey: {query: api_key}
---
kind: Authorization
name: legacy
spec:
  # opa-envoy-plugin policies written before OPA 1.0 load unchanged.
  inline: |
    package envoy.authz
    import input.attributes.request.http as http_request
    default allow = false
    allow {
      http_request.method == "GET"
    }
  failOpen: true
---
kind: Authorization
name: pkg-query
spec:
  rego: policies/ok.rego
  query: data.envoy.authz
---
kind: RateLimit
name: local
spec:
  limits:
    - {key: [], requests: 100, per: second, local: true}
    - {key: [route, remote_address, path, method, "header:x-tenant"], requests: 5, per: hour, local: true}
    - {key: [consumer, "claim:sub", "header:x-tenant"], requests: 5, per: month}
  algorithm: sliding-window
  shadow: true
  failureMode: deny
---
kind: RateLimit
name: plan-only
spec: {plan: true}
---
kind: Route
name: mixed
spec:
  gateways: [gw]
  backends: [{service: a}]
  authentication: [file-jwt, query-key]
  authorization: legacy
  rateLimit: local
`}), nil)
	if len(s.Rejected) != 0 {
		t.Fatalf("errors:\n%s", strings.Join(s.Errors(), "\n"))
	}
	if j := s.Authentications["file-jwt"].Spec.JWT.JWKS; !strings.Contains(string(j.JWKSJSON), `"kid": "k1"`) {
		t.Errorf("file JWKS not filled: %q", j.JWKSJSON)
	}
	if j := s.Authentications["inline-jwt"].Spec.JWT.JWKS; string(j.JWKSJSON) != j.Inline {
		t.Errorf("inline JWKS not filled: %q", j.JWKSJSON)
	}
	if j := s.Authentications["http-jwt"].Spec.JWT.JWKS; j.Cache().Seconds() != 30 || j.JWKSJSON != nil {
		t.Errorf("http JWKS: %+v", j)
	}
	legacy := s.Authorizations["legacy"].Spec
	if legacy.RegoVersion != ast.RegoV0 || !legacy.FailOpen || legacy.RegoFile != "Authorization/legacy (inline)" || legacy.RegoQuery() != DefaultRegoQuery {
		t.Errorf("legacy: version %v file %q", legacy.RegoVersion, legacy.RegoFile)
	}
	if ok := s.Authorizations["pkg-query"].Spec; ok.RegoVersion != ast.RegoV1 || ok.RegoFile != "policies/ok.rego" {
		t.Errorf("pkg-query: %+v", ok)
	}
	rl := s.RateLimits["local"].Spec
	if !rl.SlidingWindow() || !rl.FailClosed() || !rl.Shadow || rl.Limits[0].Key == nil || len(rl.Limits[0].Key) != 0 {
		t.Errorf("local: %+v", rl)
	}
	if k, a := SplitKey(rl.Limits[2].Key[2]); k != "header" || a != "x-tenant" {
		t.Errorf("SplitKey = %q, %q", k, a)
	}
	r := s.Routes["mixed"]
	if got := r.EffectiveAuthentication(s.Gateways["gw"]); len(got) != 2 || r.EffectiveRateLimit(nil) != "local" {
		t.Errorf("route: %v", got)
	}
}

// TestEffectivePolicies: a Route's own settings override its Gateway's
// defaults; [] and none turn them off.
func TestEffectivePolicies(t *testing.T) {
	list := func(s ...string) *[]string { return &s }
	g := &Gateway{Spec: GatewaySpec{Defaults: &GatewayDefaults{Authentication: list("corp"), RateLimit: "per-ip"}}}
	cases := []struct {
		auth     *[]string
		rl       string
		wantAuth string
		wantRL   string
	}{
		{nil, "", "corp", "per-ip"},
		{list(), RateLimitNone, "", ""},
		{list("keys", "corp"), "mine", "keys,corp", "mine"},
	}
	for i, c := range cases {
		r := &Route{Spec: RouteSpec{Authentication: c.auth, RateLimit: c.rl}}
		if got := strings.Join(r.EffectiveAuthentication(g), ","); got != c.wantAuth {
			t.Errorf("%d: authentication %q, want %q", i, got, c.wantAuth)
		}
		if got := r.EffectiveRateLimit(g); got != c.wantRL {
			t.Errorf("%d: rateLimit %q, want %q", i, got, c.wantRL)
		}
	}
	if (&Route{}).EffectiveAuthentication(&Gateway{}) != nil || (&Route{}).EffectiveRateLimit(nil) != "" {
		t.Errorf("no defaults: want none")
	}
}

// TestLoadWithReader: a policy directory inside a larger fs.FS may name
// files beside it (../policies/x.rego), as POLICY-MODEL.md's example does,
// when the caller passes a reader; errors still name paths relative to the
// policy directory.
func TestLoadWithReader(t *testing.T) {
	root := fstest.MapFS{
		"conf/policy/authz.yaml":  {Data: []byte("kind: Authorization\nname: z\nspec:\n  rego: ../policies/ok.rego\n")},
		"conf/policy/bad.yaml":    {Data: []byte("kind: Authorization\nname: y\nspec:\n  rego: ../policies/nope.rego\n")},
		"conf/policy/escape.yaml": {Data: []byte("kind: Authorization\nname: x\nspec:\n  rego: ../../../etc/x.rego\n")},
		"conf/policies/ok.rego":   {Data: []byte(fixtures["policies/ok.rego"])},
	}
	sub, err := fs.Sub(root, "conf/policy")
	if err != nil {
		t.Fatal(err)
	}
	s := LoadWith(sub, nil, Options{ReadFile: FSReader(root, "conf/policy")})
	if z := s.Authorizations["z"]; z == nil || z.Spec.RegoFile != "../policies/ok.rego" {
		t.Fatalf("errors: %q", s.Errors())
	}
	want := []string{
		"bad.yaml:4: Authorization/y: spec.rego: cannot read ../policies/nope.rego: file does not exist",
		"escape.yaml:4: Authorization/x: spec.rego: cannot read ../../../etc/x.rego: file does not exist",
	}
	if got := s.Errors(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Plain Load keeps the old rule: nothing outside fsys.
	if s := Load(sub, nil); s.Authorizations["z"] != nil {
		t.Errorf("Load read outside its fs.FS")
	}
}

// TestRegoCompiledOnce: an unchanged module is not compiled again by the
// next load, and a changed one is.
func TestRegoCompiledOnce(t *testing.T) {
	src := "package cache.once\nallow if input.n == 1\n"
	a := compileRego("x.rego", src)
	if b := compileRego("x.rego", src); a != b {
		t.Errorf("same source compiled twice")
	}
	if c := compileRego("x.rego", src+"deny if input.n == 2\n"); c == a || len(c.rules) != 2 {
		t.Errorf("changed source not recompiled: %+v", c)
	}
}

// TestConcurrentLoads: loads may run concurrently (serve and validate share
// the Rego compile cache).
func TestConcurrentLoads(t *testing.T) {
	fsys := testFS(t, map[string]string{"z.yaml": authzYAML, "r.yaml": routeZ, "p.yaml": policiesYAML})
	done := make(chan *Snapshot, 4)
	for i := 0; i < 4; i++ {
		go func() { done <- Load(fsys, nil) }()
	}
	for i := 0; i < 4; i++ {
		select {
		case s := <-done:
			if len(s.Rejected) != 0 || s.Routes["r"] == nil {
				t.Fatalf("errors: %q", s.Errors())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Load did not return within 10s")
		}
	}
}
