package translate

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// sameAsMarshal fails unless AppendCLA gives up on cla or writes exactly
// proto.Marshal's deterministic bytes (after a prefix, which it keeps).
func sameAsMarshal(t *testing.T, what string, cla *endpointv3.ClusterLoadAssignment) bool {
	t.Helper()
	prefix := []byte("prefix")
	got, ok := AppendCLA(append([]byte(nil), prefix...), cla)
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("%s: the buffer's prefix was overwritten", what)
	}
	if !ok {
		if !bytes.Equal(got, prefix) {
			t.Errorf("%s: gave up but changed the buffer", what)
		}
		return false
	}
	want, err := proto.MarshalOptions{Deterministic: true}.Marshal(cla)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[len(prefix):], want) {
		t.Errorf("%s: AppendCLA\n %x\nproto.Marshal\n %x", what, got[len(prefix):], want)
	}
	return true
}

// TestAppendCLAMatchesMarshal: random endpoint sets through Endpoints
// (zones, local zone priorities, weights, draining, ports up to 65535,
// duplicates) are always encoded by hand and byte for byte as
// proto.Marshal; so are hand-made shapes Endpoints never makes (nil
// submessages, zero oneofs, enums and weights); anything set that
// AppendCLA does not write makes it give up.
func TestAppendCLAMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	zones := []string{"", "z1", "z2", "a-very-long-zone-name-" + string(bytes.Repeat([]byte("x"), 200))}
	for i := range 2000 {
		eps := randomEndpoints(rng, rng.Intn(40), zones, func() int { return rng.Intn(3) * rng.Intn(1<<uint(rng.Intn(32))) })
		name := fmt.Sprintf("svc-%d/abcd@%s", i, zones[rng.Intn(len(zones))])
		cla := Endpoints(name, zones[rng.Intn(len(zones))], eps)
		if !sameAsMarshal(t, fmt.Sprintf("case %d", i), cla) {
			t.Fatalf("case %d: gave up on Endpoints' output", i)
		}
	}

	odd := map[string]*endpointv3.ClusterLoadAssignment{
		"empty":            {},
		"empty locality":   {Endpoints: []*endpointv3.LocalityLbEndpoints{{}}},
		"zero weights":     {Endpoints: []*endpointv3.LocalityLbEndpoints{{LoadBalancingWeight: &wrapperspb.UInt32Value{}, LbEndpoints: []*endpointv3.LbEndpoint{{LoadBalancingWeight: &wrapperspb.UInt32Value{}}}}}},
		"nil endpoint":     {Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{}}}}}},
		"nil address":      {Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{}}}}}}},
		"empty address":    {Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: &corev3.Address{}}}}}}}},
		"nil socket addr":  {Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{}}}}}}}}},
		"port 0, udp, all": {ClusterName: "x", Endpoints: []*endpointv3.LocalityLbEndpoints{{Priority: 7, Locality: &corev3.Locality{Region: "r", Zone: "z", SubZone: "s"}, LbEndpoints: []*endpointv3.LbEndpoint{{HealthStatus: corev3.HealthStatus_DEGRADED, HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Protocol: corev3.SocketAddress_UDP, Address: "::1", PortSpecifier: &corev3.SocketAddress_PortValue{}}}}}}}}}}},
		"negative enum":    {Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{HealthStatus: -3}}}}},
	}
	for what, cla := range odd {
		if !sameAsMarshal(t, what, cla) {
			t.Errorf("%s: gave up", what)
		}
	}

	sa := func(f func(*corev3.SocketAddress)) *endpointv3.ClusterLoadAssignment {
		s := &corev3.SocketAddress{Address: "10.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 80}}
		f(s)
		return &endpointv3.ClusterLoadAssignment{Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: s}}}}}}}}}
	}
	withUnknown := func(m proto.Message) proto.Message {
		m.ProtoReflect().SetUnknown(protoreflect.RawFields{0x78, 0x01}) // field 15, varint 1
		return m
	}
	refused := map[string]*endpointv3.ClusterLoadAssignment{
		"policy":           {Policy: &endpointv3.ClusterLoadAssignment_Policy{}},
		"named endpoints":  {NamedEndpoints: map[string]*endpointv3.Endpoint{"a": {}}},
		"unknown":          withUnknown(&endpointv3.ClusterLoadAssignment{}).(*endpointv3.ClusterLoadAssignment),
		"nil locality":     {Endpoints: []*endpointv3.LocalityLbEndpoints{nil}},
		"proximity":        {Endpoints: []*endpointv3.LocalityLbEndpoints{{Proximity: &wrapperspb.UInt32Value{Value: 1}}}},
		"metadata":         {Endpoints: []*endpointv3.LocalityLbEndpoints{{Metadata: &corev3.Metadata{}}}},
		"lb config":        {Endpoints: []*endpointv3.LocalityLbEndpoints{{LbConfig: &endpointv3.LocalityLbEndpoints_LoadBalancerEndpoints{}}}},
		"unknown locality": {Endpoints: []*endpointv3.LocalityLbEndpoints{{Locality: withUnknown(&corev3.Locality{Zone: "z"}).(*corev3.Locality)}}},
		"unknown weight":   {Endpoints: []*endpointv3.LocalityLbEndpoints{{LoadBalancingWeight: withUnknown(&wrapperspb.UInt32Value{}).(*wrapperspb.UInt32Value)}}},
		"nil lb endpoint":  {Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{nil}}}},
		"endpoint name":    {Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_EndpointName{EndpointName: "e"}}}}}},
		"hostname":         {Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Hostname: "h"}}}}}}},
		"pipe":             {Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: "/p"}}}}}}}}}},
		"named port":       sa(func(s *corev3.SocketAddress) { s.PortSpecifier = &corev3.SocketAddress_NamedPort{NamedPort: "http"} }),
		"resolver":         sa(func(s *corev3.SocketAddress) { s.ResolverName = "r" }),
		"ipv4 compat":      sa(func(s *corev3.SocketAddress) { s.Ipv4Compat = true }),
		"netns":            sa(func(s *corev3.SocketAddress) { s.NetworkNamespaceFilepath = "/n" }),
	}
	for what, cla := range refused {
		if sameAsMarshal(t, what, cla) {
			t.Errorf("%s: encoded by hand, want a fallback to proto.Marshal", what)
		}
	}
}

