package translate

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// sameGroups fails unless a and b hold the same resources (by deterministic
// encoding), EDS names, zones, skipped list and translator hashes.
func sameGroups(t *testing.T, what string, a, b map[GroupKey]*Group) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d groups, want %d", what, len(a), len(b))
	}
	enc := func(rs []types.Resource) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			buf, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = string(buf)
		}
		return out
	}
	hashes := func(g *Group) map[string]uint64 {
		out := map[string]uint64{}
		for r, h := range g.Hashes {
			out[r.(interface{ GetName() string }).GetName()] = h
		}
		return out
	}
	for k, ga := range a {
		gb := b[k]
		if gb == nil {
			t.Fatalf("%s: group %s missing", what, k)
		}
		for _, p := range []struct {
			name string
			a, b []types.Resource
		}{{"listeners", ga.Listeners, gb.Listeners}, {"routes", ga.Routes, gb.Routes}, {"clusters", ga.Clusters, gb.Clusters}, {"secrets", ga.Secrets, gb.Secrets}} {
			if !reflect.DeepEqual(enc(p.a), enc(p.b)) {
				t.Errorf("%s: group %s: %s differ", what, k, p.name)
			}
		}
		if !reflect.DeepEqual(ga.EDS, gb.EDS) || !reflect.DeepEqual(ga.LocalZone, gb.LocalZone) || !reflect.DeepEqual(ga.Skipped, gb.Skipped) {
			t.Errorf("%s: group %s: EDS, zones or skipped list differ", what, k)
		}
		if !reflect.DeepEqual(hashes(ga), hashes(gb)) {
			t.Errorf("%s: group %s: translator hashes differ", what, k)
		}
	}
}

// TestMemoMatchesFreshTranslate: translating every golden case one after
// another through one Memo, each twice (the second time from a fresh load,
// so the memo matches by content, not by pointer), gives exactly what a
// Translate without a Memo gives, and the second pass reuses.
func TestMemoMatchesFreshTranslate(t *testing.T) {
	dirs, err := filepath.Glob("testdata/in/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	memo := NewMemo()
	for _, dir := range dirs {
		for pass := range 2 {
			snap, _ := loadCase(t, dir)
			want, wantErr := Translate(snap, Options{})
			got, gotErr := Translate(snap, Options{Memo: memo})
			if fmt.Sprint(wantErr) != fmt.Sprint(gotErr) {
				t.Fatalf("%s pass %d: error %v, want %v", dir, pass, gotErr, wantErr)
			}
			if wantErr != nil {
				continue
			}
			sameGroups(t, fmt.Sprintf("%s pass %d", dir, pass), want, got)
			hits, misses := memo.Stats()
			if pass == 1 && (misses != 0 || hits == 0) && len(snap.Routes) > 0 {
				t.Errorf("%s: second pass reused %d and built %d, want all reused", filepath.Base(dir), hits, misses)
			}
		}
	}
}

// memoPolicy is a Gateway with n Routes, each to its own Service.
func memoPolicy(n int) *policy.Snapshot {
	p := &policy.Snapshot{
		Gateways: map[string]*policy.Gateway{"gw": {
			Meta: policy.Meta{Kind: policy.KindGateway, Name: "gw"},
			Spec: policy.GatewaySpec{Listeners: []policy.Listener{{Name: "http", Port: 8080, Protocol: policy.ProtocolHTTP}}},
		}},
		Services: map[string]*policy.Service{},
		Routes:   map[string]*policy.Route{},
	}
	for i := range n {
		s := fmt.Sprintf("svc-%d", i)
		p.Services[s] = &policy.Service{
			Meta: policy.Meta{Kind: policy.KindService, Name: s},
			Spec: policy.ServiceSpec{Discovery: policy.Discovery{Static: []policy.StaticEndpoint{{Address: "10.0.0.1", Port: 80}}},
				CircuitBreaker: &policy.CircuitBreaker{MaxConnections: 10, MaxRequests: 10}},
		}
		r := fmt.Sprintf("route-%d", i)
		p.Routes[r] = &policy.Route{
			Meta: policy.Meta{Kind: policy.KindRoute, Name: r},
			Spec: policy.RouteSpec{
				Gateways: []string{"gw"},
				Hosts:    []string{"example.com"},
				Match:    policy.RouteMatch{Path: policy.PathMatch{Prefix: fmt.Sprintf("/r%d", i)}},
				Backends: []policy.Backend{{Service: s}},
			},
		}
	}
	return p
}

// clone copies the snapshot's maps and objects one level deep: a new
// snapshot as the loader would produce, sharing nothing mutable with p
// that the tests then change.
func clone(p *policy.Snapshot) *policy.Snapshot {
	out := &policy.Snapshot{Gateways: p.Gateways, Services: map[string]*policy.Service{}, Routes: map[string]*policy.Route{}}
	for k, s := range p.Services {
		c := *s
		if s.Spec.CircuitBreaker != nil {
			cb := *s.Spec.CircuitBreaker
			c.Spec.CircuitBreaker = &cb
		}
		out.Services[k] = &c
	}
	for k, r := range p.Routes {
		c := *r
		out.Routes[k] = &c
	}
	return out
}

func envoyGroup(t *testing.T, groups map[GroupKey]*Group) *Group {
	t.Helper()
	g := groups[GroupKey{Gateway: "gw", Client: ClientEnvoy}]
	if g == nil {
		t.Fatal("no envoy group")
	}
	return g
}

func routeProtos(g *Group) map[string]*routev3.Route {
	out := map[string]*routev3.Route{}
	for _, rc := range g.Routes {
		for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				out[r.GetName()] = r
			}
		}
	}
	return out
}

