package server

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"
)

// gatehouse's state-of-the-world loop (sotwads.go) answers as
// go-control-plane's ordered ADS server does: both serve the same random
// request sequences (legacy and explicit wildcard, names present and
// absent, ACKs, NACKs, stale and forged nonces, two types interleaved)
// over the same stock cache in ADS mode while random snapshots are
// published, and every response (type, version, resources, nonce) is the
// same, in the same order. Requests naming nothing after a type's first
// are left out: there gatehouse differs on purpose (what it sends a stream
// that did not subscribe does not count as held: sotwads.go, returnedFor;
// TestSotWUnsubscribedResourcesAreNotHeld). Each step waits for quiet, so
// a request never overtakes a response here: dropping a superseded
// response is left to the tests that race them (sotwrandom_test.go).
func TestSotWLoopMatchesGoControlPlanes(t *testing.T) {
	runSeeds(t, 100, sotwLoopDifferential)
}

func sotwLoopDifferential(seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 9))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	node := &corev3.Node{Id: "n", Cluster: "gw"}
	universe := []string{"a", "b", "c", "d"}
	snapshot := func(v int) *cache.Snapshot {
		var cs, es []types.Resource
		for _, n := range universe {
			if rng.IntN(4) > 0 {
				cs = append(cs, &clusterv3.Cluster{Name: n, ConnectTimeout: durationpb.New(time.Duration(1+rng.IntN(2)) * time.Second)})
				es = append(es, &endpointv3.ClusterLoadAssignment{ClusterName: n, Policy: &endpointv3.ClusterLoadAssignment_Policy{
					OverprovisioningFactor: nil, EndpointStaleAfter: durationpb.New(time.Duration(v) * time.Second)}})
			}
		}
		s, err := cache.NewSnapshot(fmt.Sprint(v), map[resource.Type][]types.Resource{resource.ClusterType: cs, resource.EndpointType: es})
		if err != nil {
			panic(err)
		}
		return s
	}
	ours, theirs := cache.NewSnapshotCache(true, cache.IDHash{}, nil), cache.NewSnapshotCache(true, cache.IDHash{}, nil)
	publish := func(v int) {
		s := snapshot(v)
		for _, c := range []cache.SnapshotCache{ours, theirs} {
			if err := c.SetSnapshot(ctx, node.GetId(), s); err != nil {
				panic(err)
			}
		}
	}
	if rng.IntN(3) > 0 {
		publish(0)
	}
	a, b := newMemStream[*discoveryv3.DiscoveryRequest, *discoveryv3.DiscoveryResponse](ctx), newMemStream[*discoveryv3.DiscoveryRequest, *discoveryv3.DiscoveryResponse](ctx)
	go func() { _ = (&sotwADS{ctx: ctx, cache: ours, cb: noSotWCallbacks{}}).serve(a) }()
	go func() {
		_ = sotw.NewServer(ctx, theirs, noSotWCallbacks{}, sotw.WithOrderedADS()).StreamHandler(b, resource.AnyType)
	}()

	typeURLs := []string{resource.ClusterType, resource.EndpointType}
	asked := map[string]bool{}
	last := map[string]*discoveryv3.DiscoveryResponse{}
	pick := func(typeURL string) []string {
		for {
			var out []string
			for range rng.IntN(4) {
				out = append(out, append(slices.Clone(universe), "*", "absent")[rng.IntN(len(universe)+2)])
			}
			if len(out) > 0 || !asked[typeURL] {
				return out
			}
		}
	}
	for step := range 40 {
		desc := "a publish"
		typeURL := typeURLs[rng.IntN(2)]
		var req *discoveryv3.DiscoveryRequest
		l := last[typeURL]
		switch op := rng.IntN(7); {
		case op == 0:
			publish(step + 1)
		case op == 1 && l != nil: // ACK, with the names it asked
			req = &discoveryv3.DiscoveryRequest{TypeUrl: typeURL, VersionInfo: l.GetVersionInfo(), ResponseNonce: l.GetNonce(), ResourceNames: pick(typeURL)}
		case op == 2 && l != nil: // NACK
			req = &discoveryv3.DiscoveryRequest{TypeUrl: typeURL, ResponseNonce: l.GetNonce(), ResourceNames: pick(typeURL),
				ErrorDetail: &status.Status{Code: 3, Message: "rejected"}}
		case op == 3: // a forged or stale nonce
			req = &discoveryv3.DiscoveryRequest{TypeUrl: typeURL, VersionInfo: "x", ResponseNonce: fmt.Sprint(rng.IntN(5)), ResourceNames: pick(typeURL)}
		default:
			req = &discoveryv3.DiscoveryRequest{TypeUrl: typeURL, ResourceNames: pick(typeURL)}
			if l != nil && rng.IntN(2) == 0 {
				req.VersionInfo, req.ResponseNonce = l.GetVersionInfo(), l.GetNonce()
			}
		}
		if req != nil {
			if step == 0 || len(asked) == 0 {
				req.Node = node
			}
			asked[typeURL] = true
			clone := &discoveryv3.DiscoveryRequest{Node: req.Node, TypeUrl: req.TypeUrl, VersionInfo: req.VersionInfo, ResponseNonce: req.ResponseNonce,
				ResourceNames: slices.Clone(req.ResourceNames), ErrorDetail: req.ErrorDetail}
			desc = fmt.Sprint(clone)
			a.reqs <- req
			b.reqs <- clone
		}
		ra, err := sameResponses(a.out, b.out, describeSotW)
		if err != nil {
			return fmt.Errorf("step %d (%s): %w", step, desc, err)
		}
		for _, r := range ra {
			last[r.GetTypeUrl()] = r
		}
	}
	return nil
}

