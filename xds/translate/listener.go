package translate

import (
	"fmt"
	"sort"
	"strconv"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	grpcalsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Filter names (ENVOY-MAPPING.md "HTTP filter order").
const (
	filterHeaderMutation = "envoy.filters.http.header_mutation"
	filterRouter         = "envoy.filters.http.router"
	filterFault          = "envoy.filters.http.fault"
	filterHCM            = "envoy.filters.network.http_connection_manager"
	filterTLSInspector   = "envoy.filters.listener.tls_inspector"
	transportSocketTLS   = "envoy.transport_sockets.tls"
	accessLoggerFile     = "envoy.access_loggers.file"
	accessLoggerGRPC     = "envoy.access_loggers.http_grpc"
)

func listenerName(gw string, port int) string { return "listener/" + gw + "/" + strconv.Itoa(port) }
func routeConfigName(gw, l string) string     { return "routes/" + gw + "/" + l }
func secretName(gw, l string) string          { return "tls/" + gw + "/" + l }

// mustAny wraps a message built by this package. Marshalling a well-formed
// generated message cannot fail, so a failure is a programming error.
func mustAny(m proto.Message) *anypb.Any {
	a := &anypb.Any{}
	// Deterministic: Struct and map fields must marshal the same way every
	// time, or versions and EDS-name hashes would change for no reason.
	if err := anypb.MarshalFrom(a, m, proto.MarshalOptions{Deterministic: true}); err != nil {
		panic(fmt.Sprintf("translate: marshal %T: %v", m, err))
	}
	return a
}

// sdsConfigSource fetches listener certificates over ADS with no initial
// fetch timeout: the listener stays warming, serving nothing, until its
// certificate arrives. With Envoy's default of 15s it would start without
// one (Envoy: source/common/config/utility.cc, configSourceInitialFetchTimeout;
// source/common/secret/sds_api.cc).
var sdsConfigSource = &corev3.ConfigSource{
	ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	ResourceApiVersion:    corev3.ApiVersion_V3,
	InitialFetchTimeout:   durationpb.New(0),
}

// adsConfigSource is shared by every resource that names it: built
// resources are read-only, and one instance saves thousands of allocations
// per build.
var adsConfigSource = &corev3.ConfigSource{
	ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	ResourceApiVersion:    corev3.ApiVersion_V3,
}

func adsSource() *corev3.ConfigSource { return adsConfigSource }

// buildEnvoyGroup builds the Envoy proxies' resources of one Gateway.
func buildEnvoyGroup(gw *policy.Gateway, routes []*policy.Route, ix *index, opts Options) (*Group, error) {
	g := &Group{EDS: map[string]string{}}
	filters, err := planFilters(gw, routes, ix.snap, opts)
	if err != nil {
		return nil, err
	}
	byPort := map[int][]*policy.Listener{}
	for i := range gw.Spec.Listeners {
		l := &gw.Spec.Listeners[i]
		byPort[l.Port] = append(byPort[l.Port], l)
	}
	ports := make([]int, 0, len(byPort))
	for p := range byPort {
		ports = append(ports, p)
	}
	sort.Ints(ports)
	httpFilters := filters.httpFilters()
	accessLog := accessLogs(gw)
	for _, port := range ports {
		ls := byPort[port]
		sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
		lis, secrets, err := envoyListener(gw, port, ls, httpFilters, accessLog, filters.noStore, func(l *policy.Listener) bool { return servesStreams(l, routes, ix) })
		if err != nil {
			return nil, err
		}
		g.Listeners = append(g.Listeners, lis)
		g.Secrets = append(g.Secrets, secrets...)
		for _, l := range ls {
			g.Routes = append(g.Routes, envoyRouteConfig(gw, l, routes, ix, filters))
		}
	}
	addClusters(g, gw, routes, ix, ClientEnvoy)
	internal, err := filters.clusters()
	if err != nil {
		return nil, err
	}
	g.Clusters = append(g.Clusters, internal...)
	g.Secrets = append(g.Secrets, filters.loginSecrets()...)
	sortGroup(g)
	return g, nil
}

func envoyListener(gw *policy.Gateway, port int, ls []*policy.Listener, httpFilters []*hcmv3.HttpFilter, accessLog []*accesslogv3.AccessLog, noStore bool, streams func(*policy.Listener) bool) (*listenerv3.Listener, []typesResource, error) {
	name := listenerName(gw.Name, port)
	lis := &listenerv3.Listener{
		Name: name,
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address:       "0.0.0.0",
			PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
		}}},
		PerConnectionBufferLimitBytes: wrapperspb.UInt32(edgePerConnectionBufferLimitByte),
	}
	proto0 := ls[0].Protocol
	if proto0 == "" {
		proto0 = policy.ProtocolHTTP
	}
	var secrets []typesResource
	for _, l := range ls {
		p := l.Protocol
		if p == "" {
			p = policy.ProtocolHTTP
		}
		if p != proto0 {
			return nil, nil, fmt.Errorf("listener %s: port %d shared by %s and %s listeners", name, port, proto0, p)
		}
	}
	if proto0 == policy.ProtocolHTTP && len(ls) > 1 {
		return nil, nil, fmt.Errorf("listener %s: port %d shared by %d HTTP listeners (only HTTPS listeners may share a port, by SNI)", name, port, len(ls))
	}
	for _, l := range ls {
		hcm := httpConnectionManager(gw, l, httpFilters, accessLog, streams(l))
		if noStore {
			hcm.LocalReplyConfig = localReplyNoStore
		}
		setForwardClientCert(hcm, l)
		fc := &listenerv3.FilterChain{
			Name: l.Name,
			Filters: []*listenerv3.Filter{
				connectionLimitFilter(gw, l),
				{Name: filterHCM, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(hcm)}},
			},
		}
		if proto0 == policy.ProtocolHTTPS {
			if l.TLS == nil {
				return nil, nil, fmt.Errorf("listener %s: HTTPS listener %q has no tls", name, l.Name)
			}
			sn := secretName(gw.Name, l.Name)
			dt := downstreamTLS(sn, l.TLS)
			setClientCertificates(dt, l.TLS.ClientCertificates)
			fc.TransportSocket = &corev3.TransportSocket{Name: transportSocketTLS, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(dt)}}
			if len(l.Hostnames) > 0 {
				fc.FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: append([]string(nil), l.Hostnames...)}
				sort.Strings(fc.FilterChainMatch.ServerNames)
			}
			secrets = append(secrets, &tlsv3.Secret{
				Name: sn,
				Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
					CertificateChain: &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: l.TLS.CertificatePEM}},
					PrivateKey:       &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: l.TLS.KeyPEM}},
				}},
			})
		}
		lis.FilterChains = append(lis.FilterChains, fc)
	}
	// Validation gives every listener of a port the same proxyProtocol.
	if ls[0].ProxyProtocol {
		lis.ListenerFilters = append(lis.ListenerFilters, proxyProtocolFilter())
	}
	if proto0 == policy.ProtocolHTTPS {
		lis.ListenerFilters = append(lis.ListenerFilters, &listenerv3.ListenerFilter{
			Name:       filterTLSInspector,
			ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: mustAny(&tlsinspectorv3.TlsInspector{})},
		})
	}
	return lis, secrets, nil
}

