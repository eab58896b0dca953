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
// and the Snapshot must stay internally consistent.
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
	prev := Load(testFS(f, map[string]string{"f.yaml": routeR}), nil)
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
			for name, r := range s.Routes {
				for _, g := range r.Spec.Gateways {
					if s.Gateways[g] == nil {
						t.Fatalf("Route %s: dangling Gateway %q", name, g)
					}
				}
				for _, b := range r.Spec.Backends {
					if s.Services[b.Service] == nil {
						t.Fatalf("Route %s: dangling Service %q", name, b.Service)
					}
				}
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
