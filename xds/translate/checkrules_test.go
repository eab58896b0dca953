package translate

import (
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"math"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rlconfv3 "github.com/envoyproxy/go-control-plane/envoy/config/ratelimit/v3"
	rbacconfv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	commonratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// newRoute prepends a copy of the group's first Route, named, to its
// first route table and returns it for editing (a fresh Route: shared ones
// are checked once per Check).
func newRoute(g *Group, name string) *routev3.Route {
	rc := g.Routes[0].(*routev3.RouteConfiguration)
	r := proto.Clone(firstRoute(g)).(*routev3.Route)
	r.Name = name
	rc.VirtualHosts[0].Routes = append([]*routev3.Route{r}, rc.VirtualHosts[0].Routes...)
	return r
}

// prependFilter puts an HTTP filter first in the first listener's chain.
func prependFilter(t *testing.T, g *Group, name string, cfg proto.Message) {
	editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
		h.HttpFilters = append([]*hcmv3.HttpFilter{{Name: name, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(cfg)}}}, h.HttpFilters...)
	})
}

func jwtWith(req *jwtv3.JwtRequirement) *jwtv3.JwtAuthentication {
	return &jwtv3.JwtAuthentication{
		Providers:      map[string]*jwtv3.JwtProvider{"idp": {Issuer: "https://idp.example.com", JwksSourceSpecifier: &jwtv3.JwtProvider_LocalJwks{LocalJwks: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: `{"keys":[]}`}}}}},
		RequirementMap: map[string]*jwtv3.JwtRequirement{"r": req},
	}
}

// remoteJWKSRetry adds a jwt_authn filter whose provider fetches a remote
// JWKS (from a cluster of the group) with the given retry backoff; 0
// leaves base_interval out.
func remoteJWKSRetry(base, max time.Duration) func(t *testing.T, g *Group) {
	return func(t *testing.T, g *Group) {
		g.Clusters = append(g.Clusters, addressCluster("jwks/idp.example.com", "idp.example.com", 443, clusterv3.Cluster_LOGICAL_DNS, time.Second))
		b := &corev3.BackoffStrategy{MaxInterval: durationpb.New(max)}
		if base > 0 {
			b.BaseInterval = durationpb.New(base)
		}
		cfg := jwtWith(&jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: "idp"}})
		cfg.Providers["idp"].JwksSourceSpecifier = &jwtv3.JwtProvider_RemoteJwks{RemoteJwks: &jwtv3.RemoteJwks{
			HttpUri: &corev3.HttpUri{
				Uri: "https://idp.example.com/jwks", HttpUpstreamType: &corev3.HttpUri_Cluster{Cluster: "jwks/idp.example.com"},
				Timeout: durationpb.New(time.Second),
			},
			RetryPolicy: &corev3.RetryPolicy{RetryBackOff: b},
		}}
		prependFilter(t, g, "test-jwt", cfg)
	}
}

// accessLogFlush sets the first connection manager's access_log_options
// (flushing every minute) and the deprecated flush fields it replaces.
func accessLogFlush(options, onNewRequest, interval bool) func(t *testing.T, g *Group) {
	return func(t *testing.T, g *Group) {
		editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
			if options {
				h.AccessLogOptions = &hcmv3.HttpConnectionManager_HcmAccessLogOptions{AccessLogFlushInterval: durationpb.New(time.Minute)}
			}
			h.FlushAccessLogOnNewRequest = onNewRequest //nolint:staticcheck // the deprecated field Envoy still reads
			if interval {
				h.AccessLogFlushInterval = durationpb.New(time.Minute) //nolint:staticcheck // likewise
			}
		})
	}
}

func bucket(max uint32, every time.Duration) *typev3.TokenBucket {
	return &typev3.TokenBucket{MaxTokens: max, TokensPerFill: wrapperspb.UInt32(1), FillInterval: durationpb.New(every)}
}

func regexRoute(re string) func(t *testing.T, g *Group) {
	return func(t *testing.T, g *Group) {
		newRoute(g, "rx").Match.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: re}}
	}
}

func headerAdd(key, value string) func(t *testing.T, g *Group) {
	return func(t *testing.T, g *Group) {
		newRoute(g, "hdr").RequestHeadersToAdd = []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: key, Value: value}}}
	}
}

