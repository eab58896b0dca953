package translate

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// serialize renders every group deterministically, for byte comparison.
func serialize(t *testing.T, groups map[GroupKey]*Group) []byte {
	t.Helper()
	var buf bytes.Buffer
	opts := proto.MarshalOptions{Deterministic: true}
	for _, k := range sortedGroupKeys(groups) {
		g := groups[k]
		buf.WriteString(k.String() + "\n")
		for _, rs := range [][]types.Resource{g.Listeners, g.Routes, g.Clusters, g.Secrets} {
			for _, r := range rs {
				b, err := opts.Marshal(r)
				if err != nil {
					t.Fatal(err)
				}
				buf.Write(b)
			}
		}
		for _, e := range sortedKeys(g.EDS) {
			buf.WriteString(e + "=" + g.EDS[e] + "\n")
		}
		buf.WriteString(strings.Join(g.Skipped, "\n"))
	}
	return buf.Bytes()
}

// reshuffle rebuilds the snapshot's maps so that Go iterates them in a
// different order, and reverses slices whose order must not matter.
func reshuffle(p *policy.Snapshot) *policy.Snapshot {
	out := &policy.Snapshot{
		Gateways: map[string]*policy.Gateway{},
		Services: map[string]*policy.Service{},
		Routes:   map[string]*policy.Route{},
	}
	for _, k := range reverseKeys(p.Gateways) {
		out.Gateways[k] = p.Gateways[k]
	}
	for _, k := range reverseKeys(p.Services) {
		out.Services[k] = p.Services[k]
	}
	for _, k := range reverseKeys(p.Routes) {
		out.Routes[k] = p.Routes[k]
	}
	return out
}

func reverseKeys[V any](m map[string]V) []string {
	ks := sortedKeys(m)
	for i, j := 0, len(ks)-1; i < j; i, j = i+1, j-1 {
		ks[i], ks[j] = ks[j], ks[i]
	}
	return ks
}

