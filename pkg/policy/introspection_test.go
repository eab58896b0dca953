package policy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// introAuth is a valid oauth2Introspection Authentication (lines 1-8).
const introAuth = `kind: Authentication
name: opaque
spec:
  oauth2Introspection:
    endpoint: https://idp.example.com/oauth2/introspect
    issuer: https://idp.example.com/
    clientId: gatehouse
    clientSecretFile: secrets/introspect
`

const introHead = "kind: Authentication\nname: x\nspec:\n  oauth2Introspection:\n" // lines 1-4

const introOK = "    issuer: https://idp.example.com/\n    clientId: gatehouse\n    clientSecretFile: secrets/introspect\n"

const jwtAuth = `kind: Authentication
name: corp-jwt
spec:
  jwt:
    issuer: https://idp.example.com/
    audiences: [api]
    jwks: {file: keys/jwks.json}
`

const keyAuth = "kind: Authentication\nname: keys\nspec:\n  apiKey: {header: x-api-key}\n"

// TestIntrospectionBadInputs: the bad inputs (plain HTTP, an inline
// secret, scopes without token authentication) and the rest.
func TestIntrospectionBadInputs(t *testing.T) {
	r := "---\n" + route + "  gateways: [gw]\n  backends: [{service: a}]\n"
	runBadCases(t, []badCase{
		{"introspection over plain http", introHead + "    endpoint: http://idp.example.com/introspect\n" + introOK,
			5, "Authentication/x", "spec.oauth2Introspection.endpoint", `"http://idp.example.com/introspect" uses plain http: every token and the client secret would cross the network in clear; use https, or set allowInsecureHTTP: true`},
		{"introspection inline secret", introHead + "    endpoint: https://idp.example.com/i\n    issuer: https://idp.example.com/\n    clientId: gatehouse\n    clientSecret: hunter2\n",
			8, "Authentication/x", "spec.oauth2Introspection.clientSecret", `a client secret is never written in the policy; put it in a file and name it with clientSecretFile`},
		{"introspection secret file missing", introHead + "    endpoint: https://idp.example.com/i\n    issuer: https://idp.example.com/\n    clientId: gatehouse\n    clientSecretFile: secrets/nope\n",
			8, "Authentication/x", "spec.oauth2Introspection.clientSecretFile", `cannot read secrets/nope`},
		{"introspection endpoint with an invalid host", introHead + "    endpoint: https://idp_example!/introspect\n" + introOK,
			5, "Authentication/x", "spec.oauth2Introspection.endpoint", `"https://idp_example!/introspect" has no valid host`},
		{"introspection endpoint with a port only", introHead + "    endpoint: https://:443/introspect\n" + introOK,
			5, "Authentication/x", "spec.oauth2Introspection.endpoint", `"https://:443/introspect" has no valid host`},
		{"introspection endpoint without a host", introHead + "    endpoint: https:///introspect\n" + introOK,
			5, "Authentication/x", "spec.oauth2Introspection.endpoint", `"https:///introspect" has no valid host`},
		{"introspection no endpoint", introHead + introOK,
			4, "Authentication/x", "spec.oauth2Introspection.endpoint", `required: the RFC 7662 introspection URL`},
		{"introspection no issuer", introHead + "    endpoint: https://idp.example.com/i\n    clientId: gatehouse\n    clientSecretFile: secrets/introspect\n",
			4, "Authentication/x", "spec.oauth2Introspection.issuer", `required`},
		{"introspection no client id", introHead + "    endpoint: https://idp.example.com/i\n    issuer: https://idp.example.com/\n    clientSecretFile: secrets/introspect\n",
			4, "Authentication/x", "spec.oauth2Introspection.clientId", `required`},
		{"introspection ftp endpoint", introHead + "    endpoint: ftp://idp.example.com/i\n" + introOK,
			5, "Authentication/x", "spec.oauth2Introspection.endpoint", `"ftp://idp.example.com/i" must be an https URL`},
		{"introspection ftp endpoint with http allowed", introHead + "    endpoint: ftp://idp.example.com/i\n    allowInsecureHTTP: true\n" + introOK,
			5, "Authentication/x", "spec.oauth2Introspection.endpoint", `"ftp://idp.example.com/i" must be an https URL`},
		{"introspection credentials in url", introHead + "    endpoint: https://u:p@idp.example.com/i\n" + introOK,
			5, "Authentication/x", "spec.oauth2Introspection.endpoint", `must not carry credentials`},
		{"introspection zero timeout", introHead + "    endpoint: https://idp.example.com/i\n" + introOK + "    timeout: 0s\n",
			9, "Authentication/x", "spec.oauth2Introspection.timeout", `must be greater than 0`},
		{"introspection and jwt", introHead + "    endpoint: https://idp.example.com/i\n" + introOK + "  apiKey: {header: x-k}\n",
			3, "Authentication/x", "spec", `set exactly one of jwt, apiKey, oauth2Introspection`},

		{"introspection ca file missing", introHead + "    endpoint: https://idp.example.com/i\n" + introOK + "    caFile: certs/nope.pem\n",
			9, "Authentication/x", "spec.oauth2Introspection.caFile", `cannot read certs/nope.pem`},
		{"introspection ca file not pem", introHead + "    endpoint: https://idp.example.com/i\n" + introOK + "    caFile: secrets/introspect\n",
			9, "Authentication/x", "spec.oauth2Introspection.caFile", `secrets/introspect holds no PEM certificate`},
		{"introspection ca file on http", introHead + "    endpoint: http://idp.example.com/i\n    allowInsecureHTTP: true\n" + introOK + "    caFile: certs/internal-ca.pem\n",
			10, "Authentication/x", "spec.oauth2Introspection.caFile", `only applies to an https endpoint`},
		{"require without token authentication", introAuth + r + "  require: {scopes: [orders:read]}\n",
			15, "Route/r", "spec.require", `on Gateway/gw the Route has no token authentication (jwt or oauth2Introspection)`},
		{"require with api keys", introAuth + "---\n" + keyAuth + r + "  authentication: [opaque, keys]\n  require: {scopes: [orders:read]}\n",
			21, "Route/r", "spec.require", `also accepts API keys (keys), which carry no scopes or claims`},
		{"jwt and introspection on one route", introAuth + "---\n" + jwtAuth + r + "  authentication: [opaque, corp-jwt]\n",
			23, "Route/r", "spec.authentication", `accepts jwt (corp-jwt) and oauth2Introspection (opaque) tokens`},
		{"require empty", introAuth + r + "  authentication: [opaque]\n  require: {}\n",
			16, "Route/r", "spec.require", `list scopes or claims, or omit require`},
		{"require bad scope", introAuth + r + "  authentication: [opaque]\n  require: {scopes: [\"a b\"]}\n",
			16, "Route/r", "spec.require.scopes[0]", `"a b" is not a scope`},
		{"require duplicate scope", introAuth + r + "  authentication: [opaque]\n  require: {scopes: [a, a]}\n",
			16, "Route/r", "spec.require.scopes[1]", `duplicate scope "a"`},
		{"require claim name with spaces", introAuth + r + "  authentication: [opaque]\n  require: {claims: {\" tenant\": acme}}\n",
			16, "Route/r", "spec.require.claims", `claim name " tenant" is empty or has surrounding spaces`},
		{"require empty claim", introAuth + r + "  authentication: [opaque]\n  require: {claims: {tenant: \"\"}}\n",
			16, "Route/r", "spec.require.claims.tenant", `must not be empty`},
	})
}

