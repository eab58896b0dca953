package security_authz

import (
	"testing"
	"time"
)

// Authentication never fails open: whatever the route's Authorization says
// (failOpen, a policy that errors or outlives its time limit), a request
// without a valid credential is a 401. failOpen applies only once the
// caller is identified (or the route lets anonymous callers in).
func TestAuthenticationNeverFailsOpen(t *testing.T) {
	s := start(t, 50*time.Millisecond)
	for _, policy := range []string{"slow", "conflict", "undefined", "allow-all"} {
		for _, tc := range []struct {
			name string
			r    request
		}{
			{"no credential", request{path: "/boom", authn: "keys"}},
			{"wrong key", request{path: "/boom", authn: "keys", headers: map[string]string{"x-api-key": "gh_guess"}}},
			{"key in the wrong header", request{path: "/boom", authn: "keys", headers: map[string]string{"authorization": apiKey}}},
			{"key in the query", request{path: "/boom?x-api-key=" + apiKey, authn: "keys"}},
			{"no JWT payload (jwt_authn let a token-less request through)", request{path: "/boom", authn: "corp-jwt"}},
			{"JWT payload of another provider", request{path: "/boom", authn: "corp-jwt", jwt: map[string]any{"other": map[string]any{"sub": "acme-batch"}}}},
			{"spoofed consumer header", request{path: "/boom", authn: "keys,corp-jwt", headers: map[string]string{"x-gatehouse-consumer": "acme"}}},
			{"wrong key where anonymous is allowed", request{path: "/boom", authn: "keys", anonymous: true, headers: map[string]string{"x-api-key": "gh_guess"}}},
		} {
			t.Run(policy+"/"+tc.name, func(t *testing.T) {
				tc.r.policy = policy
				o := s.check(t, tc.r.build(t))
				if o.status != 401 || o.decision.FailedOpen {
					t.Fatalf("got %d (failed open %v), want 401; reasons %q", o.status, o.decision.FailedOpen, o.decision.Reasons)
				}
			})
		}
	}
	// Identified callers: failOpen applies to the Authorization's own errors.
	for _, tc := range []struct {
		name   string
		r      request
		status int
	}{
		{"valid key, policy times out", request{authn: "keys", policy: "slow", headers: map[string]string{"x-api-key": apiKey}}, 200},
		{"verified JWT, policy in error", request{path: "/boom", authn: "corp-jwt", policy: "conflict", jwt: map[string]any{"corp-jwt": map[string]any{"iss": "https://idp.example.com/", "sub": "acme-batch"}}}, 200},
		{"anonymous route, policy times out", request{authn: "keys", anonymous: true, policy: "slow"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := s.check(t, tc.r.build(t))
			if o.status != tc.status || !o.decision.FailedOpen {
				t.Fatalf("got %d (failed open %v), want %d failed open; reasons %q", o.status, o.decision.FailedOpen, tc.status, o.decision.Reasons)
			}
		})
	}
}

// x-gatehouse-consumer sent by the client (Envoy's header_mutation removes
// it first; this is the service's own guard) never identifies anyone: the
// policy sees the real consumer and the upstream gets the real one.
func TestSpoofedConsumerHeader(t *testing.T) {
	s := start(t, 0)
	spoof := map[string]string{"x-gatehouse-consumer": "acme", "X-Gatehouse-Consumer": "acme"}
	for _, tc := range []struct {
		name   string
		r      request
		status int
	}{
		{"anonymous route, Rego reads the consumer", request{policy: "reads-consumer", headers: spoof}, 403},
		{"anonymous route, group rule", request{policy: "partners", headers: spoof}, 403},
		{"authenticated route, no key", request{authn: "keys", policy: "partners", headers: spoof}, 401},
		{"anonymous route, no policy", request{headers: spoof}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := s.check(t, tc.r.build(t))
			if o.status != tc.status || o.decision.Consumer != "anonymous" {
				t.Fatalf("got %d as %q, want %d as anonymous; reasons %q", o.status, o.decision.Consumer, tc.status, o.decision.Reasons)
			}
			if o.status == 200 && o.upstream["x-gatehouse-consumer"] != "anonymous" {
				t.Fatalf("upstream consumer header %q, want anonymous", o.upstream["x-gatehouse-consumer"])
			}
		})
	}
}
