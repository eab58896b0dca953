package server

import (
	"fmt"
	"math/rand/v2"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"

	"github.com/gatehouse-dev/gatehouse/xds/translate"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// randomRequest is a DiscoveryRequest with any of its fields set, names
// drawn from a small pool so that requests repeat each other's names.
func randomRequest(r *rand.Rand) *discoveryv3.DiscoveryRequest {
	types := []string{resource.EndpointType, resource.ClusterType, "type.googleapis.com/x"}
	req := &discoveryv3.DiscoveryRequest{TypeUrl: types[r.IntN(len(types))]}
	if r.IntN(2) == 0 {
		req.VersionInfo = fmt.Sprint(r.IntN(5))
	}
	if r.IntN(2) == 0 {
		req.ResponseNonce = fmt.Sprint(r.IntN(5))
	}
	if r.IntN(4) == 0 {
		req.Node = &corev3.Node{Id: "n", Cluster: "gw"}
	}
	if r.IntN(6) == 0 {
		req.ErrorDetail = &status.Status{Code: 3, Message: "nack"}
	}
	if r.IntN(6) == 0 {
		req.ResourceLocators = []*discoveryv3.ResourceLocator{{Name: "loc"}}
	}
	if r.IntN(3) > 0 {
		n := r.IntN(6)
		for i := range n {
			req.ResourceNames = append(req.ResourceNames, []string{"a", "b", "c", "*", "é", fmt.Sprint("svc-", i)}[r.IntN(6)])
		}
	}
	return req
}

// TestRequestReaderDecodesAsProtoUnmarshal: whatever the request and the
// requests before it, the reader's request equals proto.Unmarshal's of the
// same bytes, and fails when it fails.
func TestRequestReaderDecodesAsProtoUnmarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var rr requestReader
	check := func(what string, b []byte) {
		t.Helper()
		want := &discoveryv3.DiscoveryRequest{}
		wantErr := proto.Unmarshal(b, want)
		got, err := rr.decode(b)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%s: err %v, proto.Unmarshal's %v", what, err, wantErr)
		}
		if err == nil && !proto.Equal(got, want) {
			t.Fatalf("%s: decoded\n%v\nwant\n%v", what, got, want)
		}
	}
	for i := range 3000 {
		req := randomRequest(r)
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		switch r.IntN(8) {
		case 0: // names split by another field
			b = protowire.AppendTag(b, 3, protowire.BytesType)
			b = protowire.AppendString(b, "late")
		case 1: // a name that is not UTF-8
			b = protowire.AppendTag(b, 3, protowire.BytesType)
			b = protowire.AppendBytes(b, []byte{0xff, 'x'})
		case 2: // field 3 with another wire type (unknown to proto.Unmarshal)
			b = protowire.AppendTag(b, 3, protowire.VarintType)
			b = protowire.AppendVarint(b, 7)
		case 3: // truncated
			if len(b) > 0 {
				b = b[:r.IntN(len(b))]
			}
		case 4: // an unknown field
			b = protowire.AppendTag(b, 99, protowire.BytesType)
			b = protowire.AppendString(b, "future")
		}
		check(fmt.Sprint("request ", i), b)
	}
}

// TestRequestReaderReusesUnchangedNames: a request naming the same
// resources as the previous one of its type gets the same slice, or the
// one sotwConn.request went on with; other names are decoded.
func TestRequestReaderReusesUnchangedNames(t *testing.T) {
	var rr requestReader
	enc := func(typeURL string, names ...string) []byte {
		b, err := proto.Marshal(&discoveryv3.DiscoveryRequest{TypeUrl: typeURL, ResourceNames: names, ResponseNonce: "1"})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	decode := func(b []byte) []string {
		t.Helper()
		req, err := rr.decode(b)
		if err != nil {
			t.Fatal(err)
		}
		return req.GetResourceNames()
	}
	first := decode(enc(resource.EndpointType, "a", "b"))
	if again := decode(enc(resource.EndpointType, "a", "b")); !sameSlice(first, again) {
		t.Fatal("the same names were decoded again")
	}
	if other := decode(enc(resource.ClusterType, "a", "b")); sameSlice(first, other) {
		t.Fatal("another type's request got the first type's slice")
	}
	kept := []string{"a", "b"}
	rr.kept(resource.EndpointType, first, kept)
	if got := decode(enc(resource.EndpointType, "a", "b")); !sameSlice(got, kept) {
		t.Fatal("the names sotwConn.request went on with were not given to the next request")
	}
	changed := decode(enc(resource.EndpointType, "a", "c"))
	if sameSlice(changed, kept) || fmt.Sprint(changed) != "[a c]" {
		t.Fatalf("changed names: %v", changed)
	}
	if got := decode(enc(resource.EndpointType)); len(got) != 0 {
		t.Fatalf("no names: %v", got)
	}
	if got := decode(enc(resource.EndpointType, "a", "c")); sameSlice(got, changed) {
		t.Fatal("names remembered across a request naming none")
	}
}

// edsACK is an Envoy's EDS ACK naming 1,000 CLAs, encoded.
func edsACK(tb testing.TB) []byte {
	tb.Helper()
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("eds/svc-%04d-0123456789abcdef", i)
	}
	b, err := proto.Marshal(&discoveryv3.DiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNames: names, VersionInfo: "v1", ResponseNonce: "7"})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestRequestReaderACKAllocations: an ACK naming 1,000 resources, as an
