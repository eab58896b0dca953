package translate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// FuzzTranslate feeds policy files through policy.Load and Translate: no
// panics; whatever Load accepts either translates or is refused for its
// input, never because the output fails Check (Translate runs Check on
// every group: a Check failure is a translator bug, or a gap in policy
// validation that would make Envoy refuse the config); every output
// passes Check again with its endpoints; and it translates the same way
// twice. Seeds are the golden inputs. The seeds are large, so run
// it with a short -fuzzminimizetime (e.g. 1s): minimizing each new input
// for the default 60s looks like a stall.
func FuzzTranslate(f *testing.F) {
	cases, err := filepath.Glob(filepath.Join("testdata", "in", "*"))
	if err != nil || len(cases) == 0 {
		f.Fatalf("no golden inputs to seed from (%v)", err)
	}
	for _, c := range cases { // every golden input is a seed
		files, _ := filepath.Glob(filepath.Join(c, "*.yaml"))
		var all []byte
		for _, file := range files {
			if filepath.Base(file) == "endpoints.yaml" {
				continue
			}
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			all = append(append(all, b...), []byte("\n---\n")...)
		}
		f.Add(all)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"policy.yaml": &fstest.MapFile{Data: data}}
		snap := policy.Load(fsys, nil)
		groups, err := Translate(snap, Options{})
		if errors.Is(err, errCheck) {
			t.Fatalf("Translate output fails Check: %v", err)
		}
		if err != nil {
			return
		}
		for k, g := range groups {
			if err := Check(g, clasOf(g)); err != nil {
				t.Fatalf("%s: Translate output fails Check: %v", k, err)
			}
		}
		again, err := Translate(snap, Options{})
		if err != nil {
			t.Fatalf("second Translate failed: %v", err)
		}
		if !bytes.Equal(serialize(t, groups), serialize(t, again)) {
			t.Fatal("Translate is not deterministic")
		}
	})
}
