package store

import (
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Load loads the policy of a tree on its own (no last good version
// carried over), as validation needs it.
func Load(t *Tree, opts policy.Options) *policy.Snapshot {
	return policy.LoadWith(t.FS(), nil, opts)
}

// Validate decides whether the change from before to after may be stored
// as a whole: it returns the rejections that block it, each naming the
// object (or file) and the field. An apply is refused when any object it
// writes is rejected, or when an object that loaded cleanly before is
// rejected after (a deletion or change that breaks a reference). Objects
// already rejected before and not touched do not block it: they are not
// this change's doing.
func Validate(before, after *Tree, touched []Ref, opts policy.Options) []policy.Rejected {
	was := map[string]bool{}
	for _, r := range Load(before, opts).Rejected {
		was[r.Ref] = true
	}
	mine := map[string]bool{}
	for _, r := range touched {
		mine[r.String()] = true
	}
	var out []policy.Rejected
	for _, r := range Load(after, opts).Rejected {
		if mine[r.Ref] || !was[r.Ref] {
			out = append(out, r)
		}
	}
	return out
}
