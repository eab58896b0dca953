package policy

import (
	"fmt"
	"strings"
	"testing"
)

// TestRedirectAndDirectResponse: valid redirects and direct responses load
// as written, with the body read from its file.
func TestRedirectAndDirectResponse(t *testing.T) {
	s := Load(testFS(t, map[string]string{
		"r.yaml": `kind: Route
name: old
spec:
  gateways: [gw]
  match: {path: {prefix: /old}}
  redirect: {scheme: https, host: new.example.com, port: 8443, prefix: /new, code: 308}
---
kind: Route
name: maint
spec:
  gateways: [gw]
  match: {path: {prefix: /maint}}
  directResponse: {status: 503, bodyFile: pages/maint.html, contentType: text/html}
---
kind: Route
name: gone
spec:
  gateways: [gw]
  match: {path: {exact: /v1}}
  directResponse: {status: 410, body: "v1 is gone; use /v2"}
`,
		"pages/maint.html": "<h1>back soon</h1>\n",
	}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatalf("errors: %s", strings.Join(errs, "\n"))
	}
	if rd := s.Routes["old"].Spec.Redirect; rd == nil || rd.Code != 308 || rd.Prefix != "/new" || rd.Port != 8443 {
		t.Errorf("redirect = %+v", rd)
	}
	if dr := s.Routes["maint"].Spec.DirectResponse; dr == nil || dr.BodyText != "<h1>back soon</h1>\n" {
		t.Errorf("direct response from file = %+v", dr)
	}
	if dr := s.Routes["gone"].Spec.DirectResponse; dr == nil || dr.BodyText != "v1 is gone; use /v2" {
		t.Errorf("inline direct response = %+v", dr)
	}
	notes := strings.Join(s.ProxylessNotes(), "\n")
	if notes != "" {
		t.Errorf("routes on host * are not proxyless; notes: %s", notes)
	}
}

// TestRedirectProxylessNote: an answering Route a proxyless client could
// dial is reported as withheld.
func TestRedirectProxylessNote(t *testing.T) {
	s := Load(testFS(t, map[string]string{"r.yaml": route + "  gateways: [gw]\n  hosts: [api.example.com]\n  directResponse: {status: 503}\n"}), nil)
	notes := strings.Join(s.ProxylessNotes(), "\n")
	if !strings.Contains(notes, "Gateway/gw: Route/r is withheld from proxyless gRPC clients") || !strings.Contains(notes, "cannot redirect or answer directly") {
		t.Errorf("notes: %q", notes)
	}
}

// TestBadRedirects: every contradictory or out-of-range redirect, direct
// response and httpsRedirect is rejected with file, line and field.
func TestBadRedirects(t *testing.T) {
	big := strings.Repeat("x", MaxDirectResponseBody+1)
	files := map[string]string{"pages/big.html": big, "pages/ok.txt": "ok"}
	gwAuth := "kind: Authentication\nname: jwt\nspec:\n  jwt:\n    issuer: https://issuer.example.com\n    jwks: {file: keys/jwks.json}\n    audiences: [api]\n"
	for _, tc := range []badCase{
		{"redirect with backends", route + "  gateways: [gw]\n  backends: [{service: a}]\n  redirect: {host: b.example.com}\n",
			3, "Route/r", "spec", "set exactly one of backends, redirect, directResponse"},
		{"redirect and direct response", route + "  gateways: [gw]\n  redirect: {host: b.example.com}\n  directResponse: {status: 200}\n",
			3, "Route/r", "spec", "set exactly one of backends, redirect, directResponse"},
		{"direct response with backends", route + "  gateways: [gw]\n  backends: [{service: a}]\n  directResponse: {status: 200}\n",
			3, "Route/r", "spec", "set exactly one of backends, redirect, directResponse"},
		{"redirect code", route + "  gateways: [gw]\n  redirect: {host: b.example.com, code: 304}\n",
			5, "Route/r", "spec.redirect.code", "304 is not a redirect code; one of 301, 302, 303, 307, 308"},
		{"redirect scheme", route + "  gateways: [gw]\n  redirect: {scheme: http}\n",
			5, "Route/r", "spec.redirect.scheme", `"http" is not allowed; only https`},
		{"redirect path and prefix", route + "  gateways: [gw]\n  redirect: {path: /a, prefix: /b}\n",
			5, "Route/r", "spec.redirect", "set at most one of path, prefix"},
		{"redirect relative path", route + "  gateways: [gw]\n  redirect: {path: a}\n",
			5, "Route/r", "spec.redirect.path", `"a" must start with /`},
		{"redirect header injection", route + "  gateways: [gw]\n  redirect: {path: \"/a\\r\\nx: y\"}\n",
			5, "Route/r", "spec.redirect.path", "must not contain CR, LF or NUL"},
		{"redirect prefix on exact match", route + "  gateways: [gw]\n  match: {path: {exact: /a}}\n  redirect: {prefix: /b}\n",
			6, "Route/r", "spec.redirect.prefix", "the Route must match by prefix"},
		{"redirect to itself", route + "  gateways: [gw]\n  redirect: {code: 302}\n",
			5, "Route/r", "spec.redirect", "set at least one of scheme, host, port, path, prefix"},
		{"redirect port", route + "  gateways: [gw]\n  redirect: {port: 70000}\n",
			5, "Route/r", "spec.redirect.port", "70000 is out of range"},
		{"redirect host", route + "  gateways: [gw]\n  redirect: {host: \"a b\"}\n",
			5, "Route/r", "spec.redirect.host", `"a b" is not a valid hostname`},
		{"redirect with timeout", route + "  gateways: [gw]\n  redirect: {host: b.example.com}\n  timeout: 5s\n",
			6, "Route/r", "spec.timeout", "applies only to a Route with backends"},
		{"status too low", route + "  gateways: [gw]\n  directResponse: {status: 199}\n",
			5, "Route/r", "spec.directResponse.status", "199 is out of range; 200..599"},
		{"status too high", route + "  gateways: [gw]\n  directResponse: {status: 600}\n",
			5, "Route/r", "spec.directResponse.status", "600 is out of range; 200..599"},
		{"status missing", route + "  gateways: [gw]\n  directResponse: {body: hi}\n",
			5, "Route/r", "spec.directResponse.status", "0 is out of range"},
		{"body and bodyFile", route + "  gateways: [gw]\n  directResponse: {status: 200, body: hi, bodyFile: pages/ok.txt}\n",
			5, "Route/r", "spec.directResponse", "set at most one of body, bodyFile"},
		{"body file missing", route + "  gateways: [gw]\n  directResponse: {status: 200, bodyFile: pages/none.html}\n",
			5, "Route/r", "spec.directResponse.bodyFile", "cannot read pages/none.html"},
		{"body file too large", route + "  gateways: [gw]\n  directResponse: {status: 200, bodyFile: pages/big.html}\n",
			5, "Route/r", "spec.directResponse.bodyFile", fmt.Sprintf("pages/big.html is %d bytes; a direct response body is at most %d", MaxDirectResponseBody+1, MaxDirectResponseBody)},
		{"body file outside", route + "  gateways: [gw]\n  directResponse: {status: 200, bodyFile: ../secret}\n",
			5, "Route/r", "spec.directResponse.bodyFile", "points outside the policy directory"},
		{"body file absolute", route + "  gateways: [gw]\n  directResponse: {status: 200, bodyFile: /etc/passwd}\n",
			5, "Route/r", "spec.directResponse.bodyFile", "must be relative"},
		{"inline body too large", route + "  gateways: [gw]\n  directResponse: {status: 200, body: " + big + "}\n",
			5, "Route/r", "spec.directResponse.body", fmt.Sprintf("is %d bytes; at most %d", MaxDirectResponseBody+1, MaxDirectResponseBody)},
		{"content type injection", route + "  gateways: [gw]\n  directResponse: {status: 200, contentType: \"text/html\\r\\nx: y\"}\n",
			5, "Route/r", "spec.directResponse.contentType", "must not contain CR, LF or NUL"},
		{"content type without body", route + "  gateways: [gw]\n  directResponse: {status: 204, contentType: text/plain}\n",
			5, "Route/r", "spec.directResponse.contentType", "needs a body"},
		{"protected direct response", gwAuth + "---\n" + route + "  gateways: [gw]\n  authentication: [jwt]\n  directResponse: {status: 200}\n",
			11, "Route/r", "spec", "a redirect or direct response cannot be protected (it would have authentication on Gateway/gw)"},
		{"https listener redirect", gateway + "    - {name: h, port: 8081, protocol: HTTPS, httpsRedirect: true, tls: {certificate: certs/api.pem, key: certs/api-key.pem}}\n",
			5, "Gateway/g", "spec.listeners[0].httpsRedirect", "only an HTTP listener redirects to HTTPS"},
		{"httpsRedirect false", gateway + "    - {name: h, port: 8081, protocol: HTTP, httpsRedirect: false}\n",
			5, "Gateway/g", "spec.listeners[0].httpsRedirect", "only true is allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := map[string]string{"bad.yaml": tc.yaml}
			for k, v := range files {
				fs[k] = v
			}
			s := Load(testFS(t, fs), nil)
			prefix := fmt.Sprintf("bad.yaml:%d: %s: %s: ", tc.line, tc.ref, tc.path)
			if _, ok := findErr(s, prefix, tc.msg); !ok {
				t.Errorf("no error %q + %q; got:\n%s", prefix, tc.msg, strings.Join(s.Errors(), "\n"))
			}
			if s.Routes["r"] != nil {
				t.Errorf("Route r is served despite errors")
			}
		})
	}
}

