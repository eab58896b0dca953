package server

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// N state-of-the-world streams of a group cost one encoding per resource
// and snapshot, not one per stream: the initial sync of 5 Envoys encodes
// each of the group's resources once, and an endpoint change encodes the
// changed CLA once, while every stream gets it.
func TestSotWEncodesOncePerVersion(t *testing.T) {
	h, f := published(t, 20, 3)
	resources := int64(20 + 20 + 1 + 1) // clusters, CLAs, listener, route config

	before := resourceEncodings.Load()
	var streams []*adsStream
	for i := range 5 {
		a := h.open(t, fmt.Sprintf("e%d", i), "gw", "envoy")
		subscribeAll(t, a, f)
		streams = append(streams, a)
	}
	if got := resourceEncodings.Load() - before; got != resources {
		t.Fatalf("initial sync of 5 streams encoded %d resources, want %d (each once)", got, resources)
	}
	if m := h.metricValue(t, "gatehouse_xds_resource_encodings_total"); m < float64(resources) {
		t.Fatalf("gatehouse_xds_resource_encodings_total %v, want at least %d", m, resources)
	}

	before = resourceEncodings.Load()
	f.clas[edsName(4)] = testCLA(edsName(4), 30000, 3)
	mustPublish(t, h.pub, f.groups(), f.clas)
	edsNames := slices.Sorted(mapKeys(f.group.EDS))
	for _, a := range streams {
		r := a.recv(resource.EndpointType)
		// Only the changed CLA: each stream ACKed the others (sotweds.go).
		if got := firstPort(t, anyCLAs(t, r.GetResources()), edsName(4)); got != 30000 || len(r.GetResources()) != 1 {
			t.Fatalf("EDS after the change: %d CLAs, %s at port %d; want 1 and 30000", len(r.GetResources()), edsName(4), got)
		}
		a.ack(r, edsNames)
	}
	if got := resourceEncodings.Load() - before; got != 1 {
		t.Fatalf("an endpoint change sent to 5 streams encoded %d resources, want 1", got)
	}
	// Closed streams leave nothing behind in sharedSotW.
	for _, a := range streams {
		a.close()
	}
	waitFor(t, "closed streams forgotten", func() bool {
		h.pub.sotw.mu.Lock()
		defer h.pub.sotw.mu.Unlock()
		return len(h.pub.sotw.streams) == 0 && len(h.pub.sotw.groups) == 0
	})
}

// The shared response carries, byte for byte, what proto.Marshal gives
// for go-control-plane's own response's resources (in name order; the
// stock cache lists them in map order), the same bytes for every stream,
// and decodes to the same response.
func TestSotWSharedResponseBytes(t *testing.T) {
	p := newTestPublisher(t)
	f := newFixture("gw", translate.ClientEnvoy, 30, 4)
	mustPublish(t, p, f.groups(), f.clas)
	for _, typ := range []string{resource.ClusterType, resource.EndpointType, resource.ListenerType, resource.RouteType} {
		req := &cache.Request{Node: nodeFor("gw", "envoy"), TypeUrl: typ}
		if typ == resource.EndpointType {
			req.ResourceNames = slices.Sorted(mapKeys(f.group.EDS))
		}
		if typ == resource.RouteType {
			req.ResourceNames = []string{"gw-http"}
		}
		var got [2]*discoveryv3.DiscoveryResponse
		var want *discoveryv3.DiscoveryResponse
		for i := range got {
			out := make(chan cache.Response, 1)
			if _, err := p.envoy.CreateWatch(req, stream.NewSotwSubscription(req.GetResourceNames(), true), out); err != nil {
				t.Fatal(err)
			}
			raw := <-out
			// EDS goes through the stream's edsStream, which sends a
			// stream that holds nothing (a new one) the shared whole.
			shared := p.sotw.share(&sotwFan{}, raw)
			ok := false
			switch s := shared.(type) {
			case *sharedResponse:
				ok = true
			case *edsResponse:
				ok = s.cur != nil
			}
			if !ok {
				t.Fatalf("%s: the whole type at the published version was not shared", typ)
			}
			w, err := raw.GetDiscoveryResponse()
			if err != nil {
				t.Fatal(err)
			}
			want = proto.Clone(w).(*discoveryv3.DiscoveryResponse)
			if got[i], err = shared.GetDiscoveryResponse(); err != nil {
				t.Fatal(err)
			}
		}
		slices.SortFunc(want.Resources, func(a, b *anypb.Any) int { return compareNames(t, a, b) })
		canonical, err := proto.Marshal(&discoveryv3.DiscoveryResponse{Resources: want.Resources})
		if err != nil {
			t.Fatal(err)
		}
		body0, body1 := got[0].ProtoReflect().GetUnknown(), got[1].ProtoReflect().GetUnknown()
		if !bytes.Equal(body0, canonical) {
			t.Fatalf("%s: shared resources (%d bytes) differ from proto.Marshal's (%d bytes)", typ, len(body0), len(canonical))
		}
		if &body0[0] != &body1[0] {
			t.Fatalf("%s: two streams' responses do not share their bytes", typ)
		}
		got[0].Nonce, want.Nonce = "7", "7"
		wire, err := proto.Marshal(got[0])
		if err != nil {
			t.Fatal(err)
		}
		var decoded discoveryv3.DiscoveryResponse
		if err := proto.Unmarshal(wire, &decoded); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(&decoded, want) {
			t.Fatalf("%s: the shared response decodes to something else than go-control-plane's", typ)
		}
	}
	// A response of a version the group's snapshot no longer has (the
	// publisher moved on) keeps go-control-plane's own.
	req := &cache.Request{Node: nodeFor("gw", "envoy"), TypeUrl: resource.ClusterType}
	out := make(chan cache.Response, 1)
	if _, err := p.envoy.CreateWatch(req, stream.NewSotwSubscription(nil, true), out); err != nil {
		t.Fatal(err)
	}
	raw := <-out
	g := f.clone()
	g.group.Clusters = g.group.Clusters[1:]
	g.group.Routes = []types.Resource{testRoute("gw-http", clusterNames(1, 30)...)}
	delete(g.group.EDS, edsName(0))
	mustPublish(t, p, g.groups(), g.clas)
	if _, shared := p.sotw.share(&sotwFan{}, raw).(*sharedResponse); shared {
		t.Fatal("a response of an older version was shared")
	}
}

func clusterNames(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, clusterName(i))
	}
	return out
}

func compareNames(t *testing.T, a, b *anypb.Any) int {
	t.Helper()
	name := func(x *anypb.Any) string {
		m, err := x.UnmarshalNew()
		if err != nil {
			t.Fatal(err)
		}
		return cache.GetResourceName(m)
	}
	return strings.Compare(name(a), name(b))
}