// TestAppendCLAKnowsEveryField: every field of every message AppendCLA
// walks is one it writes or one it gives up on. A field added to the API
// fails this test until AppendCLA handles it; without it, a CLA setting
// that field would hash like one without it, and its change would never
// be published.
func TestAppendCLAKnowsEveryField(t *testing.T) {
	known := map[proto.Message][]protoreflect.FieldNumber{
		&endpointv3.ClusterLoadAssignment{}: {1, 2, 4, 5},
		&endpointv3.LocalityLbEndpoints{}:   {1, 2, 3, 5, 6, 7, 8, 9},
		&endpointv3.LbEndpoint{}:            {1, 2, 3, 4, 5},
		&endpointv3.Endpoint{}:              {1, 2, 3, 4, 5},
		&corev3.Address{}:                   {1, 2, 3},
		&corev3.SocketAddress{}:             {1, 2, 3, 4, 5, 6, 7},
		&corev3.Locality{}:                  {1, 2, 3},
		&wrapperspb.UInt32Value{}:           {1},
	}
	for m, nums := range known {
		fs := m.ProtoReflect().Descriptor().Fields()
		var got []protoreflect.FieldNumber
		for i := range fs.Len() {
			got = append(got, fs.Get(i).Number())
		}
		set := map[protoreflect.FieldNumber]bool{}
		for _, n := range nums {
			set[n] = true
		}
		if len(got) != len(nums) {
			t.Errorf("%s has fields %v, AppendCLA knows %v", m.ProtoReflect().Descriptor().FullName(), got, nums)
			continue
		}
		for _, n := range got {
			if !set[n] {
				t.Errorf("%s: field %d unknown to AppendCLA", m.ProtoReflect().Descriptor().FullName(), n)
			}
		}
	}
}

// TestHashedEndpointsMatchMarshal: HashedEndpoints builds what Endpoints
// builds and hashes it as the publisher hashes a marshalled resource, over
// random endpoint sets, one buffer reused from large sets to small ones
// (a stale tail must not reach the hash). Every CLA it hashes is one
// claEncodable accepts, the premise of skipping that walk.
func TestHashedEndpointsMatchMarshal(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	zones := []string{"", "z1", "z2", "z3"}
	var buf []byte
	seen := map[uint64]string{}
	for i := range 1000 {
		n := rng.Intn(30)
		if i%2 == 1 {
			n = rng.Intn(3) // after a large set, a small one into the same buffer
		}
		eps := randomEndpoints(rng, n, zones, func() int { return rng.Intn(4) })
		name := fmt.Sprintf("svc-%d/abcd", i%50)
		local := zones[rng.Intn(len(zones))]
		cla, h := HashedEndpoints(name, local, eps, &buf)
		if want := Endpoints(name, local, eps); !proto.Equal(cla, want) {
			t.Fatalf("case %d: HashedEndpoints built another CLA than Endpoints", i)
		}
		if !claEncodable(cla) {
			t.Fatalf("case %d: Endpoints built a CLA that claEncodable refuses", i)
		}
		enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(cla)
		if err != nil {
			t.Fatal(err)
		}
		if want := ContentHash(enc); h != want {
			t.Fatalf("case %d: hash %x, want %x (the hash of proto.Marshal's encoding)", i, h, want)
		}
		if prev, ok := seen[h]; ok && prev != string(enc) {
			t.Fatalf("case %d: two different CLAs hash alike", i)
		}
		seen[h] = string(enc)
	}
	if len(seen) < 500 {
		t.Fatalf("only %d distinct CLAs: the test compares too little", len(seen))
	}
}

// randomEndpoints is n endpoints in random zones, ports and draining
// states, weighted by weight, sorted as the registry hands them over.
func randomEndpoints(rng *rand.Rand, n int, zones []string, weight func() int) []registry.Endpoint {
	eps := make([]registry.Endpoint, n)
	for j := range eps {
		eps[j] = registry.Endpoint{
			Address:  fmt.Sprintf("10.%d.%d.%d", rng.Intn(3), rng.Intn(256), rng.Intn(256)),
			Port:     rng.Intn(65536),
			Zone:     zones[rng.Intn(len(zones))],
			Weight:   weight(),
			Draining: rng.Intn(5) == 0,
		}
	}
	registry.Sort(eps)
	return eps
}
