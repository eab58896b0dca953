package authz

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Tests written to kill surviving mutants of the security decisions (make
// mutate-security; docs/testing.md). Each names the mutant it kills.

// The decision log says which Authentication identified the caller, and
// says nothing of the kind for an anonymous caller: an audit that reads
// "authenticated by" must be able to trust it. Killed mutant: `if id.by
// != ""` negated in decide.
func TestDecisionReasonNamesTheAuthentication(t *testing.T) {
	s, logs := newTestService(t, testConfig())
	anon := ext("r", "partner-keys", "")
	anon[wire.CtxAllowAnonymous] = "true"
	cases := []struct {
		name string
		r    req
		want string // the "authenticated by" reason, "" for none
	}{
		{"api key", req{headers: map[string]string{"x-api-key": testKey}, ext: ext("r", "partner-keys", "")}, "authenticated by partner-keys"},
		{"jwt", req{jwt: map[string]any{"corp-jwt": map[string]any{"iss": "https://idp.example.com/", "sub": "acme-batch"}}, ext: ext("r", "corp-jwt", "")}, "authenticated by corp-jwt"},
		{"anonymous allowed", req{ext: anon}, ""},
		{"no authentication on the route", req{ext: ext("r", "", "")}, ""},
	}
	for _, c := range cases {
		o := check(t, s, c.r.build(t))
		if o.status != 200 {
			t.Fatalf("%s: %v, want 200", c.name, o)
		}
		d := logs.last(t)
		var got []string
		for _, r := range d.Reasons {
			if strings.HasPrefix(r, "authenticated by") {
				got = append(got, r)
			}
		}
		var want []string
		if c.want != "" {
			want = []string{c.want}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: reasons %q, want the authentication reason %q", c.name, d.Reasons, want)
		}
	}
}
