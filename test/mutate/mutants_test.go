package main

import (
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
	if m := ms[1]; !strings.Contains(string(m.apply([]byte(sample))), "if !ok && a == b {") {
		t.Errorf("%s applied: %s", m, m.apply([]byte(sample)))
	}
	if _, err := findMutants(dir, "p.go", []string{"decide", "gone"}); err == nil || !strings.Contains(err.Error(), "no function gone") {
		t.Errorf("a listed function that does not exist: err %v", err)
	}
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
