package policy

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

// baseYAML is a small valid policy that bad inputs are loaded next to, so
// every case also shows that one bad object does not take down the rest.
const baseYAML = `kind: Gateway
name: gw
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
---
kind: Service
name: a
spec:
  discovery:
    static: [{address: 127.0.0.1, port: 9001}]
---
kind: Service
name: b
spec:
  discovery:
    static: [{address: 127.0.0.1, port: 9002}]
`

// fixtures are files that policies in tests name.
var fixtures = map[string]string{
	"keys/jwks.json":     `{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`,
	"keys/not-jwks.json": `{"kty": "EC"}`,
	"secrets/introspect": "s3cret\n",
	"secrets/login":      "l0gin-s3cret\n",
	"secrets/hmac":       "0123456789abcdef0123456789abcdef-hmac\n",
	"secrets/short-hmac": "too-short\n",
	"policies/ok.rego":   "package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.request.http.method == \"GET\"\n",
	// Line 4: a rule body that does not parse.
	"policies/broken.rego": "package envoy.authz\n\ndefault allow := false\nallow if { input.x == }\n",
	// Line 5: a call of a function that does not exist (a compile error).
	"policies/undefined.rego": "package envoy.authz\n\ndefault allow := false\n\nallow if no_such_function(input.x)\n",
}

// testFS returns a MapFS with the base policy, the test certificates and
// the given extra files.
func testFS(t testing.TB, files map[string]string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{"base.yaml": {Data: []byte(baseYAML)}}
	for _, c := range []string{"api.pem", "api-key.pem", "internal-ca.pem"} {
		data, err := os.ReadFile("testdata/model/certs/" + c)
		if err != nil {
			t.Fatal(err)
		}
		fsys["certs/"+c] = &fstest.MapFile{Data: data}
	}
	for name, data := range fixtures {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	for name, data := range files {
		if data == "" {
			delete(fsys, name)
			continue
		}
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

// findErr returns the error line starting with prefix and containing msg.
func findErr(s *Snapshot, prefix, msg string) (string, bool) {
	for _, e := range s.Errors() {
		if strings.HasPrefix(e, prefix) && strings.Contains(e[len(prefix):], msg) {
			return e, true
		}
	}
	return "", false
}

func rejectedEntry(s *Snapshot, ref string) *Rejected {
	for i := range s.Rejected {
		if s.Rejected[i].Ref == ref {
			return &s.Rejected[i]
		}
	}
	return nil
}

// inconsistencies lists every way s breaks the Snapshot contract: dangling
// references, and credentials of two Consumers.
func inconsistencies(s *Snapshot) []string {
	var out []string
	need := func(from, kind, name string) {
		if name != "" && s.get(kind, name) == nil {
			out = append(out, fmt.Sprintf("%s: %s %q missing", from, kind, name))
		}
	}
	for name, g := range s.Gateways {
		if d := g.Spec.Defaults; d != nil {
			if d.Authentication != nil {
				for _, a := range *d.Authentication {
					need("Gateway/"+name, KindAuthentication, a)
				}
			}
			if d.RateLimit != RateLimitNone {
				need("Gateway/"+name, KindRateLimit, d.RateLimit)
			}
		}
	}
	for name, r := range s.Routes {
		from := "Route/" + name
		for _, g := range r.Spec.Gateways {
			need(from, KindGateway, g)
			for _, a := range r.EffectiveAuthentication(s.Gateways[g]) {
				need(from, KindAuthentication, a)
			}
			need(from, KindRateLimit, r.EffectiveRateLimit(s.Gateways[g]))
		}
		for _, b := range r.Spec.Backends {
			need(from, KindService, b.Service)
		}
		need(from, KindAuthorization, r.Spec.Authorization)
	}
	keys, subs := map[string]string{}, map[JWTSubject]string{}
	for name, c := range s.Consumers {
		need("Consumer/"+name, KindPlan, c.Spec.Plan)
		for _, k := range c.Spec.APIKeys {
			if other, dup := keys[k.SHA256]; dup && other != name {
				out = append(out, fmt.Sprintf("key hash in Consumers %s and %s", other, name))
			}
			keys[k.SHA256] = name
		}
		for _, sub := range c.Spec.JWTSubjects {
			if other, dup := subs[sub]; dup && other != name {
				out = append(out, fmt.Sprintf("JWT subject in Consumers %s and %s", other, name))
			}
			subs[sub] = name
		}
	}
	sort.Strings(out)
	return out
}

// runAcceptedCases loads each case as r.yaml beside the base policy (and
// the fixtures) and fails on any rejected object: the accepting side of a
// bound or rule, whose refusing side a bad-input table holds.
func runAcceptedCases(t *testing.T, cases map[string]string) {
	t.Helper()
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			s := Load(testFS(t, map[string]string{"r.yaml": src}), nil)
			if len(s.Rejected) != 0 {
				t.Errorf("rejected:\n%s", strings.Join(s.Errors(), "\n"))
			}
		})
	}
}
