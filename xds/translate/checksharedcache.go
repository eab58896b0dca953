package translate

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Shared caches and authenticated routes (RFC 9111 3.5): policy refuses
// every header gatehouse writes that would let a cache in front (a CDN)
// store an authenticated Route's answer for every caller, unless the
// Route says private: false in its cdn (pkg/policy cdn.go,
// sharedcache.go). Check holds the emitted routes to the same rule: a
// route whose requests ext_authz or jwt_authn checks must not add such a
// header (policy.SharedCacheProblem) unless it carries the shared-cache
// mark, which the translator sets only where policy said the Route's
// answers may be shared (Route.CDNShared).

// sharedCacheMetadata is the route's filter_metadata namespace and field
// of the mark. Envoy carries route metadata without acting on it.
const (
	sharedCacheMetadata = "gatehouse"
	sharedCacheField    = "shared_cache"
)

// sharedCacheHeader returns the first response header rt adds that lets a
// cache in front share its answers, and why, or "", "".
func sharedCacheHeader(rt *routev3.Route) (string, string) {
	for _, h := range rt.GetResponseHeadersToAdd() {
		k := h.GetHeader().GetKey()
		v := h.GetHeader().GetValue()
		if len(h.GetHeader().GetRawValue()) > 0 {
			v = string(h.GetHeader().GetRawValue())
		}
		if policy.IsCDNHeader(k) {
			if why := policy.SharedCacheProblem(k, v); why != "" {
				return k, why
			}
		}
	}
	return "", ""
}

// sharedCacheMark marks rt when its response headers let a cache in
// front share answers and policy says r's may be on gw (rt is a copy of
// the shared route; its metadata is replaced, never edited in place).
func sharedCacheMark(rt *routev3.Route, r *policy.Route, gw *policy.Gateway) {
	if !r.CDNShared(gw) {
		return
	}
	if k, _ := sharedCacheHeader(rt); k == "" {
		return
	}
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	for n, s := range rt.GetMetadata().GetFilterMetadata() {
		md.FilterMetadata[n] = s
	}
	fields := map[string]*structpb.Value{sharedCacheField: structpb.NewBoolValue(true)}
	for n, v := range md.FilterMetadata[sharedCacheMetadata].GetFields() {
		if n != sharedCacheField {
			fields[n] = v
		}
	}
	md.FilterMetadata[sharedCacheMetadata] = &structpb.Struct{Fields: fields}
	rt.Metadata = md
}

// sharedCacheMarked reports whether r carries the mark.
func sharedCacheMarked(r *routev3.Route) bool {
	return r.GetMetadata().GetFilterMetadata()[sharedCacheMetadata].GetFields()[sharedCacheField].GetBoolValue()
}

// callsJWT reports whether jwt_authn checks requests on the route (a
// per-route requirement, not disabled).
func callsJWT(r *routev3.Route) bool {
	a := r.GetTypedPerFilterConfig()[wire.FilterJWT]
	if a == nil {
		return false
	}
	pr := &jwtv3.PerRouteConfig{}
	return a.UnmarshalTo(pr) != nil || !pr.GetDisabled()
}

// sharedCacheRoute: an authenticated route adds no header that lets a
// cache in front share one caller's answer with another unless marked.
func (c *checker) sharedCacheRoute(at func() string, r *routev3.Route) {
	if sharedCacheMarked(r) || !(c.callsExtAuthz(r.GetTypedPerFilterConfig()) || callsJWT(r)) {
		return
	}
	if k, why := sharedCacheHeader(r); k != "" {
		c.fail("%s: the route checks its callers (ext_authz or jwt_authn) and adds %s: %s; only a Route whose policy says private: false may (route metadata %s.%s)", at(), k, why, sharedCacheMetadata, sharedCacheField)
	}
}
