package main

import (
	"strings"
	"testing"
)

// Held-back Gateways are listed, sorted, with every reason and what keeps
// being served.
func TestPrintHeld(t *testing.T) {
	var b strings.Builder
	printHeld(&b, map[string][]string{"b": {"Route/y (r.yaml:7) cannot be served (x)"}, "a": {"one", "two"}})
	want := "Gateway a HELD BACK: it keeps its last good configuration (none since this server started) until these Routes resolve or are removed:\n" +
		"  one\n  two\n" +
		"Gateway b HELD BACK: it keeps its last good configuration (none since this server started) until these Routes resolve or are removed:\n" +
		"  Route/y (r.yaml:7) cannot be served (x)\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	printHeld(&b, nil)
	if b.String() != "" {
		t.Errorf("nothing held printed %q", b.String())
	}
}
