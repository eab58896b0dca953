package translate

import (
	"strconv"
	"strings"

	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// anyCORS is the CORS filter of the chain; it has no settings of its own.
// Each Route's policy is its per-route CorsPolicy: the filter reads the
// route's and the virtual host's per-filter configs and does nothing where
// neither exists (Envoy: source/extensions/filters/http/cors/cors_filter.cc,
// initializeCorsPolicies and decodeHeaders). Gatehouse resolves the
// Gateway default into each Route's own config instead of a virtual-host
// one, because Envoy merges the two field by field (the first non-empty
// one wins per field) and a Route's cors replaces the default as a whole.
var anyCORS = mustAny(&corsv3.Cors{})

// usesCORS reports whether some Route of the Gateway has a CORS policy.
// Only Envoy groups ask: proxyless gRPC groups are built without any
// per-route filter configs (grpc.go), and must stay so, since grpc-go
// NACKs a non-optional per-route config of a filter it does not implement
// ("no filter implementation found", grpc-go xdsresource,
// validateHTTPFilterConfig) and has no CORS filter.
func usesCORS(gw *policy.Gateway, routes []*policy.Route) bool {
	for _, r := range routes {
		if r.EffectiveCORS(gw) != nil {
			return true
		}
	}
	return false
}

// corsConfig is the per-route CorsPolicy of c, built once per policy
// (the Gateway default is shared by all Routes that inherit it).
//
// A preflight is an OPTIONS request with a non-empty Origin and a
// non-empty Access-Control-Request-Method; only those are answered by the
// filter (200 with the Access-Control-* headers, never reaching the
// filters after it). Every other request, including an OPTIONS without
// Access-Control-Request-Method, continues through authentication and
// rate limits. A preflight from an origin not allowed is forwarded too
// (forward_not_matching_preflights defaults to true), so it meets
// authentication like any request (Envoy: source/extensions/filters/http/
// cors/cors_filter.cc, decodeHeaders and forwardNotMatchingPreflights).
func (f *gwFilters) corsConfig(c *policy.CORS) *anyT {
	if a := f.corsCfg[c]; a != nil {
		return a
	}
	p := &corsv3.CorsPolicy{
		AllowMethods:  strings.Join(c.Methods, ", "),
		AllowHeaders:  strings.Join(c.Headers, ", "),
		ExposeHeaders: strings.Join(c.ExposeHeaders, ", "),
	}
	for _, o := range c.Origins {
		m := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: o.Exact}}
		if o.Regex != "" {
			m.MatchPattern = &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: o.Regex}}
		}
		p.AllowOriginStringMatch = append(p.AllowOriginStringMatch, m)
	}
	if c.MaxAge > 0 {
		p.MaxAge = strconv.FormatInt(int64(c.MaxAge.D().Seconds()), 10)
	}
	if c.Credentials {
		p.AllowCredentials = wrapperspb.Bool(true)
	}
	a := mustAny(p)
	if f.corsCfg == nil {
		f.corsCfg = map[*policy.CORS]*anyT{}
	}
	f.corsCfg[c] = a
	return a
}

// refusingFilters are the HTTP filter types that can refuse a request
// (authentication, authorization, rate limits).
var refusingFilters = map[protoreflect.FullName]bool{
	jwtAuthnType:       true,
	extAuthzType:       true,
	rateLimitType:      true,
	localRateLimitType: true,
	"envoy.extensions.filters.http.rbac.v3.RBAC": true,
	extProcType: true, // the WAF
}

// corsOrder: a CORS filter comes before every filter that can refuse a
// request. Filters run in chain order and the CORS filter answers a
// preflight by stopping iteration (Envoy: source/extensions/filters/http/
// cors/cors_filter.cc, decodeHeaders), so one placed after jwt_authn,
// ext_authz or a rate limit would let those refuse a preflight, which
// never carries a credential: browsers would then block the actual call.
func (c *checker) corsOrder(where string, fs []*hcmv3.HttpFilter) {
	refuser := ""
	for _, f := range fs {
		t := protoreflect.FullName(strings.TrimPrefix(f.GetTypedConfig().GetTypeUrl(), "type.googleapis.com/"))
		switch {
		case refusingFilters[t] && refuser == "":
			refuser = f.GetName()
		case t == corsType && refuser != "":
			c.fail("%s http filter %q: comes after %q, which would refuse CORS preflights (they carry no credential); put CORS before authentication, authorization and rate limits", where, f.GetName(), refuser)
		}
	}
}
