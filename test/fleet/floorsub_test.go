package fleet

import (
	"context"
	"net"
	"testing"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	xdsserver "github.com/gatehouse-dev/gatehouse/xds/server"
)

// The fleet subscribes every Envoy to every name, so TestFleetSmall cannot
// tell a floor that honours subscriptions from one that sends every change
// to every stream. These tests can: a stream gets the changes of the names
// it holds and nothing else, and one that subscribes after a change gets
// the changed resource.

func startFloor(t *testing.T, services int) (*floorBackend, discoveryv3.AggregatedDiscoveryServiceClient) {
	t.Helper()
	b, err := newFloorBackend(newFleetConfig(services, 2))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(xdsserver.GRPCServerOptions()...)
	b.register(g)
	go g.Serve(lis) //nolint:errcheck // ends with Stop
	t.Cleanup(g.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return b, discoveryv3.NewAggregatedDiscoveryServiceClient(cc)
}

// pump receives every message of a stream on one goroutine (a stream
// must not be read from two at once); the channel closes when it ends.
func pump[T any](recv func() (T, error)) <-chan T {
	ch := make(chan T, 16)
	go func() {
		defer close(ch)
		for {
			m, err := recv()
			if err != nil {
				return
			}
			ch <- m
		}
	}()
	return ch
}

// recvWithin returns the next message, or nil if none came within d.
func recvWithin[T any](t *testing.T, ch <-chan T, d time.Duration) *T {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return &m
	case <-time.After(d):
	}
	return nil
}

func change(t *testing.T, b *floorBackend, svc, port int) {
	t.Helper()
	if err := b.change(svc, cla(edsName(svc), port, 2)); err != nil {
		t.Fatal(err)
	}
}

func firstPort(t *testing.T, c *endpointv3.ClusterLoadAssignment) uint32 {
	t.Helper()
	return c.GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue()
}

func TestFloorDeltaHonoursSubscriptions(t *testing.T) {
	b, ads := startFloor(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := ads.DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := pump(st.Recv)
	// Service 1 changes before the stream subscribes: its first EDS
	// response must carry the change.
	change(t, b, 1, 30000)
	if err := st.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNamesSubscribe: []string{edsName(1), edsName(2), "no-such-name"}}); err != nil {
		t.Fatal(err)
	}
	r := recvWithin(t, in, 5*time.Second)
	if r == nil || len((*r).GetResources()) != 2 {
		t.Fatalf("subscription answered with %v, want the 2 existing names", deltaNames(r))
	}
	for _, res := range (*r).GetResources() {
		c := &endpointv3.ClusterLoadAssignment{}
		if err := res.GetResource().UnmarshalTo(c); err != nil {
			t.Fatal(err)
		}
		want := uint32(basePort)
		if res.GetName() == edsName(1) {
			want = 30000
		}
		if got := firstPort(t, c); got != want || c.GetClusterName() != res.GetName() {
			t.Errorf("%s: %s from port %d, want port %d", res.GetName(), c.GetClusterName(), got, want)
		}
	}
	ack := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResponseNonce: (*r).GetNonce()}
	if err := st.Send(ack); err != nil {
		t.Fatal(err)
	}
	// A change of a name it does not hold: nothing. Then one it holds.
	change(t, b, 3, 30100)
	change(t, b, 2, 30200)
	r = recvWithin(t, in, 5*time.Second)
	if r == nil || len((*r).GetResources()) != 1 || (*r).GetResources()[0].GetName() != edsName(2) {
		t.Fatalf("after changes of %s and %s got %v, want %s alone", edsName(3), edsName(2), deltaNames(r), edsName(2))
	}
	// Unsubscribed, a name's changes stop.
	if err := st.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResponseNonce: (*r).GetNonce(), ResourceNamesUnsubscribe: []string{edsName(2)}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the server read it
	change(t, b, 2, 30300)
	if r := recvWithin(t, in, 300*time.Millisecond); r != nil {
		t.Fatalf("after unsubscribing %s got %v", edsName(2), *r)
	}
}

func TestFloorSotWHonoursSubscriptions(t *testing.T) {
	b, ads := startFloor(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := pump(st.Recv)
	names := []string{edsName(0)}
	if err := st.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNames: names}); err != nil {
		t.Fatal(err)
	}
	r := recvWithin(t, in, 5*time.Second)
	if r == nil || len((*r).GetResources()) != 1 {
		t.Fatalf("subscription answered with %v, want 1 CLA", r)
	}
	// The ACK repeats the names: no answer.
	if err := st.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNames: names, VersionInfo: (*r).GetVersionInfo(), ResponseNonce: (*r).GetNonce()}); err != nil {
		t.Fatal(err)
	}
	if r := recvWithin(t, in, 300*time.Millisecond); r != nil {
		t.Fatalf("an ACK was answered with %v", *r)
	}
	change(t, b, 1, 30000) // not held
	change(t, b, 0, 30100)
	r = recvWithin(t, in, 5*time.Second)
	if r == nil || len((*r).GetResources()) != 1 {
		t.Fatalf("after the changes got %v, want 1 CLA", r)
	}
	c := &endpointv3.ClusterLoadAssignment{}
	if err := (*r).GetResources()[0].UnmarshalTo(c); err != nil {
		t.Fatal(err)
	}
	if c.GetClusterName() != edsName(0) || firstPort(t, c) != 30100 {
		t.Fatalf("got %s from port %d, want %s from 30100", c.GetClusterName(), firstPort(t, c), edsName(0))
	}
	// New names replace the old: the answer holds the new set, and the
	// name dropped no longer gets changes.
	names = []string{edsName(1), edsName(2)}
	if err := st.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNames: names, VersionInfo: (*r).GetVersionInfo(), ResponseNonce: (*r).GetNonce()}); err != nil {
		t.Fatal(err)
	}
	r = recvWithin(t, in, 5*time.Second)
	if r == nil || len((*r).GetResources()) != 2 {
		t.Fatalf("new names answered with %v, want 2 CLAs", r)
	}
	change(t, b, 0, 30200)
	if r := recvWithin(t, in, 300*time.Millisecond); r != nil {
		t.Fatalf("a change of a dropped name was sent: %v", *r)
	}
}

// deltaNames lists a response's resource names ("none" for no response).
func deltaNames(r **discoveryv3.DeltaDiscoveryResponse) any {
	if r == nil {
		return "none"
	}
	var out []string
	for _, res := range (*r).GetResources() {
		out = append(out, res.GetName())
	}
	return out
}
