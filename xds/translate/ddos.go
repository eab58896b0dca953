package translate

import (
	"net/netip"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	commonrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	localrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	rbacfv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	metadatav3 "github.com/envoyproxy/go-control-plane/envoy/type/metadata/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Edge (DDoS and abuse) protections of a Gateway: the IP allow and deny
// lists and the per-client request limit, both first in the HTTP filter
// chain (after the header_mutation that removes client-sent gatehouse
// headers, which refuses nothing), so a refused client costs no JWT, authz
// or WAF work.
//
// Both read the stream's client address, the one the connection manager
// detected (clientip.go): RBAC remote_ip and the masked_remote_address
// rate-limit action read the stream's downstream remote address, never the
// X-Forwarded-For header itself (Envoy: source/extensions/filters/common/
// rbac/matchers.cc, IPMatcher DownstreamRemote; source/common/router/
// router_ratelimit.cc, MaskedRemoteAddressAction). Without the Gateway's
// clientIP that address is the TCP peer (or the PROXY protocol's source),
// so a client cannot spoof it; direct_remote_ip would be the nearest proxy
// behind a load balancer, and would count every client as one.
//
// Per-client connection limits: Envoy has none (the API of the pinned
// go-control-plane has no such filter). The connection_limit network
// filter (source/extensions/filters/network/connection_limit/
// connection_limit.cc: one atomic counter per filter config), the
// local_ratelimit listener filter (one token bucket of new connections
// per listener) and the listener's runtime connection_limit count all of
// a listener's connections together, and the
// global_downstream_max_connections monitor of the bootstrap's overload
// manager counts every listener's. So the bootstrap bounds connections
// globally, connlimit.go per listener, and this file bounds what each client can ask for over them
// (requests, and HTTP/2 streams per connection through
// max_concurrent_streams).

const (
	// edgeShadowPrefix prefixes the edge RBAC filter's shadow metadata
	// keys: Envoy writes the matched shadow policy under
	// "envoy.filters.http.rbac" / PREFIX + "shadow_effective_policy_id"
	// (source/extensions/filters/http/rbac/rbac_filter.cc, decodeHeaders;
	// rbac_filter.h, shadowEffectivePolicyIdField), and the prefix keeps
	// it apart from any other RBAC filter's.
	edgeShadowPrefix = "gatehouse_edge_"
	// edgeLimitedPolicy is the shadow policy that matches the clients the
	// per-client limit counts (all but the exempt ones).
	edgeLimitedPolicy = "limited"
	// edgeClientKey is the descriptor entry saying the client is limited.
	edgeClientKey = "gatehouse_edge_client"
	// edgeMaxClients bounds the LRU of per-client buckets each Envoy
	// keeps (max_dynamic_descriptors). Beyond it the least recently seen
	// clients lose their buckets and start full again; an active abuser
	// is the most recently seen, so it keeps its (empty) bucket.
	edgeMaxClients = 65536
)

// Both edge filters are separate instances with their own names and no
// per-route config: Envoy resolves a filter's per-route config by the
// instance's name (source/extensions/filters/http/rbac/rbac_filter.cc,
// RoleBasedAccessControlFilterConfig::engine and source/extensions/
// filters/http/local_ratelimit/local_ratelimit.cc, decodeHeaders: both
// Http::Utility::resolveMostSpecificPerFilterConfig(callbacks)), so the
// RBACPerRoute of a Route's sourceCIDRs (envoy.filters.http.rbac) never
// replaces the IP lists, and the Routes' local limits never replace the
// per-client one; the filter-level rate_limits are used when no per-route
// config has its own. The two ext_authz instances rely on the same lookup.

// rbacMetadataNamespace: the HTTP RBAC filter writes its shadow result
// under this namespace whatever its instance name (rbac_filter.cc).
const rbacMetadataNamespace = "envoy.filters.http.rbac"

// edgeFilters are the Gateway's edge filters, in order.
func edgeFilters(gw *policy.Gateway) []*hcmv3.HttpFilter {
	var out []*hcmv3.HttpFilter
	pc := perClient(gw)
	exempt := pc != nil && len(pc.Exempt) > 0
	if gw.Spec.IPAccess != nil || exempt {
		out = append(out, httpFilter(wire.FilterEdgeRBAC, mustAny(edgeRBAC(gw.Name, gw.Spec.IPAccess, pc))))
	}
	if pc != nil {
		out = append(out, httpFilter(wire.FilterEdgeLocalRateLimit, mustAny(edgeRateLimit(pc))))
	}
	return out
}

// perClient is the Gateway's per-client limit, the default one when it
// sets none, nil when disabled.
func perClient(gw *policy.Gateway) *policy.PerClientLimit {
	if lim := gw.Spec.Limits; lim != nil && lim.PerClient != nil {
		if lim.PerClient.Disabled {
			return nil
		}
		return lim.PerClient
	}
	return &policy.PerClientLimit{}
}

// edgeRBAC enforces the IP lists (one ALLOW policy: in allow, if any, and
// not in deny; Envoy answers 403 to the rest) and, in shadow mode, marks
// the clients the per-client limit counts: a shadow policy matching every
// client but the exempt ones. The shadow engine never refuses anything;
// when its policy matches, Envoy writes the policy's name into dynamic
// metadata, which the limit's first descriptor entry reads.
func edgeRBAC(gw string, ipa *policy.IPAccess, pc *policy.PerClientLimit) *rbacfv3.RBAC {
	r := &rbacfv3.RBAC{ShadowRulesStatPrefix: edgeShadowPrefix}
	if ipa != nil {
		var and []*rbacv3.Principal
		if len(ipa.Allow) > 0 {
			and = append(and, anyOfCIDRs(ipa.Allow))
		}
		if len(ipa.Deny) > 0 {
			and = append(and, &rbacv3.Principal{Identifier: &rbacv3.Principal_NotId{NotId: anyOfCIDRs(ipa.Deny)}})
		}
		r.Rules = &rbacv3.RBAC{Action: rbacv3.RBAC_ALLOW, Policies: map[string]*rbacv3.Policy{
			"Gateway/" + gw + "/ipAccess": {
				Permissions: []*rbacv3.Permission{{Rule: &rbacv3.Permission_Any{Any: true}}},
				Principals:  []*rbacv3.Principal{{Identifier: &rbacv3.Principal_AndIds{AndIds: &rbacv3.Principal_Set{Ids: and}}}},
			},
		}}
	}
	if pc != nil && len(pc.Exempt) > 0 {
		r.ShadowRules = &rbacv3.RBAC{Action: rbacv3.RBAC_ALLOW, Policies: map[string]*rbacv3.Policy{
			edgeLimitedPolicy: {
				Permissions: []*rbacv3.Permission{{Rule: &rbacv3.Permission_Any{Any: true}}},
				Principals:  []*rbacv3.Principal{{Identifier: &rbacv3.Principal_NotId{NotId: anyOfCIDRs(pc.Exempt)}}},
			},
		}}
	}
	return r
}

// anyOfCIDRs matches a client address (remote_ip) in any of cidrs. An
// entry that does not parse (validation rejects it; a hand-built Snapshot
// could hold one) matches nothing.
func anyOfCIDRs(cidrs []string) *rbacv3.Principal {
	ids := make([]*rbacv3.Principal, 0, len(cidrs))
	for _, c := range cidrs {
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			continue
		}
		ids = append(ids, &rbacv3.Principal{Identifier: &rbacv3.Principal_RemoteIp{RemoteIp: &corev3.CidrRange{
			AddressPrefix: pfx.Addr().String(),
			PrefixLen:     wrapperspb.UInt32(uint32(pfx.Bits())),
		}}})
	}
	if len(ids) == 0 {
		return &rbacv3.Principal{Identifier: &rbacv3.Principal_NotId{NotId: &rbacv3.Principal{Identifier: &rbacv3.Principal_Any{Any: true}}}}
	}
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_OrIds{OrIds: &rbacv3.Principal_Set{Ids: ids}}}
}