func TestDeterministic(t *testing.T) {
	p := bigSnapshot(t, 40, 120, 7)
	first, err := Translate(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := serialize(t, first)
	for i := 0; i < 3; i++ {
		again, err := Translate(reshuffle(p), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := serialize(t, again); !bytes.Equal(got, want) {
			t.Fatalf("run %d: output differs from the first run", i)
		}
	}
}

func TestTranslateDoesNotMutateInput(t *testing.T) {
	p := bigSnapshot(t, 20, 60, 5)
	before := bigSnapshot(t, 20, 60, 5)
	if _, err := Translate(p, Options{}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, before) {
		t.Fatal("Translate changed its input snapshot")
	}
}

func TestRouteOrderIgnoresNamesAndFileOrder(t *testing.T) {
	w := func(n int) *int { return &n }
	mk := func(name string, m policy.RouteMatch) *policy.Route {
		return &policy.Route{Meta: policy.Meta{Kind: policy.KindRoute, Name: name}, Spec: policy.RouteSpec{
			Gateways: []string{"public"}, Hosts: []string{"api.example.com"}, Match: m,
			Backends: []policy.Backend{{Service: "s", Weight: w(1)}},
		}}
	}
	p := bigSnapshot(t, 1, 0, 1)
	p.Services["s"] = &policy.Service{Meta: policy.Meta{Kind: policy.KindService, Name: "s"}}
	for _, r := range []*policy.Route{
		mk("a-root", policy.RouteMatch{}),
		mk("b-regex", policy.RouteMatch{Path: policy.PathMatch{Regex: "^/x$"}}),
		mk("c-short", policy.RouteMatch{Path: policy.PathMatch{Prefix: "/u"}}),
		mk("d-long", policy.RouteMatch{Path: policy.PathMatch{Prefix: "/users"}}),
		mk("e-long-header", policy.RouteMatch{Path: policy.PathMatch{Prefix: "/users"}, Headers: []policy.HeaderMatch{{Name: "x", Present: true}}}),
		mk("f-exact", policy.RouteMatch{Path: policy.PathMatch{Exact: "/users/me"}}),
		mk("g-long-tie", policy.RouteMatch{Path: policy.PathMatch{Prefix: "/items"}}),
		// Conditions count headers and query parameters together.
		mk("h-items-header", policy.RouteMatch{Path: policy.PathMatch{Prefix: "/items"}, Headers: []policy.HeaderMatch{{Name: "x", Present: true}}}),
		mk("i-items-header-query", policy.RouteMatch{Path: policy.PathMatch{Prefix: "/items"}, Headers: []policy.HeaderMatch{{Name: "x", Present: true}}, Query: []policy.QueryMatch{{Name: "q", Present: true}}}),
	} {
		p.Routes[r.Name] = r
	}
	groups, err := Translate(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rc := groups[GroupKey{"public", ClientEnvoy}].Routes[0].(*routev3.RouteConfiguration)
	var got []string
	for _, vh := range rc.VirtualHosts {
		if vh.Name != "api.example.com" {
			continue
		}
		for _, r := range vh.Routes {
			got = append(got, r.Name)
		}
	}
	want := []string{"f-exact", "i-items-header-query", "e-long-header", "h-items-header", "d-long", "g-long-tie", "c-short", "a-root", "b-regex"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("route order = %v, want %v", got, want)
	}
}

func edsNameOf(t *testing.T, p *policy.Snapshot, kind ClientKind, svc string) string {
	t.Helper()
	groups, err := Translate(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range groups[GroupKey{"public", kind}].Clusters {
		c := r.(*clusterv3.Cluster)
		if c.Name == clusterName(svc) {
			return c.EdsClusterConfig.ServiceName
		}
	}
	t.Fatalf("no cluster for %s", svc)
	return ""
}

func TestEDSNameFollowsClusterSpec(t *testing.T) {
	p := bigSnapshot(t, 5, 10, 2)
	before := edsNameOf(t, p, ClientEnvoy, "svc-0001")
	if again := edsNameOf(t, p, ClientEnvoy, "svc-0001"); again != before {
		t.Fatalf("EDS name changed without a change: %s -> %s", before, again)
	}
	if !strings.HasPrefix(before, "svc/svc-0001/") || len(before) != len("svc/svc-0001/")+8 {
		t.Fatalf("EDS name %q is not svc/<service>/<8 hex>", before)
	}
	p.Services["svc-0001"].Spec.ConnectTimeout = policy.Duration(42 * time.Second)
	if after := edsNameOf(t, p, ClientEnvoy, "svc-0001"); after == before {
		t.Fatalf("EDS name %s kept after the cluster changed", after)
	}
	// Another Service's change leaves this one alone.
	other := edsNameOf(t, p, ClientEnvoy, "svc-0002")
	p.Services["svc-0003"].Spec.ConnectTimeout = policy.Duration(43 * time.Second)
	if got := edsNameOf(t, p, ClientEnvoy, "svc-0002"); got != other {
		t.Fatalf("EDS name of an unchanged cluster moved: %s -> %s", other, got)
	}
}

func TestEndpoints(t *testing.T) {
	cla := Endpoints("svc/a/00000000", "", []registry.Endpoint{
		{Address: "10.0.0.9", Port: 80, Weight: 0},
		{Address: "10.0.0.1", Port: 80, Weight: 2, Zone: "a"},
		{Address: "10.0.0.2", Port: 80, Weight: 3, Zone: "a"},
		{Address: "10.0.0.2", Port: 80, Weight: 3, Zone: "a"}, // duplicate
		{Address: "10.0.0.3", Port: 81, Weight: 1, Zone: "b"},
		{Address: "10.0.0.4", Port: 80, Weight: 4, Zone: "a"}, // out of order zone
	})
	if err := cla.ValidateAll(); err != nil {
		t.Fatal(err)
	}
	type loc struct {
		zone   string
		weight uint32
		n      int
	}
	var got []loc
	for _, l := range cla.Endpoints {
		got = append(got, loc{l.Locality.GetZone(), l.LoadBalancingWeight.GetValue(), len(l.LbEndpoints)})
	}
	want := []loc{{"", 1, 1}, {"a", 9, 3}, {"b", 1, 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("localities = %+v, want %+v", got, want)
	}
	if w := cla.Endpoints[0].LbEndpoints[0].LoadBalancingWeight.GetValue(); w != 1 {
		t.Errorf("weight 0 endpoint got weight %d, want 1", w)
	}
	if err := checkCLA(cla); err != nil {
		t.Errorf("checkCLA: %v", err)
	}
	if empty := Endpoints("svc/a/00000000", "", nil); len(empty.Endpoints) != 0 || empty.ClusterName != "svc/a/00000000" {
		t.Errorf("empty endpoints: %v", empty)
	}
	// The first zone seen comes back after another (a zone index of 0
	// found again), with a duplicate of its first endpoint.
	cla = Endpoints("x", "", []registry.Endpoint{
		{Address: "10.0.0.1", Port: 80, Zone: "a"},
		{Address: "10.0.0.2", Port: 80, Zone: "b"},
		{Address: "10.0.0.3", Port: 80, Zone: "a"},
		{Address: "10.0.0.1", Port: 80, Zone: "a"}, // duplicate of the first
	})
	got = got[:0]
	for _, l := range cla.Endpoints {
		got = append(got, loc{l.Locality.GetZone(), l.LoadBalancingWeight.GetValue(), len(l.LbEndpoints)})
	}
	if want := []loc{{"a", 2, 2}, {"b", 1, 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("zone a, b, a again: localities = %+v, want %+v", got, want)
	}
	// Many endpoints take the map path for duplicates.
	var many []registry.Endpoint
	for i := 0; i < 3*smallEndpointSet; i++ {
		many = append(many, registry.Endpoint{Address: "10.1.0.1", Port: 1000 + i%(2*smallEndpointSet), Weight: 1})
	}
	if n := len(Endpoints("x", "", many).Endpoints[0].LbEndpoints); n != 2*smallEndpointSet {
		t.Errorf("kept %d endpoints, want %d distinct", n, 2*smallEndpointSet)
	}
}

func TestTranslateErrorsNameGateway(t *testing.T) {
	p := bigSnapshot(t, 2, 2, 1)
	p.Gateways["public"].Spec.Listeners = append(p.Gateways["public"].Spec.Listeners, policy.Listener{Name: "other", Port: 8080, Protocol: policy.ProtocolHTTP})
	_, err := Translate(p, Options{})
	if err == nil || !strings.Contains(err.Error(), "gateway public") || !strings.Contains(err.Error(), "listener/public/8080") {
		t.Fatalf("err = %v, want one naming the gateway and listener", err)
	}
	p = bigSnapshot(t, 2, 2, 1)
	delete(p.Services, "svc-0001")
	if _, err := Translate(p, Options{}); err == nil || !strings.Contains(err.Error(), "gateway public: Route/route-0000: cluster svc/svc-0001: Service/svc-0001 does not exist") {
		t.Fatalf("err = %v, want one naming the missing Service", err)
	}
}

// TestGRPCClusterFollowsEnvoyCluster guards the EDS-name hash, which covers
// only the Envoy cluster: Services whose Envoy clusters are equal (but for
// the name) must get equal gRPC clusters.
func TestGRPCClusterFollowsEnvoyCluster(t *testing.T) {
	p := bigSnapshot(t, 300, 0, 1)
	for _, dir := range []string{"services", "routing", "dns"} {
		snap, _ := loadCase(t, "testdata/in/"+dir)
		for n, s := range snap.Services {
			p.Services[dir+"-"+n] = s
		}
	}
	opts := proto.MarshalOptions{Deterministic: true}
	byEnvoy := map[string]string{}
	for _, name := range sortedKeys(p.Services) {
		svc := *p.Services[name]
		svc.Name = "x" // compare specs, not names
		e, g := buildCluster(&svc, ClientEnvoy, DefaultSystemCAFile), buildCluster(&svc, ClientGRPC, DefaultSystemCAFile)
		eb, err := opts.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		gb, err := opts.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := byEnvoy[string(eb)]; ok && prev != string(gb) {
			t.Fatalf("Service %s: same Envoy cluster as another Service but a different gRPC cluster", name)
		}
		byEnvoy[string(eb)] = string(gb)
	}
	if len(byEnvoy) < 10 {
		t.Fatalf("only %d distinct clusters: the test compares too little", len(byEnvoy))
	}

	// What grpcClusterHash is derived from, the final Envoy cluster (EDS
	// name in) and the EDS name (which a DNS Service's Envoy cluster does
	// not carry), decides the gRPC cluster, in every zone.
	byInput := map[string]string{}
	byHash := map[uint64]string{}
	dns := 0
	for _, name := range sortedKeys(p.Services) {
		for _, zone := range []string{"", "a", "b"} {
			bc, err := buildClusters(p.Services[name], DefaultSystemCAFile, zone)
			if err != nil {
				t.Fatal(err)
			}
			eb, err := opts.Marshal(bc.envoy)
			if err != nil {
				t.Fatal(err)
			}
			gb, err := opts.Marshal(bc.grpc)
			if err != nil {
				t.Fatal(err)
			}
			if ContentHash(eb) != bc.envoyHash {
				t.Fatalf("Service %s: envoyHash is not the final Envoy cluster's", name)
			}
			in := strconv.FormatUint(bc.envoyHash, 16) + " " + bc.eds
			if prev, ok := byInput[in]; ok && prev != string(gb) {
				t.Fatalf("Service %s, zone %q: same Envoy cluster and EDS name as another, but a different gRPC cluster", name, zone)
			}
			byInput[in] = string(gb)
			if prev, ok := byHash[bc.grpcHash]; ok && prev != string(gb) {
				t.Fatalf("Service %s, zone %q: grpcHash %x stands for two different gRPC clusters", name, zone, bc.grpcHash)
			}
			byHash[bc.grpcHash] = string(gb)
			if bc.envoy.EdsClusterConfig == nil {
				dns++
			}
		}
	}
	if dns == 0 {
		t.Fatal("no DNS Service: the EDS name's part in the hash goes untested")
	}
}
