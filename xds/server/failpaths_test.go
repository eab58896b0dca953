package server

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// inlineListener has an HCM whose route configuration is inline (no RDS),
// naming clusters; apiListener puts it in an api_listener instead.
func inlineListener(name string, apiListener bool, clusters ...string) *listenerv3.Listener {
	h := hcm("unused")
	h.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: testRoute(name+"-inline", clusters...)}
	if apiListener {
		return &listenerv3.Listener{Name: name, ApiListener: &listenerv3.ApiListener{ApiListener: mustAny(h)}}
	}
	l := testListener(name, "unused", 8080)
	l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(h)}
	return l
}

// upstreamTLS is a transport socket with an UpstreamTlsContext whose
// secrets are set by set.
func upstreamTLS(set func(*tlsv3.CommonTlsContext)) *corev3.TransportSocket {
	c := &tlsv3.CommonTlsContext{}
	set(c)
	return &corev3.TransportSocket{
		Name:       "envoy.transport_sockets.tls",
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(&tlsv3.UpstreamTlsContext{CommonTlsContext: c})},
	}
}

func sdsRef(name string) *tlsv3.SdsSecretConfig {
	return &tlsv3.SdsSecretConfig{Name: name, SdsConfig: adsSource}
}

// Broken references the translator could produce by mistake: an inline
// route configuration naming a missing cluster (in a filter chain and in
// an api_listener), and a cluster naming a missing secret in each place a
// cluster can name one. Each is refused, the last good snapshot stays,
// and the same group with the missing piece added publishes.
func TestPublishRejectsMissingInlineClusterAndClusterSecret(t *testing.T) {
	clusterSecret := func(set func(*tlsv3.CommonTlsContext), matches bool) func(f *fixture) string {
		return func(f *fixture) string {
			c := testCluster(clusterName(0), edsName(0))
			if matches {
				c.TransportSocketMatches = []*clusterv3.Cluster_TransportSocketMatch{{Name: "tls", TransportSocket: upstreamTLS(set)}}
			} else {
				c.TransportSocket = upstreamTLS(set)
			}
			f.group.Clusters[0] = c
			return "s"
		}
	}
	cases := []struct {
		name string
		kind translate.ClientKind
		// mutate breaks the group and returns the secret that fixes it
		// ("" for none: the fix is the cluster "nope").
		mutate func(f *fixture) string
		want   string
	}{
		{"inline route in a filter chain", translate.ClientEnvoy, func(f *fixture) string {
			f.group.Listeners = append(f.group.Listeners, inlineListener("gw-9090", false, clusterName(0), "nope"))
			return ""
		}, `an inline route configuration names cluster "nope", which is missing`},
		{"inline route in an api_listener", translate.ClientGRPC, func(f *fixture) string {
			f.group.Listeners = append(f.group.Listeners, inlineListener("inline.example", true, "nope"))
			return ""
		}, `an inline route configuration names cluster "nope", which is missing`},
		{"cluster certificate", translate.ClientEnvoy, clusterSecret(func(c *tlsv3.CommonTlsContext) {
			c.TlsCertificateSdsSecretConfigs = []*tlsv3.SdsSecretConfig{sdsRef("s")}
		}, false), `a cluster names secret "s", which is missing`},
		{"cluster validation context", translate.ClientEnvoy, clusterSecret(func(c *tlsv3.CommonTlsContext) {
			c.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{ValidationContextSdsSecretConfig: sdsRef("s")}
		}, false), `a cluster names secret "s", which is missing`},
		{"cluster combined validation context", translate.ClientEnvoy, clusterSecret(func(c *tlsv3.CommonTlsContext) {
			c.ValidationContextType = &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
				DefaultValidationContext: &tlsv3.CertificateValidationContext{}, ValidationContextSdsSecretConfig: sdsRef("s"),
			}}
		}, false), `a cluster names secret "s", which is missing`},
		{"cluster transport socket match", translate.ClientEnvoy, clusterSecret(func(c *tlsv3.CommonTlsContext) {
			c.TlsCertificateSdsSecretConfigs = []*tlsv3.SdsSecretConfig{sdsRef("s")}
		}, true), `a cluster names secret "s", which is missing`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestPublisher(t)
			good := newFixture("gw", tc.kind, 2, 1)
			mustPublish(t, p, good.groups(), good.clas)
			before := versionsOf(t, p, good.key)

			bad := good.clone()
			secret := tc.mutate(bad)
			_, err := p.Publish(t.Context(), bad.groups(), bad.clas, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if after := versionsOf(t, p, good.key); !reflect.DeepEqual(before, after) {
				t.Fatalf("versions moved after a refused Publish: %v -> %v", before, after)
			}

			// With the missing piece the same group publishes: the check
			// refused the reference, not the shape.
			fixed := bad.clone()
			if secret != "" {
				fixed.group.Secrets = []types.Resource{testSecret(secret)}
			} else {
				fixed.group.Clusters = append(fixed.group.Clusters, testCluster("nope", "nope-v1"))
				fixed.group.EDS["nope-v1"] = "svc-nope"
				fixed.clas["nope-v1"] = testCLA("nope-v1", 30000, 1)
			}
			mustPublish(t, p, fixed.groups(), fixed.clas)
		})
	}
}