func downstreamTLS(secret string, t *policy.ListenerTLS) *tlsv3.DownstreamTlsContext {
	minV := tlsv3.TlsParameters_TLSv1_2
	if t.MinVersion == "1.3" {
		minV = tlsv3.TlsParameters_TLSv1_3
	}
	return &tlsv3.DownstreamTlsContext{
		CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsParams: &tlsv3.TlsParameters{TlsMinimumProtocolVersion: minV, TlsMaximumProtocolVersion: tlsv3.TlsParameters_TLSv1_3},
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{
				Name:      secret,
				SdsConfig: sdsConfigSource,
			}},
			AlpnProtocols: []string{"h2", "http/1.1"},
		},
	}
}

// httpConnectionManager builds a listener's connection manager. streams:
// the listener serves a streaming Route (policy.Route.IsStreaming), so it
// gets no request_timeout unless the Gateway sets one: that timeout runs
// until the whole request is received, which a client stream, a
// WebSocket or a bidirectional gRPC call never is (Envoy: source/common/
// http/conn_manager_impl.cc, request_timer_ is disarmed only at the end
// of the request). request_headers_timeout and stream_idle_timeout still
// bound slow or idle clients.
func httpConnectionManager(gw *policy.Gateway, l *policy.Listener, httpFilters []*hcmv3.HttpFilter, accessLog []*accesslogv3.AccessLog, streams bool) *hcmv3.HttpConnectionManager {
	headersKB := uint32(defaultMaxRequestHeadersKB)
	requestTimeout := durationpb.New(defaultRequestTimeout)
	if streams {
		requestTimeout = nil
	}
	streamIdle := durationpb.New(defaultStreamIdleTimeout)
	if lim := gw.Spec.Limits; lim != nil {
		if lim.MaxRequestHeadersKB > 0 {
			headersKB = uint32(lim.MaxRequestHeadersKB)
		}
		if lim.RequestTimeout > 0 {
			requestTimeout = durationpb.New(lim.RequestTimeout.D())
		}
		if lim.StreamIdleTimeout > 0 {
			streamIdle = durationpb.New(lim.StreamIdleTimeout.D())
		}
	}
	h := &hcmv3.HttpConnectionManager{
		StatPrefix: gw.Name + "_" + l.Name,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource:    adsSource(),
			RouteConfigName: routeConfigName(gw.Name, l.Name),
		}},
		HttpFilters: httpFilters,
		AccessLog:   accessLog,
		Tracing:     tracing(gw),
		// The client is the TCP peer unless the Gateway's clientIP says
		// otherwise (applyClientIP).
		UseRemoteAddress:  wrapperspb.Bool(true),
		XffNumTrustedHops: 0,
		// Path settings, applied before any filter or route reads :path
		// (Envoy: source/common/http/conn_manager_utility.cc,
		// maybeNormalizePath): %2F, %2f, %5C and %5c are decoded and the
		// client redirected to the decoded path (gRPC gets 400), then
		// dot segments are resolved (%2e too; ".;" and "..;" segments lose
		// their parameters first, source/common/http/path_utility.cc), then
		// repeated slashes merged. Routes, RBAC, ext_authz and the upstream
		// all see that one path. test/security/paths models this.
		NormalizePath:                wrapperspb.Bool(true),
		MergeSlashes:                 true,
		PathWithEscapedSlashesAction: hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT,
		// "api.example.com." is the same host as "api.example.com": strip
		// the dot before virtual hosts are chosen, so it cannot reach
		// another virtual host (or the "*" one) with other routes
		// (Envoy: conn_manager_utility.cc, maybeNormalizeHost).
		StripTrailingHostDot:       true,
		StripPortMode:              &hcmv3.HttpConnectionManager_StripAnyHostPort{StripAnyHostPort: true},
		ServerName:                 serverName,
		ServerHeaderTransformation: hcmv3.HttpConnectionManager_OVERWRITE,
		MaxRequestHeadersKb:        wrapperspb.UInt32(headersKB),
		RequestTimeout:             requestTimeout,
		StreamIdleTimeout:          streamIdle,
		RequestHeadersTimeout:      durationpb.New(defaultRequestHeadersTimout),
		CommonHttpProtocolOptions: &corev3.HttpProtocolOptions{
			IdleTimeout:                  durationpb.New(defaultIdleTimeout),
			HeadersWithUnderscoresAction: corev3.HttpProtocolOptions_REJECT_REQUEST,
		},
		Http2ProtocolOptions: &corev3.Http2ProtocolOptions{
			MaxConcurrentStreams:        wrapperspb.UInt32(edgeMaxConcurrentStreams),
			InitialStreamWindowSize:     wrapperspb.UInt32(edgeInitialStreamWindowSize),
			InitialConnectionWindowSize: wrapperspb.UInt32(edgeInitialConnectionWindowSize),
		},
	}
	applyClientIP(gw, h)
	applyEdgeLimits(gw, h)
	return h
}

