package security_authz

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Oversized CheckRequests get a decision, no panic, and in less time than
// Envoy waits for the call (translate.DefaultAuthzTimeout). Envoy bounds
// what it forwards (max_request_headers_kb up to 8 MiB, the buffered body
// at max_request_bytes); a peer reaching the service port directly is not
// bound, so more than Envoy can forward is refused outright (431).
func TestOversizedCheckRequestsAreDecided(t *testing.T) {
	s := start(t, 0)
	headers := func(n, size int) map[string]string {
		h := map[string]string{"x-api-key": apiKey}
		for i := 0; i < n; i++ {
			h[fmt.Sprintf("x-h-%d", i)] = strings.Repeat("v", size)
		}
		return h
	}
	envoyDefault := headers(500, 100) // ~60 KiB: Envoy's default limit
	twoMiB := headers(20000, 100)
	overEnvoy := headers(90, 100<<10) // 9 MiB
	bigJSON := `{"amount": 1, "pad": "` + strings.Repeat("x", 4<<20) + `"}`
	longPath := "/" + strings.Repeat("a/", 512<<10)
	for _, tc := range []struct {
		name   string
		r      request
		status int
	}{
		{"60 KiB of headers, policy reads the whole input", request{headers: envoyDefault, authn: "keys", policy: "whole-input"}, 200},
		{"2 MiB of headers, group rule", request{headers: twoMiB, authn: "keys", policy: "partners"}, 200},
		{"2 MiB of headers, policy reads the consumer", request{headers: twoMiB, authn: "keys", policy: "reads-consumer"}, 200},
		{"9 MiB of headers, more than Envoy forwards", request{headers: overEnvoy, authn: "keys", policy: "whole-input"}, 431},
		{"4 MiB JSON body, policy reads it", request{method: "POST", body: bigJSON, headers: map[string]string{"x-api-key": apiKey, "content-type": "application/json"}, authn: "keys", policy: "reads-body"}, 413},
		{"4 MiB JSON body, policy reads the whole input", request{method: "POST", body: bigJSON, headers: map[string]string{"x-api-key": apiKey, "content-type": "application/json"}, authn: "keys", policy: "whole-input"}, 413},
		{"1 MiB path, policy reads the consumer", request{path: longPath, headers: map[string]string{"x-api-key": apiKey}, authn: "keys", policy: "reads-consumer"}, 200},
		{"1 MiB query of bad escapes", request{path: "/?" + strings.Repeat("%zz", 350<<10), policy: "whole-input"}, 400},
		{"1 MiB path, no credential", request{path: longPath, authn: "keys", policy: "whole-input"}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := s.check(t, tc.r.build(t))
			if o.status != tc.status {
				t.Fatalf("got %d, want %d; reasons %q", o.status, tc.status, o.decision.Reasons)
			}
			if d := o.decision.Duration; d > translate.DefaultAuthzTimeout {
				t.Errorf("decided in %v, over Envoy's %v call timeout", d, translate.DefaultAuthzTimeout)
			}
			t.Logf("decided in %v", o.decision.Duration)
		})
	}
	t.Run("9 MiB path, sent by a peer that is not Envoy", func(t *testing.T) {
		cr := request{path: "/" + strings.Repeat("a", 9<<20), headers: map[string]string{"x-api-key": apiKey}, authn: "keys", policy: "allow-all"}.build(t)
		delete(cr.Attributes.Request.Http.Headers, ":path") // only the path field is huge
		if o := s.check(t, cr); o.status != 431 || o.decision.Duration > translate.DefaultAuthzTimeout {
			t.Fatalf("got %d in %v, want 431; reasons %q", o.status, o.decision.Duration, o.decision.Reasons)
		}
	})
	// A policy that serializes the whole input pays for its size in a
	// built-in no time limit interrupts: measured, not bounded (see
	// docs/security/authz.md). It still gets a decision.
	for name, r := range map[string]request{
		"2 MiB of headers": {headers: twoMiB, authn: "keys", policy: "whole-input"},
		"1 MiB path":       {path: longPath, headers: map[string]string{"x-api-key": apiKey}, authn: "keys", policy: "whole-input"},
	} {
		o := s.check(t, r.build(t))
		t.Logf("whole input, %s: status %d in %v (failed open %v)", name, o.status, o.decision.Duration, o.decision.FailedOpen)
	}
}
