package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// Three replicas of `gatehouse serve` on one policy store (a shared policy
// directory) serve identical versions and resources for identical input,
// and a change reaches the streams of all three.
func TestReplicasServeIdenticalConfig(t *testing.T) {
	t.Parallel()
	a1, a2 := startBackend(t, "a1"), startBackend(t, "a2")
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{
		"gateway.yaml": gatewayYAML,
		"app.yaml":     staticService("app", a1),
		"route.yaml":   "kind: Route\nname: r\nspec:\n  gateways: [public]\n  hosts: [app.test]\n  backends: [{service: app}]\n",
	})
	replicas := startReplicas(t, dir, 3)

	all := []string{resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.ListenerType, resourcev3.RouteType}
	var streams []*adsStream
	var first map[string]*discoveryv3.DiscoveryResponse
	for i, g := range replicas {
		s := dialADS(t, g, fmt.Sprintf("edge-%d", i), "public")
		last := recordLast(s)
		s.subscribe(resourcev3.ClusterType, nil)
		s.subscribe(resourcev3.ListenerType, nil)
		s.until(t, fmt.Sprintf("replica %d: initial sync", i), 20*time.Second, func() bool { return hasAll(s, all) })
		if i == 0 {
			first = cloneLast(last)
		} else {
			sameResponses(t, fmt.Sprintf("replica %d", i), first, last)
		}
		streams = append(streams, s)
	}

	// One change, seen by all three (each watches the shared store).
	before := map[string]string{}
	for k, v := range streams[0].versions {
		before[k] = v
	}
	start := time.Now()
	writePolicy(t, dir, map[string]string{"app.yaml": staticService("app", a1, a2)})
	var worst time.Duration
	var eds []string
	for i, s := range streams {
		s.until(t, fmt.Sprintf("replica %d: the endpoint change", i), 5*time.Second, func() bool {
			return s.versions[resourcev3.EndpointType] != before[resourcev3.EndpointType]
		})
		worst = max(worst, time.Since(start))
		eds = append(eds, s.versions[resourcev3.EndpointType])
	}
	t.Logf("a change written to the shared store reached all 3 replicas' streams in %v (target 1s; bound 5s)", worst)
	for i := range eds {
		if eds[i] != eds[0] {
			t.Fatalf("replicas serve different EDS versions for the same input: %v", eds)
		}
	}
}

