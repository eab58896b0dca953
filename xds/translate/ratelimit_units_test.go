package translate

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// TestUnitDuration: a local limit's fill interval per unit (a day is 24
// hours; month never reaches a local limit).
func TestUnitDuration(t *testing.T) {
	for u, want := range map[string]time.Duration{
		policy.UnitSecond: time.Second, policy.UnitMinute: time.Minute, policy.UnitHour: time.Hour, policy.UnitDay: 24 * time.Hour,
	} {
		if got := unitDuration(u); got != want {
			t.Errorf("%s: %v, want %v", u, got, want)
		}
	}
}
