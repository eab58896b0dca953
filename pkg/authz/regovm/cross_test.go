package regovm

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestCorpusCrossInputs runs every corpus policy on the first two inputs
// of every other corpus file: shapes a policy's author did not plan for
// (wrong types, missing fields) are where evaluators tend to differ.
func TestCorpusCrossInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("cross inputs: long")
	}
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.rego"))
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus: %v %v", files, err)
	}
	sort.Strings(files)
	var inputs []string
	var terms = map[string]int{}
	var all []*inputCase
	for _, file := range files {
		ins := readInputs(t, strings.TrimSuffix(file, ".rego")+".json")
		for i := 0; i < len(ins) && i < 2; i++ {
			if ins[i] == nil {
				continue
			}
			key := ins[i].String()
			if _, dup := terms[key]; dup {
				continue
			}
			terms[key] = len(all)
			all = append(all, &inputCase{from: filepath.Base(file), term: ins[i]})
			inputs = append(inputs, key)
		}
	}
	var cases int
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".rego")
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		p, err := preparePair(t, "data.corpus."+name+".result", module{name: filepath.Base(file), src: string(src)})
		if err != nil {
			continue // unsupported: TestCorpus reports it
		}
		for _, in := range all {
			cases++
			if err := p.compare(in.term); err != nil {
				t.Errorf("%s on the input of %s: %v", name, in.from, err)
			}
		}
	}
	t.Logf("%d cases compared (%d distinct inputs)", cases, len(inputs))
}

type inputCase struct {
	from string
	term *ast.Term
}
