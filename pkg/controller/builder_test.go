package controller

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/xds/server"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// builderPolicy is one Gateway routing to n static Services, enough for
// allEndpoints to build on several goroutines.
func builderPolicy(n int) (*policy.Snapshot, registry.Snapshot) {
	p := &policy.Snapshot{
		Gateways: map[string]*policy.Gateway{"gw": {
			Meta: policy.Meta{Kind: policy.KindGateway, Name: "gw"},
			Spec: policy.GatewaySpec{Listeners: []policy.Listener{{Name: "http", Port: 8080, Protocol: policy.ProtocolHTTP}}},
		}},
		Services: map[string]*policy.Service{},
		Routes:   map[string]*policy.Route{},
	}
	eps := registry.Snapshot{}
	for i := range n {
		svc := fmt.Sprintf("svc-%03d", i)
		p.Services[svc] = &policy.Service{Meta: policy.Meta{Kind: policy.KindService, Name: svc}}
		p.Routes[svc] = &policy.Route{
			Meta: policy.Meta{Kind: policy.KindRoute, Name: svc},
			Spec: policy.RouteSpec{
				Gateways: []string{"gw"},
				Match:    policy.RouteMatch{Path: policy.PathMatch{Prefix: "/" + svc}},
				Backends: []policy.Backend{{Service: svc}},
			},
		}
		eps[svc] = []registry.Endpoint{{Address: fmt.Sprintf("10.0.%d.1", i), Port: 8080, Weight: 1}, {Address: fmt.Sprintf("10.0.%d.2", i), Port: 8080, Weight: 1}}
	}
	return p, eps
}

// A full build makes every CLA (on several goroutines) exactly as
// translate.Endpoints does, and fails naming the Service whose endpoints
// do not validate.
func TestBuildAllEndpoints(t *testing.T) {
	const n = 3 * parallelCLAMin
	p, eps := builderPolicy(n)
	var b Builder
	res, err := b.Build(p, eps, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.CLAs) != n || res.EndpointsChanged != n {
		t.Fatalf("%d CLAs, %d built; want %d", len(res.CLAs), res.EndpointsChanged, n)
	}
	for _, g := range res.Groups {
		for eds, svc := range g.EDS {
			if want := translate.Endpoints(eds, g.LocalZone[eds], eps[svc]); !proto.Equal(res.CLAs[eds], want) {
				t.Fatalf("CLA %s of %s differs from translate.Endpoints", eds, svc)
			}
		}
	}
	b.Commit(res, eps)

	// Unchanged endpoints reuse the previous CLAs.
	res2, err := b.Build(p, eps, true)
	if err != nil {
		t.Fatal(err)
	}
	if res2.EndpointsChanged != 0 {
		t.Fatalf("rebuilt %d CLAs with no endpoint change", res2.EndpointsChanged)
	}

	bad := registry.Snapshot{}
	for k, v := range eps {
		bad[k] = v
	}
	bad["svc-150"] = []registry.Endpoint{{Address: "10.9.9.9", Port: 70000, Weight: 1}}
	if _, err := (&Builder{}).Build(p, bad, true); err == nil || !strings.Contains(err.Error(), `"svc-150"`) {
		t.Fatalf("bad endpoint: err = %v, want one naming svc-150", err)
	}
}

