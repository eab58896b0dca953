package server

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/delta/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// gatehouse's delta loop (deltaads.go) answers exactly as go-control-plane's
// delta server does: both serve the same random request sequences (legacy
// and explicit wildcard, subscribes and unsubscribes of present and absent
// names, initial versions, ACKs, NACKs) over the same stock cache while
// random snapshots are published, and every response (type, system
// version, resources and their versions, removals, nonce) is the same, in
// the same order.
func TestDeltaLoopMatchesGoControlPlanes(t *testing.T) {
	runSeeds(t, 40, deltaLoopDifferential)
}

func deltaLoopDifferential(seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 5))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	node := &corev3.Node{Id: "n", Cluster: "gw"}
	universe := []string{"a", "b", "c", "d", "e"}
	snapshot := func(v int) *cache.Snapshot {
		var cs []types.Resource
		for _, n := range universe {
			if rng.IntN(3) > 0 {
				// A timeout that changes with v for some, to change versions.
				secs := int64(1)
				if rng.IntN(2) == 0 {
					secs = int64(v)
				}
				cs = append(cs, &clusterv3.Cluster{Name: n, ConnectTimeout: durationpb.New(time.Duration(secs) * time.Second)})
			}
		}
		s, err := cache.NewSnapshot(fmt.Sprint(v), map[resource.Type][]types.Resource{resource.ClusterType: cs})
		if err != nil {
			panic(err)
		}
		// Built here, once: both caches share the snapshot, and each
		// would otherwise build its version map lazily, concurrently.
		if err := s.ConstructVersionMap(); err != nil {
			panic(err)
		}
		return s
	}
	ours, theirs := cache.NewSnapshotCache(false, cache.IDHash{}, nil), cache.NewSnapshotCache(false, cache.IDHash{}, nil)
	publish := func(v int) {
		s := snapshot(v)
		for _, c := range []cache.SnapshotCache{ours, theirs} {
			if err := c.SetSnapshot(ctx, node.GetId(), s); err != nil {
				panic(err)
			}
		}
	}
	if rng.IntN(2) == 0 {
		publish(0)
	}
	a, b := newMemStream[*discoveryv3.DeltaDiscoveryRequest, *discoveryv3.DeltaDiscoveryResponse](ctx), newMemStream[*discoveryv3.DeltaDiscoveryRequest, *discoveryv3.DeltaDiscoveryResponse](ctx)
	go func() { _ = serveDelta(ctx, a, ours, noDeltaCallbacks{}, nil) }()
	go func() {
		_ = delta.NewServer(ctx, theirs, noDeltaCallbacks{}).DeltaStreamHandler(b, resource.AnyType)
	}()

	pick := func() []string {
		var out []string
		for range rng.IntN(3) {
			out = append(out, append(slices.Clone(universe), "*", "absent")[rng.IntN(len(universe)+2)])
		}
		return out
	}
	var last *discoveryv3.DeltaDiscoveryResponse
	for step := range 40 {
		desc := "a publish"
		var req *discoveryv3.DeltaDiscoveryRequest
		switch op := rng.IntN(6); {
		case step == 0:
			req = &discoveryv3.DeltaDiscoveryRequest{Node: node, TypeUrl: resource.ClusterType, ResourceNamesSubscribe: pick()}
			if rng.IntN(3) == 0 {
				req.InitialResourceVersions = map[string]string{"a": "x", "absent": "y"}
			}
		case op == 0:
			publish(step)
		case op == 1 && last != nil:
			req = &discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResponseNonce: last.GetNonce(),
				ErrorDetail: &status.Status{Code: 3, Message: "rejected"}}
		case op == 2 && last != nil:
			req = &discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResponseNonce: last.GetNonce()}
		default:
			req = &discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResourceNamesSubscribe: pick(), ResourceNamesUnsubscribe: pick()}
		}
		if req != nil {
			clone := cloneDeltaRequest(req) // before a's loop gives it the node
			desc = fmt.Sprint(clone)
			a.reqs <- req
			b.reqs <- clone
		}
		ra, err := sameResponses(a.out, b.out, describe)
		if err != nil {
			return fmt.Errorf("step %d (%s): %w", step, desc, err)
		}
		for _, r := range ra {
			last = r
		}
	}
	return nil
}

func cloneDeltaRequest(r *discoveryv3.DeltaDiscoveryRequest) *discoveryv3.DeltaDiscoveryRequest {
	c := &discoveryv3.DeltaDiscoveryRequest{Node: r.Node, TypeUrl: r.TypeUrl, ResponseNonce: r.ResponseNonce, ErrorDetail: r.ErrorDetail,
		ResourceNamesSubscribe: slices.Clone(r.ResourceNamesSubscribe), ResourceNamesUnsubscribe: slices.Clone(r.ResourceNamesUnsubscribe),
		InitialResourceVersions: maps.Clone(r.InitialResourceVersions)}
	return c
}

// describe renders responses for comparison (resources sorted: the stock
// cache sends them in map order).
func describe(rs []*discoveryv3.DeltaDiscoveryResponse) string {
	var b strings.Builder
	for _, r := range rs {
		var res []string
		for _, x := range r.GetResources() {
			res = append(res, x.GetName()+"@"+x.GetVersion())
		}
		slices.Sort(res)
		removed := slices.Sorted(slices.Values(r.GetRemovedResources()))
		fmt.Fprintf(&b, "[%s v=%s nonce=%s resources=%v removed=%v] ", r.GetTypeUrl(), r.GetSystemVersionInfo(), r.GetNonce(), res, removed)
	}
	return b.String()
}

type noDeltaCallbacks struct{}

func (noDeltaCallbacks) OnDeltaStreamOpen(context.Context, int64, string) error { return nil }
func (noDeltaCallbacks) OnDeltaStreamClosed(int64, *corev3.Node)                {}
func (noDeltaCallbacks) OnStreamDeltaRequest(int64, *discoveryv3.DeltaDiscoveryRequest) error {
	return nil
}
func (noDeltaCallbacks) OnStreamDeltaResponse(int64, *discoveryv3.DeltaDiscoveryRequest, *discoveryv3.DeltaDiscoveryResponse) {
}
