package server

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Backpressure and admission (issue 10 item 3): a stream that never reads
// delays no other, holds a bounded amount of memory however many changes
// pass, and a stream that is behind gets the newest version only; a storm
// of new streams waits its turn while established streams keep getting
// changes.

// stuckConn is a client connection of its own with fixed 64 KiB flow-control
// windows (no BDP growth), so that a stream that never reads blocks the
// server's sends to it once a response outgrows the window.
func stuckConn(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// openStuck opens a stream that subscribes to every type of f's group, as
// Envoy would, and never reads a response.
func openStuck(t *testing.T, addr, proto, id string, f *fixture) {
	t.Helper()
	conn := stuckConn(t, addr)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	node := &corev3.Node{Id: id, Cluster: f.key.Gateway, UserAgentName: "envoy"}
	eds := slices.Sorted(mapKeys(f.group.EDS))
	rds := []string{f.key.Gateway + "-http"}
	ads := discoveryv3.NewAggregatedDiscoveryServiceClient(conn)
	if proto == "delta" {
		s, err := ads.DeltaAggregatedResources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range []*discoveryv3.DeltaDiscoveryRequest{
			{TypeUrl: resource.ClusterType}, {TypeUrl: resource.EndpointType, ResourceNamesSubscribe: eds},
			{TypeUrl: resource.ListenerType}, {TypeUrl: resource.RouteType, ResourceNamesSubscribe: rds},
		} {
			if i == 0 {
				r.Node = node
			}
			if err := s.Send(r); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	s, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []*discoveryv3.DiscoveryRequest{
		{TypeUrl: resource.ClusterType}, {TypeUrl: resource.EndpointType, ResourceNames: eds},
		{TypeUrl: resource.ListenerType}, {TypeUrl: resource.RouteType, ResourceNames: rds},
	} {
		if i == 0 {
			r.Node = node
		}
		if err := s.Send(r); err != nil {
			t.Fatal(err)
		}
	}
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// syncedClient is a well-behaved client of either protocol: it has done
// its initial sync, and waitEDS waits for the EDS response that carries a
// given CLA at a given first port, ACKing everything on the way.
type syncedClient interface {
	waitEDS(t *testing.T, name string, port uint32) time.Duration
}

type sotwClient struct {
	a   *adsStream
	eds []string
}

func (c *sotwClient) waitEDS(t *testing.T, name string, port uint32) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := c.a.recv(resource.EndpointType)
		c.a.ack(r, c.eds)
		if firstPort(t, anyCLAs(t, r.GetResources()), name) == port {
			return time.Since(start)
		}
	}
}

type deltaClient struct{ d *deltaStream }

func (c *deltaClient) waitEDS(t *testing.T, name string, port uint32) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := c.d.recv(resource.EndpointType)
		clas := map[string]*endpointv3.ClusterLoadAssignment{}
		for _, res := range r.GetResources() {
			var cla endpointv3.ClusterLoadAssignment
			if err := res.GetResource().UnmarshalTo(&cla); err != nil {
				t.Fatal(err)
			}
			clas[res.GetName()] = &cla
		}
		if firstPort(t, clas, name) == port {
			return time.Since(start)
		}
	}
}

func syncClient(t *testing.T, h *harness, proto, id string, f *fixture) syncedClient {
	t.Helper()
	eds := slices.Sorted(mapKeys(f.group.EDS))
	if proto == "delta" {
		d := h.openDelta(t, id, f.key.Gateway)
		d.subscribe(resource.ClusterType)
		d.recv(resource.ClusterType)
		d.subscribe(resource.EndpointType, eds...)
		d.recv(resource.EndpointType)
		d.subscribe(resource.ListenerType)
		d.recv(resource.ListenerType)
		d.subscribe(resource.RouteType, f.key.Gateway+"-http")
		d.recv(resource.RouteType)
		return &deltaClient{d: d}
	}
	a := h.open(t, id, f.key.Gateway, "envoy")
	subscribeAll(t, a, f)
	return &sotwClient{a: a, eds: eds}
}

func anyCLAs(t *testing.T, anys []*anypb.Any) map[string]*endpointv3.ClusterLoadAssignment {
	t.Helper()
	out := map[string]*endpointv3.ClusterLoadAssignment{}
	for _, a := range anys {
		var cla endpointv3.ClusterLoadAssignment
		if err := a.UnmarshalTo(&cla); err != nil {
			t.Fatal(err)
		}
		out[cla.GetClusterName()] = &cla
	}
	return out
}