// With a zone, an endpoint-only change rebuilds only the changed Service's
// CLA, keeps the groups as they were (no listener, route or cluster
// rebuild), and the new CLA carries the zone's priorities: here the local
// zone's endpoints go away and come back.
func TestZoneEndpointChangeStaysEndpointOnly(t *testing.T) {
	p, eps := builderPolicy(3)
	b := &Builder{Options: translate.Options{Zone: "a"}}
	zoned := func(local bool) []registry.Endpoint {
		out := []registry.Endpoint{{Address: "10.1.0.2", Port: 8080, Weight: 1, Zone: "b"}}
		if local {
			out = append([]registry.Endpoint{{Address: "10.1.0.1", Port: 8080, Weight: 1, Zone: "a"}}, out...)
		}
		return out
	}
	eps["svc-001"] = zoned(true)
	res, err := b.Build(p, eps, true)
	if err != nil {
		t.Fatal(err)
	}
	b.Commit(res, eps)
	priorities := func(res *Result) string {
		t.Helper()
		for _, g := range res.Groups {
			for eds, svc := range g.EDS {
				if svc != "svc-001" {
					continue
				}
				if !strings.HasSuffix(eds, "@a") {
					t.Fatalf("EDS name %q does not name the zone", eds)
				}
				var out []string
				for _, l := range res.CLAs[eds].GetEndpoints() {
					out = append(out, fmt.Sprintf("%s=%d", l.GetLocality().GetZone(), l.GetPriority()))
				}
				return strings.Join(out, " ")
			}
		}
		t.Fatal("no EDS name for svc-001")
		return ""
	}
	if got := priorities(res); got != "a=0 b=1" {
		t.Fatalf("first build: priorities %q, want a=0 b=1", got)
	}
	for _, step := range []struct {
		local bool
		want  string
	}{{false, "b=0"}, {true, "a=0 b=1"}} {
		next := registry.Snapshot{}
		for k, v := range eps {
			next[k] = v
		}
		next["svc-001"] = zoned(step.local)
		r2, err := b.Build(p, next, false)
		if err != nil {
			t.Fatal(err)
		}
		if !sameGroups(r2.Groups, res.Groups) {
			t.Fatal("an endpoint-only change rebuilt the groups")
		}
		if r2.EndpointsChanged != 1 {
			t.Fatalf("%d CLAs rebuilt, want 1", r2.EndpointsChanged)
		}
		if got := priorities(r2); got != step.want {
			t.Fatalf("local endpoints present=%v: priorities %q, want %q", step.local, got, step.want)
		}
		b.Commit(r2, next)
		eps = next
	}
}

// TestCLAHashesAreContentHashes: the hashes a build hands the publisher
// (Result.CLAHashes, computed on the CLA goroutines) are those of exactly
// the CLAs it built, each translate.ContentHash of proto.Marshal's
// encoding, so a publisher given them publishes the very versions of one
// that hashes every CLA itself, on a full build and on an endpoint change.
func TestCLAHashesAreContentHashes(t *testing.T) {
	const n = 3 * parallelCLAMin
	p, eps := builderPolicy(n)
	eps["svc-007"] = []registry.Endpoint{{Address: "10.7.0.1", Port: 80, Weight: 3, Zone: "a"}, {Address: "10.7.0.2", Port: 80, Weight: 1, Zone: "b"}}
	b := &Builder{Options: translate.Options{Zone: "a"}}
	trusting, err := server.NewPublisher(server.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hashing, err := server.NewPublisher(server.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(res *Result, wantBuilt int) {
		t.Helper()
		if len(res.CLAHashes) != wantBuilt || res.EndpointsChanged != wantBuilt {
			t.Fatalf("%d hashes, %d CLAs built; want %d", len(res.CLAHashes), res.EndpointsChanged, wantBuilt)
		}
		inResult := map[types.Resource]bool{}
		for _, cla := range res.CLAs {
			inResult[cla] = true
		}
		for r, h := range res.CLAHashes {
			if !inResult[r] {
				t.Fatalf("a hash for a CLA the result does not carry")
			}
			enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if want := translate.ContentHash(enc); h != want {
				t.Fatalf("CLA %s: hash %x, want %x", r.(*endpointv3.ClusterLoadAssignment).ClusterName, h, want)
			}
		}
		if _, err := trusting.Publish(t.Context(), res.Groups, res.CLAs, res.CLAHashes); err != nil {
			t.Fatal(err)
		}
		if _, err := hashing.Publish(t.Context(), res.Groups, res.CLAs, nil); err != nil {
			t.Fatal(err)
		}
		for k := range res.Groups {
			a, _ := trusting.Versions(k)
			b, _ := hashing.Versions(k)
			if !maps.Equal(a, b) {
				t.Fatalf("group %s: versions %v with the build's hashes, %v without", k, a, b)
			}
		}
	}
	res, err := b.Build(p, eps, true)
	if err != nil {
		t.Fatal(err)
	}
	check(res, n)
	b.Commit(res, eps)

	next := maps.Clone(eps)
	next["svc-007"] = []registry.Endpoint{{Address: "10.7.0.1", Port: 81, Weight: 3, Zone: "a"}}
	res, err = b.Build(p, next, false)
	if err != nil {
		t.Fatal(err)
	}
	check(res, 1)
}
