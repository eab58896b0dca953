package policy

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// These tests pin the error bookkeeping of objErrs, which every message a
// user reads goes through ("file:line: Kind/name: field: message"). Each
// case kills mutants of pkg/policy/errors.go that the end-to-end tests let
// live (docs/testing.md lists the runs).

func TestObjErrsLineOfWalksUpToThePresentAncestor(t *testing.T) {
	o := newObjErrs("x.yaml", 2)
	o.setLine("spec", 3)
	o.setLine("spec.a", 5)
	o.setLine("spec.list[0]", 7)
	o.setLine("spec", 9) // the first line recorded for a path wins
	for path, want := range map[string]int{
		"spec":             3,
		"spec.a":           5,
		"spec.a.b.c":       5,
		"spec.list[0].x":   7,
		"spec.list[1]":     3,
		"spec.list[0][2]":  7,
		"other":            2,
		"":                 2,
		"metadata.x[3].yz": 2,
	} {
		if got := o.lineOf(path); got != want {
			t.Errorf("lineOf(%q) = %d, want %d", path, got, want)
		}
	}
	if !o.has("spec.a") || o.has("spec.b") || o.has("spec.a.b") {
		t.Errorf("has: spec.a %v, spec.b %v, spec.a.b %v; want true, false, false", o.has("spec.a"), o.has("spec.b"), o.has("spec.a.b"))
	}
}

func TestParentPath(t *testing.T) {
	var got []string
	for p := "spec.backends[1].weight"; p != ""; p = parentPath(p) {
		got = append(got, p)
	}
	want := []string{"spec.backends[1].weight", "spec.backends[1]", "spec.backends", "spec"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parents %q, want %q", got, want)
	}
	for p, want := range map[string]string{"spec": "", "[0]": "", ".x": "", "a[0][1]": "a[0]"} {
		if got := parentPath(p); got != want {
			t.Errorf("parentPath(%q) = %q, want %q", p, got, want)
		}
	}
}

