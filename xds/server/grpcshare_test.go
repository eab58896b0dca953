package server

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Proxyless gRPC streams, each asking for its own overlapping names as
// grpc-go does, cost one encoding per resource and content, not one per
// stream: the initial sync encodes each requested cluster and CLA once,
// and an endpoint change encodes the changed CLA once, while every stream
// subscribed to it gets its CLAs again (the stock cache's answer). What
// they are sent is, byte for byte, what the stock cache's response would
// carry.
func TestGRPCEncodesOncePerContent(t *testing.T) {
	h := newHarness(t)
	f := newFixture("gw", translate.ClientGRPC, 20, 2)
	mustPublish(t, h.pub, f.groups(), f.clas)
	const streams, each = 5, 10 // stream i asks for clusters i .. i+9

	before := resourceEncodings.Load()
	var all []*adsStream
	for i := range streams {
		a := h.open(t, fmt.Sprintf("g%d", i), "gw", "gRPC Go")
		clusters := clusterNames(i, i+each)
		a.send(resource.ClusterType, clusters, "", "")
		r := a.recv(resource.ClusterType)
		checkStockBytes(t, h, f.key, r, clusters)
		a.ack(r, clusters)
		var eds []string
		for j := i; j < i+each; j++ {
			eds = append(eds, edsName(j))
		}
		a.send(resource.EndpointType, eds, "", "")
		r = a.recv(resource.EndpointType)
		checkStockBytes(t, h, f.key, r, eds)
		a.ack(r, eds)
		all = append(all, a)
	}
	distinct := int64(streams - 1 + each)
	if got := resourceEncodings.Load() - before; got != 2*distinct {
		t.Fatalf("the initial sync of %d proxyless streams encoded %d resources, want %d (each requested cluster and CLA once)", streams, got, 2*distinct)
	}

	before = resourceEncodings.Load()
	setPort(t, h, f, 5, 25005) // in every stream's names
	for i, a := range all {
		r := a.recv(resource.EndpointType)
		if got := firstPort(t, anyCLAs(t, r.GetResources()), edsName(5)); got != 25005 {
			t.Fatalf("stream %d: %s at port %d after the change, want 25005", i, edsName(5), got)
		}
		var eds []string
		for j := i; j < i+each; j++ {
			eds = append(eds, edsName(j))
		}
		checkStockBytes(t, h, f.key, r, eds)
	}
	if got := resourceEncodings.Load() - before; got != 1 {
		t.Fatalf("an endpoint change sent to %d proxyless streams encoded %d resources, want 1", streams, got)
	}

	// A removed group's encodings go with it.
	h.pub.Remove(f.key)
	h.pub.grpcShare.mu.Lock()
	n := len(h.pub.grpcShare.groups)
	h.pub.grpcShare.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d groups' encodings kept after the removal", n)
	}
}

// checkStockBytes checks that r carries exactly names, each encoded as
// the stock cache encodes the published resource.
func checkStockBytes(t *testing.T, h *harness, k translate.GroupKey, r *discoveryv3.DiscoveryResponse, names []string) {
	t.Helper()
	snap, err := h.pub.grpc.GetSnapshot(k.String())
	if err != nil {
		t.Fatal(err)
	}
	items := snap.GetResourcesAndTTL(r.GetTypeUrl())
	var got []string
	for _, a := range r.GetResources() {
		name := ""
		for n, it := range items {
			b, err := cache.MarshalResource(it.Resource)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(b, a.GetValue()) && a.GetTypeUrl() == r.GetTypeUrl() {
				name = n
			}
		}
		if name == "" {
			t.Fatalf("%s response carries a resource that is not the stock encoding of any published one", r.GetTypeUrl())
		}
		got = append(got, name)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(got, want) {
		t.Fatalf("%s response carries %v, want %v", r.GetTypeUrl(), got, want)
	}
}
