package bench

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/static"
	"github.com/gatehouse-dev/gatehouse/test/testutil/cpumeter"
)

// editedPolicy is bigPolicy, every object new (as the loader builds a
// snapshot after an edit), with route-0000's path prefix set to prefix.
func editedPolicy(prefix string) *policy.Snapshot {
	p := bigPolicy()
	p.Routes["route-0000"].Spec.Match.Path.Prefix = prefix
	return p
}

// BenchmarkRouteEdit: the same scale as BenchmarkFullBuild, one Route's
// path edited, rebuilt and published by a Builder and Publisher that
// published the previous policy: the warm rebuild after a policy edit,
// which reuses (translate.Memo, the publisher's per-resource hashes)
// everything the edit did not touch. Each op alternates between two
// snapshots whose objects are all distinct, so nothing is reused by
// pointer alone. It also reports, measured in the same run, a cold full
// build (cold-ms, a fresh Builder and Publisher as after a restart) and
// the warm edit as a fraction of it (x-cold).
func BenchmarkRouteEdit(b *testing.B) {
	snaps := [2]*policy.Snapshot{editedPolicy("/edited/a"), editedPolicy("/edited/b")}
	eps := static.Endpoints(snaps[0])
	bl, pub, _ := fullBuild(b, snaps[1])
	ctx := context.Background()

	cold := time.Duration(1<<63 - 1)
	for range 3 {
		start := time.Now()
		fullBuild(b, snaps[0])
		cold = min(cold, time.Since(start))
	}

	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpumeter.Start(b)
	for i := 0; i < b.N; i++ {
		p := snaps[i%2]
		release := controller.DeferGC() // as the controller holds it over a policy build and its publish
		res, err := bl.Build(p, eps, true)
		if err != nil {
			b.Fatal(err)
		}
		stats, err := pub.Publish(ctx, res.Groups, res.CLAs, res.CLAHashes)
		if err != nil {
			b.Fatal(err)
		}
		bl.Commit(res, eps)
		release()
		if len(stats.Changed) != 2 {
			b.Fatalf("%d groups changed, want both groups of the Gateway", len(stats.Changed))
		}
	}
	elapsed := b.Elapsed()
	cpu.Stop()
	b.StopTimer()
	b.ReportMetric(float64(cold)/1e6, "cold-ms")
	b.ReportMetric(float64(elapsed)/float64(b.N)/float64(cold), "x-cold")
}