// A valid introspection Authentication loads, with the secret's path (not
// the secret) in the Snapshot, and a Route may require scopes with it.
func TestIntrospectionLoads(t *testing.T) {
	s := Load(testFS(t, map[string]string{"ok.yaml": introAuth + "---\n" + route +
		"  gateways: [gw]\n  backends: [{service: a}]\n  authentication: [opaque]\n  require: {scopes: [orders:read], claims: {tenant: acme}}\n"}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	in := s.Authentications["opaque"].Spec.OAuth2Introspection
	if in.ClientSecretPath != "secrets/introspect" || in.ClientSecret != "" || in.ClientSecretValue.Reveal() != "s3cret" {
		t.Errorf("secret path %q secret %q value %q", in.ClientSecretPath, in.ClientSecret, in.ClientSecretValue.Reveal())
	}
	// The secret never shows in what prints or marshals the object.
	js, _ := json.Marshal(s.Authentications["opaque"])
	ys, _ := yaml.Marshal(s.Authentications["opaque"])
	for _, out := range []string{fmt.Sprintf("%v %+v %#v", in, in, in), string(js), string(ys)} {
		if strings.Contains(out, "s3cret") {
			t.Errorf("secret leaks: %s", out)
		}
	}
	if in.CAPEM != nil {
		t.Errorf("CA without caFile: %q", in.CAPEM)
	}
	rq := s.Routes["r"].Spec.Require
	if rq == nil || len(rq.Scopes) != 1 || rq.Claims["tenant"] != "acme" {
		t.Errorf("require %+v", rq)
	}
}

// caFile loads the CA for the endpoint, which reaches the introspector's
// config (pkg/controller passes it on as CAPEM).
func TestIntrospectionCAFile(t *testing.T) {
	s := Load(testFS(t, map[string]string{"ok.yaml": strings.Replace(introAuth, "clientSecretFile: secrets/introspect\n", "clientSecretFile: secrets/introspect\n    caFile: certs/internal-ca.pem\n", 1)}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if in := s.Authentications["opaque"].Spec.OAuth2Introspection; !strings.Contains(string(in.CAPEM), "BEGIN CERTIFICATE") {
		t.Errorf("CAPEM %q", in.CAPEM)
	}
}

// A scope token is RFC 6749 3.3's %x21 / %x23-5B / %x5D-7E: both ends of
// the printable range load, space, DEL, '"' and '\' do not.
func TestScopeTokenEdges(t *testing.T) {
	for _, s := range []string{"!", "~", "#", "[", "]", "orders:read"} {
		if !scopeToken(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"", " ", "\x20a", "a\x7f", `a"`, `a\`, "a\x00", "é"} {
		if scopeToken(s) {
			t.Errorf("%q accepted", s)
		}
	}
}
