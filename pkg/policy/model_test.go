package policy

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestModelExamples loads every example of POLICY-MODEL.md unchanged
// (testdata/model holds them verbatim, one file per section; the Rego file
// the Authorization example names is testdata/policies/users.rego, outside
// the policy directory as in the example) with zero errors, and checks they
// mean what the text says.
func TestModelExamples(t *testing.T) {
	s := LoadDir("testdata/model", nil)
	if len(s.Rejected) != 0 {
		t.Fatalf("errors:\n%s", strings.Join(s.Errors(), "\n"))
	}
	for _, name := range []string{"users", "users-v2"} {
		if s.Services[name] == nil {
			t.Fatalf("Service %s not loaded", name)
		}
	}
	if pem := s.Services["users"].Spec.TLS.CAPEM; len(pem) == 0 {
		t.Errorf("users: CAPEM not filled from caFile")
	}
	if w := s.Services["users-v2"].Spec.Discovery.Static[1].Weight; w != 2 {
		t.Errorf("users-v2 static[1].weight = %d, want 2", w)
	}
	g, r := s.Gateways["public"], s.Routes["user-info"]
	if g == nil || r == nil {
		t.Fatalf("gateway %v route %v", g, r)
	}
	if got := r.EffectiveAuthentication(g); strings.Join(got, ",") != "corp-jwt,partner-keys" {
		t.Errorf("route authentication = %q", got)
	}
	if r.EffectiveRateLimit(g) != "per-consumer" || r.Spec.Authorization != "users-authz" {
		t.Errorf("route policies: %+v", r.Spec)
	}
	jwt := s.Authentications["corp-jwt"].Spec.JWT
	if jwt == nil || jwt.Issuer != "https://idp.example.com/" || jwt.Audiences[0] != "api" || jwt.JWKS.Cache() != 5*time.Minute ||
		jwt.JWKS.URI == "" || jwt.JWKS.JWKSJSON != nil || jwt.ClaimsToHeaders[0] != (ClaimToHeader{Claim: "sub", Header: "x-user-id"}) || jwt.ForwardToken {
		t.Errorf("corp-jwt: %+v", jwt)
	}
	if k := s.Authentications["partner-keys"].Spec.APIKey; k == nil || k.Header != "x-api-key" {
		t.Errorf("partner-keys: %+v", k)
	}
	c := s.Consumers["acme"]
	if c == nil || c.Spec.Plan != "gold" || c.Spec.Groups[0] != "partners" || c.Spec.APIKeys[0].ID != "acme-2026" ||
		c.Spec.JWTSubjects[0] != (JWTSubject{Issuer: "https://idp.example.com/", Sub: "acme-batch"}) {
		t.Errorf("acme: %+v", c)
	}
	if p := s.Plans["gold"]; p == nil || p.Spec.RateLimits[0] != (Rate{Requests: 100, Per: UnitSecond}) || *p.Spec.Quota != (Rate{Requests: 1000000, Per: UnitMonth}) {
		t.Errorf("gold: %+v", p)
	}
	az := s.Authorizations["users-authz"]
	if az == nil || az.Spec.RegoFile != "../policies/users.rego" || !strings.Contains(az.Spec.RegoSource, "package envoy.authz") ||
		az.Spec.RegoQuery() != DefaultRegoQuery || az.Spec.FailOpen || az.Spec.RegoVersion != ast.RegoV1 {
		t.Errorf("users-authz: %+v", az)
	}
	if al := s.Authorizations["office-only"].Spec.Allow; al == nil || al.SourceCIDRs[0] != "10.0.0.0/8" || al.Groups[0] != "partners" {
		t.Errorf("office-only: %+v", al)
	}
	rl := s.RateLimits["per-consumer"]
	if rl == nil || len(rl.Spec.Limits) != 2 || !rl.Spec.Limits[1].Local || rl.Spec.Limits[0].Key[0] != KeyConsumer ||
		!rl.Spec.Plan || rl.Spec.Shadow || rl.Spec.SlidingWindow() || rl.Spec.FailClosed() {
		t.Errorf("per-consumer: %+v", rl)
	}

	// Without a reader that may leave the directory, the Rego path is an
	// error of that Authorization alone (and of the Route naming it).
	s = Load(os.DirFS("testdata/model"), nil)
	want := []string{
		`authorization.yaml:4: Authorization/users-authz: spec.rego: "../policies/users.rego" points outside the policy directory`,
		`route.yaml:23: Route/user-info: spec.authorization: Authorization "users-authz" was rejected (see its errors)`,
	}
	if got := s.Errors(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestModelExamplesWithoutPolicies: the Gateway and Route examples, minus
// the lines that name policies, load cleanly on their own and mean what
// POLICY-MODEL.md says.
func TestModelExamplesWithoutPolicies(t *testing.T) {
	fsys := fstest.MapFS{}
	for _, f := range []string{"gateway.yaml", "service.yaml", "route.yaml", "certs/api.pem", "certs/api-key.pem", "certs/internal-ca.pem"} {
		data, err := os.ReadFile("testdata/model/" + f)
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, line := range strings.Split(string(data), "\n") {
			switch strings.Fields(line + " x")[0] {
			case "defaults:", "authentication:", "authorization:", "rateLimit:":
				continue
			}
			keep = append(keep, line)
		}
		fsys[f] = &fstest.MapFile{Data: []byte(strings.Join(keep, "\n"))}
	}
	s := Load(fsys, nil)
	if len(s.Rejected) != 0 {
		t.Fatalf("errors:\n%s", strings.Join(s.Errors(), "\n"))
	}
	g := s.Gateways["public"]
	if g == nil || len(g.Spec.Listeners) != 2 || len(g.Spec.Listeners[1].TLS.KeyPEM) == 0 || g.Spec.Limits.RequestTimeout.D().Seconds() != 300 {
		t.Fatalf("gateway: %+v", g)
	}
	r := s.Routes["user-info"]
	if r == nil || r.Spec.Backends[0].W() != 90 || r.Spec.Backends[1].W() != 10 || r.Spec.Match.Path.Prefix != "/user" ||
		r.Spec.Retries.PerTryTimeout.D().Seconds() != 1 || r.Spec.Headers.Request.Set["x-gateway"] != "public" || r.Spec.Match.Headers[0].Exact != "2" {
		t.Fatalf("route: %+v", r)
	}
}
