package translate

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	ringhashv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/ring_hash/v3"
	roundrobinv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/round_robin/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

const (
	httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
	lbRingHashName         = "envoy.load_balancing_policies.ring_hash"
	lbRoundRobinName       = "envoy.load_balancing_policies.round_robin"
)

func clusterName(service string) string { return "svc/" + service }

// Typed configs that many clusters share, marshalled once. Resources are
// read-only once built, so sharing the same Any is safe.
var (
	anyH2Explicit = mustAny(&httpv3.HttpProtocolOptions{UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
		ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &corev3.Http2ProtocolOptions{}},
	}}})
	anyH2Auto = mustAny(&httpv3.HttpProtocolOptions{UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_AutoConfig{AutoConfig: &httpv3.HttpProtocolOptions_AutoHttpConfig{
		Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
	}}})
	anyRingHash   = mustAny(&ringhashv3.RingHash{HashFunction: ringhashv3.RingHash_XX_HASH})
	anyRoundRobin = mustAny(&roundrobinv3.RoundRobin{})
)

// builtCluster is one Service's cluster as each client kind gets it. Both
// ask for the same EDS name, so one ClusterLoadAssignment serves both.
type builtCluster struct {
	envoy, grpc *clusterv3.Cluster
	eds         string
	envoyHash   uint64 // ContentHash of envoy, from the encoding the EDS name needs
	// grpcHash is the ContentHash of grpc, computed here, on newIndex's
	// goroutines and kept by Memo, rather than by the publisher.
	grpcHash uint64
	// envoyEnc is envoy's deterministic encoding, for its precheck
	// (walkEncoded); newIndex drops it once used.
	envoyEnc []byte
}

func (b *builtCluster) of(kind ClientKind) *clusterv3.Cluster {
	if kind == ClientGRPC {
		return b.grpc
	}
	return b.envoy
}

// addClusters adds one Cluster per Service the routes send to (newIndex has
// built them, and checked that every Service exists) and returns those
// Services, sorted.
func addClusters(g *Group, gw *policy.Gateway, routes []*policy.Route, ix *index, kind ClientKind) []string {
	var names []string
	if kind == ClientGRPC {
		names = backendsOf(routes) // proxyless clients do not mirror
	} else {
		names = unionSorted(servicesOf(routes), telemetryServices(gw))
	}
	g.Clusters = make([]typesResource, 0, len(names))
	if g.Hashes == nil {
		g.Hashes = make(map[typesResource]uint64, len(names))
	}
	zone := ix.zoneOf(gw)
	for _, s := range names {
		bc := ix.clusters[clusterKey{s, zone}]
		c := bc.of(kind)
		g.Clusters = append(g.Clusters, c)
		if kind == ClientEnvoy {
			g.Hashes[c] = bc.envoyHash
		} else {
			g.Hashes[c] = bc.grpcHash
		}
		if c.GetType() != clusterv3.Cluster_EDS {
			continue // Envoy resolves a DNS cluster itself (setDNS)
		}
		g.EDS[bc.eds] = s
		if zone != "" {
			if g.LocalZone == nil {
				g.LocalZone = make(map[string]string, len(names))
			}
			g.LocalZone[bc.eds] = zone
		}
	}
	return names
}

// buildClusters builds a Service's cluster for both client kinds, which
// ask for the same EDS name so that one ClusterLoadAssignment serves both.
// The name carries a hash of the Envoy cluster (EDS name left out), so a
// changed cluster asks for a new EDS resource and never stays warming. The
// gRPC cluster is a function of the same Service fields, all of which show
// in the Envoy cluster (TestGRPCClusterFollowsEnvoyCluster holds that), so
// hashing one marshal per Service is enough. A zone (that of the Gateways
// using the cluster) ends the EDS name: its endpoints get priorities from
// it, so each zone needs its own ClusterLoadAssignment.
func buildClusters(svc *policy.Service, systemCA, zone string) (*builtCluster, error) {
	bc := &builtCluster{envoy: buildCluster(svc, ClientEnvoy, systemCA), grpc: buildCluster(svc, ClientGRPC, systemCA)}
	buf, err := proto.MarshalOptions{Deterministic: true}.Marshal(bc.envoy)
	if err != nil {
		return nil, fmt.Errorf("hash cluster: %w", err)
	}
	h := fnv.New32a()
	h.Write(buf)
	var sum [4]byte
	bc.eds = bc.envoy.Name + "/" + hex.EncodeToString(h.Sum(sum[:0]))
	if zone != "" {
		// Zone names have no '@' (policy.CheckZone), so the name stays
		// unambiguous.
		bc.eds += "@" + zone
	}
	bc.grpc.EdsClusterConfig.ServiceName = bc.eds
	if bc.envoy.EdsClusterConfig == nil {
		// A DNS cluster (setDNS): Envoy resolves, no EDS name to add.
		bc.envoyHash, bc.envoyEnc = ContentHash(buf), buf
		bc.grpcHash = grpcClusterHash(bc.envoyHash, bc.eds)
		return bc, nil
	}
	bc.envoy.EdsClusterConfig.ServiceName = bc.eds
	// The publisher needs the content hash of the final Cluster: derive
	// its encoding from the one just made rather than encode it again.
	final, err := withEDSServiceName(buf, bc.eds)
	if err != nil {
		if final, err = (proto.MarshalOptions{Deterministic: true}).Marshal(bc.envoy); err != nil {
			return nil, fmt.Errorf("hash cluster: %w", err)
		}
	}
	bc.envoyHash, bc.envoyEnc = ContentHash(final), final
	bc.grpcHash = grpcClusterHash(bc.envoyHash, bc.eds)
	return bc, nil
}

