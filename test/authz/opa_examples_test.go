package authz_test

import (
	"encoding/base64"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Policies from opa-envoy-plugin's documentation, unchanged, decide as the
// documentation says, on CheckRequests shaped like its documented input.
func TestOPAEnvoyDocumentedPolicies(t *testing.T) {
	cfg := &authz.Config{Policies: map[string]authz.Policy{
		"primer-rbac":     {Modules: map[string]string{"primer_rbac.rego": readFile(t, "primer_rbac.rego")}},
		"primer-controls": {Modules: map[string]string{"primer_controls.rego": readFile(t, "primer_controls.rego")}, Query: "data.envoy.authz.result"},
		"primer-parsed":   {Modules: map[string]string{"primer_parsed.rego": readFile(t, "primer_parsed.rego")}},
	}}
	s := startServer(t, cfg, nil)

	now := time.Now().Unix()
	b64 := base64.URLEncoding.EncodeToString
	guest := hs256(t, map[string]any{"role": "guest", "sub": b64([]byte("alice")), "nbf": now - 60, "exp": now + 3600})
	admin := hs256(t, map[string]any{"role": "admin", "sub": b64([]byte("bob")), "nbf": now - 60, "exp": now + 3600})
	expired := hs256(t, map[string]any{"role": "admin", "sub": b64([]byte("bob")), "nbf": now - 7200, "exp": now - 3600})
	forged := guest[:len(guest)-4] + "AAAA"
	route := func(p string) map[string]string {
		return map[string]string{wire.CtxRoute: "people", wire.CtxAuthorization: p}
	}
	bearer := func(tok string, extra ...string) map[string]string {
		h := map[string]string{"authorization": "Bearer " + tok}
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i]] = extra[i+1]
		}
		return h
	}

	t.Run("primer RBAC", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			r    httpReq
			want int
		}{
			{"guest reads a person", httpReq{path: "/people/1", headers: bearer(guest)}, 200},
			{"guest cannot create", httpReq{method: "POST", path: "/people", body: `{"firstname":"Charlie"}`, headers: bearer(guest, "content-type", "application/json")}, 403},
			{"admin reads a person", httpReq{path: "/people/1", headers: bearer(admin)}, 200},
			{"admin creates someone else", httpReq{method: "POST", path: "/people", body: `{"firstname":"Charlie"}`, headers: bearer(admin, "content-type", "application/json")}, 200},
			{"admin cannot create themselves", httpReq{method: "POST", path: "/people", body: `{"firstname":"Bob"}`, headers: bearer(admin, "content-type", "application/json")}, 403},
			{"expired token", httpReq{path: "/people/1", headers: bearer(expired)}, 403},
			{"bad signature", httpReq{path: "/people/1", headers: bearer(forged)}, 403},
			{"no token", httpReq{path: "/people/1"}, 403},
			{"outside /people", httpReq{path: "/admin", headers: bearer(admin)}, 403},
		} {
			tc.r.ext = route("primer-rbac")
			if o := summarize(s.check(t, tc.r.build(t))); o.status != tc.want {
				t.Errorf("%s: status %d, want %d", tc.name, o.status, tc.want)
			}
		}
	})

	t.Run("primer additional controls", func(t *testing.T) {
		// Allowed: the documented headers go upstream, the response header
		// to the client, and the auth headers are removed.
		resp := s.check(t, httpReq{path: "/people/1", headers: bearer(guest), ext: route("primer-controls")}.build(t))
		o := summarize(resp)
		ok := resp.GetOkResponse()
		if o.status != 200 || o.upstream["x-ext-auth-allow"] != "yes" || o.upstream["x-validated-by"] != "security-checkpoint" {
			t.Fatalf("allowed: %+v", o)
		}
		if rm := ok.GetHeadersToRemove(); len(rm) != 2 || rm[0] != "one-auth-header" || rm[1] != "another-auth-header" {
			t.Errorf("headers to remove %v", rm)
		}
		if rh := ok.GetResponseHeadersToAdd(); len(rh) != 1 || rh[0].GetHeader().GetKey() != "content-type" || rh[0].GetHeader().GetValue() != "application/json" {
			t.Errorf("response headers %v", rh)
		}
		if o.meta["foo"] != "bar" {
			t.Errorf("dynamic metadata %v, want foo: bar", o.meta)
		}
		// Invalid token: 401 "Authentication Failed"; valid but not allowed: 403 "Unauthorized Request".
		o = summarize(s.check(t, httpReq{path: "/people/1", headers: bearer(forged), ext: route("primer-controls")}.build(t)))
		if o.status != 401 || o.body != "Authentication Failed" || o.client["x-ext-auth-allow"] != "yes" {
			t.Errorf("invalid token: %+v", o)
		}
		o = summarize(s.check(t, httpReq{method: "DELETE", path: "/people/1", headers: bearer(guest), ext: route("primer-controls")}.build(t)))
		if o.status != 403 || o.body != "Unauthorized Request" {
			t.Errorf("not allowed: %+v", o)
		}
	})

	t.Run("documented input: parsed_path, parsed_query, parsed_body", func(t *testing.T) {
		var req authv3.CheckRequest
		if err := protojson.Unmarshal([]byte(readFile(t, "primer_input.json")), &req); err != nil {
			t.Fatal(err)
		}
		if o := summarize(s.check(t, &req)); o.status != 200 {
			t.Errorf("documented input: status %d, want 200", o.status)
		}
		// The same request with another first name, a truncated body or another
		// language is denied.
		for name, mutate := range map[string]func(*authv3.AttributeContext_HttpRequest){
			"other name": func(h *authv3.AttributeContext_HttpRequest) { h.Body = `{"firstname": "Dave"}` },
			"truncated":  func(h *authv3.AttributeContext_HttpRequest) { h.Headers["content-length"] = "4096" },
			"other lang": func(h *authv3.AttributeContext_HttpRequest) { h.Path = "/people?lang=fr" },
		} {
			r := protoClone(&req)
			mutate(r.GetAttributes().GetRequest().GetHttp())
			if o := summarize(s.check(t, r)); o.status != 403 {
				t.Errorf("%s: status %d, want 403", name, o.status)
			}
		}
	})
}