// TestCheckEnvoyLoadRules: one case per load-time rule of Envoy that
// Check encodes (checkrules.go, checkfilters.go cite the Envoy source);
// each breaks one rule in an otherwise valid Envoy group, and the "ok"
// cases hold the rule to its edge.
func TestCheckEnvoyLoadRules(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(t *testing.T, g *Group)
		want   string // "" means Check must pass
	}{
		{"SAN matchers without a trusted CA", func(t *testing.T, g *Group) {
			g.Clusters = append(g.Clusters, tlsCluster("jwks/idp.example.com", &tlsv3.CertificateValidationContext{MatchTypedSubjectAltNames: sanExact("idp.example.com")}))
		}, "cluster jwks/idp.example.com transport socket: SAN matchers without trusted_ca"},
		{"ok: SAN matchers with a trusted CA", func(t *testing.T, g *Group) {
			g.Clusters = append(g.Clusters, tlsCluster("jwks/idp.example.com", &tlsv3.CertificateValidationContext{
				TrustedCa:                 &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: "/etc/ssl/certs/ca-certificates.crt"}},
				MatchTypedSubjectAltNames: sanExact("idp.example.com"),
			}))
		}, ""},
		// The same rule through a combined validation context (what an
		// SDS-fed trust bundle uses): its default context is the one held.
		{"SAN matchers without a trusted CA, combined context", func(t *testing.T, g *Group) {
			g.Clusters = append(g.Clusters, combinedTLSCluster("jwks/idp.example.com", &tlsv3.CertificateValidationContext{MatchTypedSubjectAltNames: sanExact("idp.example.com")}))
		}, "cluster jwks/idp.example.com transport socket: SAN matchers without trusted_ca"},
		{"CRL without a trusted CA", func(t *testing.T, g *Group) {
			g.Clusters = append(g.Clusters, tlsCluster("jwks/idp.example.com", &tlsv3.CertificateValidationContext{Crl: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "crl"}}}))
		}, "crl without trusted_ca"},
		{"allow_expired_certificate without a trusted CA", func(t *testing.T, g *Group) {
			g.Clusters = append(g.Clusters, tlsCluster("jwks/idp.example.com", &tlsv3.CertificateValidationContext{AllowExpiredCertificate: true}))
		}, "allow_expired_certificate without trusted_ca"},
		{"two listeners on one address", func(t *testing.T, g *Group) {
			l := proto.Clone(g.Listeners[0]).(*listenerv3.Listener)
			l.Name = "listener/public/copy"
			g.Listeners = append(g.Listeners, l)
		}, "is also listener"},
		{"two filter chains matching the same connections", func(t *testing.T, g *Group) {
			l := g.Listeners[0].(*listenerv3.Listener)
			fc := proto.Clone(l.FilterChains[0]).(*listenerv3.FilterChain)
			fc.Name = "copy"
			l.FilterChains = append(l.FilterChains, fc)
		}, "both match"},
		{"two filter chains sharing one server name", func(t *testing.T, g *Group) {
			l := g.Listeners[0].(*listenerv3.Listener)
			l.FilterChains[0].FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: []string{"a.example.com", "b.example.com"}}
			fc := proto.Clone(l.FilterChains[0]).(*listenerv3.FilterChain)
			fc.Name = "copy"
			fc.FilterChainMatch.ServerNames = []string{"b.example.com", "c.example.com"}
			l.FilterChains = append(l.FilterChains, fc)
		}, `both match server name "b.example.com"`},
		{"ok: filter chains with disjoint server names", func(t *testing.T, g *Group) {
			l := g.Listeners[0].(*listenerv3.Listener)
			l.FilterChains[0].FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: []string{"a.example.com"}}
			fc := proto.Clone(l.FilterChains[0]).(*listenerv3.FilterChain)
			fc.Name = "copy"
			fc.FilterChainMatch.ServerNames = []string{"b.example.com"}
			l.FilterChains = append(l.FilterChains, fc)
		}, ""},
		{"an RBAC source CIDR Envoy cannot parse", func(t *testing.T, g *Group) {
			prependFilter(t, g, "test-rbac", &rbacv3.RBAC{Rules: &rbacconfv3.RBAC{Action: rbacconfv3.RBAC_ALLOW, Policies: map[string]*rbacconfv3.Policy{"p": {
				Permissions: []*rbacconfv3.Permission{{Rule: &rbacconfv3.Permission_Any{Any: true}}},
				Principals:  []*rbacconfv3.Principal{{Identifier: &rbacconfv3.Principal_RemoteIp{RemoteIp: &corev3.CidrRange{AddressPrefix: "fe80::1%eth0", PrefixLen: wrapperspb.UInt32(64)}}}},
			}}}})
		}, `CIDR address_prefix "fe80::1%eth0"`},
		{"connection manager stripping ports both ways", func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.StripMatchingHostPort = true
			})
		}, "strip_any_host_port and strip_matching_host_port are both set"},
		{"connection manager with a duplicate upgrade type", func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.UpgradeConfigs = []*hcmv3.HttpConnectionManager_UpgradeConfig{{UpgradeType: "websocket"}, {UpgradeType: "WEBSOCKET"}}
			})
		}, `upgrade type "WEBSOCKET" twice`},
		{"connection manager enabling CONNECT", func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.UpgradeConfigs = []*hcmv3.HttpConnectionManager_UpgradeConfig{{UpgradeType: "CONNECT"}}
			})
		}, "CONNECT is enabled on the connection manager"},
		// Only CONNECT is refused on the connection manager, and only when
		// enabled: a websocket upgrade there, or CONNECT switched off, loads.
		{"ok: connection manager with a websocket upgrade", func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.UpgradeConfigs = []*hcmv3.HttpConnectionManager_UpgradeConfig{{UpgradeType: "websocket"}}
			})
		}, ""},
		{"ok: connection manager with CONNECT disabled", func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.UpgradeConfigs = []*hcmv3.HttpConnectionManager_UpgradeConfig{{UpgradeType: "CONNECT", Enabled: wrapperspb.Bool(false)}}
			})
		}, ""},
		{"connection manager enabling CONNECT explicitly", func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.UpgradeConfigs = []*hcmv3.HttpConnectionManager_UpgradeConfig{{UpgradeType: "connect", Enabled: wrapperspb.Bool(true)}}
			})
		}, "CONNECT is enabled on the connection manager"},
		{"connection manager with max_response_headers_kb", func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				if h.CommonHttpProtocolOptions == nil {
					h.CommonHttpProtocolOptions = &corev3.HttpProtocolOptions{}
				}
				h.CommonHttpProtocolOptions.MaxResponseHeadersKb = wrapperspb.UInt32(64)
			})
		}, "max_response_headers_kb cannot be set"},
		// Envoy: http_connection_manager/config.cc, "Only one of
		// flush_access_log_on_new_request or access_log_options can be
		// specified", "Only one of access_log_flush_interval or
		// access_log_options can be specified"; either deprecated field
		// alone, or the options alone, load.
		{"access_log_options with flush_access_log_on_new_request", accessLogFlush(true, true, false), "access_log_options cannot be mixed"},
		{"access_log_options with access_log_flush_interval", accessLogFlush(true, false, true), "access_log_options cannot be mixed"},
		{"ok: access_log_options alone", accessLogFlush(true, false, false), ""},
		{"ok: flush_access_log_on_new_request alone", accessLogFlush(false, true, false), ""},
		{"ok: access_log_flush_interval alone", accessLogFlush(false, false, true), ""},
		{"HTTP/3 codec on a TCP listener", func(t *testing.T, g *Group) {
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				h.CodecType = hcmv3.HttpConnectionManager_HTTP3
			})
		}, "codec HTTP3 on a listener that is not QUIC"},
		{"a LOGICAL_DNS cluster with two hosts", func(t *testing.T, g *Group) {
			c := addressCluster("jwks/two", "idp.example.com", 443, clusterv3.Cluster_LOGICAL_DNS, defaultConnectTimeout)
			c.LoadAssignment.Endpoints[0].LbEndpoints = append(c.LoadAssignment.Endpoints[0].LbEndpoints, proto.Clone(c.LoadAssignment.Endpoints[0].LbEndpoints[0]).(*endpointv3.LbEndpoint))
			g.Clusters = append(g.Clusters, c)
		}, "a LOGICAL_DNS cluster needs exactly one locality with one endpoint"},
		{"a STATIC cluster with a host name", func(t *testing.T, g *Group) {
			g.Clusters = append(g.Clusters, addressCluster("gatehouse/x", "authz.internal", 9000, clusterv3.Cluster_STATIC, defaultConnectTimeout))
		}, `STATIC endpoint "authz.internal" is not an IP address`},
		{"a domain in two virtual hosts", func(t *testing.T, g *Group) {
			rc := g.Routes[0].(*routev3.RouteConfiguration)
			vh := proto.Clone(rc.VirtualHosts[0]).(*routev3.VirtualHost)
			vh.Name = "copy"
			rc.VirtualHosts = append(rc.VirtualHosts, vh)
		}, "is in virtual hosts"},
		{"a domain in two virtual hosts, differing in case", func(t *testing.T, g *Group) {
			rc := g.Routes[0].(*routev3.RouteConfiguration)
			vh := proto.Clone(rc.VirtualHosts[0]).(*routev3.VirtualHost)
			vh.Name = "copy"
			vh.Domains = []string{strings.ToUpper(vh.Domains[0])}
			rc.VirtualHosts = append(rc.VirtualHosts, vh)
		}, "is in virtual hosts"},
		{"request header :path set", headerAdd(":path", "/x"), `header ":path": Envoy does not let :-prefixed or host headers be modified`},
		{"request header Host set", headerAdd("Host", "x"), `header "Host": Envoy does not let`},
		{"header value with a bare %", headerAdd("x-discount", "50%"), "unescaped '%'"},
		{"header value with an unknown command", headerAdd("x-a", "%NOPE%"), "unescaped '%'"},
		{"ok: header value with %% escapes", headerAdd("x-discount", "50%% off"), ""},
		{"request header :authority removed", func(t *testing.T, g *Group) {
			newRoute(g, "rm").RequestHeadersToRemove = []string{":authority"}
		}, "be removed"},
		{"response header removal of host on a virtual host", func(t *testing.T, g *Group) {
			g.Routes[0].(*routev3.RouteConfiguration).VirtualHosts[0].ResponseHeadersToRemove = []string{"host"}
		}, "virtual host"},
		{"append and append_action both set", func(t *testing.T, g *Group) {
			newRoute(g, "ap").ResponseHeadersToAdd = []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-a", Value: "1"}, Append: wrapperspb.Bool(true), AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}}
		}, "both append and append_action"},
		{"invalid RE2", regexRoute("/a(b"), "is not valid RE2"},
		{"RE2 program over Envoy's size limit", regexRoute("^/x{200}$"), "over Envoy's default RE2 program size limit"},
		{"ok: the translator's method regex", regexRoute("^(GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH)$"), ""},
		{"invalid RE2 in a header matcher", func(t *testing.T, g *Group) {
			newRoute(g, "hm").Match.Headers = []*routev3.HeaderMatcher{{Name: "x-a", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "[z-a]"}}}}}}
		}, "is not valid RE2"},
		{"prefix_rewrite and regex_rewrite", func(t *testing.T, g *Group) {
			ra := newRoute(g, "rw").GetRoute()
			ra.PrefixRewrite = "/v2"
			ra.RegexRewrite = &matcherv3.RegexMatchAndSubstitute{Pattern: &matcherv3.RegexMatcher{Regex: "^/v1"}, Substitution: "/v2"}
		}, "only one of prefix_rewrite, regex_rewrite"},
		{"a duplicate upgrade type", func(t *testing.T, g *Group) {
			newRoute(g, "up").GetRoute().UpgradeConfigs = []*routev3.RouteAction_UpgradeConfig{{UpgradeType: "websocket"}, {UpgradeType: "WebSocket"}}
		}, "twice"},
		{"a connect_config on a websocket upgrade", func(t *testing.T, g *Group) {
			newRoute(g, "cc").GetRoute().UpgradeConfigs = []*routev3.RouteAction_UpgradeConfig{{UpgradeType: "websocket", ConnectConfig: &routev3.RouteAction_UpgradeConfig_ConnectConfig{}}}
		}, "has a connect_config"},
		{"retry back-off max below base", func(t *testing.T, g *Group) {
			newRoute(g, "rt").GetRoute().RetryPolicy = &routev3.RetryPolicy{RetryOn: "5xx", RetryBackOff: &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(2e9), MaxInterval: durationpb.New(1e9)}}
		}, "max_interval is below base_interval"},
		// Envoy refuses max_interval < base_interval only
		// (source/common/router/retry_policy_impl.cc, RetryPolicyImpl).
		{"ok: retry back-off max equal to base", func(t *testing.T, g *Group) {
			newRoute(g, "rt").GetRoute().RetryPolicy = &routev3.RetryPolicy{RetryOn: "5xx", RetryBackOff: &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(1e9), MaxInterval: durationpb.New(1e9)}}
		}, ""},
		{"weighted clusters adding up to 0", func(t *testing.T, g *Group) {
			newRoute(g, "w0").GetRoute().ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{Clusters: []*routev3.WeightedCluster_ClusterWeight{
				{Name: "svc/svc-0000", Weight: wrapperspb.UInt32(0)}, {Name: "svc/svc-0001", Weight: wrapperspb.UInt32(0)},
			}}}
		}, "add up to 0"},
		{"weighted clusters over 2^32-1", func(t *testing.T, g *Group) {
			newRoute(g, "wmax").GetRoute().ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{Clusters: []*routev3.WeightedCluster_ClusterWeight{
				{Name: "svc/svc-0000", Weight: wrapperspb.UInt32(1 << 31)}, {Name: "svc/svc-0001", Weight: wrapperspb.UInt32(1 << 31)},
			}}}
		}, "over 2^32-1"},
		{"jwt requirement naming an unconfigured provider", func(t *testing.T, g *Group) {
			prependFilter(t, g, "test-jwt", jwtWith(&jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_RequiresAny{RequiresAny: &jwtv3.JwtRequirementOrList{Requirements: []*jwtv3.JwtRequirement{
				{RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: "idp"}},
				{RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: "gone"}},
			}}}}))
		}, `requirement r names provider "gone", which is not configured`},
		{"ok: jwt requirement naming its provider", func(t *testing.T, g *Group) {
			prependFilter(t, g, "test-jwt", jwtWith(&jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: "idp"}}))
		}, ""},
		{"remote JWKS retry max_interval under base_interval", remoteJWKSRetry(2*time.Second, time.Second), "max_interval 1s is shorter than base_interval 2s"},
		{"remote JWKS retry without base_interval", remoteJWKSRetry(0, time.Second), "retry_back_off needs a base_interval"},
		{"ok: remote JWKS retry max_interval equal to base_interval", remoteJWKSRetry(time.Second, time.Second), ""},
		{"local rate limit filling every 10ms", func(t *testing.T, g *Group) {
			prependFilter(t, g, "test-local", &localratelimitv3.LocalRateLimit{StatPrefix: "l", TokenBucket: bucket(10, 10*time.Millisecond)})
		}, "under Envoy's 50ms minimum"},
		{"ok: local rate limit filling every 50ms", func(t *testing.T, g *Group) {
			prependFilter(t, g, "test-local", &localratelimitv3.LocalRateLimit{StatPrefix: "l", TokenBucket: bucket(10, 50*time.Millisecond), Descriptors: []*commonratelimitv3.LocalRateLimitDescriptor{
				{Entries: []*commonratelimitv3.RateLimitDescriptor_Entry{{Key: "k", Value: "v"}}, TokenBucket: bucket(1, 50*time.Millisecond)},
			}})
		}, ""},
		{"local rate limit descriptor filling every 49ms", func(t *testing.T, g *Group) {
			prependFilter(t, g, "test-local", &localratelimitv3.LocalRateLimit{StatPrefix: "l", TokenBucket: bucket(10, time.Second), Descriptors: []*commonratelimitv3.LocalRateLimitDescriptor{
				{Entries: []*commonratelimitv3.RateLimitDescriptor_Entry{{Key: "k", Value: "v"}}, TokenBucket: bucket(1, 49*time.Millisecond)},
			}})
		}, "descriptor (k=v) fills every 49ms"},
		{"local rate limit descriptor without a fill interval", func(t *testing.T, g *Group) {
			prependFilter(t, g, "test-local", &localratelimitv3.LocalRateLimit{StatPrefix: "l", TokenBucket: bucket(10, time.Second), Descriptors: []*commonratelimitv3.LocalRateLimitDescriptor{
				{Entries: []*commonratelimitv3.RateLimitDescriptor_Entry{{Key: "k", Value: "v"}}, TokenBucket: &typev3.TokenBucket{MaxTokens: 1}},
			}})
		}, "descriptor (k=v) fills every 0s"},
		{"duplicate local rate limit descriptors", func(t *testing.T, g *Group) {
			d := &commonratelimitv3.LocalRateLimitDescriptor{Entries: []*commonratelimitv3.RateLimitDescriptor_Entry{{Key: "k", Value: "v"}}, TokenBucket: bucket(1, time.Second)}
			prependFilter(t, g, "test-local", &localratelimitv3.LocalRateLimit{StatPrefix: "l", TokenBucket: bucket(10, time.Second), Descriptors: []*commonratelimitv3.LocalRateLimitDescriptor{d, d}})
		}, "twice"},
		{"per-route local rate limit filling every 20ms", func(t *testing.T, g *Group) {
			prependFilter(t, g, "test-local", &localratelimitv3.LocalRateLimit{StatPrefix: "l", TokenBucket: passThroughBucket})
			newRoute(g, "lr").TypedPerFilterConfig = map[string]*anypb.Any{"test-local": mustAny(&localratelimitv3.LocalRateLimit{StatPrefix: "l", TokenBucket: bucket(5, 20*time.Millisecond)})}
		}, "typed_per_filter_config test-local: local rate limit token bucket fills every 20ms"},
		// Reference rules Check had before: here so that every rule the
		// hardening issue lists has its case in one table.
		{"ext_authz naming a missing cluster", func(t *testing.T, g *Group) {
			prependFilter(t, g, "test-authz", &extauthzv3.ExtAuthz{Services: &extauthzv3.ExtAuthz_GrpcService{GrpcService: &corev3.GrpcService{
				TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: "gatehouse/gone"}},
			}}, TransportApiVersion: corev3.ApiVersion_V3})
		}, `cluster "gatehouse/gone" does not exist`},
		{"rate limit service naming a missing cluster", func(t *testing.T, g *Group) {
			prependFilter(t, g, "test-rl", &ratelimitv3.RateLimit{Domain: "d", RateLimitService: &rlconfv3.RateLimitServiceConfig{TransportApiVersion: corev3.ApiVersion_V3, GrpcService: &corev3.GrpcService{
				TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: "gatehouse/gone"}},
			}}})
		}, `cluster "gatehouse/gone" does not exist`},
		{"EDS cluster without eds_config", func(t *testing.T, g *Group) {
			g.Clusters[0].(*clusterv3.Cluster).EdsClusterConfig.EdsConfig = nil
		}, "EDS config source is not ADS"},
		// ext_proc's load-time rules (checkwaf.go, extProcRules), on a
		// processor of no gatehouse role. http_service is also refused as
		// work in progress; its cases hold extProcRules' own message.
		{"ext_proc naming a missing cluster", extProc(func(m *extprocv3.ExternalProcessor) {}), `cluster "gatehouse/gone" does not exist`},
		{"ext_proc full duplex failing open", extProc(func(m *extprocv3.ExternalProcessor) {
			m.GrpcService = grpcTo(g0)
			m.FailureModeAllow = true
			m.ProcessingMode = &extprocv3.ProcessingMode{ResponseBodyMode: extprocv3.ProcessingMode_FULL_DUPLEX_STREAMED, ResponseTrailerMode: extprocv3.ProcessingMode_SEND}
		}), "cannot set failure_mode_allow"},
		{"ext_proc disable_clear_route_cache with a route_cache_action", extProc(func(m *extprocv3.ExternalProcessor) {
			m.GrpcService = grpcTo(g0)
			m.DisableClearRouteCache = true
			m.RouteCacheAction = extprocv3.ExternalProcessor_CLEAR
		}), "disable_clear_route_cache and route_cache_action are both set"},
		{"ext_proc over http_service sending the request body", extProc(func(m *extprocv3.ExternalProcessor) {
			m.HttpService = httpTo(g0)
			m.ProcessingMode = &extprocv3.ProcessingMode{RequestBodyMode: extprocv3.ProcessingMode_BUFFERED}
		}), "http_service cannot send bodies or trailers"},
		{"ext_proc over http_service sending the response body", extProc(func(m *extprocv3.ExternalProcessor) {
			m.HttpService = httpTo(g0)
			m.ProcessingMode = &extprocv3.ProcessingMode{ResponseBodyMode: extprocv3.ProcessingMode_BUFFERED}
		}), "http_service cannot send bodies or trailers"},
		{"ext_proc over http_service sending request trailers", extProc(func(m *extprocv3.ExternalProcessor) {
			m.HttpService = httpTo(g0)
			m.ProcessingMode = &extprocv3.ProcessingMode{RequestTrailerMode: extprocv3.ProcessingMode_SEND}
		}), "http_service cannot send bodies or trailers"},
		{"ext_proc over http_service sending response trailers", extProc(func(m *extprocv3.ExternalProcessor) {
			m.HttpService = httpTo(g0)
			m.ProcessingMode = &extprocv3.ProcessingMode{ResponseTrailerMode: extprocv3.ProcessingMode_SEND}
		}), "http_service cannot send bodies or trailers"},
		// A per-filter config is held at every level Envoy reads one:
		// route config, virtual host, weighted cluster (not only route).
		{"per-filter config naming no filter, route config level", func(t *testing.T, g *Group) {
			g.Routes[0].(*routev3.RouteConfiguration).TypedPerFilterConfig = strayPerFilter()
		}, `route config routes/public/http: typed_per_filter_config "no-such-filter" names no HTTP filter`},
		{"per-filter config naming no filter, virtual host level", func(t *testing.T, g *Group) {
			g.Routes[0].(*routev3.RouteConfiguration).VirtualHosts[0].TypedPerFilterConfig = strayPerFilter()
		}, `typed_per_filter_config "no-such-filter" names no HTTP filter`},
		{"per-filter config naming no filter, weighted cluster level", func(t *testing.T, g *Group) {
			ra := newRoute(g, "wc").GetRoute()
			ra.ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{Clusters: []*routev3.WeightedCluster_ClusterWeight{
				{Name: g.Clusters[0].(*clusterv3.Cluster).GetName(), Weight: wrapperspb.UInt32(1), TypedPerFilterConfig: strayPerFilter()},
			}}}
		}, `typed_per_filter_config "no-such-filter" names no HTTP filter`},
		// Without a browser login the login order rule has nothing to hold:
		// jwt_authn may come first.
		{"ok: jwt_authn first in a chain without a login", func(t *testing.T, g *Group) {
			prependFilter(t, g, wire.FilterJWT, jwtWith(&jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: "idp"}}))
		}, ""},
		{"ok: weighted clusters adding up to 2^32-1", weights(math.MaxUint32-1, 1), ""},
		{"weighted clusters adding up to 2^32", weights(math.MaxUint32, 1), "over 2^32-1"},
		{"ok: the translator's pass-through bucket", func(t *testing.T, g *Group) {
			prependFilter(t, g, "test-local", &localratelimitv3.LocalRateLimit{StatPrefix: "l", TokenBucket: passThroughBucket})
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := validGroups(t)
			tc.break_(t, e)
			err := Check(e, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Check refused a group Envoy accepts: %v", err)
			case tc.want == "":
			case err == nil:
				t.Fatal("Check passed a group Envoy refuses")
			case !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestCheckTLSRuleIsEnvoyOnly: proxyless clients verify against a
// certificate provider instance, which Envoy's rule does not know.
func TestCheckTLSRuleIsEnvoyOnly(t *testing.T) {
	_, g := validGroups(t)
	g.Clusters = append(g.Clusters, tlsCluster("svc/tls", &tlsv3.CertificateValidationContext{MatchTypedSubjectAltNames: sanExact("idp.example.com")}))
	if err := Check(g, nil); err != nil {
		t.Fatal(err)
	}
}

// combinedTLSCluster is tlsCluster with vc as the default of a combined
// validation context.
func combinedTLSCluster(name string, vc *tlsv3.CertificateValidationContext) *clusterv3.Cluster {
	ctx := &tlsv3.UpstreamTlsContext{Sni: "idp.example.com", CommonTlsContext: &tlsv3.CommonTlsContext{
		ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
			DefaultValidationContext:         vc,
			ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: "ca", SdsConfig: &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}}},
		}},
	}}
	c := addressCluster(name, "idp.example.com", 443, clusterv3.Cluster_LOGICAL_DNS, defaultConnectTimeout)
	c.TransportSocket = &corev3.TransportSocket{Name: transportSocketTLS, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(ctx)}}
	return c
}

