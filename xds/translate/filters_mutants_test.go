package translate

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Tests written to kill surviving mutants of the security decisions (make
// mutate-security; docs/testing.md). Each names the mutant it kills.

// A Gateway whose global rate limits all fail closed gets only the
// rate-limit instance with failure_mode_deny, and one whose limits all fail
// open gets only the other: a Route's limits are enforced by the instance
// of its failure mode, so that instance must be in the chain. The golden
// case mixes both modes, which hides a mix-up. Killed mutant: the ! of
// `f.rlAllow = f.rlAllow || !p.rl.Spec.FailClosed()` dropped in
// planFilters (no fail-open instance, so fail-open limits were never
// enforced).
func TestRateLimitInstanceFollowsFailureMode(t *testing.T) {
	for _, mode := range []string{policy.FailureModeDeny, policy.FailureModeAllow} {
		snap, _ := loadCase(t, filepath.Join("testdata", "in", "ratelimit"))
		for _, rl := range snap.RateLimits {
			rl.Spec.FailureMode = mode
		}
		groups, err := Translate(snap, Options{})
		if err != nil {
			t.Fatalf("%s: Translate: %v", mode, err)
		}
		seen := 0
		for k, g := range groups {
			if k.Client != ClientEnvoy {
				continue
			}
			for _, h := range hcmsOf(t, g) {
				names := filterNames(h)
				deny, allow := slices.Contains(names, wire.FilterRateLimitDeny), slices.Contains(names, wire.FilterRateLimitAllow)
				if !deny && !allow {
					continue // a Gateway without global limits
				}
				seen++
				if deny != (mode == policy.FailureModeDeny) || allow != (mode == policy.FailureModeAllow) {
					t.Errorf("failureMode %s, %s: filters %v", mode, k, names)
				}
			}
		}
		if seen == 0 {
			t.Fatalf("failureMode %s: no connection manager with a rate-limit filter", mode)
		}
	}
}
