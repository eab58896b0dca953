package server

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	oauth2v3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/oauth2/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

var allTypes = []string{TypeClusters, TypeEndpoints, TypeListeners, TypeRoutes, TypeSecrets}

func versionsOf(t *testing.T, p *Publisher, k translate.GroupKey) map[string]string {
	t.Helper()
	v, ok := p.Versions(k)
	if !ok {
		t.Fatalf("group %s not published", k)
	}
	return v
}

func TestPublishFirstSetsEveryType(t *testing.T) {
	p := newTestPublisher(t)
	f := newFixture("gw", translate.ClientEnvoy, 3, 2)
	st := mustPublish(t, p, f.groups(), f.clas)
	if got := st.Changed[f.key]; !slices.Equal(got, allTypes) {
		t.Fatalf("changed = %v, want %v", got, allTypes)
	}
	snap, _ := p.Snapshot(f.key)
	if n := len(snap.GetResources(resource.EndpointType)); n != 3 {
		t.Fatalf("snapshot has %d CLAs, want 3", n)
	}
	v := versionsOf(t, p, f.key)
	for _, typ := range allTypes {
		if len(v[typ]) != 16 {
			t.Errorf("%s version %q: want 16 hex digits", typ, v[typ])
		}
	}
	if v[TypeSecrets] == "" || v[TypeSecrets] == v[TypeClusters] {
		t.Errorf("empty secrets type must have its own non-empty version, got %q", v[TypeSecrets])
	}
	if !p.Has(f.key) || p.Has(translate.GroupKey{Gateway: "gw", Client: translate.ClientGRPC}) {
		t.Error("Has() wrong")
	}
}

func TestPublishEndpointOnlyChangeBumpsOnlyEDS(t *testing.T) {
	p := newTestPublisher(t)
	f := newFixture("gw", translate.ClientEnvoy, 50, 3)
	mustPublish(t, p, f.groups(), f.clas)
	before := versionsOf(t, p, f.key)
	snapBefore, _ := p.Snapshot(f.key)

	g := f.clone()
	g.clas[edsName(7)] = testCLA(edsName(7), 20000, 3)
	st := mustPublish(t, p, g.groups(), g.clas)
	if got := st.Changed[f.key]; !slices.Equal(got, []string{TypeEndpoints}) {
		t.Fatalf("changed = %v, want [endpoints]", got)
	}
	after := versionsOf(t, p, f.key)
	for _, typ := range allTypes {
		if same := before[typ] == after[typ]; same == (typ == TypeEndpoints) {
			t.Errorf("%s: version %s -> %s", typ, before[typ], after[typ])
		}
	}
	// Unchanged types reuse the previous snapshot's Resources (same map).
	snapAfter, _ := p.Snapshot(f.key)
	for _, rt := range []types.ResponseType{types.Cluster, types.Listener, types.Route} {
		if reflect.ValueOf(snapBefore.Resources[rt].Items).Pointer() != reflect.ValueOf(snapAfter.Resources[rt].Items).Pointer() {
			t.Errorf("type %d: Items rebuilt for an unchanged type", rt)
		}
	}
	if snapAfter.Resources[types.Endpoint].Items[edsName(7)].Resource != g.clas[edsName(7)] {
		t.Error("changed CLA not in the new snapshot")
	}
	if snapBefore.Resources[types.Endpoint].Items[edsName(7)].Resource != f.clas[edsName(7)] {
		t.Error("previous snapshot was modified")
	}

	// Going back to the old endpoints gives the old version back: versions
	// are content hashes.
	st = mustPublish(t, p, f.groups(), f.clas)
	if got := versionsOf(t, p, f.key)[TypeEndpoints]; got != before[TypeEndpoints] {
		t.Errorf("endpoints version after revert = %s, want %s", got, before[TypeEndpoints])
	}
	if !slices.Equal(st.Changed[f.key], []string{TypeEndpoints}) {
		t.Errorf("changed = %v", st.Changed[f.key])
	}
}

func TestPublishUnchangedAndEqualContent(t *testing.T) {
	p := newTestPublisher(t)
	f := newFixture("gw", translate.ClientEnvoy, 5, 2)
	mustPublish(t, p, f.groups(), f.clas)
	before := versionsOf(t, p, f.key)

	st := mustPublish(t, p, f.groups(), f.clas)
	if len(st.Changed) != 0 || st.Unchanged != 1 {
		t.Fatalf("same input: changed=%v unchanged=%d", st.Changed, st.Unchanged)
	}
	// A rebuilt group with equal content (new pointers) changes nothing.
	g := newFixture("gw", translate.ClientEnvoy, 5, 2)
	st = mustPublish(t, p, g.groups(), g.clas)
	if len(st.Changed) != 0 || st.Unchanged != 1 {
		t.Fatalf("equal content: changed=%v unchanged=%d", st.Changed, st.Unchanged)
	}
	if after := versionsOf(t, p, f.key); !reflect.DeepEqual(before, after) {
		t.Fatalf("versions moved: %v -> %v", before, after)
	}
	// The versions do not depend on the Publisher: another replica agrees.
	p2 := newTestPublisher(t)
	mustPublish(t, p2, g.groups(), g.clas)
	if other := versionsOf(t, p2, f.key); !reflect.DeepEqual(before, other) {
		t.Fatalf("replicas disagree: %v vs %v", before, other)
	}
}

