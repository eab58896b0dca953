package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// FuzzLoad feeds arbitrary bytes as one policy file next to a valid base.
// Load must never panic, every error must carry a "file:line:" position,
// and the Snapshot must stay internally consistent (references resolve,
// credentials identify one Consumer).
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/model/*.yaml")
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(routeR))
	f.Add([]byte(routeR + "---\n" + routeQ + "  timeout: 1x\n"))
	f.Add([]byte("kind: Route\nname: r\nspec: {gateways: [gw], backends: [{service: a, weight: *x}]}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	base := testFS(f, nil)
	f.Add([]byte(policiesYAML + "---\n" + authzYAML + "---\n" + routeZ))
	f.Add([]byte("kind: Consumer\nname: c\nspec:\n  apiKeys: [{id: k, sha256: " + hashA + "}]\n  plan: p\n---\nkind: Plan\nname: p\nspec: {quota: {requests: 5, per: day}}\n"))
	f.Add([]byte("kind: Authorization\nname: i\nspec:\n  inline: |\n    package p\n    allow if input.x\n  query: data.p.allow\n"))
	f.Add([]byte("kind: Authentication\nname: j\nspec:\n  jwt: {issuer: i, audiences: [a], jwks: {file: keys/jwks.json}}\n"))
	// prev serves one object of every kind from f.yaml, so fuzzed edits of
	// f.yaml exercise carry-over of each.
	prevYAML := policiesYAML + "---\n" + authzYAML + "---\n" + routeZ +
		"---\nkind: Consumer\nname: c\nspec:\n  apiKeys: [{id: k, sha256: " + hashA + "}]\n  plan: p\n---\nkind: Plan\nname: p\nspec: {quota: {requests: 5, per: day}}\n" +
		"---\nkind: Gateway\nname: g2\nspec:\n  listeners: [{name: h, port: 9090, protocol: HTTP}]\n  defaults: {authentication: [keys], rateLimit: rl}\n"
	prev := Load(testFS(f, map[string]string{"f.yaml": prevYAML}), nil)
	if len(prev.Rejected) != 0 {
		f.Fatalf("prev: %q", prev.Errors())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"f.yaml": {Data: data}}
		for k, v := range base {
			fsys[k] = v
		}
		for _, p := range []*Snapshot{nil, prev} {
			// A hang is a bug too: fail (and so save the input) instead of
			// stalling the fuzzer.
			done := make(chan *Snapshot, 1)
			go func() { done <- Load(fsys, p) }()
			var s *Snapshot
			select {
			case s = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("Load took over 10s on %q", data)
			}
			for _, e := range s.Errors() {
				file, line := splitPos(e)
				if (file != "f.yaml" && file != "base.yaml") || line < 1 {
					t.Fatalf("error without position: %q", e)
				}
			}
			if bad := inconsistencies(s); len(bad) > 0 {
				t.Fatalf("inconsistent snapshot: %q", bad)
			}
			for i := 1; i < len(s.Rejected); i++ {
				a, b := s.Rejected[i-1], s.Rejected[i]
				if a.File > b.File || (a.File == b.File && a.Line > b.Line) {
					t.Fatalf("Rejected not sorted: %+v before %+v", a, b)
				}
			}
			if strings.Contains(strings.Join(s.Errors(), "\n"), "internal:") {
				t.Fatalf("internal error: %q", s.Errors())
			}
		}
	})
}
