package translate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	basicauthv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/basic_auth/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// tlsCluster is a hand-built upstream TLS cluster with the given
// validation context, the shape the JWKS and Service clusters have.
func tlsCluster(name string, vc *tlsv3.CertificateValidationContext) *clusterv3.Cluster {
	ctx := &tlsv3.UpstreamTlsContext{Sni: "idp.example.com", CommonTlsContext: &tlsv3.CommonTlsContext{
		ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: vc},
	}}
	c := addressCluster(name, "idp.example.com", 443, clusterv3.Cluster_LOGICAL_DNS, defaultConnectTimeout)
	c.TransportSocket = &corev3.TransportSocket{Name: transportSocketTLS, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(ctx)}}
	return c
}

func sanExact(host string) []*tlsv3.SubjectAltNameMatcher {
	return []*tlsv3.SubjectAltNameMatcher{{SanType: tlsv3.SubjectAltNameMatcher_DNS, Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: host}}}}
}

func TestCheckRefusesWhatEnvoyDoesNotShip(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(t *testing.T, g *Group)
		want   string
	}{
		{name: "not-implemented field in a typed config (system_root_certs)", break_: func(t *testing.T, g *Group) {
			g.Clusters = append(g.Clusters, tlsCluster("jwks/idp.example.com", &tlsv3.CertificateValidationContext{
				SystemRootCerts: &tlsv3.CertificateValidationContext_SystemRootCerts{}, MatchTypedSubjectAltNames: sanExact("idp.example.com"),
			}))
		}, want: "cluster jwks/idp.example.com at transport_socket.typed_config.[envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext].common_tls_context.validation_context: field envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext.system_root_certs is not implemented in Envoy"},
		{name: "not-implemented message", break_: func(t *testing.T, g *Group) {
			g.Clusters = append(g.Clusters, tlsCluster("jwks/idp.example.com", &tlsv3.CertificateValidationContext{
				CaCertificateProviderInstance: &tlsv3.CertificateProviderPluginInstance{InstanceName: "x"}, MatchTypedSubjectAltNames: sanExact("idp.example.com"),
			}))
		}, want: "message envoy.extensions.transport_sockets.tls.v3.CertificateProviderPluginInstance is not implemented"},
		{name: "not-implemented enum value", break_: func(t *testing.T, g *Group) {
			c := g.Clusters[0].(*clusterv3.Cluster)
			c.EdsClusterConfig.EdsConfig = &corev3.ConfigSource{ResourceApiVersion: corev3.ApiVersion_V3, ConfigSourceSpecifier: &corev3.ConfigSource_ApiConfigSource{ApiConfigSource: &corev3.ApiConfigSource{ApiType: corev3.ApiConfigSource_AGGREGATED_GRPC}}}
		}, want: "enum value envoy.config.core.v3.ApiConfigSource.AGGREGATED_GRPC is not implemented"},
		{name: "work-in-progress field (xds field_status) inside protocol options", break_: func(t *testing.T, g *Group) {
			c := g.Clusters[0].(*clusterv3.Cluster)
			c.TypedExtensionProtocolOptions = map[string]*anypb.Any{httpProtocolOptionsKey: mustAny(&httpv3.HttpProtocolOptions{UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http3ProtocolOptions{Http3ProtocolOptions: &corev3.Http3ProtocolOptions{AllowExtendedConnect: true}},
			}}})}
		}, want: "field envoy.config.core.v3.Http3ProtocolOptions.allow_extended_connect is work in progress"},
		{name: "typed config of no known extension status", break_: func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.HttpFilters = append([]*hcmv3.HttpFilter{{Name: "basic", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&basicauthv3.BasicAuth{})}}}, h.HttpFilters...)
			})
		}, want: "typed config envoy.extensions.filters.http.basic_auth.v3.BasicAuth is of no known Envoy extension status"},
		{name: "alpha extension not among the exceptions", break_: func(t *testing.T, g *Group) {
			extensionStatus["envoy.extensions.filters.http.basic_auth.v3.BasicAuth"] = "alpha" // as extensions_metadata.yaml says
			t.Cleanup(func() { delete(extensionStatus, "envoy.extensions.filters.http.basic_auth.v3.BasicAuth") })
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.HttpFilters = append([]*hcmv3.HttpFilter{{Name: "basic", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&basicauthv3.BasicAuth{})}}}, h.HttpFilters...)
			})
		}, want: "typed config envoy.extensions.filters.http.basic_auth.v3.BasicAuth is alpha in Envoy"},
		{name: "not-implemented field in a route", break_: func(t *testing.T, g *Group) {
			// A fresh Route: shared Routes are walked once per Check.
			rc := g.Routes[0].(*routev3.RouteConfiguration)
			r := proto.Clone(firstRoute(g)).(*routev3.Route)
			r.Name = "hand-built"
			r.GetRoute().HedgePolicy = &routev3.HedgePolicy{InitialRequests: wrapperspb.UInt32(2)}
			rc.VirtualHosts[0].Routes = append([]*routev3.Route{r}, rc.VirtualHosts[0].Routes...)
		}, want: "route hand-built at route.hedge_policy: field envoy.config.route.v3.HedgePolicy.initial_requests is not implemented"},
		{name: "not-implemented field in the connection manager", break_: func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.RepresentIpv4RemoteAddressAsIpv4MappedIpv6 = true
			})
		}, want: "HttpConnectionManager.represent_ipv4_remote_address_as_ipv4_mapped_ipv6 is not implemented"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := validGroups(t)
			tc.break_(t, e)
			err := Check(e, nil)
			if err == nil {
				t.Fatal("Check passed a group with something Envoy does not ship")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestCheckWalksOnlyEnvoyGroups: proxyless gRPC groups may carry what only
// grpc-go reads (certificate provider instances).
func TestCheckWalksOnlyEnvoyGroups(t *testing.T) {
	_, g := validGroups(t)
	g.Clusters = append(g.Clusters, tlsCluster("jwks/idp.example.com", &tlsv3.CertificateValidationContext{
		CaCertificateProviderInstance: &tlsv3.CertificateProviderPluginInstance{InstanceName: "x"},
	}))
	if err := Check(g, nil); err != nil {
		t.Fatalf("gRPC group refused: %v", err)
	}
}

// TestGoldenFilesShipOnlyWhatEnvoyImplements reads every committed golden
// output of an Envoy group back into its resources and walks each for
// elements Envoy does not ship.
func TestGoldenFilesShipOnlyWhatEnvoyImplements(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "out", "*", "*.envoy.*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files (%v)", err)
	}
	newOf := map[string]func() proto.Message{
		"listeners": func() proto.Message { return &listenerv3.Listener{} },
		"routes":    func() proto.Message { return &routev3.RouteConfiguration{} },
		"clusters":  func() proto.Message { return &clusterv3.Cluster{} },
		"endpoints": func() proto.Message { return &endpointv3.ClusterLoadAssignment{} },
		"secrets":   func() proto.Message { return &tlsv3.Secret{} },
	}
	walked := 0
	for _, file := range files {
		parts := strings.Split(filepath.Base(file), ".")
		mk := newOf[parts[len(parts)-2]]
		if mk == nil {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for i := 0; ; i++ {
			var doc any
			if err := dec.Decode(&doc); err != nil {
				break
			}
			js, err := json.Marshal(doc)
			if err != nil {
				t.Fatalf("%s #%d: %v", file, i, err)
			}
			m := mk()
			if err := protojson.Unmarshal(js, m); err != nil {
				t.Fatalf("%s #%d: %v", file, i, err)
			}
			c := &checker{envoy: true}
			where := filepath.ToSlash(file)
			if n, ok := m.(named); ok {
				where += " " + n.GetName()
			}
			c.shipped(where, m)
			for _, e := range c.errs {
				t.Error(e)
			}
			walked++
		}
	}
	if walked == 0 {
		t.Fatal("no resources read from the golden files")
	}
}