// g0 stands for the first cluster of the group in extProc's edits.
const g0 = "\x00first-cluster"

// extProc prepends an ext_proc filter of no gatehouse role, by default
// calling a missing cluster; edit fills it (g0 is the group's first cluster).
func extProc(edit func(*extprocv3.ExternalProcessor)) func(t *testing.T, g *Group) {
	return func(t *testing.T, g *Group) {
		m := &extprocv3.ExternalProcessor{GrpcService: grpcTo("gatehouse/gone")}
		edit(m)
		first := g.Clusters[0].(*clusterv3.Cluster).GetName()
		if m.GetGrpcService().GetEnvoyGrpc().GetClusterName() == g0 {
			m.GrpcService = grpcTo(first)
		}
		if m.GetHttpService() != nil {
			m.GrpcService = nil
			m.HttpService.HttpService.HttpUri.HttpUpstreamType = &corev3.HttpUri_Cluster{Cluster: first}
		}
		prependFilter(t, g, "test-proc", m)
	}
}

func grpcTo(cluster string) *corev3.GrpcService {
	return &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: cluster}}}
}

func httpTo(string) *extprocv3.ExtProcHttpService {
	return &extprocv3.ExtProcHttpService{HttpService: &corev3.HttpService{HttpUri: &corev3.HttpUri{
		Uri: "http://proc.internal/process", Timeout: durationpb.New(time.Second),
	}}}
}

