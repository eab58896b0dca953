package translate

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	ratelimitconfv3 "github.com/envoyproxy/go-control-plane/envoy/config/ratelimit/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	commonrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	localrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	metadatav3 "github.com/envoyproxy/go-control-plane/envoy/type/metadata/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Rate-limit stages. A route's rate_limits entries are read by every
// ratelimit filter instance whose stage equals theirs, so each instance
// gets its own stage and a Route's entries carry the stage of the instance
// its RateLimit's failureMode selects: the other instance then finds no
// descriptor on that Route and makes no call. (RateLimitPerRoute's own
// rate_limits would also do, but needs a marshalled Any per Route and a
// newer Envoy; stages work on every v3 Envoy.) Stage 0, the default, is
// left to local_ratelimit, whose per-route configs carry their own
// rate_limits, so it never reads these.
const (
	stageRateLimitDeny  = 1
	stageRateLimitAllow = 2
)

// localMaxDynamicDescriptors bounds the LRU of per-value token buckets a
// local limit keyed by remote_address, path, method or a header keeps per
// Route and limit (Envoy's default is 20). Beyond it, the least recently
// seen values lose their buckets and start full again: local per-value
// limits are approximate under high cardinality (ENVOY-MAPPING.md).
const localMaxDynamicDescriptors = 1024

var (
	percent100 = &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 100, Denominator: typev3.FractionalPercent_HUNDRED}}
	// The filter-level local_ratelimit config enforces nothing (enabled
	// for 0% of requests): only Routes with local limits, through their
	// per-route config, are limited.
	anyLocalRateLimitOff = mustAny(&localrlv3.LocalRateLimit{StatPrefix: "local_ratelimit"})
	// passThroughBucket is the per-route default bucket, which Envoy
	// requires: large enough never to run out. Limits are descriptors, and
	// the default bucket is consumed only when none matches.
	passThroughBucket = &typev3.TokenBucket{MaxTokens: math.MaxUint32, TokensPerFill: wrapperspb.UInt32(math.MaxUint32), FillInterval: durationpb.New(time.Second)}
)

// rateLimitConfig is one of the two ratelimit instances: failure_mode_deny
// and the timeout are filter-wide.
func rateLimitConfig(gw string, deny bool, o Options) *anyT {
	cfg := &ratelimitv3.RateLimit{
		Domain:          wire.Domain(gw),
		Stage:           stageRateLimitAllow,
		Timeout:         durationpb.New(o.RateLimitTimeout),
		FailureModeDeny: deny,
		RateLimitService: &ratelimitconfv3.RateLimitServiceConfig{
			GrpcService:         envoyGRPC(wire.RateLimitCluster, o.RateLimitTimeout),
			TransportApiVersion: corev3.ApiVersion_V3,
		},
		RateLimitedAsResourceExhausted: true,
		EnableXRatelimitHeaders:        ratelimitv3.RateLimit_DRAFT_VERSION_03,
		StatPrefix:                     "failure_allow",
	}
	if deny {
		cfg.Stage = stageRateLimitDeny
		cfg.StatPrefix = "failure_deny"
	}
	return mustAny(cfg)
}

// rateLimits are a Route's descriptors for the rate-limit service
// (ENVOY-MAPPING.md): one per limit that is not local, then the plan's.
// Entries that name neither the Route nor a claim are the same on every
// Route of the RateLimit and are built once per group.
func (f *gwFilters) rateLimits(r *policy.Route, p *routePolicy) []*routev3.RateLimit {
	perRoute := false
	for i := range p.rl.Spec.Limits {
		for _, k := range p.rl.Spec.Limits[i].Key {
			if k == policy.KeyRoute || strings.HasPrefix(k, policy.KeyClaimPrefix) {
				perRoute = true
			}
		}
	}
	if !perRoute {
		if rls, ok := f.rlShared[p.rlName]; ok {
			return rls
		}
	}
	stage := wrapperspb.UInt32(stageRateLimitAllow)
	if p.rl.Spec.FailClosed() {
		stage = wrapperspb.UInt32(stageRateLimitDeny)
	}
	var out []*routev3.RateLimit
	for i := range p.rl.Spec.Limits {
		l := &p.rl.Spec.Limits[i]
		if l.Local {
			continue
		}
		for _, actions := range limitActions(p.rlName, i, l, r.Name, p.jwt) {
			out = append(out, &routev3.RateLimit{Stage: stage, Actions: actions})
		}
	}
	if p.rl.Spec.Plan {
		out = append(out, &routev3.RateLimit{Stage: stage, Actions: []*routev3.RateLimit_Action{consumerAction(wire.DescPlan)}})
	}
	if !perRoute {
		f.rlShared[p.rlName] = out
	}
	return out
}

