package regovm

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/gatehouse-dev/gatehouse/policies"
)

var corpusName = regexp.MustCompile(`^[a-z0-9_]+$`)

// TestCorpus is the differential harness: every testdata/corpus/NAME.rego
// is queried at data.corpus.NAME.result with each input of NAME.json, by
// topdown and by the VM, and any difference (value, undefined, error or
// not) fails. A corpus file the VM cannot compile is reported, not
// failed: it is exactly what falls back to topdown.
func TestCorpus(t *testing.T) {
	runCorpusDir(t, filepath.Join("testdata", "corpus"), 10)
}

// TestVMCorpus runs the VM's own policies (testdata/vm), same format.
func TestVMCorpus(t *testing.T) {
	runCorpusDir(t, filepath.Join("testdata", "vm"), 1)
}

func runCorpusDir(t *testing.T, dir string, minFiles int) {
	files, err := filepath.Glob(filepath.Join(dir, "*.rego"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < minFiles {
		t.Fatalf("%s: %d policies, want at least %d", dir, len(files), minFiles)
	}
	sort.Strings(files)
	var cases, compiled, fallbacks int
	var unsupported []string
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".rego")
		if !corpusName.MatchString(name) {
			t.Errorf("%s: name must match %s", file, corpusName)
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		inputs := readInputs(t, strings.TrimSuffix(file, ".rego")+".json")
		p, err := preparePair(t, "data.corpus."+name+".result", module{name: filepath.Base(file), src: string(src)})
		if isUnsupported(err) {
			unsupported = append(unsupported, name+": "+err.Error())
			continue
		}
		if err != nil {
			t.Errorf("%s: compile: %v", name, err)
			continue
		}
		compiled++
		for i, in := range inputs {
			cases++
			if err := p.compare(in); err != nil {
				t.Errorf("%s input %d: %v", name, i, err)
			}
		}
		fallbacks += p.fallbacks
	}
	for _, u := range unsupported {
		t.Logf("unsupported (topdown fallback): %s", u)
	}
	t.Logf("%s: %d policies, %d compiled, %d unsupported, %d cases compared (%d handed back to topdown on a conflict)", dir, len(files), compiled, len(unsupported), cases, fallbacks)
	if cases == 0 {
		t.Fatalf("%s: no case ran", dir)
	}
}

// readInputs reads a JSON array of inputs; a JSON null element stands for
// an undefined input.
func readInputs(t *testing.T, path string) []*ast.Term {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("inputs: %v", err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := make([]*ast.Term, 0, len(raw))
	for _, r := range raw {
		if bytes.Equal(bytes.TrimSpace(r), []byte("null")) {
			out = append(out, nil)
			continue
		}
		var v any
		if err := util.UnmarshalJSON(r, &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		val, err := ast.InterfaceToValue(v)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, ast.NewTerm(val))
	}
	return out
}

// TestLibraryTests runs the Rego tests of the shipped library (policies/)
// through both evaluators: each test rule is a query whose result must be
// the same.
func TestLibraryTests(t *testing.T) {
	var mods []module
	for name, src := range policies.Library() {
		mods = append(mods, module{name: name, src: src})
	}
	tests, err := filepath.Glob(filepath.Join("..", "..", "..", "policies", "*_test.rego"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("library tests: %v %v", tests, err)
	}
	var cases int
	for _, file := range tests {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ast.ParseModule(file, string(src))
		if err != nil {
			t.Fatal(err)
		}
		all := append(mods, module{name: filepath.Base(file), src: string(src)})
		seen := map[string]bool{}
		for _, r := range m.Rules {
			name := r.Head.Name.String()
			if !strings.HasPrefix(name, "test_") || seen[name] {
				continue
			}
			seen[name] = true
			query := m.Package.Path.String() + "." + name
			p, err := preparePair(t, query, all...)
			if isUnsupported(err) {
				t.Logf("%s: unsupported: %v", query, err)
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			cases++
			if err := p.compare(nil); err != nil {
				t.Errorf("%s: %v", query, err)
			}
		}
	}
	t.Logf("library: %d test rules compared", cases)
	if cases == 0 {
		t.Fatal("no library test ran")
	}
}
