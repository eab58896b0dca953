package server

import (
	"maps"
	"slices"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	oauth2v3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/oauth2/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/anypb"
)

func sorted(s nameSet) []string { return slices.Sorted(maps.Keys(s)) }

func TestCollectListenerRefs(t *testing.T) {
	inline := hcm("")
	inline.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: testRoute("inline", "c-inline")}
	withDefault := testListener("l3", "rds-default", 9000)
	withDefault.DefaultFilterChain = withDefault.FilterChains[0]
	withDefault.FilterChains = nil
	ls := []types.Resource{
		testTLSListener("l1", "rds-1", "cert-1", 8443),
		testAPIListener("api.example", "rds-api"),
		&listenerv3.Listener{Name: "l2", ApiListener: &listenerv3.ApiListener{ApiListener: mustAny(inline)}},
		withDefault,
	}
	r, err := collectListenerRefs(ls)
	if err != nil {
		t.Fatal(err)
	}
	if got := sorted(r.routes); !slices.Equal(got, []string{"rds-1", "rds-api", "rds-default"}) {
		t.Errorf("routes %v", got)
	}
	if got := sorted(r.clusters); !slices.Equal(got, []string{"c-inline"}) {
		t.Errorf("clusters %v", got)
	}
	if got := sorted(r.secrets); !slices.Equal(got, []string{"cert-1"}) {
		t.Errorf("secrets %v", got)
	}

	bad := testListener("bad", "x", 1)
	bad.FilterChains[0].Filters[0].GetTypedConfig().Value = []byte{0xff}
	if _, err := collectListenerRefs([]types.Resource{bad}); err == nil {
		t.Error("a corrupt HttpConnectionManager was accepted")
	}
}

func TestCollectRouteAndClusterRefs(t *testing.T) {
	rc := testRoute("r", "a")
	rc.VirtualHosts[0].Routes = append(rc.VirtualHosts[0].Routes,
		&routev3.Route{Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{
				Clusters: []*routev3.WeightedCluster_ClusterWeight{{Name: "b"}, {Name: "c"}},
			}},
			RequestMirrorPolicies: []*routev3.RouteAction_RequestMirrorPolicy{{Cluster: "m"}},
		}}},
		&routev3.Route{Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 404}}},
	)
	got, err := collectRouteClusters([]types.Resource{rc}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := sorted(got); !slices.Equal(s, []string{"a", "b", "c", "m"}) {
		t.Errorf("route clusters %v", s)
	}

	upstream := &corev3.TransportSocket{Name: "tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(&tlsv3.UpstreamTlsContext{
		CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{Name: "client-cert"}},
			ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
				ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: "ca"},
			}},
		},
	})}}
	withTLS := testCluster("t", "")
	withTLS.TransportSocket = upstream
	static := &clusterv3.Cluster{Name: "static", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}}
	cr, err := collectClusterRefs([]types.Resource{testCluster("a", "a-v1"), withTLS, static})
	if err != nil {
		t.Fatal(err)
	}
	if s := sorted(cr.endpoints); !slices.Equal(s, []string{"a-v1", "t"}) {
		t.Errorf("EDS names %v (an unset service_name means the cluster name)", s)
	}
	if s := sorted(cr.secrets); !slices.Equal(s, []string{"ca", "client-cert"}) {
		t.Errorf("cluster secrets %v", s)
	}
}

// The OAuth2 filter's secrets are named by per-route configs (route,
// virtual host and route config level) and by a filter-level config: each
// is a reference, so a missing one fails the check and a present one is
// not "named by nothing".
func TestCollectRouteSecrets(t *testing.T) {
	login := func(client, hmac string) *oauth2v3.OAuth2Config {
		return &oauth2v3.OAuth2Config{Credentials: &oauth2v3.OAuth2Credentials{
			TokenSecret:    &tlsv3.SdsSecretConfig{Name: client},
			TokenFormation: &oauth2v3.OAuth2Credentials_HmacSecret{HmacSecret: &tlsv3.SdsSecretConfig{Name: hmac}},
		}}
	}
	rc := testRoute("r", "a")
	rc.TypedPerFilterConfig = map[string]*anypb.Any{"envoy.filters.http.oauth2": mustAny(&oauth2v3.OAuth2PerRoute{Config: login("c1", "h1")})}
	rc.VirtualHosts[0].TypedPerFilterConfig = map[string]*anypb.Any{"envoy.filters.http.oauth2": mustAny(&oauth2v3.OAuth2PerRoute{Config: login("c2", "h2")})}
	rc.VirtualHosts[0].Routes[0].TypedPerFilterConfig = map[string]*anypb.Any{
		"envoy.filters.http.oauth2":    mustAny(&oauth2v3.OAuth2PerRoute{Config: login("c3", "h3")}),
		"envoy.filters.http.jwt_authn": mustAny(&routev3.Route{}), // not a login: ignored
	}
	got, err := collectRouteSecrets([]types.Resource{rc})
	if err != nil {
		t.Fatal(err)
	}
	if s := sorted(got); !slices.Equal(s, []string{"c1", "c2", "c3", "h1", "h2", "h3"}) {
		t.Errorf("route secrets %v", s)
	}
	h := hcm("rds")
	h.HttpFilters = append([]*hcmv3.HttpFilter{{Name: "envoy.filters.http.oauth2", ConfigType: &hcmv3.HttpFilter_TypedConfig{
		TypedConfig: mustAny(&oauth2v3.OAuth2{Config: login("c4", "h4")})}}}, h.HttpFilters...)
	out := listenerRefs{routes: nameSet{}, clusters: nameSet{}, secrets: nameSet{}}
	if err := addHCMRefs(mustAny(h), &out); err != nil {
		t.Fatal(err)
	}
	if s := sorted(out.secrets); !slices.Equal(s, []string{"c4", "h4"}) {
		t.Errorf("filter-level secrets %v", s)
	}
}