// limitActions builds the descriptors of one limit: (ratelimit, <name>#<i>)
// first, then one entry per key, keyed by wire.DescriptorKey of the key.
//
// A claim comes from the verified payload of one of the Route's JWT
// providers, each under its own metadata key. Only one token is verified
// per request, so the limit gets one descriptor per provider and Envoy
// sends the one whose payload is there (entries are identical otherwise,
// so the counters are shared). On a Route with no JWT provider a claim
// limit never applies and is left out. Envoy drops a descriptor whose claim
// is missing: a claim limit does not count requests without the claim.
// Headers are different: see keyActions.
func limitActions(rl string, i int, l *policy.Limit, route string, providers []string) [][]*routev3.RateLimit_Action {
	hasClaim := false
	for _, k := range l.Key {
		if strings.HasPrefix(k, policy.KeyClaimPrefix) {
			hasClaim = true
		}
	}
	if !hasClaim {
		return keyActions(rl, i, l, route, "")
	}
	out := make([][]*routev3.RateLimit_Action, 0, len(providers))
	for _, prov := range providers {
		out = append(out, keyActions(rl, i, l, route, prov)...)
	}
	return out
}

// keyActions is one limit's descriptor, in as many variants as it has
// header keys present or absent. route is "" for local limits: their
// buckets are per Route already (a per-route config), so the route entry
// would only split nothing.
//
// Envoy drops the whole descriptor when a request_headers action finds no
// header (Envoy: source/common/router/router_ratelimit.cc,
// RequestHeadersAction::populateDescriptor returns skip_if_absent, false by
// default, and populateDescriptors then emits nothing), so a client would
// escape a header-keyed limit by omitting the header. Each header key
// therefore forks the descriptor: one variant reads the header, the other
// matches only when it is absent (header_value_match with present_match and
// expect_match false, HeaderValueMatchAction) and sends (key, "missing").
// Exactly one variant applies to a request; validation bounds header keys
// per limit (policy.MaxHeaderKeys).
func keyActions(rl string, i int, l *policy.Limit, route, provider string) [][]*routev3.RateLimit_Action {
	variants := [][]*routev3.RateLimit_Action{make([]*routev3.RateLimit_Action, 0, len(l.Key)+1)}
	add := func(a *routev3.RateLimit_Action) {
		for j := range variants {
			variants[j] = append(variants[j], a)
		}
	}
	add(genericKey(wire.DescRateLimit, limitID(rl, i)))
	for _, k := range l.Key {
		kind, arg := policy.SplitKey(k)
		switch {
		case k == policy.KeyConsumer:
			add(consumerAction(k))
		case k == policy.KeyRoute:
			if route != "" {
				add(genericKey(k, route))
			}
		case kind == policy.KeyRemoteAddress:
			add(maskedRemoteAddress(k))
		case k == policy.KeyPath:
			// The path without its query string, which the first filter
			// copies into this header (pathHeaderMutations): a counter per
			// ?n=i would let any client reset its count, and query strings
			// may carry credentials.
			add(requestHeader(wire.RateLimitPathHeader, k))
		case k == policy.KeyMethod:
			add(requestHeader(":method", k))
		case kind == "header":
			name := strings.ToLower(arg)
			absent := make([][]*routev3.RateLimit_Action, len(variants))
			for j, v := range variants {
				absent[j] = append(slices.Clip(v), missingHeader(name, k))
				variants[j] = append(v, requestHeader(name, k))
			}
			variants = append(variants, absent...)
		case kind == "claim":
			add(&routev3.RateLimit_Action{ActionSpecifier: &routev3.RateLimit_Action_Metadata{Metadata: &routev3.RateLimit_Action_MetaData{
				DescriptorKey: k,
				MetadataKey:   &metadatav3.MetadataKey{Key: wire.JWTMetadataNamespace, Path: []*metadatav3.MetadataKey_PathSegment{metaKey(provider), metaKey(arg)}},
				Source:        routev3.RateLimit_Action_MetaData_DYNAMIC,
			}}})
		}
	}
	return variants
}