// A snapshot the cache refuses: SetSnapshot fails when the context ends
// while an open watch is being answered (a proxy's stream not reading).
// go-control-plane stores the snapshot before answering watches
// (pkg/cache/v3/simple.go, SetSnapshot), so the cache then holds the
// refused snapshot: the next Publish must set the group again even if its
// content is what the Publisher last recorded, or the cache would keep
// serving the refused version.
func TestPublishSnapshotRefusedByCache(t *testing.T) {
	p := newTestPublisher(t)
	a := newFixture("a", translate.ClientEnvoy, 1, 1)
	b := newFixture("b", translate.ClientEnvoy, 2, 1)
	groups := func(fs ...*fixture) map[translate.GroupKey]*translate.Group {
		out := map[translate.GroupKey]*translate.Group{}
		for _, f := range fs {
			out[f.key] = f.group
		}
		return out
	}
	mustPublish(t, p, groups(a, b), merge(a.clas, b.clas))
	v1 := versionsOf(t, p, b.key)

	// A watch on b's clusters at the current version, whose stream never
	// reads: the next cluster change blocks on it.
	stuck := make(chan cache.Response)
	sub := stream.NewSotwSubscription(nil, true)
	sub.SetReturnedResources(map[string]string{clusterName(0): v1[TypeClusters], clusterName(1): v1[TypeClusters]})
	cancelWatch, err := p.envoy.CreateWatch(&cache.Request{Node: nodeFor("b", "envoy"), TypeUrl: resource.ClusterType, VersionInfo: v1[TypeClusters]}, sub, stuck)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancelWatch)

	a2, b2 := a.clone(), b.clone()
	a2.group.Listeners = []types.Resource{testListener("a-8080", "a-http", 8081)}
	b2.group.Clusters = b2.group.Clusters[:1]
	b2.group.Routes = []types.Resource{testRoute("b-http", clusterName(0))}
	delete(b2.group.EDS, edsName(1))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	stats, err := p.Publish(ctx, groups(a2, b2), merge(a2.clas, b2.clas), nil)
	if err == nil || !strings.Contains(err.Error(), "group b/envoy: set snapshot: context") {
		t.Fatalf("err = %v, want b/envoy's set snapshot to fail", err)
	}
	// a sorts first and was set; the stats say so, so the caller knows
	// proxies may run either version.
	if _, ok := stats.Changed[a.key]; !ok || len(stats.Changed) != 1 {
		t.Fatalf("stats.Changed = %v, want only a/envoy", stats.Changed)
	}

	// Back to b's first version (a rollback): b must be set again.
	go func() {
		for range stuck { // the stream reads again
		}
	}()
	t.Cleanup(func() { close(stuck) })
	mustPublish(t, p, groups(a, b), merge(a.clas, b.clas))
	snap, err := p.envoy.GetSnapshot(b.key.String())
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.GetVersion(resource.ClusterType); got != v1[TypeClusters] {
		t.Fatalf("cache serves clusters version %s for b after the rollback, want %s (the refused one stayed)", got, v1[TypeClusters])
	}
}

