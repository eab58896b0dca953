package translate

import (
	"strings"

	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	proxyprotocolv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/proxy_protocol/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	customheaderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/original_ip_detection/custom_header/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Client IP detection. The connection manager decides the client address
// once per request, before any HTTP filter runs, and stores it as the
// stream's downstream remote address (Envoy: source/common/http/
// conn_manager_impl.cc, decodeHeaders: filter_manager_.
// setDownstreamRemoteAddress(mutate_result.final_remote_address)). What
// reads that address sees the detected client:
//   - RBAC remote_ip (sourceCIDRs): IPMatcher DownstreamRemote reads
//     info.downstreamAddressProvider().remoteAddress(); direct_remote_ip
//     reads directRemoteAddress(), the TCP peer, which behind a load
//     balancer is the balancer (source/extensions/filters/common/rbac/
//     matchers.cc). remote_ip is the one that follows the detection.
//   - remote_address rate-limit keys: MaskedRemoteAddressAction reads the
//     same stream address (source/common/router/router_ratelimit.cc).
//   - the access log's client_ip, %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%
//     (source/common/formatter/stream_info_formatter.cc), and the usage
//     log's downstream_remote_address (source/extensions/access_loggers/
//     grpc/grpc_access_log_utils.cc).
//
// ext_authz does not: attributes.source.address is the connection's
// remote address (source/extensions/filters/common/ext_authz/
// check_request_utils.cc, setAttrContextPeer reads connection.
// connectionInfoProvider().remoteAddress()), which the PROXY protocol
// changes but XFF or a header never do. So a Gateway with clientIP has its
// first filter overwrite wire.ClientIPHeader with the stream address and
// its routes tell the authz service to read it (wire.CtxClientIPHeader).

// detectionFormat is the stream's (detected) client address, as the
// substitution formatter prints it.
const detectionFormat = "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"

const (
	filterProxyProtocol  = "envoy.filters.listener.proxy_protocol"
	ipDetectionCustomHdr = "envoy.http.original_ip_detection.custom_header"
)

// applyClientIP sets how the connection manager finds the client.
//
// xffTrustedHops keeps use_remote_address and sets xff_num_trusted_hops:
// the client is then the entry that many from the right of the
// X-Forwarded-For the request arrived with, or the TCP peer when it has
// fewer entries or the entry is not an IP address (Envoy: source/common/
// http/conn_manager_utility.cc, mutateRequestHeaders: getLastAddressFromXFF
// (headers, xff_num_trusted_hops - 1) before appending the peer; source/
// common/http/utility.cc). The xff original_ip_detection extension
// computes the same address but needs use_remote_address off, which would
// also stop Envoy appending the peer to X-Forwarded-For, setting
// x-envoy-external-address and treating requests as edge requests
// (cleanInternalHeaders with edge_request false keeps a client's
// x-envoy-downstream-service-cluster), so the core fields are used.
//
// trustedHeader needs the custom_header extension, and Envoy refuses it
// next to use_remote_address or xff_num_trusted_hops (source/extensions/
// filters/network/http_connection_manager/config.cc: "Original IP
// detection extensions and use_remote_address may not be mixed"), so
// use_remote_address is off there: Envoy neither appends to nor trusts
// X-Forwarded-For. A request without the header, or whose value is not an
// IP address, keeps the TCP peer: no reject_with_status, so health checks
// from the load balancer still pass (source/extensions/http/
// original_ip_detection/custom_header/custom_header.cc, detect; the
// connection manager then falls back to the connection's address).
func applyClientIP(gw *policy.Gateway, h *hcmv3.HttpConnectionManager) {
	c := gw.Spec.ClientIP
	switch {
	case c == nil:
	case c.XFFTrustedHops > 0:
		h.UseRemoteAddress = wrapperspb.Bool(true)
		h.XffNumTrustedHops = uint32(c.XFFTrustedHops)
	case c.TrustedHeader != "":
		h.UseRemoteAddress = nil
		h.XffNumTrustedHops = 0
		h.OriginalIpDetectionExtensions = []*corev3.TypedExtensionConfig{{
			Name:        ipDetectionCustomHdr,
			TypedConfig: mustAny(&customheaderv3.CustomHeaderConfig{HeaderName: strings.ToLower(c.TrustedHeader)}),
		}}
	}
}

// proxyProtocolFilter reads the PROXY protocol header (v1 or v2) every
// connection must start with, and makes its source the connection's
// remote address (source/extensions/filters/listener/proxy_protocol/
// proxy_protocol.cc: socket.connectionInfoProvider().setRemoteAddress),
// which every consumer above then sees, ext_authz included; the TCP peer
// stays the direct remote address. allow_requests_without_proxy_protocol
// stays false: a connection without the header is closed, so a client
// that reaches the port directly cannot pass for the balancer's clients.
// It must run before tls_inspector, which would read the PROXY header as
// a ClientHello.
func proxyProtocolFilter() *listenerv3.ListenerFilter {
	return &listenerv3.ListenerFilter{
		Name:       filterProxyProtocol,
		ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: mustAny(&proxyprotocolv3.ProxyProtocol{})},
	}
}

// clientIPHeaderMutations overwrite wire.ClientIPHeader with the detected
// address (the client's own copy is removed first, removedHeaders).
func (f *gwFilters) clientIPHeaderMutations() []*mutationv3.HeaderMutation {
	if f.gw.Spec.ClientIP == nil {
		return nil
	}
	return []*mutationv3.HeaderMutation{{Action: &mutationv3.HeaderMutation_Append{Append: &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: wire.ClientIPHeader, Value: detectionFormat},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}}}}
}

// listenerFilterOrder: a proxy_protocol listener filter must be the first
// one. Listener filters run in order on the connection's first bytes
// (Envoy: source/common/listener_manager/active_tcp_socket.cc,
// continueFilterChain), and proxy_protocol consumes the PROXY header from
// them (proxy_protocol.cc drains wholeHeaderLength()): a filter before it,
// such as tls_inspector, would read the PROXY header as a TLS ClientHello,
// find none and pick the wrong filter chain. Envoy accepts either order at
// load, so this is gatehouse's own rule.
func (c *checker) listenerFilterOrder(where string, lfs []*listenerv3.ListenerFilter) {
	for i, lf := range lfs {
		if i > 0 && lf.GetTypedConfig().GetTypeUrl() == "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol" {
			c.fail("%s: listener filter %s must come first (it is #%d): the filters before it would read the PROXY header as data", where, lf.GetName(), i+1)
		}
	}
}

// ipDetection: Envoy refuses an unknown detection type ("Original IP
// detection extension not found", http_connection_manager/config.cc; the
// allow-list holds the one gatehouse emits) and validates the config when
// it builds the extension (custom_header/config.cc, createExtension:
// MessageUtil::downcastAndValidate), which Check's ValidateAll of the
// listener does not reach inside an Any.
func (c *checker) ipDetection(where string, a *anypb.Any) {
	if c.anyOf(where, a, pointIPDetection) == nil {
		return
	}
	m := &customheaderv3.CustomHeaderConfig{}
	if c.unmarshal(where, a, m) {
		c.validate("original IP detection", where, m)
	}
}