// maskedRemoteAddress counts the client address with its prefix masked
// (Envoy: source/common/router/router_ratelimit.cc,
// MaskedRemoteAddressAction; the entry is named "masked_remote_address" and
// its value is the CIDR, e.g. 2001:db8:1:2::/64). Validation has checked
// the key's masks.
func maskedRemoteAddress(k string) *routev3.RateLimit_Action {
	v4, v6, _ := policy.RemoteAddressMasks(k)
	return &routev3.RateLimit_Action{ActionSpecifier: &routev3.RateLimit_Action_MaskedRemoteAddress_{MaskedRemoteAddress: &routev3.RateLimit_Action_MaskedRemoteAddress{
		V4PrefixMaskLen: wrapperspb.UInt32(uint32(v4)),
		V6PrefixMaskLen: wrapperspb.UInt32(uint32(v6)),
	}}}
}

// missingHeader gives (key, "missing") when the request has no such header.
func missingHeader(header, key string) *routev3.RateLimit_Action {
	return &routev3.RateLimit_Action{ActionSpecifier: &routev3.RateLimit_Action_HeaderValueMatch_{HeaderValueMatch: &routev3.RateLimit_Action_HeaderValueMatch{
		DescriptorKey:   key,
		DescriptorValue: wire.MissingValue,
		ExpectMatch:     wrapperspb.Bool(false),
		Headers:         []*routev3.HeaderMatcher{{Name: header, HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}},
	}}}
}

// usesPathKey reports whether a limit of some Route of the Gateway is keyed
// by path, so that the group sets wire.RateLimitPathHeader.
func (f *gwFilters) usesPathKey() bool {
	if f.pathKey == nil {
		uses := false
		for _, p := range f.routes {
			for i := 0; p.rl != nil && i < len(p.rl.Spec.Limits); i++ {
				uses = uses || slices.Contains(p.rl.Spec.Limits[i].Key, policy.KeyPath)
			}
		}
		f.pathKey = &uses
	}
	return *f.pathKey
}

// pathHeaderMutations set wire.RateLimitPathHeader to the path without its
// query string (the %PATH(NQ:PATH)% command: Envoy:
// source/common/formatter/http_specific_formatter.cc, PathFormatter, cuts
// :path at the first '?'), after the client's copy was removed
// (removedHeaders): header_mutation's values are substitution formats
// (Envoy: source/common/http/header_mutation.cc, AppendMutation). :path is
// already normalized by the connection manager at this point. The route
// tables remove the header before the upstream (request_headers_to_remove,
// applied by the router).
func (f *gwFilters) pathHeaderMutations() []*mutationv3.HeaderMutation {
	if !f.usesPathKey() {
		return nil
	}
	return []*mutationv3.HeaderMutation{{Action: &mutationv3.HeaderMutation_Append{Append: &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: wire.RateLimitPathHeader, Value: "%PATH(NQ:PATH)%"},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}}}}
}

func limitID(rl string, i int) string { return rl + "#" + strconv.Itoa(i) }

func genericKey(key, value string) *routev3.RateLimit_Action {
	return &routev3.RateLimit_Action{ActionSpecifier: &routev3.RateLimit_Action_GenericKey_{GenericKey: &routev3.RateLimit_Action_GenericKey{DescriptorKey: key, DescriptorValue: value}}}
}

func requestHeader(header, key string) *routev3.RateLimit_Action {
	return &routev3.RateLimit_Action{ActionSpecifier: &routev3.RateLimit_Action_RequestHeaders_{RequestHeaders: &routev3.RateLimit_Action_RequestHeaders{HeaderName: header, DescriptorKey: key}}}
}

