package policy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const loginHead = "kind: Authentication\nname: x\nspec:\n  oauth2Login:\n" // lines 1-4

// loginOK is the rest of a valid oauth2Login (lines 5-9).
const loginOK = "    authorizationEndpoint: https://idp.example.com/oauth2/auth\n" +
	"    tokenEndpoint: https://idp.example.com/oauth2/token\n" +
	"    clientId: web\n" +
	"    clientSecretFile: secrets/login\n" +
	"    hmacSecretFile: secrets/hmac\n"

// httpsGateway serves Routes over HTTPS only.
const httpsGateway = `kind: Gateway
name: web
spec:
  listeners:
    - name: https
      port: 8443
      protocol: HTTPS
      tls:
        certificate: certs/api.pem
        key: certs/api-key.pem
`

// TestLoginBadInputs: every rule of an oauth2Login Authentication and of
// the Routes using it, each with its file, line and field.
func TestLoginBadInputs(t *testing.T) {
	without := func(line string) string { return strings.Replace(loginOK, line, "", 1) }
	r := "---\n" + route + "  gateways: [gw]\n  backends: [{service: a}]\n"
	login := strings.Replace(loginHead, "name: x", "name: login", 1) + loginOK // lines 1-9
	runBadCases(t, []badCase{
		{"login inline client secret", loginHead + without("    clientSecretFile: secrets/login\n") + "    clientSecret: hunter2\n",
			9, "Authentication/x", "spec.oauth2Login.clientSecret", "a client secret is never written in the policy"},
		{"login inline hmac secret", loginHead + without("    hmacSecretFile: secrets/hmac\n") + "    hmacSecret: hunter2hunter2hunter2hunter2hunter2\n",
			9, "Authentication/x", "spec.oauth2Login.hmacSecret", "the cookie-signing key is never written in the policy"},
		{"login missing secret file", loginHead + strings.Replace(loginOK, "secrets/login", "secrets/nope", 1),
			8, "Authentication/x", "spec.oauth2Login.clientSecretFile", "cannot read secrets/nope"},
		{"login missing hmac file", loginHead + without("    hmacSecretFile: secrets/hmac\n"),
			4, "Authentication/x", "spec.oauth2Login.hmacSecretFile", "required: a file path"},
		{"login short hmac", loginHead + strings.Replace(loginOK, "secrets/hmac", "secrets/short-hmac", 1),
			9, "Authentication/x", "spec.oauth2Login.hmacSecretFile", "secrets/short-hmac holds 9 bytes; the cookie-signing key needs at least 32"},
		{"login http token endpoint", loginHead + strings.Replace(loginOK, "https://idp.example.com/oauth2/token", "http://idp.example.com/oauth2/token", 1),
			6, "Authentication/x", "spec.oauth2Login.tokenEndpoint", "uses plain http: codes, tokens and the client secret would cross the network in clear"},
		// A host that parses but is no valid name is refused, as an empty one is.
		{"login token endpoint with an invalid host", loginHead + strings.Replace(loginOK, "https://idp.example.com/oauth2/token", "https://idp_example!/oauth2/token", 1),
			6, "Authentication/x", "spec.oauth2Login.tokenEndpoint", `"https://idp_example!/oauth2/token" has no valid host`},
		{"login token endpoint with a port only", loginHead + strings.Replace(loginOK, "https://idp.example.com/oauth2/token", "https://:443/oauth2/token", 1),
			6, "Authentication/x", "spec.oauth2Login.tokenEndpoint", `"https://:443/oauth2/token" has no valid host`},
		{"login no authorization endpoint", loginHead + without("    authorizationEndpoint: https://idp.example.com/oauth2/auth\n"),
			4, "Authentication/x", "spec.oauth2Login.authorizationEndpoint", "required"},
		{"login no client id", loginHead + without("    clientId: web\n"),
			4, "Authentication/x", "spec.oauth2Login.clientId", "required"},
		{"login http redirect uri", loginHead + loginOK + "    redirectURI: http://app.example.com/oauth2/callback\n",
			10, "Authentication/x", "spec.oauth2Login.redirectURI", "uses plain http, but the session cookies are always Secure"},
		{"login redirect uri without host", loginHead + loginOK + "    redirectURI: https:///oauth2/callback\n",
			10, "Authentication/x", "spec.oauth2Login.redirectURI", `"https:///oauth2/callback" is not an absolute URL`},
		{"login redirect uri relative", loginHead + loginOK + "    redirectURI: /oauth2/callback\n",
			10, "Authentication/x", "spec.oauth2Login.redirectURI", `"/oauth2/callback" is not an absolute URL`},
		{"login redirect uri query", loginHead + loginOK + "    redirectURI: https://app.example.com/oauth2/callback?a=1\n",
			10, "Authentication/x", "spec.oauth2Login.redirectURI", "must not carry a query, fragment or credentials"},
		{"login redirect uri fragment", loginHead + loginOK + "    redirectURI: https://app.example.com/oauth2/callback#x\n",
			10, "Authentication/x", "spec.oauth2Login.redirectURI", "must not carry a query, fragment or credentials"},
		{"login redirect uri credentials", loginHead + loginOK + "    redirectURI: https://u:p@app.example.com/oauth2/callback\n",
			10, "Authentication/x", "spec.oauth2Login.redirectURI", "must not carry a query, fragment or credentials"},
		{"login ftp token endpoint", loginHead + strings.Replace(loginOK, "https://idp.example.com/oauth2/token", "ftp://idp.example.com/oauth2/token", 1) + "    allowInsecureHTTP: true\n",
			6, "Authentication/x", "spec.oauth2Login.tokenEndpoint", `"ftp://idp.example.com/oauth2/token" must be an https URL`},
		{"login redirect uri path", loginHead + loginOK + "    redirectURI: https://app.example.com/cb\n",
			10, "Authentication/x", "spec.oauth2Login.redirectURI", `path "/cb" differs from redirectPath "/oauth2/callback"`},
		{"login same paths", loginHead + loginOK + "    redirectPath: /auth\n    logoutPath: /auth\n",
			11, "Authentication/x", "spec.oauth2Login.logoutPath", `"/auth" is also the redirect path`},
		{"login wildcard path", loginHead + loginOK + "    logoutPath: /out*\n",
			10, "Authentication/x", "spec.oauth2Login.logoutPath", "must be a plain absolute path"},
		{"login samesite none", loginHead + loginOK + "    sameSite: None\n",
			10, "Authentication/x", "spec.oauth2Login.sameSite", "None would send the session cookies with cross-site requests"},
		{"login end session without openid", loginHead + loginOK + "    endSessionEndpoint: https://idp.example.com/logout\n    scopes: [profile]\n",
			10, "Authentication/x", "spec.oauth2Login.endSessionEndpoint", "needs the openid scope"},
		{"login bad scope", loginHead + loginOK + "    scopes: [\"a b\"]\n",
			10, "Authentication/x", "spec.oauth2Login.scopes[0]", `"a b" is not a scope`},
		{"login http issuer", loginHead + "    issuer: http://idp.example.com/\n    clientId: web\n    clientSecretFile: secrets/login\n    hmacSecretFile: secrets/hmac\n",
			5, "Authentication/x", "spec.oauth2Login.issuer", "uses plain http"},
		{"login issuer with query", loginHead + "    issuer: https://idp.example.com/?tenant=a\n    clientId: web\n    clientSecretFile: secrets/login\n    hmacSecretFile: secrets/hmac\n",
			5, "Authentication/x", "spec.oauth2Login.issuer", "must not have a query or fragment"},
		{"login neither issuer nor token endpoint", loginHead + without("    tokenEndpoint: https://idp.example.com/oauth2/token\n"),
			4, "Authentication/x", "spec.oauth2Login.tokenEndpoint", "or name the issuer and let gatehouse discover it"},
		{"login unknown field", loginHead + loginOK + "    cookieDomain: example.com\n",
			10, "Authentication/x", "spec.oauth2Login.cookieDomain", `unknown field "cookieDomain"; allowed: allowInsecureHTTP, authorizationEndpoint, clientId, clientSecret, clientSecretFile, endSessionEndpoint, hmacSecret, hmacSecretFile, issuer, logoutPath, redirectPath, redirectURI, sameSite, scopes, tokenEndpoint`},
		{"login and jwt", loginHead + loginOK + "  apiKey: {header: x-k}\n",
			3, "Authentication/x", "spec", "set exactly one of jwt, apiKey, oauth2Introspection, clientCertificate, oauth2Login"},

		// Route rules.
		{"login without token authentication", login + "---\n" + route + "  gateways: [gw]\n  backends: [{service: a}]\n  authentication: [login]\n",
			16, "Route/r", "spec.authentication", "on Gateway/gw the Route uses browser login (login) without a jwt or oauth2Introspection Authentication"},
		{"login on plain http listener", login + "---\n" + jwtAuth + r + "  authentication: [login, corp-jwt]\n",
			24, "Route/r", "spec.authentication", `on Gateway/gw the Route uses browser login (login), but listener "http" serves it over plain http`},
	})
}

