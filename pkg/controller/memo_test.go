package controller

import (
	"context"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/xds/server"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// TestPolicyEditRepublishesOnlyRoutes: the Builder keeps a translate.Memo,
// so after a one-Route edit in a snapshot whose objects are all new (as the
// loader builds it), the clusters are the very protos published before and
// only the route tables get a new version.
func TestPolicyEditRepublishesOnlyRoutes(t *testing.T) {
	p, eps := builderPolicy(20)
	var b Builder
	pub, err := server.NewPublisher(server.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(p *policy.Snapshot) (*Result, server.PublishStats) {
		t.Helper()
		res, err := b.Build(p, eps, true)
		if err != nil {
			t.Fatal(err)
		}
		stats, err := pub.Publish(context.Background(), res.Groups, res.CLAs, res.CLAHashes)
		if err != nil {
			t.Fatal(err)
		}
		b.Commit(res, eps)
		return res, stats
	}
	first, _ := publish(p)

	edited, _ := builderPolicy(20)
	edited.Routes["svc-004"].Spec.Match.Path.Prefix = "/edited"
	second, stats := publish(edited)

	key := translate.GroupKey{Gateway: "gw", Client: translate.ClientEnvoy}
	if !slices.Equal(first.Groups[key].Clusters, second.Groups[key].Clusters) {
		t.Error("clusters were built anew although no Service changed")
	}
	for k, types := range stats.Changed {
		if !slices.Equal(types, []string{"routes"}) {
			t.Errorf("group %s: %v changed, want only routes", k, types)
		}
	}
	if _, ok := stats.Changed[key]; !ok {
		t.Errorf("the Envoy group did not change: %v", stats.Changed)
	}
}
