// Package security_check tries to get config Envoy would refuse, or would
// silently not enforce, past translate.Check: the last gate before a
// snapshot is published. Each case hides one defect where a shallow check
// would not look.
package security_check

import (
	"strings"
	"testing"
	"testing/fstest"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	connlimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/connection_limit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/static"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

func anyOf(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// group is a minimal valid Envoy group: one listener whose connection
// manager routes everything to one static cluster.
func group(t *testing.T) *translate.Group {
	t.Helper()
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: "ingress",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			RouteConfigName: "routes",
			ConfigSource:    &corev3.ConfigSource{ResourceApiVersion: corev3.ApiVersion_V3, ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}},
		}},
		HttpFilters: []*hcmv3.HttpFilter{{Name: "envoy.filters.http.router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: anyOf(t, &routerv3.Router{})}}},
	}
	l := &listenerv3.Listener{
		Name:    "listener/gw/8080",
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080}}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			// Check requires every chain's connection limit, first.
			Name: "envoy.filters.network.connection_limit", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: anyOf(t, &connlimitv3.ConnectionLimit{
				StatPrefix: "gw.http", MaxConnections: wrapperspb.UInt64(1000),
			})},
		}, {
			Name: "envoy.filters.network.http_connection_manager", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: anyOf(t, hcm)},
		}}}},
	}
	rc := &routev3.RouteConfiguration{Name: "routes", VirtualHosts: []*routev3.VirtualHost{{
		Name: "all", Domains: []string{"*"},
		Routes: []*routev3.Route{{
			Name:   "r",
			Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "svc/a"}}},
		}},
	}}}
	cl := &clusterv3.Cluster{
		Name:                 "svc/a",
		ConnectTimeout:       durationpb.New(5e9),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
	}
	return &translate.Group{
		Listeners: []types.Resource{l},
		Routes:    []types.Resource{rc},
		Clusters:  []types.Resource{cl},
		Key:       translate.GroupKey{Gateway: "gw", Client: translate.ClientEnvoy},
	}
}

func systemRoots(t *testing.T) *anypb.Any {
	return anyOf(t, &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{
		ValidationContext: &tlsv3.CertificateValidationContext{SystemRootCerts: &tlsv3.CertificateValidationContext_SystemRootCerts{}},
	}}})
}

