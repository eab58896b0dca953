package policy

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// TestModelExamples loads every example of POLICY-MODEL.md unchanged
// (testdata/model holds them verbatim, one file per section). Gateway,
// Service and Route decode and validate cleanly except for the fields that
// name kinds not supported yet; the other kinds are rejected with exactly
// "not supported yet".
func TestModelExamples(t *testing.T) {
	s := Load(os.DirFS("testdata/model"), nil)
	for _, name := range []string{"users", "users-v2"} {
		sv := s.Services[name]
		if sv == nil {
			t.Fatalf("Service %s not loaded; errors:\n%s", name, strings.Join(s.Errors(), "\n"))
		}
	}
	if pem := s.Services["users"].Spec.TLS.CAPEM; len(pem) == 0 {
		t.Errorf("users: CAPEM not filled from caFile")
	}
	if w := s.Services["users-v2"].Spec.Discovery.Static[1].Weight; w != 2 {
		t.Errorf("users-v2 static[1].weight = %d, want 2", w)
	}
	want := map[string][]string{
		"Gateway/public": {
			"gateway.yaml:24: Gateway/public: spec.defaults.authentication: Authentication is not supported yet",
			"gateway.yaml:25: Gateway/public: spec.defaults.rateLimit: RateLimit is not supported yet",
		},
		"Route/user-info": {
			`route.yaml:4: Route/user-info: spec.gateways[0]: Gateway "public" was rejected`,
			"route.yaml:22: Route/user-info: spec.authentication: Authentication is not supported yet",
			"route.yaml:23: Route/user-info: spec.authorization: Authorization is not supported yet",
			"route.yaml:24: Route/user-info: spec.rateLimit: RateLimit is not supported yet",
		},
		"Authentication/corp-jwt":     {"authentication.yaml:1: Authentication/corp-jwt: kind: Kind Authentication is not supported yet"},
		"Authentication/partner-keys": {"authentication.yaml:14: Authentication/partner-keys: kind: Kind Authentication is not supported yet"},
		"Consumer/acme":               {"consumer-plan.yaml:1: Consumer/acme: kind: Kind Consumer is not supported yet"},
		"Plan/gold":                   {"consumer-plan.yaml:11: Plan/gold: kind: Kind Plan is not supported yet"},
		"Authorization/users-authz":   {"authorization.yaml:1: Authorization/users-authz: kind: Kind Authorization is not supported yet"},
		"Authorization/office-only":   {"authorization.yaml:8: Authorization/office-only: kind: Kind Authorization is not supported yet"},
		"RateLimit/per-consumer":      {"ratelimit.yaml:1: RateLimit/per-consumer: kind: Kind RateLimit is not supported yet"},
	}
	got := map[string][]string{}
	for _, r := range s.Rejected {
		if r.CarriedOver {
			t.Errorf("%s: CarriedOver without a previous snapshot", r.Ref)
		}
		got[r.Ref] = r.Errors
	}
	for ref, lines := range want {
		if len(got[ref]) != len(lines) {
			t.Errorf("%s: got errors %q, want %d matching %q", ref, got[ref], len(lines), lines)
			continue
		}
		for i, l := range lines {
			if !strings.HasPrefix(got[ref][i], l) {
				t.Errorf("%s: error %d = %q, want prefix %q", ref, i, got[ref][i], l)
			}
		}
	}
	for ref := range got {
		if want[ref] == nil {
			t.Errorf("unexpected rejection %s: %q", ref, got[ref])
		}
	}
}

// TestModelExamplesWithoutPolicies: the Gateway and Route examples, minus
// only the lines that name kinds not supported yet, load cleanly and mean
// what POLICY-MODEL.md says.
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