// firstPort is the port of a CLA's first endpoint, 0 if the CLA is absent.
func firstPort(t *testing.T, clas map[string]*endpointv3.ClusterLoadAssignment, name string) uint32 {
	t.Helper()
	cla := clas[name]
	if cla == nil {
		return 0
	}
	return cla.GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue()
}

// changeAll gives every CLA of f new endpoints starting at port base.
func changeAll(f *fixture, base int) {
	for name := range f.clas {
		f.clas[name] = testCLA(name, base, len(f.clas[name].GetEndpoints()[0].GetLbEndpoints()))
	}
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A stream that subscribed to everything and never reads: the other
// streams get every change within the bound, and the server's memory does
// not grow with the changes the stuck stream misses (no per-change queue:
// its one-shot watches stay closed until it answers).
func TestStuckStreamDelaysNoOther(t *testing.T) {
	for _, proto := range []string{"sotw", "delta"} {
		t.Run(proto, func(t *testing.T) {
			h := newHarness(t)
			f := newFixture("gw", translate.ClientEnvoy, 300, 20)
			mustPublish(t, h.pub, f.groups(), f.clas)
			openStuck(t, h.addr, proto, "stuck", f)
			waitFor(t, "the stuck stream was sent its clusters", func() bool {
				p, ok := h.proxy("stuck")
				return ok && p.Types[TypeClusters].Sent != ""
			})
			var clients []syncedClient
			for i := range 3 {
				clients = append(clients, syncClient(t, h, proto, fmt.Sprintf("ok-%d", i), f))
			}
			const warmup, changes = snapChainMax + 4, 20
			var before uint64
			var worst time.Duration
			for k := range warmup + changes {
				if k == warmup {
					before = liveHeap()
				}
				changeAll(f, 20000+k)
				start := time.Now()
				mustPublish(t, h.pub, f.groups(), f.clas)
				for _, c := range clients {
					c.waitEDS(t, edsName(k%300), uint32(20000+k))
				}
				worst = max(worst, time.Since(start))
			}
			after := liveHeap()
			growth := int64(after) - int64(before)
			// Each change re-encodes every CLA (about 0.2 MB per EDS
			// response): queued per change for the stuck stream, 20 changes
			// would add 4 MB or more. The warmup fills the delta hub's chain
			// of past snapshots, which is bounded (snapChainMax).
			t.Logf("%s: slowest change to reach 3 streams beside a stuck one: %s; live heap %d -> %d KB over %d changes",
				proto, worst, before>>10, after>>10, changes)
			if worst > 5*time.Second {
				t.Fatalf("a change took %s to reach the streams beside a stuck one", worst)
			}
			if growth > 1<<20 {
				t.Fatalf("live heap grew by %d KB over %d changes with a stuck stream", growth>>10, changes)
			}
		})
	}
}

// A stream that is behind (it has not answered its last response while
// three more publishes pass) gets, once it answers, the newest content of
// everything that changed, in one response, and never an intermediate
// version.
func TestSlowStreamGetsNewestVersionOnly(t *testing.T) {
	t.Run("delta", func(t *testing.T) {
		h := newHarness(t)
		f := newFixture("gw", translate.ClientEnvoy, 3, 2)
		mustPublish(t, h.pub, f.groups(), f.clas)
		c := syncClient(t, h, "delta", "slow", f).(*deltaClient)
		f.clas[edsName(0)] = testCLA(edsName(0), 20000, 2)
		mustPublish(t, h.pub, f.groups(), f.clas)
		first := c.d.next(resource.EndpointType) // not answered yet
		for i, port := range []int{21000, 22000, 23000} {
			f.clas[edsName(0)] = testCLA(edsName(0), port, 2)
			if i == 1 {
				f.clas[edsName(1)] = testCLA(edsName(1), 24000, 2)
			}
			mustPublish(t, h.pub, f.groups(), f.clas)
		}
		c.d.expectNone(quiet)
		c.d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResponseNonce: first.GetNonce()})
		r := c.d.next(resource.EndpointType)
		wantNames(t, "EDS after catching up", deltaNames(r), edsName(0), edsName(1))
		clas := map[string]*endpointv3.ClusterLoadAssignment{}
		for _, res := range r.GetResources() {
			var cla endpointv3.ClusterLoadAssignment
			if err := res.GetResource().UnmarshalTo(&cla); err != nil {
				t.Fatal(err)
			}
			clas[res.GetName()] = &cla
		}
		if p0, p1 := firstPort(t, clas, edsName(0)), firstPort(t, clas, edsName(1)); p0 != 23000 || p1 != 24000 {
			t.Fatalf("after catching up: %s at port %d, %s at %d; want the newest, 23000 and 24000", edsName(0), p0, edsName(1), p1)
		}
		c.d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResponseNonce: r.GetNonce()})
		c.d.expectNone(quiet)
	})
	t.Run("sotw", func(t *testing.T) {
		h := newHarness(t)
		f := newFixture("gw", translate.ClientEnvoy, 3, 2)
		mustPublish(t, h.pub, f.groups(), f.clas)
		c := syncClient(t, h, "sotw", "slow", f).(*sotwClient)
		f.clas[edsName(0)] = testCLA(edsName(0), 20000, 2)
		mustPublish(t, h.pub, f.groups(), f.clas)
		first := c.a.recv(resource.EndpointType) // not answered yet
		for _, port := range []int{21000, 22000, 23000} {
			f.clas[edsName(0)] = testCLA(edsName(0), port, 2)
			mustPublish(t, h.pub, f.groups(), f.clas)
		}
		c.a.expectNone(quiet)
		newest := versionsOf(t, h.pub, f.key)[TypeEndpoints]
		c.a.ack(first, c.eds)
		r := c.a.recv(resource.EndpointType)
		if got := firstPort(t, anyCLAs(t, r.GetResources()), edsName(0)); r.GetVersionInfo() != newest || got != 23000 {
			t.Fatalf("after catching up: EDS version %s with %s at port %d; want the newest, %s at 23000", r.GetVersionInfo(), edsName(0), got, newest)
		}
		c.a.ack(r, c.eds)
		c.a.expectNone(quiet)
	})
}