// TestMemoReusesOnlyUnchanged: after a one-Route edit, every other Route
// and every cluster is the very proto of the last build (so its hash and
// check carry over), the edited Route is built anew, and the result equals
// a fresh Translate. Then a nested Service field (circuit breaker) is
// changed behind an unchanged name: the memo must see it.
func TestMemoReusesOnlyUnchanged(t *testing.T) {
	p := memoPolicy(20)
	memo := NewMemo()
	first, err := Translate(p, Options{Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	g1 := envoyGroup(t, first)

	p2 := clone(p)
	p2.Routes["route-3"].Spec.Match.Path.Prefix = "/edited"
	second, err := Translate(p2, Options{Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	if hits, misses := memo.Stats(); misses != 1 || hits != 39 {
		t.Errorf("one Route edited: reused %d, built %d; want 39 and 1", hits, misses)
	}
	fresh, err := Translate(p2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sameGroups(t, "route edit", fresh, second)
	g2 := envoyGroup(t, second)
	r1, r2 := routeProtos(g1), routeProtos(g2)
	for name, r := range r2 {
		if same := r1[name] == r; same != (name != "route-3") {
			t.Errorf("Route %s: reused %v", name, same)
		}
	}
	for i := range g2.Clusters {
		if g1.Clusters[i] != g2.Clusters[i] {
			t.Errorf("cluster %s built anew; no Service changed", g2.Clusters[i].(*clusterv3.Cluster).GetName())
		}
	}

	p3 := clone(p2)
	p3.Services["svc-7"].Spec.CircuitBreaker.MaxRequests = 99 // nested, same Service name
	third, err := Translate(p3, Options{Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err = Translate(p3, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sameGroups(t, "service edit", fresh, third)
	g3 := envoyGroup(t, third)
	for i := range g3.Clusters {
		name := g3.Clusters[i].(*clusterv3.Cluster).GetName()
		if reused := g2.Clusters[i] == g3.Clusters[i]; reused == (name == "svc/svc-7") {
			t.Errorf("cluster %s: reused %v", name, reused)
		}
	}
}

// TestMemoSeesServiceBehindRoute: a Route's proto depends on its backends'
// Services (a ring-hash Service gives the Route a hash policy); changing
// only the Service must rebuild the Route, not serve the memoised one.
func TestMemoSeesServiceBehindRoute(t *testing.T) {
	p := memoPolicy(3)
	memo := NewMemo()
	if _, err := Translate(p, Options{Memo: memo}); err != nil {
		t.Fatal(err)
	}
	p2 := clone(p)
	p2.Services["svc-1"].Spec.LoadBalancer = &policy.LoadBalancer{Policy: policy.LBRingHash, HashOn: &policy.HashOn{Header: "x-user"}}
	got, err := Translate(p2, Options{Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	if len(routeProtos(envoyGroup(t, got))["route-1"].GetRoute().GetHashPolicy()) != 1 {
		t.Fatal("the Route kept its memoised proto without the Service's hash policy")
	}
	fresh, err := Translate(p2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sameGroups(t, "service behind route", fresh, got)
}

// TestMemoKeepsCrossResourceChecks: resources that passed Check before are
// not checked again on their own, but the rules across resources still
// run: a group whose cluster went missing fails even though its Route was
// memoised as checked.
func TestMemoKeepsCrossResourceChecks(t *testing.T) {
	p := memoPolicy(3)
	memo := NewMemo()
	groups, err := Translate(p, Options{Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	g := envoyGroup(t, groups)
	if !memo.wasChecked(routeProtos(g)["route-1"], true) {
		t.Fatal("a Route that passed Check is not recorded")
	}
	bad := &Group{Key: g.Key, Listeners: g.Listeners, Routes: g.Routes, Clusters: g.Clusters[1:], EDS: g.EDS, memo: memo}
	err = Check(bad, nil)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Check with a missing cluster: %v, want a missing-cluster error", err)
	}
	// A resource of no memo generation is never recorded as checked.
	stray := &routev3.Route{Name: "stray"}
	memo.passed(stray, true)
	if memo.wasChecked(stray, true) {
		t.Error("a resource outside the memo was recorded as checked")
	}
}

// TestMemoDoesNotRecordFailures: a memoised resource that fails Check's
// own rules is not recorded, so the next Check fails again.
func TestMemoDoesNotRecordFailures(t *testing.T) {
	p := memoPolicy(2)
	memo := NewMemo()
	groups, err := Translate(p, Options{Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	g := envoyGroup(t, groups)
	cl := g.Clusters[0].(*clusterv3.Cluster)
	// Corrupt a memoised cluster in place (as a bug would): Check must
	// catch it, and keep catching it.
	memo.ckMu.Lock()
	delete(memo.checked, checkKey{cl, true})
	memo.ckMu.Unlock()
	cl.ConnectTimeout = &durationpb.Duration{Seconds: -1} // this test's own translation
	g2 := &Group{Key: g.Key, Listeners: g.Listeners, Routes: g.Routes, Clusters: g.Clusters, Secrets: g.Secrets, EDS: g.EDS, memo: memo}
	for i := range 2 {
		if err := Check(g2, nil); err == nil {
			t.Fatalf("Check %d passed a cluster with a negative connect timeout", i)
		}
	}
	if memo.wasChecked(cl, true) {
		t.Error("a cluster that failed Check was recorded as checked")
	}
}

// TestMemoSeesSystemCAChange: a cluster memoised with one system CA bundle
// is not reused when the bundle's path changes: its TLS context names the
// file Envoy trusts.
func TestMemoSeesSystemCAChange(t *testing.T) {
	p := memoPolicy(3)
	p.Services["svc-1"].Spec.TLS = &policy.UpstreamTLS{SNI: "svc-1.internal"}
	memo := NewMemo()
	if _, err := Translate(p, Options{Memo: memo, SystemCAFile: "/etc/ssl/a.pem"}); err != nil {
		t.Fatal(err)
	}
	got, err := Translate(p, Options{Memo: memo, SystemCAFile: "/etc/ssl/b.pem"})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := Translate(p, Options{SystemCAFile: "/etc/ssl/b.pem"})
	if err != nil {
		t.Fatal(err)
	}
	sameGroups(t, "system CA changed", fresh, got)
}
