package server

import (
	"fmt"
	"slices"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

// New delta streams subscribing to every resource of a type (wildcard
// CDS, every EDS name) are sent the type with the snapshot's shared body;
// what they decode is, resource by resource, what the per-stream path
// sends (name, version, Any); the proxy status still lists the names sent
// (here: a NACK of that response names them), and a later change goes the
// per-stream way with just the changed CLA.
func TestDeltaWholeTypeSharedBody(t *testing.T) {
	h, f := published(t, 30, 2)
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

	// A change: one CLA, its encoding shared by the streams' responses.
	before, fields := wholeBodiesSent.Load(), fieldBodiesSent.Load()
	setPort(t, h, f, 7, 26007)
	cur = h.pub.delta.current(f.key)
	for _, d := range ds {
		r := d.recv(resource.EndpointType)
		if got := deltaNames(r); !slices.Equal(got, []string{edsName(7)}) {
			t.Fatalf("after a change: %v, want only %s", got, edsName(7))
		}
		check(r, map[string]*discoveryv3.Resource{edsName(7): want(tEndpoints)[edsName(7)]})
	}
	if got := wholeBodiesSent.Load() - before; got != 0 {
		t.Fatalf("%d change responses went with a whole body", got)
	}
	if got := fieldBodiesSent.Load() - fields; got != streams {
		t.Fatalf("%d change responses went with the shared encoding, want %d", got, streams)
	}
}

// The tracker still learns the names a whole-type response carried: a
// NACK of it reports them (up to the tracker's limit).
func TestDeltaWholeTypeNACKNamesResources(t *testing.T) {
	h, f := published(t, 3, 1)
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

	// A change response (shared encodings too) NACKed names its CLA.
	d.subscribe(resource.EndpointType, edsName(0), edsName(1), edsName(2))
	r = d.next(resource.EndpointType)
	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResponseNonce: r.GetNonce()})
	setPort(t, h, f, 1, 27001)
	r = d.next(resource.EndpointType)
	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResponseNonce: r.GetNonce(), ErrorDetail: &status.Status{Code: 3, Message: "bad endpoints"}})
	waitFor(t, "the EDS NACK in the proxy status", func() bool {
		p, ok := h.proxy("n1")
		return ok && p.Types[TypeEndpoints].NACK != nil
	})
	p, _ = h.proxy("n1")
	if got := p.Types[TypeEndpoints].NACK.Resources; !slices.Equal(got, []string{edsName(1)}) {
		t.Fatalf("EDS NACK names %v, want [%s]", got, edsName(1))
	}
}

// BenchmarkDeltaChangeResponseMarshal: what gRPC does per stream with a
// change response of one CLA (10 endpoints): marshal it with the Resource
// as a message (before) and with the Resource's shared field encoding
// (fieldsResponse), measured in the same run; reports both and their
// ratio (shared/message).
func BenchmarkDeltaChangeResponseMarshal(b *testing.B) {
	e := newDeltaEncoding(edsName(1), resource.EndpointType, testCLA(edsName(1), 20000, 10))
	res, err := e.get()
	if err != nil {
		b.Fatal(err)
	}
	field, err := e.field()
	if err != nil {
		b.Fatal(err)
	}
	var message, shared time.Duration
	for b.Loop() {
		start := time.Now()
		out := &discoveryv3.DeltaDiscoveryResponse{Resources: []*discoveryv3.Resource{res}, TypeUrl: resource.EndpointType, SystemVersionInfo: "v", Nonce: "17"}
		if _, err := proto.Marshal(out); err != nil {
			b.Fatal(err)
		}
		message += time.Since(start)
		start = time.Now()
		out = &discoveryv3.DeltaDiscoveryResponse{TypeUrl: resource.EndpointType, SystemVersionInfo: "v", Nonce: "17"}
		out.ProtoReflect().SetUnknown(field)
		if _, err := proto.Marshal(out); err != nil {
			b.Fatal(err)
		}
		shared += time.Since(start)
	}
	b.ReportMetric(float64(message.Nanoseconds())/float64(b.N), "message-ns")
	b.ReportMetric(float64(shared.Nanoseconds())/float64(b.N), "shared-ns")
	b.ReportMetric(float64(shared)/float64(message), "shared/message")
}
