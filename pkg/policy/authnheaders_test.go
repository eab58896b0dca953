package policy

import (
	"strings"
	"testing"
)

// jwtClaim is a JWT Authentication (lines 1-11) whose claim header is hdr
// (line 11).
func jwtClaim(name, hdr string) string {
	return "kind: Authentication\nname: " + name + "\nspec:\n  jwt:\n    issuer: https://idp.example.com/\n" +
		"    audiences: [api]\n    jwks:\n      file: keys/jwks.json\n    claimsToHeaders:\n" +
		"      - {claim: sub, header: x-user}\n      - {claim: tenant, header: " + hdr + "}\n"
}

// apiKeyAuth is an apiKey Authentication (lines 1-4) reading hdr (line 4).
func apiKeyAuth(name, hdr string) string {
	return "kind: Authentication\nname: " + name + "\nspec:\n  apiKey: {header: " + hdr + "}\n"
}

// Every Gateway strips every claim header from client requests: a claim
// header that is an apiKey Authentication's header would strip the key
// from every request, and API-key authentication would fail everywhere.
func TestClaimHeaderCannotBeAnAPIKeyHeader(t *testing.T) {
	const keyMsg = `header "x-api-key" is the API-key header of Authentication "keys" (spec.apiKey.header, bad.yaml:16): every Gateway removes claim headers sent by clients, so API keys sent in it would never be checked`
	const claimMsg = `header "x-api-key" is also a claim header of Authentication "corp" (spec.jwt.claimsToHeaders[1].header, bad.yaml:11): every Gateway removes claim headers sent by clients, so API keys sent in it would never be checked`
	runBadCases(t, []badCase{
		{"claim header is an api key header", jwtClaim("corp", "x-api-key") + "---\n" + apiKeyAuth("keys", "x-api-key"),
			11, "Authentication/corp", "spec.jwt.claimsToHeaders[1].header", keyMsg},
		{"api key header is a claim header", jwtClaim("corp", "x-api-key") + "---\n" + apiKeyAuth("keys", "x-api-key"),
			16, "Authentication/keys", "spec.apiKey.header", claimMsg},
		{"names differ only in case", jwtClaim("corp", "X-Api-Key") + "---\n" + apiKeyAuth("keys", "x-API-key"),
			11, "Authentication/corp", "spec.jwt.claimsToHeaders[1].header", `header "x-api-key" is the API-key header of Authentication "keys"`},
	})

	// A claim header that no API key uses, and an API key in a query
	// parameter of the same name, are fine.
	s := Load(testFS(t, map[string]string{"ok.yaml": jwtClaim("corp", "x-tenant") + "---\n" + apiKeyAuth("keys", "x-api-key") +
		"---\nkind: Authentication\nname: qkeys\nspec:\n  apiKey: {query: x-tenant}\n"}), nil)
	if len(s.Rejected) != 0 || len(s.Authentications) != 3 {
		t.Fatalf("valid Authentications rejected: %q", s.Errors())
	}
}

// A last good version carried over or kept must not bring the clash back
// either: each is checked against the Authentications already served.
func TestServedAuthenticationsNeverClash(t *testing.T) {
	route := "kind: Route\nname: r\nspec:\n  gateways: [gw]\n  backends: [{service: a}]\n  authentication: [corp]\n"
	prev := Load(testFS(t, map[string]string{"auth.yaml": jwtClaim("corp", "x-api-key"), "r.yaml": route}), nil)
	if len(prev.Rejected) != 0 {
		t.Fatalf("setup: %q", prev.Errors())
	}
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		// corp is unchanged: both are rejected, corp's last good version is
		// served and keys is not.
		{"api key added next to an unchanged claim", map[string]string{"keys.yaml": apiKeyAuth("keys", "x-api-key")},
			`keys.yaml:4: Authentication/keys: spec.apiKey.header: header "x-api-key" is also a claim header of Authentication "corp"`},
		// corp's edit fails on its own; its last good version would clash
		// with the newly served keys, so it is not carried over.
		{"carried-over claim would clash", map[string]string{
			"auth.yaml": strings.Replace(jwtClaim("corp", "x-tenant"), "issuer: https://idp.example.com/", "issuer: \"\"", 1),
			"keys.yaml": apiKeyAuth("keys", "x-api-key")},
			`auth.yaml:1: Authentication/corp: the previous version cannot be kept either: auth.yaml:1: Authentication/corp: spec.jwt.claimsToHeaders[1].header: header "x-api-key" is now the API-key header of Authentication "keys" (keys.yaml:1)`},
		// corp is deleted while Route r names it: its last good version
		// would be kept, but would clash with keys.
		{"kept claim would clash", map[string]string{"auth.yaml": "", "keys.yaml": apiKeyAuth("keys", "x-api-key")},
			`auth.yaml:1: Authentication/corp: spec.jwt.claimsToHeaders[1].header: header "x-api-key" is now the API-key header of Authentication "keys" (keys.yaml:1)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{"auth.yaml": jwtClaim("corp", "x-api-key"), "r.yaml": route}
			for k, v := range c.files {
				files[k] = v
			}
			next := Load(testFS(t, files), prev)
			found := false
			for _, e := range next.Errors() {
				found = found || strings.HasPrefix(e, c.want)
			}
			if !found {
				t.Errorf("no error %q; got:\n%s", c.want, strings.Join(next.Errors(), "\n"))
			}
			keys := map[string]string{}
			for _, a := range next.Authentications {
				if a.Spec.APIKey != nil && a.Spec.APIKey.Header != "" {
					keys[strings.ToLower(a.Spec.APIKey.Header)] = a.Name
				}
			}
			for _, a := range next.Authentications {
				if a.Spec.JWT == nil {
					continue
				}
				for _, ch := range a.Spec.JWT.ClaimsToHeaders {
					if k, clash := keys[strings.ToLower(ch.Header)]; clash {
						t.Errorf("served: claim header %q of %s is the API-key header of %s", ch.Header, a.Name, k)
					}
				}
			}
		})
	}
}
