package bench

import (
	"context"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/static"
)

// editAllocsBound is about five times the allocations of a one-Route edit
// at full scale (9,150 measured with the digest-keyed memo; 12,132 with
// reflect.DeepEqual; a cold build makes about 160,000). Allocations, unlike
// times, do not depend on the shared machine's load, so this bound holds
// on any machine and still fails if the memo stops reusing what an edit
// did not touch.
const editAllocsBound = 50_000

// TestRouteEditAllocationBound: a one-Route edit at the scale of
// BenchmarkRouteEdit (1,000 Services x 1,000 Routes x 10 endpoints),
// rebuilt and published by the Builder and Publisher of the previous
// policy, between two snapshots whose objects are all distinct, stays
// within editAllocsBound allocations; it logs the real figure.
func TestRouteEditAllocationBound(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the full-scale policy three times")
	}
	snaps := [2]*policy.Snapshot{editedPolicy("/edited/a"), editedPolicy("/edited/b")}
	eps := static.Endpoints(snaps[0])
	bl, pub, _ := fullBuild(t, snaps[1])
	ctx := context.Background()
	i := 0
	allocs := testing.AllocsPerRun(4, func() {
		p := snaps[i%2]
		i++
		res, err := bl.Build(p, eps, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pub.Publish(ctx, res.Groups, res.CLAs, res.CLAHashes); err != nil {
			t.Fatal(err)
		}
		bl.Commit(res, eps)
	})
	t.Logf("one-Route edit: %.0f allocations (bound %d)", allocs, editAllocsBound)
	if allocs > editAllocsBound {
		t.Errorf("one-Route edit: %.0f allocations, want <= %d: the memo no longer reuses what the edit did not touch", allocs, editAllocsBound)
	}
}