// A redirect may set any one part of the URL alone (the "at least one"
// rule needs none of the others), with a port at either end of its range;
// a direct response may use a status at either end of 200..599 and a body
// of exactly MaxDirectResponseBody bytes, inline or from a file.
func TestRedirectAndDirectResponseBoundsLoad(t *testing.T) {
	r := route + "  gateways: [gw]\n"
	max := strings.Repeat("x", MaxDirectResponseBody)
	runAcceptedCases(t, map[string]string{
		"scheme only":    r + "  redirect: {scheme: https}\n",
		"host only":      r + "  redirect: {host: b.example.com}\n",
		"port 1 only":    r + "  redirect: {port: 1}\n",
		"port 65535":     r + "  redirect: {port: 65535}\n",
		"path only":      r + "  redirect: {path: /b}\n",
		"prefix only":    r + "  redirect: {prefix: /b}\n",
		"status 200":     r + "  directResponse: {status: 200}\n",
		"status 599":     r + "  directResponse: {status: 599}\n",
		"largest inline": r + "  directResponse: {status: 200, body: " + max + "}\n",
	})
	s := Load(testFS(t, map[string]string{
		"r.yaml":         r + "  directResponse: {status: 200, bodyFile: pages/max.html}\n",
		"pages/max.html": max,
	}), nil)
	if dr := s.Routes["r"]; dr == nil || len(dr.Spec.DirectResponse.BodyText) != MaxDirectResponseBody {
		t.Errorf("largest body file: %q", s.Errors())
	}
}