// grpcClusterHash is the proxyless Cluster's hash, derived from the Envoy
// Cluster's instead of a marshal of its own (about 2 ms of CPU per cold
// build at 1,000 Services, for a hash alone: the publisher encodes a
// proxyless Cluster only when a proxyless client is sent it). The gRPC
// Cluster is a function of the Envoy Cluster and the EDS name, which the
// Envoy Cluster of a DNS Service does not carry
// (TestGRPCClusterFollowsEnvoyCluster holds both), computed by this build's
// code: the hash covers the three (buildid.go says why the build).
func grpcClusterHash(envoyHash uint64, eds string) uint64 {
	id := buildIdentity()
	b := make([]byte, 0, len(grpcHashDomain)+len(id)+len(eds)+16)
	b = append(b, grpcHashDomain...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(id)))
	b = append(b, id...)
	b = binary.BigEndian.AppendUint64(b, envoyHash)
	b = append(b, eds...)
	return ContentHash(b)
}

// grpcHashDomain keeps a derived hash apart from any encoding's.
const grpcHashDomain = "gatehouse proxyless cluster\x00"

func buildCluster(svc *policy.Service, kind ClientKind, systemCA string) *clusterv3.Cluster {
	s := &svc.Spec
	c := &clusterv3.Cluster{
		Name:                 clusterName(svc.Name),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsSource()},
		ConnectTimeout:       durationpb.New(defaultConnectTimeout),
	}
	if s.ConnectTimeout > 0 {
		c.ConnectTimeout = durationpb.New(s.ConnectTimeout.D())
	}
	if kind == ClientEnvoy {
		c.PerConnectionBufferLimitBytes = wrapperspb.UInt32(edgePerConnectionBufferLimitByte)
	}
	setLB(c, s.LoadBalancer, kind)
	if kind == ClientEnvoy || s.CircuitBreaker != nil {
		c.CircuitBreakers = circuitBreakers(s.CircuitBreaker, kind)
	}
	if od := s.OutlierDetection; od != nil {
		o := &clusterv3.OutlierDetection{}
		if od.Consecutive5xx > 0 {
			o.Consecutive_5Xx = wrapperspb.UInt32(uint32(od.Consecutive5xx))
		}
		if od.Interval > 0 {
			o.Interval = durationpb.New(od.Interval.D())
		}
		if od.BaseEjectionTime > 0 {
			o.BaseEjectionTime = durationpb.New(od.BaseEjectionTime.D())
		}
		if od.MaxEjectionPercent > 0 {
			o.MaxEjectionPercent = wrapperspb.UInt32(uint32(od.MaxEjectionPercent))
		}
		c.OutlierDetection = o
	}
	// grpc-go ignores active health checks; leaving them out keeps its
	// clusters free of fields it does not implement.
	if hc := s.HealthCheck; hc != nil && kind == ClientEnvoy {
		c.HealthChecks = []*corev3.HealthCheck{healthCheck(hc)}
	}
	if t := s.TLS; t != nil {
		c.TransportSocket = &corev3.TransportSocket{
			Name:       transportSocketTLS,
			ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(upstreamTLS(svc, kind, systemCA))},
		}
	}
	if s.Protocol == policy.ServiceHTTP2 || s.Protocol == policy.ServiceGRPC {
		c.TypedExtensionProtocolOptions = map[string]*anyT{httpProtocolOptionsKey: http2Options(s)}
	}
	if d := s.Discovery.DNS; d != nil && kind == ClientEnvoy {
		setDNS(c, d)
	}
	return c
}

