package authz

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
)

type materializer interface {
	Materialize() *ast.Term
	Dot(*ast.Term) *ast.Term
}

// The lazy input must read, key by key and as a whole, exactly as the
// eagerly built input: every path through it, missing keys and non-string
// keys included.
func TestLazyInputMatchesBuildInput(t *testing.T) {
	reqs := []req{
		{},
		{method: "POST", path: "/people/7?lang=en&lang=fr", body: `{"a": 1, "b": [true, null]}`,
			headers: map[string]string{"content-type": "application/json", "authorization": "Bearer x", "x-empty": ""},
			ext:     ext("r", "corp-jwt", "p"),
			jwt:     map[string]any{"corp-jwt": map[string]any{"sub": "alice", "exp": 2e9, "iat": 1.5, "roles": []any{"a"}}}},
		{path: "//a/%2F/b", body: "x=1&y=2", headers: map[string]string{"content-type": "application/x-www-form-urlencoded"}},
	}
	ghInfo := gatehouseInfo{"public", "r", "p", identity{consumer: "acme", groups: []string{"partners"}, by: "keys"}}
	gh := gatehouseTerm(ghInfo.gateway, ghInfo.route, ghInfo.policy, ghInfo.id)
	for i, r := range reqs {
		cr := r.build(t)
		cr.Attributes.Source.Principal = "spiffe://x"
		cr.Attributes.Source.Labels = map[string]string{"app": "web"}
		h := cr.Attributes.Request.Http
		h.Size = 1234567890123
		h.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: "x-raw", RawValue: []byte("v")}}}

		want, err := buildInput(cr, 0, gh)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		fresh := func() *lazyRoot {
			l, err := newLazyInput(cr, 0, ghInfo)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			return l
		}
		if got := fresh().Materialize().Value; got.Compare(want) != 0 {
			t.Errorf("request %d: materialized\n got %v\nwant %v", i, got, want)
		}
		n := walkLazy(t, fresh(), ast.NewTerm(want), "input")
		if n < 40 {
			t.Errorf("request %d: only %d paths compared", i, n)
		}
	}
}

// walkLazy compares l.Dot(k) with want[k] for every key of want, and a few
// keys want lacks; it returns the number of paths compared.
func walkLazy(t *testing.T, l materializer, want *ast.Term, at string) int {
	t.Helper()
	obj, ok := want.Value.(ast.Object)
	if !ok {
		t.Errorf("%s: lazy node for a %s", at, ast.ValueName(want.Value))
		return 0
	}
	n := 0
	for _, miss := range []*ast.Term{ast.StringTerm("no-such-key"), ast.IntNumberTerm(1), ast.BooleanTerm(true)} {
		if v := l.Dot(miss); v != nil {
			t.Errorf("%s[%v]: got %v, want undefined", at, miss, v)
		}
		n++
	}
	obj.Foreach(func(k, v *ast.Term) {
		n++
		got := l.Dot(k)
		path := at + "." + k.String()
		if got == nil {
			t.Errorf("%s: undefined, want %v", path, v)
			return
		}
		if lz, ok := got.Value.(materializer); ok {
			n += walkLazy(t, lz, v, path)
			if lz.Materialize().Value.Compare(v.Value) != 0 {
				t.Errorf("%s: materialized %v, want %v", path, lz.Materialize(), v)
			}
			return
		}
		if got.Value.Compare(v.Value) != 0 {
			t.Errorf("%s: got %v, want %v", path, got, v)
		}
	})
	return n
}

// A malformed path or body is an input error, as for buildInput.
func TestLazyInputChecksRequest(t *testing.T) {
	for _, r := range []req{{path: "/a%zz"}, {path: "/a?x=%zz"}, {body: "{", headers: map[string]string{"content-type": "application/json"}}} {
		if _, err := newLazyInput(r.build(t), 0, gatehouseInfo{}); err == nil {
			t.Errorf("%+v: no input error", r)
		}
	}
}

// newLazyInput is a fresh lazy input of req.
func newLazyInput(req *authv3.CheckRequest, maxBody int, gh gatehouseInfo) (*lazyRoot, error) {
	l := &lazyRoot{}
	return l, l.init(req, maxBody, gh, needAll)
}

// The walk every policy makes (input.attributes.request.http, its path
// and method read again and again, a header) allocates only the boxing of
// each string value read into an ast.Value (one allocation each, which Go
// needs for a string in an interface): its nodes and terms come from the
// root's slabs, and a field read twice is read from the node's memo.
// Allocation is what the lazy input is for, so a slab or memo that stopped
// being used would lose it silently.
func TestLazyInputWalkAllocatesFromSlabs(t *testing.T) {
	cr := req{method: "GET", path: "/a/b", headers: map[string]string{"x-tenant": "t1"}}.build(t)
	keys := func(ks ...string) []*ast.Term {
		var out []*ast.Term
		for _, k := range ks {
			out = append(out, ast.StringTerm(k))
		}
		return out
	}
	root, attrs := ast.StringTerm("attributes"), keys("request", "http")
	reads := keys("path", "path", "path", "path", "path", "path", "method", "method")
	headers, tenant := ast.StringTerm("headers"), ast.StringTerm("x-tenant")
	l := &lazyRoot{}
	initOnly := func() {
		*l = lazyRoot{}
		if err := l.init(cr, 0, gatehouseInfo{}, needAll); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]string, 0, 32)
	walk := func() {
		initOnly()
		got = got[:0]
		var http materializer
		for range 3 { // the request and http nodes reached three times
			n := l.Dot(root)
			for _, k := range attrs {
				n = n.Value.(materializer).Dot(k)
			}
			http = n.Value.(materializer)
			for _, k := range reads {
				got = append(got, string(http.Dot(k).Value.(ast.String)))
			}
		}
		got = append(got, string(http.Dot(headers).Value.(materializer).Dot(tenant).Value.(ast.String)))
	}
	walk()
	if want := "/a/b /a/b /a/b /a/b /a/b /a/b GET GET"; strings.Join(got[:8], " ") != want || got[len(got)-1] != "t1" {
		t.Fatalf("walk read %q, want %q three times, then t1", got, want)
	}
	const values = 3 // the path, the method, the header
	base := testing.AllocsPerRun(50, initOnly)
	all := testing.AllocsPerRun(50, walk)
	t.Logf("allocations: init %v, init and walk %v", base, all)
	if all-base != values {
		t.Errorf("the walk allocated %v times beyond init (%v in all), want %d (one per string value read): a slab or memo is not used", all-base, all, values)
	}
}