// consumerAction reads the consumer the authz service put in dynamic
// metadata; a request it did not identify counts as anonymous.
func consumerAction(key string) *routev3.RateLimit_Action {
	return &routev3.RateLimit_Action{ActionSpecifier: &routev3.RateLimit_Action_Metadata{Metadata: &routev3.RateLimit_Action_MetaData{
		DescriptorKey: key,
		MetadataKey:   &metadatav3.MetadataKey{Key: wire.ConsumerMetadataNamespace, Path: []*metadatav3.MetadataKey_PathSegment{metaKey(wire.ConsumerMetadataKey)}},
		DefaultValue:  wire.AnonymousConsumer,
		Source:        routev3.RateLimit_Action_MetaData_DYNAMIC,
	}}}
}

func metaKey(k string) *metadatav3.MetadataKey_PathSegment {
	return &metadatav3.MetadataKey_PathSegment{Segment: &metadatav3.MetadataKey_PathSegment_Key{Key: k}}
}

// localConfig is a Route's local_ratelimit config: one token bucket per
// local limit, as a descriptor whose first entry names the limit and whose
// other entries are wildcards (Envoy keeps a bucket per value, see
// localMaxDynamicDescriptors). The buckets are per Route and per Envoy:
// a local limit shared by several Routes counts on each separately. Envoy
// checks every matching descriptor, strictest (tokens per second) first,
// and stops at the first empty bucket: unlike the rate-limit service, a
// request rejected by one local limit does not count against the others.
// Shadow RateLimits count without rejecting (shadow_mode per descriptor).
func (f *gwFilters) localConfig(p *routePolicy) *anyT {
	if a := f.localCfg[p.rlName]; a != nil {
		return a
	}
	cfg := &localrlv3.LocalRateLimit{
		StatPrefix:                      "local_ratelimit",
		TokenBucket:                     passThroughBucket,
		FilterEnabled:                   percent100,
		FilterEnforced:                  percent100,
		AlwaysConsumeDefaultTokenBucket: wrapperspb.Bool(false),
		EnableXRatelimitHeaders:         commonrlv3.XRateLimitHeadersRFCVersion_DRAFT_VERSION_03,
		RateLimitedAsResourceExhausted:  true,
		MaxDynamicDescriptors:           wrapperspb.UInt32(localMaxDynamicDescriptors),
	}
	for i := range p.rl.Spec.Limits {
		l := &p.rl.Spec.Limits[i]
		if !l.Local {
			continue
		}
		entries := make([]*commonrlv3.RateLimitDescriptor_Entry, 0, len(l.Key)+1)
		entries = append(entries, &commonrlv3.RateLimitDescriptor_Entry{Key: wire.DescRateLimit, Value: limitID(p.rlName, i)})
		for _, k := range l.Key {
			if k != policy.KeyRoute {
				// Value omitted: one bucket per value, "missing" included.
				entries = append(entries, &commonrlv3.RateLimitDescriptor_Entry{Key: wire.DescriptorKey(k)})
			}
		}
		n := uint32(l.Requests)
		cfg.Descriptors = append(cfg.Descriptors, &commonrlv3.LocalRateLimitDescriptor{
			Entries:     entries,
			TokenBucket: &typev3.TokenBucket{MaxTokens: n, TokensPerFill: wrapperspb.UInt32(n), FillInterval: durationpb.New(unitDuration(l.Per))},
			ShadowMode:  p.rl.Spec.Shadow,
		})
		for _, actions := range keyActions(p.rlName, i, l, "", "") {
			cfg.RateLimits = append(cfg.RateLimits, &routev3.RateLimit{Actions: actions})
		}
	}
	a := mustAny(cfg)
	f.localCfg[p.rlName] = a
	return a
}

// unitDuration is a token bucket's fill interval. Validation keeps month
// out of local limits (a calendar month has no fixed length).
func unitDuration(u string) time.Duration {
	switch u {
	case policy.UnitMinute:
		return time.Minute
	case policy.UnitHour:
		return time.Hour
	case policy.UnitDay:
		return 24 * time.Hour
	default:
		return time.Second
	}
}
