package controller

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
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
			if want := translate.Endpoints(eds, eps[svc]); !proto.Equal(res.CLAs[eds], want) {
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
