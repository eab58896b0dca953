package server

import (
	"slices"
	"strings"
	"testing"
)

// An endpoint-only change patches the delta view: only the changed CLA gets
// a new encoding and is listed as changed; every other encoding is the
// previous one (still shared by every stream).
func TestDeltaSnapPatchesOnlyChangedNames(t *testing.T) {
	p := newTestPublisher(t)
	f := newFixture("gw", "envoy", 30, 2)
	mustPublish(t, p, f.groups(), f.clas)
	before := p.delta.groups[f.key].cur.types[tEndpoints]

	g := f.clone()
	g.clas[edsName(4)] = testCLA(edsName(4), 20000, 2)
	mustPublish(t, p, g.groups(), g.clas)
	after := p.delta.groups[f.key].cur.types[tEndpoints]

	if !slices.Equal(after.changed, []string{edsName(4)}) {
		t.Fatalf("changed = %v, want [%s]", after.changed, edsName(4))
	}
	if len(after.enc) != 30 {
		t.Fatalf("%d encodings, want 30", len(after.enc))
	}
	for name, e := range after.enc {
		if same := e == before.enc[name]; same == (name == edsName(4)) {
			t.Errorf("%s: encoding reused = %v", name, same)
		}
	}
	res, err := after.enc[edsName(4)].get()
	// The wire version starts with the resource version (resourceVersion).
	if err != nil || !strings.HasPrefix(res.GetVersion(), after.versions[edsName(4)]) {
		t.Fatalf("new encoding: version %q, err %v; want it to start with %q", res.GetVersion(), err, after.versions[edsName(4)])
	}
}