func TestPublishChangedClusterGetsNewEDSName(t *testing.T) {
	p := newTestPublisher(t)
	f := newFixture("gw", translate.ClientEnvoy, 4, 2)
	mustPublish(t, p, f.groups(), f.clas)
	before := versionsOf(t, p, f.key)

	g := f.clone()
	c := testCluster(clusterName(2), clusterName(2)+"-v2")
	c.ConnectTimeout.Seconds = 5
	g.group.Clusters[2] = c
	delete(g.group.EDS, edsName(2))
	g.group.EDS[clusterName(2)+"-v2"] = "svc-" + clusterName(2)
	// Same endpoints under the new name.
	g.clas[clusterName(2)+"-v2"] = testCLA(clusterName(2)+"-v2", 10000, 2)
	st := mustPublish(t, p, g.groups(), g.clas)
	if got := st.Changed[f.key]; !slices.Equal(got, []string{TypeClusters, TypeEndpoints}) {
		t.Fatalf("changed = %v, want [clusters endpoints]", got)
	}
	after := versionsOf(t, p, f.key)
	if before[TypeListeners] != after[TypeListeners] || before[TypeRoutes] != after[TypeRoutes] {
		t.Error("listeners or routes version moved")
	}
	snap, _ := p.Snapshot(f.key)
	eds := snap.GetResources(resource.EndpointType)
	if _, ok := eds[clusterName(2)+"-v2"]; !ok {
		t.Error("new EDS name missing")
	}
	if _, ok := eds[edsName(2)]; ok {
		t.Error("old EDS name still in the snapshot (an ADS-mode cache would then never answer EDS)")
	}
}

func TestPublishRejectsAndKeepsLastGood(t *testing.T) {
	cases := []struct {
		name   string
		kind   translate.ClientKind
		mutate func(f *fixture)
		want   string
	}{
		{"missing CLA", translate.ClientEnvoy, func(f *fixture) { delete(f.clas, edsName(1)) }, `no ClusterLoadAssignment for EDS name "c0001-v1"`},
		{"CLA misnamed", translate.ClientEnvoy, func(f *fixture) { f.clas[edsName(1)] = testCLA("other", 1, 1) }, `is named "other"`},
		{"route to missing cluster", translate.ClientEnvoy, func(f *fixture) { f.group.Routes[0] = testRoute("gw-http", clusterName(0), "nope") }, `route names cluster "nope", which is missing`},
		{"listener to missing route", translate.ClientEnvoy, func(f *fixture) { f.group.Listeners[0] = testListener("gw-8080", "other", 8080) }, `route configuration "other", which is missing`},
		{"api_listener to missing route", translate.ClientGRPC, func(f *fixture) { f.group.Listeners[0] = testAPIListener("gw.example", "other") }, `route configuration "other", which is missing`},
		{"cluster to missing EDS", translate.ClientEnvoy, func(f *fixture) { delete(f.group.EDS, edsName(0)) }, `EDS resource "c0000-v1", which is missing`},
		{"unreferenced EDS for envoy", translate.ClientEnvoy, func(f *fixture) {
			f.group.EDS["stray"] = "svc"
			f.clas["stray"] = testCLA("stray", 1, 1)
		}, `EDS resource "stray" is named by no cluster`},
		{"unreferenced secret for envoy", translate.ClientEnvoy, func(f *fixture) { f.group.Secrets = []types.Resource{testSecret("s")} }, `secret "s" is named by no listener, route configuration or cluster`},
		{"route login to missing secret", translate.ClientEnvoy, func(f *fixture) {
			rc := testRoute("gw-http", clusterName(0))
			rc.VirtualHosts[0].Routes[0].TypedPerFilterConfig = map[string]*anypb.Any{"envoy.filters.http.oauth2": mustAny(&oauth2v3.OAuth2PerRoute{Config: &oauth2v3.OAuth2Config{
				Credentials: &oauth2v3.OAuth2Credentials{TokenSecret: &tlsv3.SdsSecretConfig{Name: "oauth2/login/client-secret"}},
			}})}
			f.group.Routes[0] = rc
		}, `route configuration names secret "oauth2/login/client-secret", which is missing`},
		{"listener to missing secret", translate.ClientEnvoy, func(f *fixture) {
			f.group.Listeners[0] = testTLSListener("gw-8443", "gw-http", "cert", 8443)
		}, `listener names secret "cert", which is missing`},
		{"unsorted", translate.ClientEnvoy, func(f *fixture) { f.group.Clusters[0], f.group.Clusters[1] = f.group.Clusters[1], f.group.Clusters[0] }, "not sorted by name or duplicated"},
		{"duplicate", translate.ClientEnvoy, func(f *fixture) { f.group.Clusters[1] = f.group.Clusters[0] }, "not sorted by name or duplicated"},
		{"nil resource", translate.ClientEnvoy, func(f *fixture) { f.group.Routes[0] = nil }, "resource 0 is nil"},
		{"wrong type", translate.ClientEnvoy, func(f *fixture) { f.group.Clusters[0] = testRoute("c0000") }, "clusters: got *routev3.RouteConfiguration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestPublisher(t)
			good := newFixture("gw", tc.kind, 3, 1)
			other := newFixture("other", translate.ClientEnvoy, 1, 1)
			groups := map[translate.GroupKey]*translate.Group{good.key: good.group, other.key: other.group}
			mustPublish(t, p, groups, merge(good.clas, other.clas))
			before := versionsOf(t, p, good.key)

			bad := good.clone()
			tc.mutate(bad)
			// A change in the other group must not get through either.
			other2 := other.clone()
			other2.clas[edsName(0)] = testCLA(edsName(0), 30000, 1)
			_, err := p.Publish(t.Context(), map[translate.GroupKey]*translate.Group{bad.key: bad.group, other.key: other2.group}, merge(bad.clas, other2.clas), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if after := versionsOf(t, p, good.key); !reflect.DeepEqual(before, after) {
				t.Errorf("versions moved after a failed Publish: %v -> %v", before, after)
			}
			if snap, _ := p.Snapshot(other.key); snap.GetResources(resource.EndpointType)[edsName(0)] != other.clas[edsName(0)] {
				t.Error("another group was published by a failed Publish")
			}
			// And the good input still publishes afterwards.
			mustPublish(t, p, groups, merge(good.clas, other.clas))
		})
	}
}

