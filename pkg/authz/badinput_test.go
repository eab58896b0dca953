package authz

import (
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// Whatever arrives, Check answers with a decision (deny unless the policy
// allows), never a panic or an error.
func TestBadInput(t *testing.T) {
	s, logs := newTestService(t, regoConfig())
	huge := map[string]string{"x-api-key": testKey}
	for i := 0; i < 2000; i++ {
		huge["x-h"+strings.Repeat("a", i%50)+string(rune('a'+i%26))+strings.Repeat("b", i/26)] = strings.Repeat("v", 1000)
	}
	mk := func(r req) *authv3.CheckRequest { return r.build(t) }
	nonUTF8 := mk(req{headers: map[string]string{"x-api-key": testKey}, ext: ext("r", "partner-keys", "rbac")})
	// Built directly: protojson (and the gRPC codec) refuse invalid UTF-8,
	// but a buggy or hostile peer's bytes may still reach Check in-process.
	nonUTF8.Attributes.Request.Http.Path = "/\xff\xfe/%ff?\xc3\x28=1"
	nonUTF8.Attributes.Request.Http.Method = "G\xffT"

	tests := []struct {
		name string
		r    *authv3.CheckRequest
		want int
	}{
		// Nothing names an Authentication or Authorization: like the empty request.
		{"nil request", nil, 200},
		{"empty request", &authv3.CheckRequest{}, 200}, // no route config: nothing required
		{"no http, policy", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{ContextExtensions: ext("r", "", "rbac")}}, 403},
		{"no http, key required", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{ContextExtensions: ext("r", "partner-keys", "")}}, 401},
		{"non-UTF-8 path and method", nonUTF8, 403},
		{"unparsable path", mk(req{path: "/%zz", headers: map[string]string{"x-api-key": testKey}, ext: ext("r", "partner-keys", "rbac")}), 400},
		{"huge headers", mk(req{headers: huge, ext: ext("r", "partner-keys", "rbac")}), 200},
		{"deep json body", mk(req{method: "POST", body: strings.Repeat("[", 30000) + strings.Repeat("]", 30000), headers: map[string]string{"content-type": "application/json", "x-api-key": testKey}, ext: ext("r", "partner-keys", "body")}), 400},
		{"deep json body over the limit", mk(req{method: "POST", body: strings.Repeat("[", 100000) + strings.Repeat("]", 100000), headers: map[string]string{"content-type": "application/json", "x-api-key": testKey}, ext: ext("r", "partner-keys", "body")}), 413},
		{"body over the limit", mk(req{method: "POST", body: `{"amount": 1, "pad": "` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`, headers: map[string]string{"content-type": "application/json", "x-api-key": testKey}, ext: ext("r", "partner-keys", "body")}), 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := s.Check(t.Context(), tc.r)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			o := summarize(t, resp)
			if o.status != tc.want {
				t.Fatalf("got %v, want %d; reasons %q", o, tc.want, logs.last(t).Reasons)
			}
			d := logs.last(t)
			if !strings.Contains(d.Path+d.Method, "\xff") && len(d.ID) == 32 {
				return
			}
			t.Errorf("decision has invalid UTF-8 or no id: %+v", d)
		})
	}
}

func TestPanicBecomesDenial(t *testing.T) {
	s, logs := newTestService(t, testConfig())
	// A compiled policy with neither rule nor query cannot come out of
	// Update; it stands in for a bug that makes decide panic.
	st := *s.state.Load()
	st.policies = map[string]*compiledPolicy{"buggy": {}}
	s.state.Store(&st)
	o := check(t, s, req{ext: ext("r", "", "buggy")}.build(t))
	d := logs.last(t)
	if o.status != 403 || !strings.Contains(strings.Join(d.Reasons, ";"), "internal error") {
		t.Fatalf("got %v, reasons %q; want 403 for an internal error", o, d.Reasons)
	}
}
