package translate

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// TestOptionsRefuseUnspecifiedAddress: a cluster endpoint of 0.0.0.0 or ::
// makes Envoy dial itself, so the translator refuses such service
// addresses whatever the caller (the CLI refuses them first, naming the
// advertise flags).
func TestOptionsRefuseUnspecifiedAddress(t *testing.T) {
	for _, o := range []Options{
		{AuthzAddr: "0.0.0.0:18000"},
		{RateLimitAddr: "[::]:18000"},
		{AuthzAddr: "[::ffff:0.0.0.0]:18000"},
		{RateLimitAddr: "[0:0::0]:18000"},
	} {
		_, err := Translate(&policy.Snapshot{}, o)
		if err == nil || !strings.Contains(err.Error(), "unspecified address") {
			t.Errorf("%+v: err = %v, want an unspecified-address error", o, err)
		}
	}
	if _, err := Translate(&policy.Snapshot{}, Options{AuthzAddr: "gatehouse:18000", RateLimitAddr: "[2001:db8::1]:18001"}); err != nil {
		t.Errorf("specific addresses: %v", err)
	}
}