func merge[M ~map[K]V, K comparable, V any](ms ...M) M {
	out := M{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestPublishGRPCGroupMayHoldUnreferencedEDS(t *testing.T) {
	p := newTestPublisher(t)
	f := newFixture("gw", translate.ClientGRPC, 2, 1)
	f.group.EDS["stray"] = "svc"
	f.clas["stray"] = testCLA("stray", 1, 1)
	mustPublish(t, p, f.groups(), f.clas)
}

func TestPublishSecretsAndAbsentAndRemove(t *testing.T) {
	p := newTestPublisher(t)
	f := newFixture("gw", translate.ClientEnvoy, 2, 1)
	f.group.Listeners = []types.Resource{testTLSListener("gw-8443", "gw-http", "cert", 8443)}
	f.group.Secrets = []types.Resource{testSecret("cert")}
	o := newFixture("old", translate.ClientEnvoy, 1, 1)
	mustPublish(t, p, map[translate.GroupKey]*translate.Group{f.key: f.group, o.key: o.group}, merge(f.clas, o.clas))

	g := f.clone()
	g.group.Secrets = []types.Resource{testSecret("cert")} // rotated: new pointer, same content
	st := mustPublish(t, p, g.groups(), g.clas)
	if len(st.Changed) != 0 {
		t.Errorf("changed = %v", st.Changed)
	}
	if !slices.Equal(st.Absent, []translate.GroupKey{o.key}) {
		t.Errorf("absent = %v, want [%v]", st.Absent, o.key)
	}
	if !p.Has(o.key) {
		t.Fatal("an absent group must keep its snapshot until Remove")
	}
	s := testSecret("cert")
	s.GetTlsCertificate().PrivateKey.Specifier = &corev3.DataSource_InlineString{InlineString: "new key"}
	g2 := g.clone()
	g2.group.Secrets = []types.Resource{s}
	st = mustPublish(t, p, g2.groups(), g2.clas)
	if !slices.Equal(st.Changed[f.key], []string{TypeSecrets}) {
		t.Errorf("rotation changed %v, want [secrets]", st.Changed[f.key])
	}
	p.Remove(o.key)
	if p.Has(o.key) || p.unknownReason(o.key) != `no Gateway named "old"` {
		t.Error("Remove kept the group")
	}
	if _, err := p.envoy.GetSnapshot(o.key.String()); err == nil {
		t.Error("Remove kept the cache snapshot")
	}
}

func TestPublishRejectsBadKeys(t *testing.T) {
	p := newTestPublisher(t)
	f := newFixture("gw", translate.ClientEnvoy, 1, 1)
	for _, k := range []translate.GroupKey{{Gateway: "", Client: translate.ClientEnvoy}, {Gateway: "gw", Client: "other"}} {
		if _, err := p.Publish(t.Context(), map[translate.GroupKey]*translate.Group{k: f.group}, f.clas, nil); err == nil {
			t.Errorf("key %v accepted", k)
		}
	}
}