func TestCheckCannotBeBypassed(t *testing.T) {
	if err := translate.Check(group(t), nil); err != nil {
		t.Fatalf("the base group is refused: %v", err)
	}
	cases := []struct {
		name   string
		break_ func(t *testing.T, g *translate.Group)
		want   string
	}{
		{"system_root_certs in transport_socket_matches, which no allow-list looks at", func(t *testing.T, g *translate.Group) {
			c := g.Clusters[0].(*clusterv3.Cluster)
			c.TransportSocketMatches = []*clusterv3.Cluster_TransportSocketMatch{{Name: "tls", TransportSocket: &corev3.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: systemRoots(t)}}}}
		}, "system_root_certs is not implemented"},
		{"system_root_certs under a type URL with another host", func(t *testing.T, g *translate.Group) {
			a := systemRoots(t)
			a.TypeUrl = "example.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
			g.Clusters[0].(*clusterv3.Cluster).TransportSocket = &corev3.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: a}}
		}, "system_root_certs is not implemented"},
		{"SAN check via the deprecated match_subject_alt_names, no CA", func(t *testing.T, g *translate.Group) {
			a := anyOf(t, &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{
				ValidationContext: &tlsv3.CertificateValidationContext{MatchSubjectAltNames: []*matcherv3.StringMatcher{{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "idp"}}}},
			}}})
			g.Clusters[0].(*clusterv3.Cluster).TransportSocket = &corev3.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: a}}
		}, "SAN matchers without trusted_ca"},
		{"SAN check in a combined validation context, no CA", func(t *testing.T, g *translate.Group) {
			a := anyOf(t, &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{
				CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
					DefaultValidationContext:         &tlsv3.CertificateValidationContext{MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{SanType: tlsv3.SubjectAltNameMatcher_DNS, Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "idp"}}}}},
					ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: "ca"},
				},
			}}})
			g.Clusters[0].(*clusterv3.Cluster).TransportSocket = &corev3.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: a}}
		}, "SAN matchers without trusted_ca"},
		{"pseudo-header in upper case", func(t *testing.T, g *translate.Group) {
			g.Routes[0].(*routev3.RouteConfiguration).RequestHeadersToRemove = []string{":PATH"}
		}, "be removed"},
		{"HOST in upper case", func(t *testing.T, g *translate.Group) {
			g.Routes[0].(*routev3.RouteConfiguration).ResponseHeadersToAdd = []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "HOST", Value: "x"}}}
		}, "be modified"},
		{"trailing bare % after an escaped one", func(t *testing.T, g *translate.Group) {
			g.Routes[0].(*routev3.RouteConfiguration).VirtualHosts[0].RequestHeadersToAdd = []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-a", Value: "100%%%"}}}
		}, "unescaped '%'"},
		{"wildcard domain twice", func(t *testing.T, g *translate.Group) {
			rc := g.Routes[0].(*routev3.RouteConfiguration)
			vh := proto.Clone(rc.VirtualHosts[0]).(*routev3.VirtualHost)
			vh.Name = "again"
			rc.VirtualHosts = append(rc.VirtualHosts, vh)
		}, `domain "*" is in virtual hosts`},
		{"same address spelled in another case (IPv6)", func(t *testing.T, g *translate.Group) {
			a := g.Listeners[0].(*listenerv3.Listener)
			a.Address.GetSocketAddress().Address = "::ABCD"
			b := proto.Clone(a).(*listenerv3.Listener)
			b.Name = "listener/gw/other"
			b.Address.GetSocketAddress().Address = "::abcd"
			g.Listeners = append(g.Listeners, b)
		}, "is also listener"},
		{"a regex where the route rules do not look (retriable_headers)", func(t *testing.T, g *translate.Group) {
			r := g.Routes[0].(*routev3.RouteConfiguration).VirtualHosts[0].Routes[0]
			r.GetRoute().RetryPolicy = &routev3.RetryPolicy{RetryOn: "5xx", RetriableHeaders: []*routev3.HeaderMatcher{{Name: "x-a", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: `\p{Nope}`}}}}}}}
		}, "is not valid RE2"},
		{"a regex in a virtual host's retry policy", func(t *testing.T, g *translate.Group) {
			vh := g.Routes[0].(*routev3.RouteConfiguration).VirtualHosts[0]
			vh.RetryPolicy = &routev3.RetryPolicy{RetryOn: "5xx", RetriableRequestHeaders: []*routev3.HeaderMatcher{{Name: "x-a", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "x{300}"}}}}}}}
		}, "over Envoy's default RE2 program size limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := group(t)
			tc.break_(t, g)
			err := translate.Check(g, nil)
			if err == nil {
				t.Fatal("Check passed it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestStaticDNSEndpointNeverReachesEnvoyAsEDS: static endpoints go to
// Envoy (and proxyless gRPC clients) over EDS, which takes IPs only
// ("malformed IP address", source/common/network/resolver_impl.cc): one
// DNS name made Envoy refuse the update, and Check then held back the
// whole Gateway. Policy validation now refuses the address itself, naming
// file, line and field; the Service is not served, so no group of any
// client kind gets a cluster or an EDS name for it, and Check (run with
// endpoints, as the publisher does) stays the second line.
func TestStaticDNSEndpointNeverReachesEnvoyAsEDS(t *testing.T) {
	const pol = `kind: Gateway
name: public
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
---
kind: Service
name: backend
spec:
  discovery:
    static:
      - {address: 10.0.0.7, port: 9001}
      - {address: backend.internal, port: 9001}
---
kind: Service
name: ok
spec:
  discovery:
    static: [{address: 10.0.0.8, port: 9001}]
---
kind: Route
name: all
spec:
  gateways: [public]
  hosts: [example.com]
  match: {path: {prefix: /}}
  backends: [{service: ok}]
---
kind: Route
name: dns
spec:
  gateways: [public]
  hosts: [example.com]
  match: {path: {prefix: /dns}}
  backends: [{service: backend}]
  proxyless: {serveUnprotected: true}
`
	snap := policy.Load(fstest.MapFS{"p.yaml": &fstest.MapFile{Data: []byte(pol)}}, nil)
	const want = `p.yaml:13: Service/backend: spec.discovery.static[1].address: static endpoint addresses must be IP addresses; "backend.internal" is a DNS name`
	found := false
	for _, e := range snap.Errors() {
		found = found || strings.HasPrefix(e, want)
	}
	if !found || snap.Services["backend"] != nil {
		t.Fatalf("a DNS name in static discovery is not refused at load (served: %v): %q", snap.Services["backend"] != nil, snap.Errors())
	}
	groups, err := translate.Translate(snap, translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := static.Endpoints(snap)
	for _, client := range []translate.ClientKind{translate.ClientEnvoy, translate.ClientGRPC} {
		g := groups[translate.GroupKey{Gateway: "public", Client: client}]
		if g == nil {
			t.Fatalf("no %s group", client)
		}
		clas := map[string]*endpointv3.ClusterLoadAssignment{}
		for eds, svc := range g.EDS {
			if svc == "backend" {
				t.Errorf("%s group: EDS name %s for the refused Service", client, eds)
			}
			clas[eds] = translate.Endpoints(eds, g.LocalZone[eds], reg[svc])
		}
		if err := translate.Check(g, clas); err != nil {
			t.Errorf("%s group: Check with endpoints: %v", client, err)
		}
	}
}
