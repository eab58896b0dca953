package crs

import "testing"

// The CRS defines well over 500 rules; a glob or regexp that stopped
// matching would make every exclusion an error (or, worse, none).
func TestRuleIDs(t *testing.T) {
	if n := len(RuleIDs()); n < 500 {
		t.Fatalf("found %d rule ids in the embedded CRS, want > 500", n)
	}
	for _, id := range []int{942100, 949110, 920350} {
		if !IsRule(id) {
			t.Errorf("IsRule(%d) = false, want true", id)
		}
	}
	for _, id := range []int{0, 1, 999999999} {
		if IsRule(id) {
			t.Errorf("IsRule(%d) = true, want false", id)
		}
	}
}
