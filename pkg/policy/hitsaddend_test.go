package policy

import (
	"testing"
	"testing/fstest"
)

// maxHitsAddend decodes strictly, is 1 when left out, and is kept as written.
func TestRateLimitMaxHitsAddend(t *testing.T) {
	for yaml, want := range map[string]uint64{
		"":                              1,
		"  maxHitsAddend: 1\n":          1,
		"  maxHitsAddend: 100\n":        100,
		"  maxHitsAddend: 4294967296\n": 1 << 32,
	} {
		snap := Load(fstest.MapFS{"rl.yaml": {Data: []byte("kind: RateLimit\nname: l\nspec:\n  limits: [{requests: 1, per: second}]\n" + yaml)}}, nil)
		if len(snap.Rejected) != 0 {
			t.Fatalf("%q: %v", yaml, snap.Errors())
		}
		if got := snap.RateLimits["l"].Spec.HitsAllowed(); got != want {
			t.Errorf("%q: HitsAllowed = %d, want %d", yaml, got, want)
		}
	}
	snap := Load(fstest.MapFS{"rl.yaml": {Data: []byte("kind: RateLimit\nname: l\nspec:\n  limits: [{requests: 1, per: second}]\n  maxHitsAdend: 5\n")}}, nil)
	if len(snap.Rejected) != 1 {
		t.Fatalf("a misspelt maxHitsAddend was accepted")
	}
}