// A valid login Authentication loads with defaults, its secrets never
// print, and a Route on an HTTPS Gateway may use it with a JWT.
func TestLoginLoads(t *testing.T) {
	login := strings.Replace(loginHead, "name: x", "name: login", 1) + loginOK
	s := Load(testFS(t, map[string]string{"ok.yaml": login + "---\n" + jwtAuth + "---\n" + httpsGateway + "---\n" + route +
		"  gateways: [web]\n  backends: [{service: a}]\n  authentication: [login, corp-jwt]\n  require: {scopes: [orders:read]}\n"}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	l := s.Authentications["login"].Spec.OAuth2Login
	if l.ClientSecretValue.Reveal() != "l0gin-s3cret" || l.HMACSecretPath != "secrets/hmac" || l.Redirect() != "/oauth2/callback" ||
		l.Logout() != "/oauth2/logout" || l.CookieSameSite() != "Lax" || strings.Join(l.LoginScopes(), " ") != "openid" {
		t.Errorf("login %+v", l)
	}
	js, _ := json.Marshal(s.Authentications["login"])
	ys, _ := yaml.Marshal(s.Authentications["login"])
	for _, out := range []string{fmt.Sprintf("%v %+v %#v", l, l, l), string(js), string(ys)} {
		if strings.Contains(out, "l0gin-s3cret") || strings.Contains(out, "0123456789abcdef") {
			t.Errorf("secret leaks: %s", out)
		}
	}
}

// A login may name its issuer only: the endpoints come from discovery.
func TestLoginIssuerOnly(t *testing.T) {
	src := strings.Replace(loginHead, "name: x", "name: login", 1) +
		"    issuer: https://idp.example.com/\n    clientId: web\n    clientSecretFile: secrets/login\n    hmacSecretFile: secrets/hmac\n"
	s := Load(testFS(t, map[string]string{"ok.yaml": src}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if l := s.Authentications["login"].Spec.OAuth2Login; l.Issuer != "https://idp.example.com/" || l.TokenEndpoint != "" {
		t.Errorf("login %+v", l)
	}
}

// Two logins on one Gateway that answer on the same callback or logout
// path: the later Route is refused (one login's callback would be taken by
// the other); different paths load.
func TestLoginPathClash(t *testing.T) {
	login := func(name, extra string) string {
		return strings.Replace(loginHead, "name: x", "name: "+name, 1) + loginOK + extra + "---\n"
	}
	routeOn := func(name, prefix, authn string) string {
		return "---\nkind: Route\nname: " + name + "\nspec:\n  gateways: [web]\n  match: {path: {prefix: " + prefix + "}}\n  backends: [{service: a}]\n  authentication: [" + authn + ", corp-jwt]\n"
	}
	base := login("one", "") + login("two", "    redirectPath: /two/callback\n") + jwtAuth + "---\n" + httpsGateway + routeOn("p", "/", "one")
	clash := base + routeOn("r", "/two", "two")
	line := strings.Count(clash[:strings.LastIndex(clash, "authentication: [two")], "\n") + 1
	runBadCases(t, []badCase{
		{"login logout path shared", clash, line, "Route/r", "spec.authentication",
			"on Gateway/web the browser logins two (this Route) and one (Route/p) both answer on /oauth2/logout"},
	})
	ok := strings.Replace(base, "    redirectPath: /two/callback\n", "    redirectPath: /two/callback\n    logoutPath: /two/logout\n", 1) + routeOn("r", "/two", "two")
	s := Load(testFS(t, map[string]string{"ok.yaml": ok}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}

	// A Route refused for another reason takes no paths: the one after it
	// loads (here p names a Service that does not exist).
	broken := strings.Replace(clash, "  match: {path: {prefix: /}}\n  backends: [{service: a}]\n", "  match: {path: {prefix: /}}\n  backends: [{service: nope}]\n", 1)
	if broken == clash {
		t.Fatal("setup: Route p not changed")
	}
	s = Load(testFS(t, map[string]string{"ok.yaml": broken}), nil)
	if s.Routes["r"] == nil || rejectedEntry(s, "Route/r") != nil || rejectedEntry(s, "Route/p") == nil {
		t.Errorf("with Route p refused: %q", s.Errors())
	}
}

// The login's cookie-signing key may be exactly minHMACSecretBytes long
// (one byte less is refused, as the short key of TestLoginBadInputs is).
func TestLoginHMACSecretLength(t *testing.T) {
	src := loginHead + strings.Replace(loginOK, "secrets/hmac", "secrets/hmac-edge", 1)
	for n, ok := range map[int]bool{minHMACSecretBytes: true, minHMACSecretBytes - 1: false} {
		s := Load(testFS(t, map[string]string{"x.yaml": src, "secrets/hmac-edge": strings.Repeat("k", n) + "\n"}), nil)
		l := s.Authentications["x"]
		if ok && (l == nil || l.Spec.OAuth2Login.HMACSecretValue.Reveal() != strings.Repeat("k", n)) {
			t.Errorf("%d bytes: %q", n, s.Errors())
		}
		if _, refused := findErr(s, "x.yaml:9: Authentication/x: spec.oauth2Login.hmacSecretFile: ", fmt.Sprintf("holds %d bytes", n)); refused == ok {
			t.Errorf("%d bytes: refused %v; errors %q", n, refused, s.Errors())
		}
	}
}

// A browser login's token may be verified by oauth2Introspection as well
// as by jwt.
func TestLoginWithIntrospectionLoads(t *testing.T) {
	login := strings.Replace(loginHead, "name: x", "name: login", 1) + loginOK
	s := Load(testFS(t, map[string]string{"ok.yaml": login + "---\n" + introAuth + "---\n" + httpsGateway + "---\n" + route +
		"  gateways: [web]\n  backends: [{service: a}]\n  authentication: [login, opaque]\n"}), nil)
	if errs := s.Errors(); len(errs) > 0 || s.Routes["r"] == nil {
		t.Fatal(errs)
	}
}

// A login with an explicit https redirectURI on its callback path loads.
func TestLoginRedirectURILoads(t *testing.T) {
	s := Load(testFS(t, map[string]string{"x.yaml": loginHead + loginOK + "    redirectURI: https://app.example.com/oauth2/callback\n"}), nil)
	if l := s.Authentications["x"]; l == nil || l.Spec.OAuth2Login.RedirectURI != "https://app.example.com/oauth2/callback" {
		t.Errorf("errors: %q", s.Errors())
	}
}
