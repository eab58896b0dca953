package translate

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// internalConnectTimeout is short: a fail-closed Route waits on it before
// ext_authz gives up, and gatehouse is expected nearby.
const internalConnectTimeout = time.Second

func splitHostPort(addr string) (string, uint32, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil || port == 0 {
		return "", 0, fmt.Errorf("%q: bad port", addr)
	}
	if h == "" {
		return "", 0, fmt.Errorf("%q: no host", addr)
	}
	return h, uint32(port), nil
}

// addressCluster is a cluster of one address: STATIC for an IP, else a
// DNS cluster of the given type. IPv4 is preferred: containers often have
// AAAA records but no IPv6 route.
func addressCluster(name, host string, port uint32, dnsType clusterv3.Cluster_DiscoveryType, connect time.Duration) *clusterv3.Cluster {
	typ := dnsType
	if _, err := netip.ParseAddr(host); err == nil {
		typ = clusterv3.Cluster_STATIC
	}
	c := &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: typ},
		ConnectTimeout:       durationpb.New(connect),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: &corev3.Address{
					Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Address:       host,
						PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
					}},
				}}},
			}}}},
		},
	}
	if typ != clusterv3.Cluster_STATIC {
		c.DnsLookupFamily = clusterv3.Cluster_V4_PREFERRED
	}
	return c
}

// serviceCluster reaches one of gatehouse's gRPC services: HTTP/2 without
// TLS (h2c), as gatehouse serves them next to xDS.
func serviceCluster(name, addr string, st *ServiceTLS) *clusterv3.Cluster {
	host, port, _ := splitHostPort(addr) // checked by Options.withDefaults
	c := addressCluster(name, host, port, clusterv3.Cluster_STRICT_DNS, internalConnectTimeout)
	c.TypedExtensionProtocolOptions = map[string]*anyT{httpProtocolOptionsKey: anyH2Explicit}
	if st != nil {
		c.TransportSocket = &corev3.TransportSocket{Name: transportSocketTLS, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(serviceTLSContext(host, st))}}
	}
	return c
}

// serviceTLSContext is Envoy's side of a TLS connection to gatehouse's gRPC
// port: gatehouse's certificate must chain to CAFile and name host; ALPN
// offers h2, which grpc-go's server requires of TLS clients (Envoy sends no
// ALPN unless alpn_protocols lists it: api/envoy/extensions/
// transport_sockets/tls/v3/tls.proto, CommonTlsContext.alpn_protocols).
// Envoy reads the files when the cluster is created.
func serviceTLSContext(host string, st *ServiceTLS) *tlsv3.UpstreamTlsContext {
	san := &tlsv3.SubjectAltNameMatcher{SanType: tlsv3.SubjectAltNameMatcher_DNS, Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: host}}}
	ctx := &tlsv3.UpstreamTlsContext{Sni: host}
	if _, err := netip.ParseAddr(host); err == nil {
		ctx.Sni = "" // an IP is not a valid SNI name; its IP SAN is checked
		san.SanType = tlsv3.SubjectAltNameMatcher_IP_ADDRESS
	}
	file := func(f string) *corev3.DataSource {
		return &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: f}}
	}
	common := &tlsv3.CommonTlsContext{
		AlpnProtocols: []string{"h2"},
		ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa:                 file(st.CAFile),
			MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{san},
		}},
	}
	if st.CertFile != "" {
		common.TlsCertificates = []*tlsv3.TlsCertificate{{CertificateChain: file(st.CertFile), PrivateKey: file(st.KeyFile)}}
	}
	ctx.CommonTlsContext = common
	return ctx
}

// jwksTarget is where a remote JWKS is fetched from.
type jwksTarget struct {
	cluster string
	host    string
	port    uint32
	tls     bool
}

// parseJWKSURI names a JWKS URI's cluster: "jwks/<host>" for https on
// 443, "jwks/<host>:<port>" for https elsewhere, "jwks/http/<host>:<port>"
// for the plain-http opt-in, so one host served both ways never shares a
// cluster between TLS and plaintext.
func parseJWKSURI(uri string) (jwksTarget, error) { return parseIdPURI("jwks", uri) }