// Envoy's EDS ACK does, decodes its names once; the next with the same
// names allocates a few objects, not a string per name.
func TestRequestReaderACKAllocations(t *testing.T) {
	b := edsACK(t)
	var rr requestReader
	if _, err := rr.decode(b); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := rr.decode(b); err != nil {
			t.Fatal(err)
		}
	})
	stock := testing.AllocsPerRun(100, func() {
		if err := proto.Unmarshal(b, &discoveryv3.DiscoveryRequest{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("allocations per ACK: %.0f (proto.Unmarshal: %.0f)", allocs, stock)
	if allocs > 10 {
		t.Fatalf("%.0f allocations per unchanged ACK, want at most 10 (proto.Unmarshal: %.0f)", allocs, stock)
	}
}

// TestSotWACKNamesDecodedOnce: over real ADS streams, ACKs naming what the
// stream named before decode no name, on a server with RequestCodec and on
// one whose codec is another (a rawRequest then arrives as an Empty).
func TestSotWACKNamesDecodedOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		gopts []grpc.ServerOption
	}{
		{"RequestCodec", nil},
		{"another codec", []grpc.ServerOption{grpc.ForceServerCodecV2(encoding.GetCodecV2("proto"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessGRPC(t, Options{}, tc.gopts...)
			f := newFixture("gw", translate.ClientEnvoy, 30, 2)
			mustPublish(t, h.pub, f.groups(), f.clas)
			var streams []*adsStream
			for i := range 3 {
				a := h.open(t, fmt.Sprintf("e%d", i), "gw", "envoy")
				subscribeAll(t, a, f)
				streams = append(streams, a)
			}
			names := slices.Sorted(mapKeys(f.group.EDS))
			changeOneCLA(t, h, f, streams, names, 1, 20001) // the streams' first ACK of these names
			before := namesDecoded.Load()
			for round := range 3 {
				changeOneCLA(t, h, f, streams, names, 2+round, 20002+round)
			}
			if got := namesDecoded.Load() - before; got != 0 {
				t.Fatalf("%d requests' names decoded over 9 ACKs naming what their streams named before, want 0", got)
			}
		})
	}
}

// BenchmarkRequestReaderACK: an unchanged 1,000-name ACK, as every Envoy
// sends for EDS after each endpoint change, against proto.Unmarshal.
func BenchmarkRequestReaderACK(b *testing.B) {
	enc := edsACK(b)
	b.Run("reader", func(b *testing.B) {
		var rr requestReader
		for b.Loop() {
			if _, err := rr.decode(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("proto.Unmarshal", func(b *testing.B) {
		for b.Loop() {
			if err := proto.Unmarshal(enc, &discoveryv3.DiscoveryRequest{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSotWStreamsReadByOneGoroutine: on gatehouse's server a stream's
// requests reach its loop from the goroutine that reads them (the
// endable's), not through a reader goroutine of the loop's own, one
// handoff less per request. (In-memory test streams still get one.)
func TestSotWStreamsReadByOneGoroutine(t *testing.T) {
	h, f := published(t, 5, 2)
	for i := range 5 {
		subscribeAll(t, h.open(t, fmt.Sprintf("e%d", i), "gw", "envoy"), f)
	}
	var dump strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&dump, 2); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(dump.String(), "(*sotwADS).readRequests"); n != 0 {
		t.Fatalf("%d goroutines read requests for the state-of-the-world loops of 5 streams, want 0", n)
	}
	if n := strings.Count(dump.String(), "(*endable).read"); n < 5 {
		t.Fatalf("%d endable readers for 5 streams", n)
	}
}
