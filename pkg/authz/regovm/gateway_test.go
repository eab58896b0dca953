package regovm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
)

// TestGatewayPolicies compares the VM with topdown on the Envoy policies
// of test/authz, for their decisions and whole package documents.
func TestGatewayPolicies(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "test", "authz", "testdata")
	files, err := filepath.Glob(filepath.Join(dir, "*.rego"))
	if err != nil || len(files) == 0 {
		t.Fatalf("policies in %s: %v %v", dir, files, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "primer_input.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := util.UnmarshalJSON(raw, &doc); err != nil {
		t.Fatal(err)
	}
	parsed, err := ast.InterfaceToValue(doc)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	inputs := []*ast.Term{
		ast.NewTerm(parsed),
		envoyInput(t, "GET", "/people/1", primerToken(t, "secret", "admin", "bob", now), nil),
		envoyInput(t, "GET", "/people", primerToken(t, "secret", "guest", "bob", now), nil),
		envoyInput(t, "POST", "/people", primerToken(t, "secret", "admin", "bob", now), map[string]any{"firstname": "Ann"}),
		envoyInput(t, "DELETE", "/people/1", primerToken(t, "secret", "admin", "bob", now.Add(-48*time.Hour)), nil),
		nil,
	}
	var cases int
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"data.envoy.authz.allow", "data.envoy.authz"} {
			p, err := preparePair(t, q, module{name: filepath.Base(file), src: string(src)})
			if err != nil {
				t.Fatalf("%s %s: %v", file, q, err)
			}
			for i, in := range inputs {
				cases++
				if err := p.compare(in); err != nil {
					t.Errorf("%s %s input %d: %v", filepath.Base(file), q, i, err)
				}
			}
		}
	}
	t.Logf("%d cases compared", cases)
}

// TestConcurrentEval runs one Program from many goroutines (run with -race
// to check the pooled state is not shared).
func TestConcurrentEval(t *testing.T) {
	p, err := preparePair(t, primerQuery, primerModule(t))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	admin := envoyInput(t, "GET", "/people/1", primerToken(t, "secret", "admin", "bob", now), nil)
	post := envoyInput(t, "POST", "/people", primerToken(t, "secret", "guest", "bob", now), nil)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			in, want := admin, "true"
			if g%2 == 1 {
				in, want = post, "false"
			}
			for i := 0; i < 200; i++ {
				rows, err := p.vm.Eval(EvalOptions{Context: context.Background(), Input: in})
				if err != nil || len(rows) != 1 {
					errs <- fmt.Sprint("eval: ", rows, err)
					return
				}
				var got string
				rows[0].Value.(ast.Object).Foreach(func(_, v *ast.Term) { got = v.String() })
				if got != want {
					errs <- "goroutine got " + got + ", want " + want
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
