package security_authz

import (
	"strings"
	"testing"
	"time"
)

// A client must not be able to pick the failure mode: on an Authorization
// with failOpen, whatever request shape it sends is decided. Only an
// evaluation error or the time limit may fail open (a transport failure
// is Envoy's failure_mode_allow, out of the service's reach).
func TestFailOpenCannotBeTriggeredByTheClient(t *testing.T) {
	// Rows about the time limit run on a service with a short one; the
	// others on one whose limit a loaded machine cannot reach, so a
	// decision delayed by the scheduler is not failed open by the timer.
	limited, s := start(t, 100*time.Millisecond), start(t, 10*time.Second)
	key := map[string]string{"x-api-key": apiKey}
	jsonBody := func(ct string) map[string]string {
		return map[string]string{"x-api-key": apiKey, "content-type": ct}
	}
	for _, tc := range []struct {
		name       string
		r          request
		status     int
		failedOpen bool
	}{
		{"path with a bad escape", request{path: "/orders/%zz", policy: "allow-all"}, 400, false},
		{"path with a bad escape, policy in error", request{path: "/boom/%zz", policy: "conflict"}, 400, false},
		{"query with ; separators", request{path: "/orders?a=1;b=2", policy: "allow-all"}, 400, false},
		{"query with a bad escape", request{path: "/orders?%zz=1", policy: "allow-all"}, 400, false},
		{"query with a bad escape, slow policy", request{path: "/orders?a=%G1", policy: "slow"}, 400, false},
		{"JSON body {", request{method: "POST", body: "{", headers: jsonBody("application/json"), policy: "allow-all"}, 400, false},
		{"JSON body with data after it", request{method: "POST", body: `{"amount":1}}`, headers: jsonBody("application/json"), authn: "keys", policy: "reads-body"}, 400, false},
		{"JSON duplicate key", request{method: "POST", body: `{"amount": 1, "amount": 5000}`, headers: jsonBody("application/json"), authn: "keys", policy: "reads-body"}, 400, false},
		{"deep JSON", request{method: "POST", body: strings.Repeat(`[`, 30000) + strings.Repeat("]", 30000), headers: jsonBody("application/json"), authn: "keys", policy: "reads-body"}, 400, false},
		{"deep JSON over the body limit", request{method: "POST", body: strings.Repeat("[", 100000) + strings.Repeat("]", 100000), headers: jsonBody("application/json"), authn: "keys", policy: "reads-body"}, 413, false},
		{"JSON in another case, bad", request{method: "POST", body: "{", headers: jsonBody("APPLICATION/json"), policy: "allow-all"}, 400, false},
		{"+json, bad", request{method: "POST", body: "{", headers: jsonBody("application/vnd.acme+json"), policy: "allow-all"}, 400, false},
		{"two content types", request{method: "POST", body: "{", headers: jsonBody("text/plain, application/json"), policy: "allow-all"}, 400, false},
		{"cut body the policy reads", request{method: "POST", body: `{"amount": 1`, headers: map[string]string{"x-api-key": apiKey, "content-type": "application/json", "x-envoy-auth-partial-body": "true"}, authn: "keys", policy: "reads-body"}, 413, false},
		{"padded body the policy reads", request{method: "POST", body: `{"amount": 5000, "pad": "` + strings.Repeat("x", 70000) + `"}`, headers: jsonBody("application/json"), authn: "keys", policy: "reads-body"}, 413, false},
		{"undefined decision", request{method: "POST", policy: "undefined"}, 403, false},
		{"malformed decision", request{policy: "malformed"}, 403, false},
		// What may fail open, and does.
		{"evaluation error", request{path: "/boom", policy: "conflict"}, 200, true},
		{"evaluation time limit", request{headers: key, authn: "keys", policy: "slow"}, 200, true},
		// The body a policy reads, in every spelling of JSON, is parsed.
		{"JSON in capitals is read", request{method: "POST", body: `{"amount": 5000}`, headers: jsonBody("Application/JSON"), authn: "keys", policy: "reads-body"}, 403, false},
		{"+json is read", request{method: "POST", body: `{"amount": 5000}`, headers: jsonBody("application/merge-patch+json; charset=utf-8"), authn: "keys", policy: "reads-body"}, 403, false},
		{"small amount allowed", request{method: "POST", body: `{"amount": 5}`, headers: jsonBody("application/json"), authn: "keys", policy: "reads-body"}, 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := s
			if tc.r.policy == "slow" {
				srv = limited
			}
			o := srv.check(t, tc.r.build(t))
			if o.status != tc.status || o.decision.FailedOpen != tc.failedOpen {
				t.Fatalf("got %d (failed open %v), want %d (failed open %v); reasons %q",
					o.status, o.decision.FailedOpen, tc.status, tc.failedOpen, o.decision.Reasons)
			}
		})
	}
}