// parseIdPURI is parseJWKSURI with another cluster name prefix ("idp" for
// login token endpoints).
func parseIdPURI(prefix, uri string) (jwksTarget, error) {
	what := "JWKS URI"
	if prefix != "jwks" {
		what = "token endpoint"
	}
	u, err := url.Parse(uri)
	if err != nil {
		return jwksTarget{}, fmt.Errorf("%s %q: %w", what, uri, err)
	}
	host := u.Hostname()
	if host == "" {
		return jwksTarget{}, fmt.Errorf("%s %q: no host", what, uri)
	}
	t := jwksTarget{host: host, tls: u.Scheme == "https"}
	port := uint64(443)
	if !t.tls {
		port = 80
	}
	if p := u.Port(); p != "" {
		port, err = strconv.ParseUint(p, 10, 16)
		if err != nil || port == 0 {
			return jwksTarget{}, fmt.Errorf("%s %q: bad port", what, uri)
		}
	}
	t.port = uint32(port)
	hp := net.JoinHostPort(host, strconv.Itoa(int(port)))
	switch {
	case !t.tls:
		t.cluster = prefix + "/http/" + hp
	case port == 443:
		t.cluster = prefix + "/" + host
	default:
		t.cluster = prefix + "/" + hp
	}
	return t, nil
}

// jwksCluster fetches keys over TLS checked against the system CA bundle
// (Options.SystemCAFile, as trusted_ca: see upstreamTLS for why never
// system_root_certs), with SNI and the certificate's SAN both the URI's
// host; plaintext only where the Authentication opted in.
func jwksCluster(t jwksTarget, o Options) *clusterv3.Cluster {
	// An identity provider may be far away: the usual connect timeout.
	c := addressCluster(t.cluster, t.host, t.port, clusterv3.Cluster_LOGICAL_DNS, defaultConnectTimeout)
	if !t.tls {
		return c
	}
	vc := &tlsv3.CertificateValidationContext{TrustedCa: trustedCA(nil, o.SystemCAFile)}
	san := &tlsv3.SubjectAltNameMatcher{SanType: tlsv3.SubjectAltNameMatcher_DNS, Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: t.host}}}
	ctx := &tlsv3.UpstreamTlsContext{Sni: t.host}
	if _, err := netip.ParseAddr(t.host); err == nil {
		// An IP is not a valid SNI name; check the IP SAN instead.
		ctx.Sni = ""
		san.SanType = tlsv3.SubjectAltNameMatcher_IP_ADDRESS
	}
	vc.MatchTypedSubjectAltNames = []*tlsv3.SubjectAltNameMatcher{san}
	ctx.CommonTlsContext = &tlsv3.CommonTlsContext{ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: vc}}
	c.TransportSocket = &corev3.TransportSocket{Name: transportSocketTLS, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(ctx)}}
	return c
}

// clusters are the internal clusters this group's filters reach: the authz
// and rate-limit services when a filter uses them, one per JWKS host.
func (f *gwFilters) clusters() ([]typesResource, error) {
	var out []typesResource
	if f.authzClosed || f.authzOpen {
		out = append(out, serviceCluster(wire.AuthzCluster, f.opts.AuthzAddr, f.opts.ServiceTLS))
	}
	if f.rlDeny || f.rlAllow {
		out = append(out, serviceCluster(wire.RateLimitCluster, f.opts.RateLimitAddr, f.opts.ServiceTLS))
	}
	if f.waf || f.xform || f.openapi {
		out = append(out, serviceCluster(wire.ExtProcCluster, f.opts.ExtProcAddr, f.opts.ServiceTLS))
	}
	if al := f.gw.Spec.AccessLog; al != nil && al.Usage {
		out = append(out, serviceCluster(wire.UsageCluster, f.opts.UsageAddr, f.opts.ServiceTLS))
	}
	seen := map[string]bool{}
	for _, n := range f.jwt {
		uri := f.jwksURI(f.snap.Authentications[n].Spec.JWT)
		if uri == "" {
			continue
		}
		t, err := parseJWKSURI(uri)
		if err != nil {
			return nil, fmt.Errorf("Authentication/%s: %w", n, err)
		}
		if !seen[t.cluster] {
			seen[t.cluster] = true
			out = append(out, jwksCluster(t, f.opts))
		}
	}
	login, err := f.loginClusters(seen)
	if err != nil {
		return nil, err
	}
	return append(out, login...), nil
}