// A validation error on a field that failed to decode, on its parent
// (an aggregate such as a sum of weights) or on its child would only echo
// the decode error; a sibling whose name merely starts the same is
// reported.
func TestAddStaysSilentOnlyAroundADecodeError(t *testing.T) {
	o := newObjErrs("x.yaml", 1)
	o.ref = "Route/r"
	o.setLine("spec", 2)
	o.setLine("spec.w", 3)
	o.setLine("spec.wx", 8)
	o.setLine("spec.v", 9)
	o.setLine("spec.a", 10)
	o.setLine("spec.ab", 11)
	o.decodeErr(4, "spec.w[1].weight", "expected an integer, got %s", "string \"x\"")
	o.decodeErr(12, "spec.a.b", "bad")
	for _, p := range []string{"spec", "spec.w", "spec.w[1]", "spec.w[1].weight", "spec.w[1].weight.x", "spec.a", "spec.a.b", "spec.a.b[0]"} {
		o.add(p, "echo of %s", p)
	}
	o.add("spec.wx", "sibling %d", 1)
	o.add("spec.v", "sibling %d", 2)
	o.add("spec.ab", "sibling %d", 3)
	want := []string{
		`x.yaml:4: Route/r: spec.w[1].weight: expected an integer, got string "x"`,
		"x.yaml:8: Route/r: spec.wx: sibling 1",
		"x.yaml:9: Route/r: spec.v: sibling 2",
		"x.yaml:11: Route/r: spec.ab: sibling 3",
		"x.yaml:12: Route/r: spec.a.b: bad",
	}
	if got := o.messages(); !reflect.DeepEqual(got, want) {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !o.badUnder("spec.w") || !o.badUnder("spec.a") || !o.badUnder("spec.a.b") || o.badUnder("spec.ab") || o.badUnder("spec.w[1].weight.x") || o.badUnder("spec.v") {
		t.Errorf("badUnder wrong: bad set %v", o.bad)
	}
}

func TestAddAtFormatsAndCaps(t *testing.T) {
	o := newObjErrs("dir/x.yaml", 6)
	if o.failed() || o.count() != 0 {
		t.Fatalf("new objErrs: failed %v, count %d", o.failed(), o.count())
	}
	o.addAt(7, "", "no %s", "path")
	if !o.failed() || o.count() != 1 {
		t.Fatalf("after one error: failed %v, count %d", o.failed(), o.count())
	}
	if got := o.messages(); len(got) != 1 || got[0] != "dir/x.yaml:7: dir/x.yaml: no path" {
		t.Errorf("messages %q: want the file as ref and no empty path", got)
	}
	for i := 1; i < maxObjectErrors; i++ {
		o.addAt(100+i, fmt.Sprintf("spec.f%d", i), "e%d", i)
	}
	if got := o.messages(); len(got) != maxObjectErrors || o.count() != maxObjectErrors || strings.Contains(got[len(got)-1], "not shown") {
		t.Fatalf("exactly %d errors: %d messages, count %d, last %q", maxObjectErrors, len(got), o.count(), got[len(got)-1])
	}
	o.addAt(5, "spec.late", "dropped")
	o.addAt(5, "spec.later", "dropped")
	got := o.messages()
	if len(got) != maxObjectErrors+1 || o.count() != maxObjectErrors+2 || len(o.errs) != maxObjectErrors {
		t.Fatalf("%d messages, count %d, kept %d: want %d, %d, %d", len(got), o.count(), len(o.errs), maxObjectErrors+1, maxObjectErrors+2, maxObjectErrors)
	}
	if last := got[len(got)-1]; last != "dir/x.yaml:6: dir/x.yaml: 2 more errors not shown" {
		t.Errorf("last line %q", last)
	}
	for _, m := range got {
		if strings.Contains(m, "spec.late") {
			t.Errorf("an error past the cap was kept: %q", m)
		}
	}
}

// messages orders by line as a number (9 before 10), then by text.
func TestMessagesOrderByLineThenText(t *testing.T) {
	o := newObjErrs("x.yaml", 1)
	o.ref = "Gateway/g"
	o.addAt(10, "spec.a", "ten")
	o.addAt(9, "spec.z", "nine z")
	o.addAt(9, "spec.b", "nine b")
	o.addAt(2, "spec.y", "two")
	want := []string{
		"x.yaml:2: Gateway/g: spec.y: two",
		"x.yaml:9: Gateway/g: spec.b: nine b",
		"x.yaml:9: Gateway/g: spec.z: nine z",
		"x.yaml:10: Gateway/g: spec.a: ten",
	}
	if got := o.messages(); !reflect.DeepEqual(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
}

// Snapshot.Errors orders by file, then line as a number, then text, across
// objects: the order `gatehouse validate` prints.
func TestSnapshotErrorsOrder(t *testing.T) {
	s := &Snapshot{Rejected: []Rejected{
		{Errors: []string{"b.yaml:2: Route/x: late file", "a.yaml:10: Route/y: ten"}},
		{Errors: []string{"a.yaml:9: Route/z: nine z", "a.yaml:9: Route/a: nine a", "a:b.yaml:1: Route/c: colon in name", "a.yaml:19: Route/n: nineteen"}},
	}}
	want := []string{
		"a.yaml:9: Route/a: nine a",
		"a.yaml:9: Route/z: nine z",
		"a.yaml:10: Route/y: ten",
		"a.yaml:19: Route/n: nineteen",
		"a:b.yaml:1: Route/c: colon in name",
		"b.yaml:2: Route/x: late file",
	}
	if got := s.Errors(); !reflect.DeepEqual(got, want) {
		t.Errorf("Errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSplitPos(t *testing.T) {
	for _, c := range []struct {
		msg  string
		file string
		line int
	}{
		{"dir/x.yaml:12: Route/r: spec: bad", "dir/x.yaml", 12},
		{"a:b.yaml:3: m", "a:b.yaml", 3},
		{"x.yaml:90: m", "x.yaml", 90},
		{"x.yaml:0: m", "x.yaml", 0},
		{"x.yaml:19:", "x.yaml", 19},
		{"x.yaml:12", "x.yaml:12", 0},
		{"x.yaml::5: m", "x.yaml:", 5},
		{"x.yaml:1a: m", "x.yaml:1a: m", 0},
		{"no position", "no position", 0},
		{"", "", 0},
		{":", ":", 0},
	} {
		f, l := splitPos(c.msg)
		if f != c.file || l != c.line {
			t.Errorf("splitPos(%q) = %q, %d; want %q, %d", c.msg, f, l, c.file, c.line)
		}
	}
}