// A reconnect storm: streams that connect at once, some of them stuck
// (they never read, so they keep their sync slot until the hold bound),
// while an established stream gets a change. The change reaches it well
// within the hold bound (its responses never wait for a slot), admission
// made streams wait (the gauge saw them), and every well-behaved new
// stream still completes its sync.
func TestReconnectStormDoesNotStarveEstablished(t *testing.T) {
	const hold = 3 * time.Second
	h := newHarnessOpts(t, Options{InitialSyncs: 2, InitialSyncHold: hold, InitialSyncWait: 20 * time.Second})
	f := newFixture("gw", translate.ClientEnvoy, 300, 10)
	mustPublish(t, h.pub, f.groups(), f.clas)
	est := syncClient(t, h, "delta", "established", f)

	for i := range 4 {
		openStuck(t, h.addr, "delta", fmt.Sprintf("stuck-%d", i), f)
	}
	const storm = 30
	eds := slices.Sorted(mapKeys(f.group.EDS))
	done := make(chan error, storm)
	for i := range storm {
		go func() { done <- stormSync(t.Context(), h, fmt.Sprintf("storm-%d", i), eds) }()
	}
	waitFor(t, "streams waiting for a sync slot", func() bool {
		return h.metricValue(t, "gatehouse_xds_initial_syncs_waiting") > 0
	})

	f.clas[edsName(7)] = testCLA(edsName(7), 31000, 10)
	start := time.Now()
	mustPublish(t, h.pub, f.groups(), f.clas)
	took := est.waitEDS(t, edsName(7), 31000)
	t.Logf("change to the established stream during a storm of %d new streams (4 stuck, 2 slots): %s after publish, %s in all", storm, took, time.Since(start))
	if time.Since(start) > hold/2 {
		t.Fatalf("the established stream got its change after %s, during the storm", time.Since(start))
	}
	deadline := time.After(60 * time.Second)
	for range storm {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatal("storm streams not synced within 60s")
		}
	}
	t.Logf("storm of %d synced %s after it began", storm, time.Since(start))
}

// stormSync opens a delta stream, subscribes to every type at once and
// ACKs until each type was answered.
func stormSync(ctx context.Context, h *harness, id string, eds []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := discoveryv3.NewAggregatedDiscoveryServiceClient(h.conn).DeltaAggregatedResources(ctx)
	if err != nil {
		return err
	}
	for i, r := range []*discoveryv3.DeltaDiscoveryRequest{
		{TypeUrl: resource.ClusterType}, {TypeUrl: resource.EndpointType, ResourceNamesSubscribe: eds},
		{TypeUrl: resource.ListenerType}, {TypeUrl: resource.RouteType, ResourceNamesSubscribe: []string{"gw-http"}},
	} {
		if i == 0 {
			r.Node = &corev3.Node{Id: id, Cluster: "gw", UserAgentName: "envoy"}
		}
		if err := s.Send(r); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for len(seen) < 4 {
		r, err := s.Recv()
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		seen[r.GetTypeUrl()] = true
		if err := s.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: r.GetTypeUrl(), ResponseNonce: r.GetNonce()}); err != nil {
			return err
		}
	}
	return nil
}