// setLB maps the policy onto the cluster. Proxyless gRPC clients NACK
// MAGLEV and RANDOM lb_policy values, so they get load_balancing_policy with
// the nearest policy grpc-go implements (ring hash, round robin); lb_policy
// then stays ROUND_ROBIN, which grpc-go accepts before reading the list.
func setLB(c *clusterv3.Cluster, lb *policy.LoadBalancer, kind ClientKind) {
	p := policy.LBRoundRobin
	if lb != nil && lb.Policy != "" {
		p = lb.Policy
	}
	switch p {
	case policy.LBLeastRequest:
		c.LbPolicy = clusterv3.Cluster_LEAST_REQUEST
	case policy.LBRingHash:
		c.LbPolicy = clusterv3.Cluster_RING_HASH
	case policy.LBMaglev:
		if kind == ClientGRPC {
			c.LoadBalancingPolicy = lbPolicyList(lbRingHashName, anyRingHash)
		} else {
			c.LbPolicy = clusterv3.Cluster_MAGLEV
		}
	case policy.LBRandom:
		if kind == ClientGRPC {
			c.LoadBalancingPolicy = lbPolicyList(lbRoundRobinName, anyRoundRobin)
		} else {
			c.LbPolicy = clusterv3.Cluster_RANDOM
		}
	default:
		c.LbPolicy = clusterv3.Cluster_ROUND_ROBIN
	}
	// Zones are weighted localities (see Endpoints); Envoy honours their
	// weights only with locality-weighted balancing, which ring hash and
	// maglev do not support. grpc-go always weights localities.
	if kind == ClientEnvoy && (c.LbPolicy == clusterv3.Cluster_ROUND_ROBIN || c.LbPolicy == clusterv3.Cluster_LEAST_REQUEST || c.LbPolicy == clusterv3.Cluster_RANDOM) {
		c.CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{
			LocalityConfigSpecifier: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{LocalityWeightedLbConfig: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig{}},
		}
	}
}

func lbPolicyList(name string, a *anyT) *clusterv3.LoadBalancingPolicy {
	return &clusterv3.LoadBalancingPolicy{Policies: []*clusterv3.LoadBalancingPolicy_Policy{{
		TypedExtensionConfig: &corev3.TypedExtensionConfig{Name: name, TypedConfig: a},
	}}}
}

func healthCheck(hc *policy.HealthCheck) *corev3.HealthCheck {
	out := &corev3.HealthCheck{
		Interval:           durationpb.New(defaultHCInterval),
		Timeout:            durationpb.New(defaultHCTimeout),
		UnhealthyThreshold: wrapperspb.UInt32(defaultHCUnhealthyThreshold),
		HealthyThreshold:   wrapperspb.UInt32(defaultHCHealthyThreshold),
	}
	if hc.Interval > 0 {
		out.Interval = durationpb.New(hc.Interval.D())
	}
	if hc.Timeout > 0 {
		out.Timeout = durationpb.New(hc.Timeout.D())
	}
	if hc.UnhealthyThreshold > 0 {
		out.UnhealthyThreshold = wrapperspb.UInt32(uint32(hc.UnhealthyThreshold))
	}
	if hc.HealthyThreshold > 0 {
		out.HealthyThreshold = wrapperspb.UInt32(uint32(hc.HealthyThreshold))
	}
	switch {
	case hc.HTTP != nil:
		path := hc.HTTP.Path
		if path == "" {
			path = defaultHCPath
		}
		out.HealthChecker = &corev3.HealthCheck_HttpHealthCheck_{HttpHealthCheck: &corev3.HealthCheck_HttpHealthCheck{Path: path, Host: hc.HTTP.Host}}
	case hc.GRPC != nil:
		out.HealthChecker = &corev3.HealthCheck_GrpcHealthCheck_{GrpcHealthCheck: &corev3.HealthCheck_GrpcHealthCheck{ServiceName: hc.GRPC.ServiceName}}
	default:
		out.HealthChecker = &corev3.HealthCheck_TcpHealthCheck_{TcpHealthCheck: &corev3.HealthCheck_TcpHealthCheck{}}
	}
	return out
}

