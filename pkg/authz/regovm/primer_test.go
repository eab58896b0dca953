package regovm

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

const primerQuery = "data.envoy.authz.allow"

func primerModule(t testing.TB) module {
	t.Helper()
	path := filepath.Join("..", "..", "..", "test", "authz", "testdata", "primer_rbac.rego")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return module{name: "primer_rbac.rego", src: string(src)}
}

// hs256 signs claims with key as an HS256 JWT.
func hs256(t testing.TB, key string, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := header + "." + enc.EncodeToString(body)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// envoyInput is shaped as opa-envoy-plugin's input for a request.
func envoyInput(t testing.TB, method, path, authorization string, body map[string]any) *ast.Term {
	t.Helper()
	in := map[string]any{"attributes": map[string]any{"request": map[string]any{"http": map[string]any{
		"method": method, "path": path, "headers": map[string]any{"authorization": authorization},
	}}}}
	if body != nil {
		in["parsed_body"] = body
	}
	v, err := ast.InterfaceToValue(in)
	if err != nil {
		t.Fatal(err)
	}
	return ast.NewTerm(v)
}

func primerToken(t testing.TB, key, role, sub string, now time.Time) string {
	return "Bearer " + hs256(t, key, map[string]any{
		"role": role,
		"sub":  base64.RawURLEncoding.EncodeToString([]byte(sub)),
		"nbf":  now.Add(-time.Minute).Unix(),
		"exp":  now.Add(24 * time.Hour).Unix(),
	})
}

func TestPrimerMatchesTopdown(t *testing.T) {
	p, err := preparePair(t, primerQuery, primerModule(t))
	if err != nil {
		t.Fatal(err)
	}
	if !p.vm.SingleValue() {
		t.Fatal("the primer's plan does not run with EvalValue")
	}
	now := p.now
	cases := []struct {
		name   string
		input  *ast.Term
		expect string
	}{
		{"admin get", envoyInput(t, "GET", "/people/1", primerToken(t, "secret", "admin", "bob", now), nil), "[true]"},
		{"guest get", envoyInput(t, "GET", "/people/2", primerToken(t, "secret", "guest", "alice", now), nil), "[true]"},
		{"guest post", envoyInput(t, "POST", "/people", primerToken(t, "secret", "guest", "alice", now), map[string]any{"firstname": "x"}), "[false]"},
		{"admin post other", envoyInput(t, "POST", "/people", primerToken(t, "secret", "admin", "bob", now), map[string]any{"firstname": "Carol"}), "[true]"},
		{"admin post self", envoyInput(t, "POST", "/people", primerToken(t, "secret", "admin", "bob", now), map[string]any{"firstname": "Bob"}), "[false]"},
		{"bad key", envoyInput(t, "GET", "/people/1", primerToken(t, "wrong", "admin", "bob", now), nil), "[false]"},
		{"no bearer", envoyInput(t, "GET", "/people/1", "garbage", nil), "[false]"},
		{"undefined input", nil, "[false]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := p.compare(c.input); err != nil {
				t.Fatal(err)
			}
			if got := p.vmEval(c.input).String(); got != c.expect {
				t.Fatalf("vm: %s, want %s", got, c.expect)
			}
		})
	}
}

// TestPrimerLazyInput: the primer reads the input only through references,
// so a Lazy input is never materialized.
func TestPrimerLazyInput(t *testing.T) {
	p, err := preparePair(t, primerQuery, primerModule(t))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	in := lazyTerm(envoyInput(t, "GET", "/people/1", primerToken(t, "secret", "admin", "bob", p.now), nil), &n)
	if got := p.vmEval(in).String(); got != "[true]" {
		t.Fatalf("lazy input: %s, want [true]", got)
	}
	if n != 0 {
		t.Fatalf("the input was materialized %d times, want 0", n)
	}
}

func BenchmarkPrimer(b *testing.B) {
	ctx := context.Background()
	p, err := preparePair(b, primerQuery, primerModule(b))
	if err != nil {
		b.Fatal(err)
	}
	input := envoyInput(b, "GET", "/people/1", primerToken(b, "secret", "admin", "bob", time.Now()), nil)
	b.Run("vm", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			rows, err := p.vm.Eval(EvalOptions{Context: ctx, Input: input})
			if err != nil || len(rows) != 1 {
				b.Fatal(rows, err)
			}
		}
	})
	b.Run("vm-value", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			v, err := p.vm.EvalValue(EvalOptions{Context: ctx, Input: input})
			if err != nil || v == nil {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("topdown", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			rs, err := p.td.Eval(ctx, rego.EvalParsedInput(input.Value))
			if err != nil || len(rs) != 1 {
				b.Fatal(rs, err)
			}
		}
	})
}

// BenchmarkTrivial is the VM's fixed cost per evaluation: a rule of one
// comparison.
func BenchmarkTrivial(b *testing.B) {
	p, err := preparePair(b, "data.t.allow", module{name: "t.rego", src: "package t\nimport rego.v1\ndefault allow := false\nallow if input.method == \"GET\"\n"})
	if err != nil {
		b.Fatal(err)
	}
	input := ast.MustParseTerm(`{"method": "GET"}`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rows, err := p.vm.Eval(EvalOptions{Input: input})
		if err != nil || len(rows) != 1 {
			b.Fatal(rows, err)
		}
	}
}