// usageAccessLog streams every entry to gatehouse's access-log service
// (pkg/usage). The entry carries the route name, upstream cluster and the
// request's dynamic metadata, where ext_authz put the consumer (Envoy:
// source/extensions/access_loggers/grpc/grpc_access_log_utils.cc), and the
// x-ratelimit headers the ratelimit filter adds, for the quota used. No
// timeout: it is one long-lived stream per worker.
func usageAccessLog() *grpcalsv3.HttpGrpcAccessLogConfig {
	return &grpcalsv3.HttpGrpcAccessLogConfig{
		CommonConfig: &grpcalsv3.CommonGrpcAccessLogConfig{
			LogName:             wire.UsageLogName,
			GrpcService:         &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: wire.UsageCluster}}},
			TransportApiVersion: corev3.ApiVersion_V3,
		},
		AdditionalResponseHeadersToLog: []string{"x-ratelimit-limit", "x-ratelimit-remaining"},
	}
}

// servesStreams reports whether listener l serves a streaming Route: one
// whose hosts fall under (or cover) the listener's hostnames.
func servesStreams(l *policy.Listener, routes []*policy.Route, ix *index) bool {
	for _, r := range routes {
		if !ix.routes[r].streaming {
			continue
		}
		if len(l.Hostnames) == 0 {
			return true
		}
		for _, h := range routeHosts(r) {
			for _, lh := range l.Hostnames {
				if hostUnder(h, lh) || hostUnder(lh, h) {
					return true
				}
			}
		}
	}
	return false
}
