package authz_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

const acmeKey = "gh_4XW2b0tqv7nD8gYp1Jc6Rk9sLz3EoHaF5uVmQiTwNyA"

const e2ePolicy = `package envoy.authz

import data.gatehouse.lib

default allow := false

# Anyone identified may read /catalog.
allow if {
	lib.method_is("GET")
	lib.path_prefix("/catalog")
}

# Partners may place orders.
allow if {
	lib.method_is("POST")
	lib.path_is("/orders")
	lib.in_group("partners")
}

# Staff tokens (JWT claim) may use /admin.
allow if {
	lib.path_prefix("/admin")
	lib.claim_equals("department", "staff")
}

# Refunds up to 100 need no approval: a body-based decision.
allow if {
	lib.method_is("POST")
	lib.path_is("/refunds")
	input.parsed_body.amount <= 100
}
`

const headerPolicy = `package envoy.authz

allow := {
	"allowed": true,
	"headers": {"x-tenant": input.gatehouse.consumer, "x-route": input.gatehouse.route},
	"response_headers_to_add": {"x-decided-by": "gatehouse"},
}
`

const errorPolicy = `package envoy.authz

# Disagreeing complete definitions: an evaluation error on every request.
allow := true if input.parsed_path
allow := false if input.parsed_path
`

func e2eConfig() *authz.Config {
	mod := func(s string) map[string]string { return map[string]string{"e2e.rego": s} }
	return &authz.Config{
		APIKeyAuth: map[string]authz.APIKeyAuth{"partner-keys": {Header: "x-api-key"}},
		JWTAuth:    map[string]authz.JWTAuth{"corp-jwt": {Issuer: "https://idp.example.com/"}},
		Consumers: map[string]authz.Consumer{
			"acme":  {APIKeys: []authz.APIKey{{ID: "acme-2026", SHA256: authz.KeyDigest(acmeKey)}}, Groups: []string{"partners"}},
			"globx": {APIKeys: []authz.APIKey{{ID: "g", SHA256: authz.KeyDigest("gh_globx")}}},
			"ops":   {JWTSubjects: []authz.JWTSubject{{Issuer: "https://idp.example.com/", Subject: "ops-bot"}}, Groups: []string{"staff"}},
		},
		Policies: map[string]authz.Policy{
			"shop":      {Modules: mod(e2ePolicy)},
			"headers":   {Modules: mod(headerPolicy)},
			"undefined": {Modules: mod("package envoy.authz\n\nallow if false\n")},
			"broken":    {Modules: mod(errorPolicy)},
			"lenient":   {Modules: mod(errorPolicy), FailOpen: true},
		},
	}
}

