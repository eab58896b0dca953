package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const sample = `package p

func decide(a, b int, ok bool) bool {
	if !ok || a == b {
		return false
	}
	return a+1 < b && true
}

func other(a int) bool { return a == 0 }
`

// The mutants of the listed functions, named by occurrence on their line,
// each applying exactly its change; other functions are left alone.
func TestFindMutants(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	ms, err := findMutants(dir, "p.go", []string{"decide"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.kind()+" @"+m.code)
		mutated := string(m.apply([]byte(sample)))
		if mutated == sample || len(strings.Split(mutated, "\n")) != len(strings.Split(sample, "\n")) {
			t.Errorf("%s: applied wrongly:\n%s", m, mutated)
		}
	}
	want := []string{
		"!-> #1 @if !ok || a == b {",
		"||->&& #1 @if !ok || a == b {",
		"==->!= #1 @if !ok || a == b {",
		"false->true #1 @return false",
		"+->- #1 @return a+1 < b && true",
		"<-><= #1 @return a+1 < b && true",
		"&&->|| #1 @return a+1 < b && true",
		"true->false #1 @return a+1 < b && true",
	}
	if !slices.Equal(got, want) {
		t.Errorf("mutants:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if m := ms[1]; !strings.Contains(string(m.apply([]byte(sample))), "if ((!ok) && (a == b)) {") {
		t.Errorf("%s applied: %s", m, m.apply([]byte(sample)))
	}
	if _, err := findMutants(dir, "p.go", []string{"decide", "gone"}); err == nil || !strings.Contains(err.Error(), "no function gone") {
		t.Errorf("a listed function that does not exist: err %v", err)
	}
}

// A swapped && or || is the tree with that one operator changed, as
// gremlins makes it, whatever the precedence of its neighbours: swapping
// the first && of a && b && c gives (a || b) && c (the text alone would
// re-parse as a || (b && c)), and the second || of a || b || c gives
// (a || b) && c (not a || (b && c)).
func TestLogicalSwapKeepsTheTree(t *testing.T) {
	const src = `package p

func f(a, b, c bool) (bool, bool) {
	return a && b && c, a || b ||
		c
}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	ms, err := findMutants(dir, "p.go", []string{"f"})
	if err != nil {
		t.Fatal(err)
	}
	// Every mutant, evaluated on all eight inputs, against the tree with
	// one operator changed.
	and := func(x, y bool) bool { return x && y }
	or := func(x, y bool) bool { return x || y }
	want := map[string]func(a, b, c bool) bool{
		"&&->|| #1": func(a, b, c bool) bool { return and(or(a, b), c) },
		"&&->|| #2": func(a, b, c bool) bool { return or(and(a, b), c) },
		"||->&& #1": func(a, b, c bool) bool { return or(and(a, b), c) },
		"||->&& #2": func(a, b, c bool) bool { return and(or(a, b), c) },
	}
	if len(ms) != len(want) {
		t.Fatalf("%d mutants, want %d: %v", len(ms), len(want), ms)
	}
	for _, m := range ms {
		mutated := string(m.apply([]byte(src)))
		if len(strings.Split(mutated, "\n")) != len(strings.Split(src, "\n")) {
			t.Errorf("%s moved lines:\n%s", m, mutated)
		}
		f, err := parser.ParseFile(token.NewFileSet(), "p.go", mutated, 0)
		if err != nil {
			t.Fatalf("%s: %v\n%s", m, err, mutated)
		}
		ret := f.Decls[0].(*ast.FuncDecl).Body.List[0].(*ast.ReturnStmt)
		e := ret.Results[0]
		if m.old == "||" {
			e = ret.Results[1]
		}
		for i := range 8 {
			a, b, c := i&1 != 0, i&2 != 0, i&4 != 0
			if got := evalBool(t, e, map[string]bool{"a": a, "b": b, "c": c}); got != want[m.kind()](a, b, c) {
				t.Errorf("%s: f(%v, %v, %v) = %v, want %v in\n%s", m, a, b, c, got, !got, mutated)
			}
		}
	}
}

// evalBool evaluates an expression of &&, ||, parentheses and names.
func evalBool(t *testing.T, e ast.Expr, env map[string]bool) bool {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return evalBool(t, x.X, env)
	case *ast.Ident:
		return env[x.Name]
	case *ast.BinaryExpr:
		l, r := evalBool(t, x.X, env), evalBool(t, x.Y, env)
		if x.Op == token.LAND {
			return l && r
		}
		return l || r
	}
	t.Fatalf("unexpected %T", e)
	return false
}

// An equivalent mutant matches by file, mutation and line text only; a
// listed one that no longer matches is reported stale, and a survivor not
// listed fails the run.
func TestSummarizeSecurity(t *testing.T) {
	m := mutant{file: "p.go", old: "==", new: "!=", nth: 1, code: "if a == b {"}
	other := m
	other.nth = 2
	equiv := []equivalent{{file: "p.go", typ: "==->!= #1", code: "if a == b {", reason: "why"}}
	var b strings.Builder
	if !summarizeSecurity(&b, []result{{m, lived}, {other, killed}}, equiv, 0, true) {
		t.Errorf("listed equivalent failed the run:\n%s", b.String())
	}
	b.Reset()
	if summarizeSecurity(&b, []result{{m, killed}, {other, lived}}, equiv, 0, true) {
		t.Errorf("unlisted survivor passed the run:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "stale equivalent.txt entry") || !strings.Contains(b.String(), "SURVIVED p.go") {
		t.Errorf("summary:\n%s", b.String())
	}
}