// A body file must lie inside the policy directory even when the loader
// can read files beside it (LoadDir, or a ReadFile option, which Rego and
// certificate files may use): a body is served to every client, so a
// policy must not be able to publish ../ files through it. The reader is
// never asked.
func TestBodyFileOutsideNotReadWithReader(t *testing.T) {
	asked := []string{}
	read := func(name string) ([]byte, error) {
		asked = append(asked, name)
		return []byte("secret"), nil
	}
	for _, name := range []string{"../secret", "../../etc/passwd", "pages/../../secret"} {
		src := route + "  gateways: [gw]\n  directResponse: {status: 200, bodyFile: \"" + name + "\"}\n"
		s := LoadWith(testFS(t, map[string]string{"r.yaml": src}), nil, Options{ReadFile: read})
		if s.Routes["r"] != nil {
			t.Errorf("%s: served with body %q", name, s.Routes["r"].Spec.DirectResponse.BodyText)
		}
		if _, ok := findErr(s, "r.yaml:5: Route/r: spec.directResponse.bodyFile: ", "points outside the policy directory; keep body files beside the policies"); !ok {
			t.Errorf("%s: errors %q", name, s.Errors())
		}
	}
	if len(asked) != 0 {
		t.Errorf("reader asked for %q", asked)
	}
}