// edgeRateLimit is the per-client limit: one token bucket per client
// (IPv4 address, IPv6 /64), refilled every second. The descriptor is
// (gatehouse_edge_client=limited, masked_remote_address=*): its first
// entry comes from a generic key, or, with exempt CIDRs, from the edge
// RBAC's shadow metadata, which is absent for an exempt client; a
// metadata action that finds nothing produces no descriptor
// (skip_if_absent false: api/envoy/config/route/v3/route_components.proto,
// RateLimit.Action.MetaData), so the request matches no limit and takes
// the pass-through default bucket. 429 (gRPC: RESOURCE_EXHAUSTED) when
// the bucket is empty.
func edgeRateLimit(pc *policy.PerClientLimit) *localrlv3.LocalRateLimit {
	first := genericKey(edgeClientKey, edgeLimitedPolicy)
	if len(pc.Exempt) > 0 {
		first = &routev3.RateLimit_Action{ActionSpecifier: &routev3.RateLimit_Action_Metadata{Metadata: &routev3.RateLimit_Action_MetaData{
			DescriptorKey: edgeClientKey,
			MetadataKey: &metadatav3.MetadataKey{Key: rbacMetadataNamespace, Path: []*metadatav3.MetadataKey_PathSegment{
				metaKey(edgeShadowPrefix + "shadow_effective_policy_id"),
			}},
			Source: routev3.RateLimit_Action_MetaData_DYNAMIC,
		}}}
	}
	n := uint32(pc.PerSecond())
	return &localrlv3.LocalRateLimit{
		StatPrefix:                      "edge_per_client",
		TokenBucket:                     passThroughBucket,
		FilterEnabled:                   percent100,
		FilterEnforced:                  percent100,
		AlwaysConsumeDefaultTokenBucket: wrapperspb.Bool(false),
		RateLimitedAsResourceExhausted:  true,
		MaxDynamicDescriptors:           wrapperspb.UInt32(edgeMaxClients),
		Descriptors: []*commonrlv3.LocalRateLimitDescriptor{{
			Entries: []*commonrlv3.RateLimitDescriptor_Entry{
				{Key: edgeClientKey, Value: edgeLimitedPolicy},
				// Value omitted: one bucket per client.
				{Key: "masked_remote_address"},
			},
			TokenBucket: &typev3.TokenBucket{
				MaxTokens:     uint32(pc.PerClientBurst()),
				TokensPerFill: wrapperspb.UInt32(n),
				FillInterval:  durationpb.New(time.Second),
			},
		}},
		RateLimits: []*routev3.RateLimit{{Actions: []*routev3.RateLimit_Action{first, clientAddress()}}},
	}
}