// describeSotW renders responses for comparison (resources by name,
// sorted: the stock cache sends them in map order).
func describeSotW(rs []*discoveryv3.DiscoveryResponse) string {
	var b strings.Builder
	for _, r := range rs {
		var names []string
		for _, a := range r.GetResources() {
			var c clusterv3.Cluster
			var e endpointv3.ClusterLoadAssignment
			switch {
			case a.UnmarshalTo(&c) == nil:
				names = append(names, c.GetName()+"/"+c.GetConnectTimeout().String())
			case a.UnmarshalTo(&e) == nil:
				names = append(names, e.GetClusterName()+"/"+e.GetPolicy().GetEndpointStaleAfter().String())
			}
		}
		slices.Sort(names)
		fmt.Fprintf(&b, "[%s v=%s nonce=%s %v] ", r.GetTypeUrl(), r.GetVersionInfo(), r.GetNonce(), names)
	}
	return b.String()
}

type noSotWCallbacks struct{}

func (noSotWCallbacks) OnStreamOpen(context.Context, int64, string) error          { return nil }
func (noSotWCallbacks) OnStreamClosed(int64, *corev3.Node)                         {}
func (noSotWCallbacks) OnStreamRequest(int64, *discoveryv3.DiscoveryRequest) error { return nil }
func (noSotWCallbacks) OnStreamResponse(context.Context, int64, *discoveryv3.DiscoveryRequest, *discoveryv3.DiscoveryResponse) {
}

// memStream is an in-memory ADS stream of either protocol: requests in,
// responses out, no network.
type memStream[Q, R any] struct {
	grpc.ServerStream
	ctx  context.Context
	reqs chan Q
	out  chan R
}

func newMemStream[Q, R any](ctx context.Context) *memStream[Q, R] {
	return &memStream[Q, R]{ctx: ctx, reqs: make(chan Q, 4), out: make(chan R, 64)}
}

func (m *memStream[Q, R]) Context() context.Context     { return m.ctx }
func (m *memStream[Q, R]) SetHeader(metadata.MD) error  { return nil }
func (m *memStream[Q, R]) SendHeader(metadata.MD) error { return nil }
func (m *memStream[Q, R]) SetTrailer(metadata.MD)       {}
func (m *memStream[Q, R]) Send(r R) error {
	m.out <- r
	return nil
}

func (m *memStream[Q, R]) Recv() (Q, error) {
	select {
	case r := <-m.reqs:
		return r, nil
	case <-m.ctx.Done():
		var zero Q
		return zero, m.ctx.Err()
	}
}

// runSeeds runs a differential test's seeds side by side (each step waits
// for quiet: more at once than t.Parallel would run on two cores) and
// reports every seed that failed.
func runSeeds(t *testing.T, n int, f func(seed uint64) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for seed := range uint64(n) {
		wg.Go(func() {
			if err := f(seed); err != nil {
				errs[seed] = fmt.Errorf("seed %d: %w", seed, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// sameResponses waits for what two servers sent (settleBoth) and returns
// gatehouse's responses, or an error showing where the two differ.
func sameResponses[R any](a, b <-chan R, describe func([]R) string) ([]R, error) {
	ra, rb, err := settleBoth(a, b)
	if err != nil {
		return nil, err
	}
	if len(ra) != len(rb) {
		return nil, fmt.Errorf("gatehouse sent %d responses, go-control-plane %d:\n%s\n%s", len(ra), len(rb), describe(ra), describe(rb))
	}
	for i := range ra {
		if da, db := describe(ra[i:i+1]), describe(rb[i:i+1]); da != db {
			return nil, fmt.Errorf("response %d differs:\ngatehouse:        %s\ngo-control-plane: %s", i, da, db)
		}
	}
	return ra, nil
}

// settleBoth collects what two servers sent until they sent as many
// responses and neither sent one for a while (bounded): the differential
// tests compare the two sequences whatever either's speed (the race
// detector, a loaded machine).
func settleBoth[R any](a, b <-chan R) (ra, rb []R, err error) {
	const quiet = 50 * time.Millisecond
	deadline := time.After(5 * time.Second)
	for {
		select {
		case r := <-a:
			ra = append(ra, r)
		case r := <-b:
			rb = append(rb, r)
		case <-time.After(quiet):
			if len(ra) == len(rb) {
				return ra, rb, nil
			}
		case <-deadline:
			if len(ra) == len(rb) {
				return ra, rb, nil
			}
			return ra, rb, fmt.Errorf("after 5s: gatehouse sent %d responses, go-control-plane %d", len(ra), len(rb))
		}
	}
}