// Two proxies of one group; one disconnects: the other keeps getting
// updates, and the status forgets the gone one at once.
func TestADSOneOfTwoProxiesDisconnects(t *testing.T) {
	h, f := published(t, 2, 1)
	a := h.open(t, "envoy-a", "gw", "envoy")
	b := h.open(t, "envoy-b", "gw", "envoy")
	subscribeAll(t, a, f)
	_, _, edsB, _ := subscribeAll(t, b, f)
	waitFor(t, "two proxies connected", func() bool {
		return h.metricValue(t, "gatehouse_xds_connected_proxies", "gateway", "gw", "client", "envoy") == 2
	})

	a.close()
	waitFor(t, "envoy-a forgotten", func() bool { _, ok := h.proxy("envoy-a"); return !ok })
	if got := h.metricValue(t, "gatehouse_xds_connected_proxies", "gateway", "gw", "client", "envoy"); got != 1 {
		t.Fatalf("connected{gw,envoy} = %v after one of two disconnected", got)
	}
	if ps := h.srv.Proxies(); len(ps) != 1 || ps[0].NodeID != "envoy-b" {
		t.Fatalf("proxies = %+v, want envoy-b only", ps)
	}

	g := f.clone()
	g.clas[edsName(1)] = testCLA(edsName(1), 20000, 1)
	mustPublish(t, h.pub, g.groups(), g.clas)
	eds2 := b.recv(resource.EndpointType)
	if want := versionsOf(t, h.pub, f.key)[TypeEndpoints]; eds2.GetVersionInfo() != want || want == edsB.GetVersionInfo() {
		t.Fatalf("envoy-b got EDS %s, want the new %s", eds2.GetVersionInfo(), want)
	}
	names := []string{edsName(0), edsName(1)}
	b.ack(eds2, names)
	waitFor(t, "envoy-b ACKs the update", func() bool {
		p, _ := h.proxy("envoy-b")
		return p.Types[TypeEndpoints].Acked == eds2.GetVersionInfo()
	})
	b.expectNone(quiet) // nothing else after the expected version
}

// A type URL gatehouse does not serve parks that request (no response,
// nothing in the proxy's status) without harming the stream: the known
// types keep working. An empty type URL ends the stream.
func TestADSUnknownTypeURL(t *testing.T) {
	h, f := published(t, 1, 1)
	a := h.open(t, "envoy-1", "gw", "envoy")
	const unknown = "type.googleapis.com/envoy.config.nope.v3.Nope"
	a.send(unknown, nil, "", "")
	a.send(resource.ListenerType, nil, "", "")
	lds := a.recv(resource.ListenerType)
	if lds.GetVersionInfo() != versionsOf(t, h.pub, f.key)[TypeListeners] {
		t.Fatalf("LDS version %s", lds.GetVersionInfo())
	}
	a.ack(lds, nil)
	a.expectNone(quiet)
	p, _ := h.proxy("envoy-1")
	if len(p.Types) != 1 || p.Types[TypeListeners].Acked != lds.GetVersionInfo() {
		t.Fatalf("proxy types = %+v, want listeners only", p.Types)
	}

	e := h.open(t, "envoy-2", "gw", "envoy")
	e.send("", nil, "", "")
	select {
	case _, ok := <-e.resp:
		if ok {
			t.Fatal("a response to an empty type URL")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream with an empty type URL not ended within 5s")
	}
	if _, err := e.s.Recv(); grpcstatus.Code(err) != codes.InvalidArgument {
		t.Fatalf("stream error %v, want InvalidArgument", err)
	}
}
