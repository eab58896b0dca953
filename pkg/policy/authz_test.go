package policy

import "testing"

// TestAllowOneConditionLoads: "list at least one condition" (TestBadPolicyInputs,
// "allow empty") asks for one, not both: sourceCIDRs alone and groups alone
// each load, with what they list.
func TestAllowOneConditionLoads(t *testing.T) {
	for name, c := range map[string]struct {
		yaml          string
		cidrs, groups int
	}{
		"sourceCIDRs only": {authz + "  allow:\n    sourceCIDRs: [10.0.0.0/8, \"2001:db8::/32\"]\n", 2, 0},
		"groups only":      {authz + "  allow:\n    groups: [admins]\n", 0, 1},
	} {
		s := Load(testFS(t, map[string]string{"z.yaml": c.yaml}), nil)
		z := s.Authorizations["z"]
		if len(s.Rejected) != 0 || z == nil || z.Spec.Allow == nil {
			t.Fatalf("%s: rejected: %q", name, s.Errors())
		}
		if len(z.Spec.Allow.SourceCIDRs) != c.cidrs || len(z.Spec.Allow.Groups) != c.groups {
			t.Errorf("%s: allow = %+v", name, z.Spec.Allow)
		}
	}
}