// upstreamTLS: Envoy gets the Service's CA inline, or else the system CA
// bundle file (systemCA), and checks the certificate's DNS SAN against the
// SNI. Envoy takes trust anchors only from trusted_ca: system_root_certs is
// not implemented there (gRPC only), and a SAN matcher without trusted_ca
// is refused at load ("SAN-based verification of peer certificates without
// trusted CA is insecure and not allowed"; Envoy:
// source/common/ssl/certificate_validation_context_config_impl.cc). Without
// trusted_ca Envoy would not check the chain at all (Envoy:
// source/common/tls/cert_validator/default_validator.cc,
// initializeSslContexts), so trusted_ca is always set. grpc-go NACKs inline
// CAs, so a proxyless client gets a certificate provider instance that its
// bootstrap must define (grpcUpstreamCAInstance), with the Service name as
// the certificate name.
func upstreamTLS(svc *policy.Service, kind ClientKind, systemCA string) *tlsv3.UpstreamTlsContext {
	t := svc.Spec.TLS
	vc := &tlsv3.CertificateValidationContext{}
	var sans []*matcherv3.StringMatcher
	if t.SNI != "" {
		sans = []*matcherv3.StringMatcher{{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: t.SNI}}}
	}
	if kind == ClientGRPC {
		vc.CaCertificateProviderInstance = &tlsv3.CertificateProviderPluginInstance{InstanceName: grpcUpstreamCAInstance, CertificateName: svc.Name}
		vc.MatchSubjectAltNames = sans //nolint:staticcheck // grpc-go reads this field
	} else {
		vc.TrustedCa = trustedCA(t.CAPEM, systemCA)
		for _, m := range sans {
			vc.MatchTypedSubjectAltNames = append(vc.MatchTypedSubjectAltNames, &tlsv3.SubjectAltNameMatcher{SanType: tlsv3.SubjectAltNameMatcher_DNS, Matcher: m})
		}
	}
	ctx := &tlsv3.UpstreamTlsContext{
		Sni:              t.SNI,
		CommonTlsContext: &tlsv3.CommonTlsContext{ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: vc}},
	}
	if kind == ClientEnvoy {
		switch svc.Spec.Protocol {
		case policy.ServiceGRPC:
			ctx.CommonTlsContext.AlpnProtocols = []string{"h2"}
		case policy.ServiceHTTP2:
			ctx.CommonTlsContext.AlpnProtocols = []string{"h2", "http/1.1"}
		}
	}
	return ctx
}

// http2Options: h2c (explicit HTTP/2) without TLS and for gRPC; with TLS an
// HTTP2 Service negotiates by ALPN.
func http2Options(s *policy.ServiceSpec) *anyT {
	if s.TLS != nil && s.Protocol == policy.ServiceHTTP2 {
		return anyH2Auto
	}
	return anyH2Explicit
}

// envoyDefaultMaxRequests is Envoy's max_requests when a cluster leaves it
// out (Envoy: source/common/upstream/upstream_impl.cc,
// ClusterInfoImpl::ResourceManagers::load, where max_retries defaults to 3).
const envoyDefaultMaxRequests = 1024

// circuitBreakers maps a Service's circuitBreaker. Envoy's default
// max_retries of 3 caps the retries in flight across the whole cluster,
// so a Route's retries silently stop under any load. Envoy clusters get
// max_retries equal to max_requests unless the Service sets it: the
// router has at most one retry of a request in flight at a time, so
// retries never exceed requests, each Route bounds its own attempts
// (spec.retries.attempts <= 10), and max_requests still bounds the
// cluster. Proxyless clients honour only max_requests, so their clusters
// get what the Service says and nothing more.
func circuitBreakers(cb *policy.CircuitBreaker, kind ClientKind) *clusterv3.CircuitBreakers {
	t := &clusterv3.CircuitBreakers_Thresholds{Priority: corev3.RoutingPriority_DEFAULT}
	maxRequests := envoyDefaultMaxRequests
	if cb != nil {
		if cb.MaxConnections > 0 {
			t.MaxConnections = wrapperspb.UInt32(uint32(cb.MaxConnections))
		}
		if cb.MaxPendingRequests > 0 {
			t.MaxPendingRequests = wrapperspb.UInt32(uint32(cb.MaxPendingRequests))
		}
		if cb.MaxRequests > 0 {
			t.MaxRequests = wrapperspb.UInt32(uint32(cb.MaxRequests))
			maxRequests = cb.MaxRequests
		}
		if cb.MaxRetries > 0 {
			t.MaxRetries = wrapperspb.UInt32(uint32(cb.MaxRetries))
		}
	}
	if cb != nil && cb.RetryBudget != nil && kind == ClientEnvoy {
		// The budget replaces max_retries (policy.validateRetryBudget);
		// grpc-go reads only max_requests, so proxyless clusters never
		// get it.
		t.RetryBudget = retryBudget(cb.RetryBudget)
		return &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{t}}
	}
	if t.MaxRetries == nil && kind == ClientEnvoy {
		t.MaxRetries = wrapperspb.UInt32(uint32(maxRequests))
	}
	return &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{t}}
}

// trustedCA is the CA a TLS upstream is checked against: the PEM given, or
// else the system bundle file on the Envoy host.
func trustedCA(pem []byte, systemCA string) *corev3.DataSource {
	if len(pem) > 0 {
		return &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: pem}}
	}
	return &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: systemCA}}
}

// unionSorted merges two sorted name lists without duplicates.
func unionSorted(a, b []string) []string {
	set := make(map[string]struct{}, len(a)+len(b))
	for _, s := range a {
		set[s] = struct{}{}
	}
	for _, s := range b {
		set[s] = struct{}{}
	}
	return sortedKeys(set)
}
