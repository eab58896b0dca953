package policy

import (
	"fmt"
	"strings"
	"testing"
)

// The bounds of a RateLimit are inclusive: 1 and 2^32-1 requests (uint32
// in Envoy), a limit of 15 keys (the service reads 16 entries, the first
// naming the limit), 16 descriptors per request (limits, or limits and the
// plan). One past each is refused in TestBadPolicyInputs.
func TestRateLimitBoundsLoad(t *testing.T) {
	rl := "kind: RateLimit\nname: l\nspec:\n"
	limits := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "    - {requests: %d, per: minute}\n", i)
		}
		return b.String()
	}
	var keys []string
	for i := 0; i < MaxServiceEntries-1; i++ {
		keys = append(keys, fmt.Sprintf("\"claim:c%d\"", i))
	}
	runAcceptedCases(t, map[string]string{
		"one request":            rl + "  limits: [{requests: 1, per: second}]\n",
		"2^32-1 requests":        rl + "  limits: [{requests: 4294967295, per: second}]\n",
		"plan 2^32-1":            "kind: Plan\nname: p\nspec:\n  rateLimits: [{requests: 4294967295, per: day}]\n",
		"15 keys":                rl + "  limits:\n    - {key: [" + strings.Join(keys, ", ") + "], requests: 10, per: minute}\n",
		"16 limits":              rl + "  limits:\n" + limits(MaxServiceDescriptors),
		"15 limits and plan":     rl + "  limits:\n" + limits(MaxServiceDescriptors-1) + "  plan: true\n",
		"local ones not counted": rl + "  limits:\n" + limits(MaxServiceDescriptors) + "    - {requests: 1, per: second, local: true}\n",
	})
}
