package authz

import (
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
)

// A body is cut only when the client declared more than Envoy sent: a
// whole body whose content-length is its size is parsed, one byte more
// declared marks it cut (the policy sees null, never a prefix), and an
// unparsable content-length on a body gatehouse does not parse marks
// nothing. Killed mutants (make mutate, gremlins, lived): parseBody's
// `err == nil && n > int64(len(body))` with `>` moved to `>=` (every
// whole JSON body sent with its length refused as cut) and `&&` turned
// into `||`.
func TestParseBodyContentLength(t *testing.T) {
	body := `{"a":1}`
	cases := []struct {
		name, ct, cl string
		cut, parsed  bool
	}{
		{"exact length", "application/json", "7", false, true},
		{"no length", "application/json", "", false, true},
		{"one byte more declared", "application/json", "8", true, false},
		{"unparsable length, not a parsed type", "text/plain", "seven", false, false},
	}
	for _, c := range cases {
		h := &authv3.AttributeContext_HttpRequest{Body: body, Headers: map[string]string{"content-type": c.ct}}
		if c.cl != "" {
			h.Headers["content-length"] = c.cl
		}
		pb, err := parseBody(h, 0)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		parsed := pb.term != nil && pb.term.Value.Compare(ast.InternedNullTerm.Value) != 0
		if pb.cut != c.cut || parsed != c.parsed {
			t.Errorf("%s: cut=%v parsed=%v (%v), want cut=%v parsed=%v", c.name, pb.cut, parsed, pb.term, c.cut, c.parsed)
		}
	}
}

// The body size limit holds at exactly maxBody: a body of that size is
// parsed, one byte more is cut. Killed mutant: parseBody's
// `len(body) > maxBody` moved to `>=` (make mutate, gremlins, lived).
func TestParseBodyLimitBound(t *testing.T) {
	body := `{"a":1}`
	for _, c := range []struct {
		max int
		cut bool
	}{{len(body), false}, {len(body) - 1, true}} {
		h := &authv3.AttributeContext_HttpRequest{Body: body, Headers: map[string]string{"content-type": "application/json"}}
		pb, err := parseBody(h, c.max)
		if err != nil {
			t.Fatal(err)
		}
		if pb.cut != c.cut || pb.truncated != c.cut {
			t.Errorf("body of %d bytes, limit %d: cut=%v truncated=%v, want %v", len(body), c.max, pb.cut, pb.truncated, c.cut)
		}
	}
}