// TestExtProcRulesEdges: what extProcRules must not say of a valid
// processor (the group is refused for other reasons: a processor of no
// role on upgrade routes; only these messages' absence is held).
func TestExtProcRulesEdges(t *testing.T) {
	for name, tc := range map[string]struct {
		edit    func(*extprocv3.ExternalProcessor)
		notSaid string
	}{
		"full duplex with trailers, failing closed": {func(m *extprocv3.ExternalProcessor) {
			m.ProcessingMode = &extprocv3.ProcessingMode{RequestBodyMode: extprocv3.ProcessingMode_FULL_DUPLEX_STREAMED, RequestTrailerMode: extprocv3.ProcessingMode_SEND}
		}, "cannot set failure_mode_allow"},
		"failing open without full duplex": {func(m *extprocv3.ExternalProcessor) { m.FailureModeAllow = true }, "cannot set failure_mode_allow"},
		"disable_clear_route_cache alone":  {func(m *extprocv3.ExternalProcessor) { m.DisableClearRouteCache = true }, "route_cache_action are both set"},
	} {
		t.Run(name, func(t *testing.T) {
			e, _ := validGroups(t)
			extProc(func(m *extprocv3.ExternalProcessor) { m.GrpcService = grpcTo(g0); tc.edit(m) })(t, e)
			if err := Check(e, nil); err != nil && strings.Contains(err.Error(), tc.notSaid) {
				t.Fatalf("Check said %q of a valid processor: %v", tc.notSaid, err)
			}
		})
	}
}