func TestEndToEnd(t *testing.T) {
	s := startServer(t, e2eConfig(), nil)
	keyRoute := func(policy string) map[string]string {
		return map[string]string{wire.CtxGateway: "public", wire.CtxRoute: "shop", wire.CtxAuthentication: "corp-jwt,partner-keys", wire.CtxAuthorization: policy}
	}
	key := func(k string) map[string]string { return map[string]string{"x-api-key": k} }
	staff := map[string]any{"corp-jwt": map[string]any{"iss": "https://idp.example.com/", "sub": "ops-bot", "department": "staff", "exp": 2.0e9}}
	sales := map[string]any{"corp-jwt": map[string]any{"iss": "https://idp.example.com/", "sub": "s1", "department": "sales"}}
	jsonBody := func(k string) map[string]string {
		return map[string]string{"x-api-key": k, "content-type": "application/json"}
	}

	tests := []struct {
		name     string
		r        httpReq
		status   int
		consumer string
		check    func(t *testing.T, o outcome)
	}{
		{name: "valid API key", r: httpReq{path: "/catalog/1", headers: key(acmeKey), ext: keyRoute("shop")}, status: 200, consumer: "acme"},
		{name: "invalid API key", r: httpReq{path: "/catalog/1", headers: key(acmeKey + "x"), ext: keyRoute("shop")}, status: 401, consumer: "anonymous",
			check: func(t *testing.T, o outcome) {
				if !strings.Contains(o.client["www-authenticate"], `error="invalid_key"`) {
					t.Errorf("WWW-Authenticate %q", o.client["www-authenticate"])
				}
			}},
		{name: "missing API key", r: httpReq{path: "/catalog/1", ext: keyRoute("shop")}, status: 401, consumer: "anonymous",
			check: func(t *testing.T, o outcome) {
				if w := o.client["www-authenticate"]; !strings.HasPrefix(w, `Bearer realm="public"`) || !strings.Contains(w, `ApiKey realm="public", header="x-api-key"`) {
					t.Errorf("WWW-Authenticate %q", w)
				}
			}},
		{name: "spoofed consumer header overwritten", r: httpReq{path: "/catalog/1", headers: map[string]string{"x-api-key": "gh_globx", wire.ConsumerHeader: "acme"}, ext: keyRoute("shop")}, status: 200, consumer: "globx"},
		{name: "allow by method", r: httpReq{path: "/catalog", headers: key("gh_globx"), ext: keyRoute("shop")}, status: 200, consumer: "globx"},
		{name: "deny by method", r: httpReq{method: "DELETE", path: "/catalog", headers: key(acmeKey), ext: keyRoute("shop")}, status: 403, consumer: "acme"},
		{name: "deny by path", r: httpReq{path: "/internal", headers: key(acmeKey), ext: keyRoute("shop")}, status: 403, consumer: "acme"},
		{name: "allow by group", r: httpReq{method: "POST", path: "/orders", headers: key(acmeKey), ext: keyRoute("shop")}, status: 200, consumer: "acme"},
		{name: "deny by group", r: httpReq{method: "POST", path: "/orders", headers: key("gh_globx"), ext: keyRoute("shop")}, status: 403, consumer: "globx"},
		{name: "allow by JWT claim", r: httpReq{path: "/admin/users", jwt: staff, ext: keyRoute("shop")}, status: 200, consumer: "ops"},
		{name: "deny by JWT claim", r: httpReq{path: "/admin/users", jwt: sales, ext: keyRoute("shop")}, status: 403, consumer: "anonymous"},
		{name: "undefined decision", r: httpReq{headers: key(acmeKey), ext: keyRoute("undefined")}, status: 403, consumer: "acme"},
		{name: "evaluation error", r: httpReq{headers: key(acmeKey), ext: keyRoute("broken")}, status: 403, consumer: "acme"},
		{name: "evaluation error, failOpen", r: httpReq{headers: key(acmeKey), ext: keyRoute("lenient")}, status: 200, consumer: "acme"},
		{name: "header injection", r: httpReq{headers: key(acmeKey), ext: keyRoute("headers")}, status: 200, consumer: "acme",
			check: func(t *testing.T, o outcome) {
				if o.upstream["x-tenant"] != "acme" || o.upstream["x-route"] != "shop" {
					t.Errorf("upstream headers %v", o.upstream)
				}
			}},
		{name: "body allows", r: httpReq{method: "POST", path: "/refunds", body: `{"amount": 99.5}`, headers: jsonBody("gh_globx"), ext: keyRoute("shop")}, status: 200, consumer: "globx"},
		{name: "body denies", r: httpReq{method: "POST", path: "/refunds", body: `{"amount": 250}`, headers: jsonBody("gh_globx"), ext: keyRoute("shop")}, status: 403, consumer: "globx"},
		{name: "malformed body", r: httpReq{method: "POST", path: "/refunds", body: `{"amount":`, headers: jsonBody("gh_globx"), ext: keyRoute("shop")}, status: 400, consumer: "globx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.check(t, tc.r.build(t))
			o := summarize(resp)
			id, _ := o.meta[wire.DecisionIDMetadataKey].(string)
			d, logged := s.logs.byID(id)
			if !logged {
				t.Fatalf("decision id %q in metadata was not logged", id)
			}
			if o.status != tc.status {
				t.Fatalf("status %d, want %d; reasons %q", o.status, tc.status, d.Reasons)
			}
			if o.meta[wire.ConsumerMetadataKey] != tc.consumer || d.Consumer != tc.consumer {
				t.Errorf("consumer: metadata %v, log %q; want %q", o.meta[wire.ConsumerMetadataKey], d.Consumer, tc.consumer)
			}
			if tc.status == 200 && o.upstream[wire.ConsumerHeader] != tc.consumer {
				t.Errorf("upstream %s = %q, want %q", wire.ConsumerHeader, o.upstream[wire.ConsumerHeader], tc.consumer)
			}
			if tc.check != nil {
				tc.check(t, o)
			}
			t.Logf("decision %s: %q", d.ID, d.Reasons)
		})
	}
}