// A simulated Envoy whose bootstrap lists every replica keeps its
// configuration when the replica its stream is on is killed: it reconnects
// to another one (Envoy's ADS cluster with one endpoint per replica and the
// bootstrap's 0.25-2 s back-off), which sends the same versions, never an
// empty set.
func TestEnvoyFailsOverBetweenReplicas(t *testing.T) {
	t.Parallel()
	a1 := startBackend(t, "a1")
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{
		"gateway.yaml": gatewayYAML,
		"app.yaml":     staticService("app", a1),
		"route.yaml":   "kind: Route\nname: r\nspec:\n  gateways: [public]\n  hosts: [app.test]\n  backends: [{service: app}]\n",
	})
	replicas := startReplicas(t, dir, 3)

	// One channel over all replicas, as Envoy's gatehouse_xds cluster.
	r := manual.NewBuilderWithScheme("replicas")
	var addrs []resolver.Address
	for _, g := range replicas {
		addrs = append(addrs, resolver.Address{Addr: g.XDSAddr})
	}
	r.InitialState(resolver.State{Addresses: addrs})
	cc, err := grpc.NewClient("replicas:///gatehouse", grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	node := &corev3.Node{Id: "edge-failover", Cluster: "public", UserAgentName: "envoy"}
	all := []string{resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.ListenerType, resourcev3.RouteType}

	s := openOn(t, cc, node)
	s.subscribe(resourcev3.ClusterType, nil)
	s.subscribe(resourcev3.ListenerType, nil)
	s.until(t, "initial sync", 20*time.Second, func() bool { return hasAll(s, all) })
	held := map[string]string{}
	for k, v := range s.versions {
		held[k] = v
	}

	victim := replicaOf(t, replicas, node.Id)
	killed := time.Now()
	if err := syscall.Kill(victim.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.ended(t, 10*time.Second)

	// Reconnect as Envoy does: back-off 0.25 s doubling to 2 s, a new
	// stream on the same channel (balanced to a live replica), every type
	// asked again with the version and names held and no nonce. A replica
	// with the same content has nothing to send, so the stream counts as
	// back once a live replica lists the proxy.
	var live []*gatehouse
	for _, g := range replicas {
		if g != victim {
			live = append(live, g)
		}
	}
	backoff := 250 * time.Millisecond
	var n *adsStream
	for attempt := 0; ; attempt++ {
		if time.Since(killed) > 25*time.Second {
			t.Fatalf("no replica took the stream within 25s of the kill (%d attempts)", attempt)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 2*time.Second)
		n = openOn(t, cc, node)
		n.names = map[string][]string{}
		for typ, v := range held {
			n.versions[typ] = v
		}
		for typ, names := range s.names {
			n.names[typ] = names
		}
		for _, typ := range all {
			n.send(typ, n.names[typ], held[typ], "")
		}
		if listedWithin(t, live, node.Id, 2*time.Second) {
			break
		}
	}
	t.Logf("simulated Envoy: stream back on a live replica %v after its replica was killed (target 5s, including the back-off)", time.Since(killed))
	// Whatever the new replica sends carries the versions held (identical
	// input, identical content hashes) and is never empty: nothing lost.
	n.nothingMore(500 * time.Millisecond)
	for _, r := range n.seen {
		if len(r.Resources) == 0 {
			t.Errorf("empty %s push after the failover", r.TypeUrl)
		}
	}
	for _, typ := range all {
		if n.versions[typ] != held[typ] {
			t.Errorf("%s: version %q after the failover, %q before: identical input must give identical versions", typ, n.versions[typ], held[typ])
		}
	}

	// And it keeps getting changes from the replica it is on now.
	a2 := startBackend(t, "a2")
	writePolicy(t, dir, map[string]string{"app.yaml": staticService("app", a1, a2)})
	n.until(t, "a change after the failover", 10*time.Second, func() bool {
		return n.versions[resourcev3.EndpointType] != held[resourcev3.EndpointType]
	})
}

// A proxyless grpc-go client whose bootstrap lists every replica keeps
// calling when its replica (the first, grpc-go's primary) is killed: it
// keeps the configuration it has (gRFC A71: no fallback while every watched
// resource is cached), and a client that starts while the primary is down
// is served by the next replica.
func TestProxylessClientSurvivesReplicaLoss(t *testing.T) {
	t.Parallel()
	a1 := startBackend(t, "a1")
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{
		"gateway.yaml": gatewayYAML,
		"app.yaml":     staticService("app", a1),
		"route.yaml":   "kind: Route\nname: r\nspec:\n  gateways: [public]\n  hosts: [app.test]\n  backends: [{service: app}]\n",
	})
	replicas := startReplicas(t, dir, 3)
	var addrs []string
	for _, g := range replicas {
		addrs = append(addrs, g.XDSAddr)
	}
	list := strings.Join(addrs, ",")
	c := gatehouseproc.XDSClient(t, gatehouseBin, list, "public", "grpc-early", "app.test")
	waitFor(t, 20*time.Second, c, "a1")

	if err := syscall.Kill(replicas[0].Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for time.Since(killed) < 3*time.Second {
		if got := call(c); got != "a1" {
			t.Fatalf("call %v after the primary replica was killed: %q", time.Since(killed), got)
		}
		time.Sleep(20 * time.Millisecond)
	}

	late := gatehouseproc.XDSClient(t, gatehouseBin, list, "public", "grpc-late", "app.test")
	took := waitFor(t, 25*time.Second, late, "a1")
	if !listedWithin(t, replicas[1:], "grpc-late", 2*time.Second) {
		t.Fatal("the client started while the primary was down is not connected to a fallback replica")
	}
	t.Logf("proxyless client started with the primary replica down: first call answered after %v, served by a fallback replica", took)
}

// startReplicas starts n gatehouse processes on one policy directory.
func startReplicas(t *testing.T, dir string, n int) []*gatehouse {
	t.Helper()
	var gs []*gatehouse
	for i := 0; i < n; i++ {
		gs = append(gs, gatehouseproc.Start(t, gatehouseBin, "--policy-dir", dir))
	}
	for _, g := range gs {
		g.WaitReady(30 * time.Second)
	}
	return gs
}

// replicaOf is the replica whose /api/v1/proxies lists node.
func replicaOf(t *testing.T, gs []*gatehouse, node string) *gatehouse {
	t.Helper()
	for _, g := range gs {
		if lists(g, node) {
			return g
		}
	}
	t.Fatalf("no replica lists proxy %s", node)
	return nil
}

// listedWithin reports whether one of gs lists node as connected within
// bound.
func listedWithin(t *testing.T, gs []*gatehouse, node string, bound time.Duration) bool {
	t.Helper()
	for start := time.Now(); time.Since(start) < bound; time.Sleep(50 * time.Millisecond) {
		for _, g := range gs {
			if lists(g, node) {
				return true
			}
		}
	}
	return false
}

// lists reports whether g's /api/v1/proxies lists node.
func lists(g *gatehouse, node string) bool {
	var ps []struct {
		NodeID string `json:"node_id"`
	}
	g.GetJSON("/api/v1/proxies", &ps)
	for _, p := range ps {
		if p.NodeID == node {
			return true
		}
	}
	return false
}

// openOn opens an ADS stream on an existing channel.
func openOn(t *testing.T, cc *grpc.ClientConn, node *corev3.Node) *adsStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := &adsStream{t: t, stream: st, node: node, recv: gatehouseproc.Responses(st, 100),
		versions: map[string]string{}, names: map[string][]string{}}
	return a
}

func hasAll(s *adsStream, types []string) bool {
	for _, typ := range types {
		if s.versions[typ] == "" {
			return false
		}
	}
	return true
}

// recordLast makes s keep its last response per type.
func recordLast(s *adsStream) map[string]*discoveryv3.DiscoveryResponse {
	last := map[string]*discoveryv3.DiscoveryResponse{}
	s.onResponse = func(r *discoveryv3.DiscoveryResponse) { last[r.TypeUrl] = r }
	return last
}

func cloneLast(m map[string]*discoveryv3.DiscoveryResponse) map[string]*discoveryv3.DiscoveryResponse {
	out := map[string]*discoveryv3.DiscoveryResponse{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sameResponses fails unless got holds, per type, the same version and
// byte-identical resources as want.
func sameResponses(t *testing.T, who string, want, got map[string]*discoveryv3.DiscoveryResponse) {
	t.Helper()
	for typ, w := range want {
		g := got[typ]
		if g == nil {
			t.Fatalf("%s: no %s response", who, typ)
		}
		if g.VersionInfo != w.VersionInfo {
			t.Fatalf("%s: %s version %q, first replica %q", who, typ, g.VersionInfo, w.VersionInfo)
		}
		if len(g.Resources) != len(w.Resources) {
			t.Fatalf("%s: %d %s resources, first replica %d", who, len(g.Resources), typ, len(w.Resources))
		}
		for i := range w.Resources {
			if !proto.Equal(g.Resources[i], w.Resources[i]) {
				t.Fatalf("%s: %s resource %d differs from the first replica's", who, typ, i)
			}
		}
	}
}
