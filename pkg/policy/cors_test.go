package policy

import (
	"strings"
	"testing"
)

// corsRoute is a valid Route up to its cors block (line 6 is "  cors:").
const corsRoute = route + "  gateways: [gw]\n  backends: [{service: a}]\n  cors:\n"

// TestCORSBadInputs: every mistake in a cors block is reported with file,
// line, object and field, and the object is not served.
func TestCORSBadInputs(t *testing.T) {
	runBadCases(t, []badCase{
		{"cors unknown field", corsRoute + "    origins: [{exact: https://a.example}]\n    allowOrigins: [x]\n",
			8, "Route/r", "spec.cors.allowOrigins", `unknown field "allowOrigins"; allowed: credentials, disabled, exposeHeaders, headers, maxAge, methods, origins`},
		{"cors empty", corsRoute[:len(corsRoute)-1] + " {}\n",
			6, "Route/r", "spec.cors.origins", `required: list at least one origin`},
		{"cors null", corsRoute[:len(corsRoute)-1] + " null\n",
			6, "Route/r", "spec.cors", `must not be empty: list origins (or omit cors)`},
		{"cors origin regex RE2 rejects", corsRoute + "    origins:\n      - regex: 'https://(?!evil).*'\n",
			8, "Route/r", "spec.cors.origins[0].regex", `invalid RE2 regular expression`},
		{"cors origin regex backreference", corsRoute + "    origins:\n      - regex: '(a)\\1'\n",
			8, "Route/r", "spec.cors.origins[0].regex", `invalid RE2 regular expression`},
		{"cors wildcard with credentials", corsRoute + "    credentials: true\n    origins:\n      - exact: '*'\n",
			9, "Route/r", "spec.cors.origins[0].exact", `"*" allows any origin, which credentials: true must not`},
		{"cors match-all regex with credentials", corsRoute + "    credentials: true\n    origins:\n      - regex: '.*'\n",
			9, "Route/r", "spec.cors.origins[0].regex", `".*" matches "*", so it allows any origin`},
		{"cors origin both", corsRoute + "    origins:\n      - {exact: https://a.example, regex: 'https://.*'}\n",
			8, "Route/r", "spec.cors.origins[0]", `set exactly one of exact, regex`},
		{"cors origin with path", corsRoute + "    origins: [{exact: https://a.example/app}]\n",
			7, "Route/r", "spec.cors.origins[0].exact", `"https://a.example/app" is not an origin; write scheme://host[:port]`},
		{"cors origin upper case", corsRoute + "    origins: [{exact: https://A.example}]\n",
			7, "Route/r", "spec.cors.origins[0].exact", `is not an origin`},
		{"cors origin no scheme", corsRoute + "    origins: [{exact: a.example}]\n",
			7, "Route/r", "spec.cors.origins[0].exact", `is not an origin`},
		{"cors duplicate origin", corsRoute + "    origins: [{exact: https://a.example}, {exact: https://a.example}]\n",
			7, "Route/r", "spec.cors.origins[1]", `duplicate origin`},
		{"cors bad method", corsRoute + "    origins: [{exact: https://a.example}]\n    methods: [get]\n",
			8, "Route/r", "spec.cors.methods[0]", `"get" is not an HTTP method`},
		{"cors bad header", corsRoute + "    origins: [{exact: https://a.example}]\n    headers: ['x a']\n",
			8, "Route/r", "spec.cors.headers[0]", `"x a" is not a valid HTTP header name`},
		{"cors duplicate expose header", corsRoute + "    origins: [{exact: https://a.example}]\n    exposeHeaders: [X-A, x-a]\n",
			8, "Route/r", "spec.cors.exposeHeaders[1]", `duplicate header "x-a"`},
		{"cors max age zero", corsRoute + "    origins: [{exact: https://a.example}]\n    maxAge: 0s\n",
			8, "Route/r", "spec.cors.maxAge", `0s is out of range; 1s..24h0m0s`},
		{"cors max age fraction", corsRoute + "    origins: [{exact: https://a.example}]\n    maxAge: 1500ms\n",
			8, "Route/r", "spec.cors.maxAge", `1.5s is not a whole number of seconds`},
		{"cors disabled with fields", corsRoute + "    disabled: true\n    origins: [{exact: https://a.example}]\n",
			6, "Route/r", "spec.cors", `disabled: true takes no other field`},
		{"cors disabled with methods", corsRoute + "    disabled: true\n    methods: [GET]\n",
			6, "Route/r", "spec.cors", `disabled: true takes no other field`},
		{"cors disabled with headers", corsRoute + "    disabled: true\n    headers: [x-a]\n",
			6, "Route/r", "spec.cors", `disabled: true takes no other field`},
		{"cors disabled with expose headers", corsRoute + "    disabled: true\n    exposeHeaders: [x-a]\n",
			6, "Route/r", "spec.cors", `disabled: true takes no other field`},
		{"cors disabled with credentials", corsRoute + "    disabled: true\n    credentials: true\n",
			6, "Route/r", "spec.cors", `disabled: true takes no other field`},
		{"cors disabled with max age", corsRoute + "    disabled: true\n    maxAge: 5s\n",
			6, "Route/r", "spec.cors", `disabled: true takes no other field`},
		{"cors max age past a day", corsRoute + "    origins: [{exact: https://a.example}]\n    maxAge: 24h1s\n",
			8, "Route/r", "spec.cors.maxAge", `24h0m1s is out of range; 1s..24h0m0s`},
		{"cors disabled false", corsRoute + "    disabled: false\n",
			7, "Route/r", "spec.cors.disabled", `only true is allowed`},
		{"gateway cors disabled", gateway + "    - {name: http, port: 8080, protocol: HTTP}\n  defaults:\n    cors: {disabled: true}\n",
			7, "Gateway/g", "spec.defaults.cors.disabled", `only a Route's cors can be disabled`},
		{"gateway cors wildcard with credentials", gateway + "    - {name: http, port: 8080, protocol: HTTP}\n  defaults:\n    cors:\n      credentials: true\n      origins: [{exact: '*'}]\n",
			9, "Gateway/g", "spec.defaults.cors.origins[0].exact", `allows any origin`},
	})
}

