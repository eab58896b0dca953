package server

import (
	"fmt"
	"slices"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// New delta streams subscribing to every resource of a type (wildcard
// CDS, every EDS name) are sent the type with the snapshot's shared body;
// what they decode is, resource by resource, what the per-stream path
// sends (name, version, Any); the proxy status still lists the names sent
// (here: a NACK of that response names them), and a later change goes the
// per-stream way with just the changed CLA.
func TestDeltaWholeTypeSharedBody(t *testing.T) {
	h := newHarness(t)
	f := newFixture("gw", translate.ClientEnvoy, 30, 2)
	mustPublish(t, h.pub, f.groups(), f.clas)
	edsNames := slices.Sorted(mapKeys(f.group.EDS))
	cur := h.pub.delta.current(f.key)
	want := func(t0 typeIdx) map[string]*discoveryv3.Resource {
		out := map[string]*discoveryv3.Resource{}
		for n, e := range cur.types[t0].enc {
			r, err := e.get()
			if err != nil {
				t.Fatal(err)
			}
			out[n] = r
		}
		return out
	}
	check := func(r *discoveryv3.DeltaDiscoveryResponse, w map[string]*discoveryv3.Resource) {
		t.Helper()
		if len(r.GetResources()) != len(w) {
			t.Fatalf("%s: %d resources, want %d", r.GetTypeUrl(), len(r.GetResources()), len(w))
		}
		for _, res := range r.GetResources() {
			if !proto.Equal(res, w[res.GetName()]) {
				t.Fatalf("%s %s: got %v, want %v", r.GetTypeUrl(), res.GetName(), res, w[res.GetName()])
			}
		}
	}
	before := wholeBodiesSent.Load()
	const streams = 3
	var ds []*deltaStream
	for i := range streams {
		d := h.openDelta(t, fmt.Sprintf("d%d", i), "gw")
		d.subscribe(resource.ClusterType)
		check(d.recv(resource.ClusterType), want(tClusters))
		d.subscribe(resource.EndpointType, edsNames...)
		check(d.recv(resource.EndpointType), want(tEndpoints))
		ds = append(ds, d)
	}
	if got := wholeBodiesSent.Load() - before; got != 2*streams {
		t.Fatalf("%d responses went with a shared body, want %d (CDS and EDS of each new stream)", got, 2*streams)
	}

	// A change: the per-stream path, one CLA.
	before = wholeBodiesSent.Load()
	setPort(t, h, f, 7, 26007)
	for _, d := range ds {
		if got := deltaNames(d.recv(resource.EndpointType)); !slices.Equal(got, []string{edsName(7)}) {
			t.Fatalf("after a change: %v, want only %s", got, edsName(7))
		}
	}
	if got := wholeBodiesSent.Load() - before; got != 0 {
		t.Fatalf("%d change responses went with a whole body", got)
	}
}

// The tracker still learns the names a whole-type response carried: a
// NACK of it reports them (up to the tracker's limit).
func TestDeltaWholeTypeNACKNamesResources(t *testing.T) {
	h := newHarness(t)
	f := newFixture("gw", translate.ClientEnvoy, 3, 1)
	mustPublish(t, h.pub, f.groups(), f.clas)
	d := h.openDelta(t, "n1", "gw")
	d.subscribe(resource.ClusterType)
	r := d.next(resource.ClusterType)
	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResponseNonce: r.GetNonce(), ErrorDetail: &status.Status{Code: 3, Message: "bad cluster"}})
	waitFor(t, "the NACK in the proxy status", func() bool {
		p, ok := h.proxy("n1")
		return ok && p.Types[TypeClusters].NACK != nil
	})
	p, _ := h.proxy("n1")
	nack := p.Types[TypeClusters].NACK
	for i := range 3 {
		if !slices.Contains(nack.Resources, clusterName(i)) {
			t.Fatalf("NACK names %v, want every cluster sent (%s missing)", nack.Resources, clusterName(i))
		}
	}
}