// clientAddress keys a client by its IPv4 address or IPv6 /64 (one host
// usually holds a whole /64, so counting per address would give it 2^64
// buckets).
func clientAddress() *routev3.RateLimit_Action {
	return &routev3.RateLimit_Action{ActionSpecifier: &routev3.RateLimit_Action_MaskedRemoteAddress_{MaskedRemoteAddress: &routev3.RateLimit_Action_MaskedRemoteAddress{
		V4PrefixMaskLen: wrapperspb.UInt32(32),
		V6PrefixMaskLen: wrapperspb.UInt32(64),
	}}}
}

// HTTP/2 and header limits beyond the edge best-practices page's
// (defaults.go), set explicitly so that the emitted config states them
// and a change of Envoy's defaults cannot loosen them. The values are
// Envoy's own defaults (api/envoy/config/core/v3/protocol.proto,
// Http2ProtocolOptions and HttpProtocolOptions.max_headers_count), which
// source/common/http/http2/codec_impl.cc enforces as flood protections:
// a connection that queues more outbound frames than max_outbound_frames
// (a client that never reads: ping, settings or reset floods) or sends
// more PRIORITY frames per stream, or empty DATA frames in a row, is
// closed.
const (
	edgeMaxHeadersCount                   = 100
	edgeMaxOutboundFrames                 = 10000
	edgeMaxOutboundControlFrames          = 1000
	edgeMaxConsecutiveEmptyFrames         = 1
	edgeMaxInboundPriorityFramesPerStream = 100
	edgeMaxInboundWindowUpdatesPerData    = 10
)

// applyEdgeLimits sets the header-count, HTTP/2 and slow-client limits
// and the Gateway's overrides of them.
func applyEdgeLimits(gw *policy.Gateway, h *hcmv3.HttpConnectionManager) {
	maxHeaders := uint32(edgeMaxHeadersCount)
	streams := uint32(edgeMaxConcurrentStreams)
	if lim := gw.Spec.Limits; lim != nil {
		if lim.MaxHeadersCount > 0 {
			maxHeaders = uint32(lim.MaxHeadersCount)
		}
		if lim.MaxConcurrentStreams > 0 {
			streams = uint32(lim.MaxConcurrentStreams)
		}
		if lim.RequestHeadersTimeout > 0 {
			h.RequestHeadersTimeout = durationpb.New(lim.RequestHeadersTimeout.D())
		}
	}
	h.CommonHttpProtocolOptions.MaxHeadersCount = wrapperspb.UInt32(maxHeaders)
	h2 := h.Http2ProtocolOptions
	h2.MaxConcurrentStreams = wrapperspb.UInt32(streams)
	h2.MaxOutboundFrames = wrapperspb.UInt32(edgeMaxOutboundFrames)
	h2.MaxOutboundControlFrames = wrapperspb.UInt32(edgeMaxOutboundControlFrames)
	h2.MaxConsecutiveInboundFramesWithEmptyPayload = wrapperspb.UInt32(edgeMaxConsecutiveEmptyFrames)
	h2.MaxInboundPriorityFramesPerStream = wrapperspb.UInt32(edgeMaxInboundPriorityFramesPerStream)
	h2.MaxInboundWindowUpdateFramesPerDataFrameSent = wrapperspb.UInt32(edgeMaxInboundWindowUpdatesPerData)
	// An invalid HEADERS frame closes the whole connection, not only its
	// stream (Envoy's default, stated): a client that sends malformed
	// requests pays a new handshake for each (api/envoy/config/core/v3/
	// protocol.proto, override_stream_error_on_invalid_http_message).
	h2.OverrideStreamErrorOnInvalidHttpMessage = wrapperspb.Bool(false)
}