// TestCORSEffective: a Route's own cors replaces the Gateway default as a
// whole; disabled turns it off; without either there is none.
func TestCORSEffective(t *testing.T) {
	s := Load(testFS(t, map[string]string{"cors.yaml": `kind: Gateway
name: web
spec:
  listeners: [{name: http, port: 8081, protocol: HTTP}]
  defaults:
    cors:
      origins: [{exact: "https://app.example.com"}, {regex: 'https://[a-z]+\.example\.org'}]
      methods: [GET, POST]
      credentials: true
      maxAge: 10m
---
kind: Route
name: inherits
spec: {gateways: [web], backends: [{service: a}]}
---
kind: Route
name: own
spec:
  gateways: [web]
  backends: [{service: a}]
  cors: {origins: [{exact: "*"}], exposeHeaders: [X-Request-Id]}
---
kind: Route
name: off
spec: {gateways: [web], backends: [{service: a}], cors: {disabled: true}}
---
kind: Route
name: plain
spec: {gateways: [gw], backends: [{service: a}]}
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatalf("unexpected errors:\n%s", strings.Join(errs, "\n"))
	}
	web, gw := s.Gateways["web"], s.Gateways["gw"]
	def := web.Spec.Defaults.CORS
	if def == nil || len(def.Origins) != 2 || def.Origins[1].Regex == "" || !def.Credentials || def.MaxAge.D().Seconds() != 600 {
		t.Fatalf("gateway default decoded wrong: %+v", def)
	}
	for _, tc := range []struct {
		route string
		gw    *Gateway
		want  *CORS
	}{
		{"inherits", web, def},
		{"own", web, s.Routes["own"].Spec.CORS},
		{"off", web, nil},
		{"plain", gw, nil},
	} {
		if got := s.Routes[tc.route].EffectiveCORS(tc.gw); got != tc.want {
			t.Errorf("%s: EffectiveCORS = %+v, want %+v", tc.route, got, tc.want)
		}
	}
	if own := s.Routes["own"].EffectiveCORS(web); own.Credentials || len(own.Methods) != 0 {
		t.Errorf("own: inherited fields of the default: %+v", own)
	}
}

// TestCORSMatchAllRegexWithoutCredentials: the match-all refusal
// ("cors match-all regex with credentials") is about credentials only; the
// same regex without them loads, as exact "*" does.
func TestCORSMatchAllRegexWithoutCredentials(t *testing.T) {
	s := Load(testFS(t, map[string]string{"r.yaml": corsRoute + "    origins:\n      - regex: '.*'\n"}), nil)
	if len(s.Rejected) != 0 || s.Routes["r"] == nil {
		t.Fatalf("rejected: %q", s.Errors())
	}
}

// TestValidOrigin: only a serialized origin as a browser sends it is
// accepted: an http or https scheme, a lower-case host, an optional port.
func TestValidOrigin(t *testing.T) {
	for s, want := range map[string]bool{
		"https://app.example.com": true, "http://app.example.com:8080": true, "http://127.0.0.1:3000": true,
		"ftp://app.example.com": false, "ws://app.example.com": false, "file://app.example.com": false,
		"https://": false, "https:app.example.com": false, "app.example.com": false, "": false,
		"https://u:p@app.example.com": false, "https://App.example.com": false, "HTTPS://app.example.com": false,
		"https://app.example.com/": false, "https://app.example.com?": false, "https://app.example.com#": false,
		"https://app.example.com?a=1": false, "https://app.example.com%": false, "https://app example.com": false,
	} {
		if got := validOrigin(s); got != want {
			t.Errorf("validOrigin(%q) = %v, want %v", s, got, want)
		}
	}
}

// A cors maxAge may be 1s and a whole day, and a Route may turn the
// Gateway's cors off with disabled: true alone.
func TestCORSAccepted(t *testing.T) {
	runAcceptedCases(t, map[string]string{
		"max age one second": corsRoute + "    origins: [{exact: https://a.example}]\n    maxAge: 1s\n",
		"max age a day":      corsRoute + "    origins: [{exact: https://a.example}]\n    maxAge: 24h\n",
		"disabled alone":     corsRoute + "    disabled: true\n",
	})
}