func strayPerFilter() map[string]*anypb.Any {
	return map[string]*anypb.Any{"no-such-filter": mustAny(&localratelimitv3.LocalRateLimit{StatPrefix: "l", TokenBucket: passThroughBucket})}
}

// weights routes a new Route to the group's first cluster twice, with
// the weights given.
func weights(ws ...uint32) func(t *testing.T, g *Group) {
	return func(t *testing.T, g *Group) {
		ra := newRoute(g, "wc").GetRoute()
		w := &routev3.WeightedCluster{}
		for _, n := range ws {
			w.Clusters = append(w.Clusters, &routev3.WeightedCluster_ClusterWeight{Name: g.Clusters[0].(*clusterv3.Cluster).GetName(), Weight: wrapperspb.UInt32(n)})
		}
		ra.ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: w}
	}
}

// TestCheckHeaderRegexProxyless: a bad regex in a route's header matcher
// is refused in a proxyless table too, where no generic walk of every
// RegexMatcher runs (that walk is for Envoy groups): both the
// string_match and the deprecated safe_regex_match spelling.
func TestCheckHeaderRegexProxyless(t *testing.T) {
	for name, h := range map[string]*routev3.HeaderMatcher{
		"string_match": {Name: "x-v", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
			MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "a("}},
		}}},
		"safe_regex_match": {Name: "x-v", HeaderMatchSpecifier: &routev3.HeaderMatcher_SafeRegexMatch{SafeRegexMatch: &matcherv3.RegexMatcher{Regex: "a("}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, p := validGroups(t)
			if err := Check(p, nil); err != nil {
				t.Fatalf("valid proxyless group: %v", err)
			}
			r := newRoute(p, "hdr-rx")
			r.Match.Headers = append(r.Match.Headers, h)
			if err := Check(p, nil); err == nil || !strings.Contains(err.Error(), `regex "a(" is not valid RE2`) {
				t.Fatalf("Check = %v, want the regex refused", err)
			}
		})
	}
}

// TestExtProcPerRouteOfOtherProcessor: an ExtProcPerRoute under an
// ext_proc filter that is none of gatehouse's processors is held only to
// Envoy's rules, not to a processor's (which would have none to hold).
func TestExtProcPerRouteOfOtherProcessor(t *testing.T) {
	e, _ := validGroups(t)
	extProc(func(m *extprocv3.ExternalProcessor) { m.GrpcService = grpcTo(g0) })(t, e)
	newRoute(e, "proc").TypedPerFilterConfig = map[string]*anypb.Any{"test-proc": mustAny(&extprocv3.ExtProcPerRoute{Override: &extprocv3.ExtProcPerRoute_Disabled{Disabled: true}})}
	err := Check(e, nil)
	if err != nil && strings.Contains(err.Error(), "route proc typed_per_filter_config test-proc") {
		t.Fatalf("Check held the route's own ext_proc config to a processor's rules: %v", err)
	}
}
