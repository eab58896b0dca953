package controller

import (
	"maps"
	"slices"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/openapi"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/pkg/transform"
	"github.com/gatehouse-dev/gatehouse/pkg/waf"
)

// ServiceRules is what gatehouse's own gRPC services decide with: the
// ext_authz rules and the rate-limit rules. The controller hands them to
// Config.Services; the services replace theirs as a whole.
type ServiceRules struct {
	Authz     *authz.Config
	RateLimit *ratelimit.Config
	// WAF are the WAF's policies by Firewall name (waf_rules.go).
	WAF map[string]waf.Policy
	// Transform are the transformation service's Transformations by name
	// (transform_rules.go).
	Transform map[string]transform.Transformation
	// OpenAPI are the request validator's policies by Route
	// (openapi_rules.go).
	OpenAPI map[string]openapi.Policy
}

// Rules are the services' rules for snap (maxBody caps input.parsed_body).
func Rules(snap *policy.Snapshot, maxBody int) (ServiceRules, error) {
	a, err := AuthzRules(snap, maxBody)
	if err != nil {
		return ServiceRules{}, err
	}
	return ServiceRules{Authz: a, RateLimit: RateLimitRules(snap), WAF: WAFRules(snap), Transform: TransformRules(snap), OpenAPI: OpenAPIRules(snap)}, nil
}

// withNames returns base plus every name that other's proxy configuration
// can send and base does not know: Authentications, Authorizations,
// rate limits ("<name>#<index>") and the RateLimits a domain names. A name
// both know keeps base's meaning. What no proxy configuration names
// (Consumers and their credentials, Plans, which Consumer has which Plan,
// the body cap) is base's alone: those are the services' own state and
// switch as a whole when base is replaced.
//
// The controller uses it both ways: withNames(served, next) while the
// proxies are being given next (make: next's new names already answer,
// nothing served changes meaning), and withNames(next, served) while a
// held-back Gateway keeps serving the old configuration (its names keep
// answering). Neither input is modified.
func withNames(base, other ServiceRules) ServiceRules {
	return ServiceRules{
		Authz:     authzWithNames(base.Authz, other.Authz),
		RateLimit: rateLimitWithNames(base.RateLimit, other.RateLimit),
		WAF:       wafWithNames(base.WAF, other.WAF),
		Transform: transformWithNames(base.Transform, other.Transform),
		OpenAPI:   openAPIWithNames(base.OpenAPI, other.OpenAPI),
	}
}

func authzWithNames(base, other *authz.Config) *authz.Config {
	out := &authz.Config{
		APIKeyAuth:     maps.Clone(base.APIKeyAuth),
		JWTAuth:        maps.Clone(base.JWTAuth),
		IntrospectAuth: maps.Clone(base.IntrospectAuth),
		Consumers:      base.Consumers,
		Policies:       maps.Clone(base.Policies),
		MaxBodyBytes:   base.MaxBodyBytes,
	}
	// Authentications are one namespace across both kinds: a name that
	// changed kind keeps base's.
	known := func(name string) bool {
		_, k := base.APIKeyAuth[name]
		_, j := base.JWTAuth[name]
		_, i := base.IntrospectAuth[name]
		return k || j || i
	}
	for name, a := range other.APIKeyAuth {
		if !known(name) {
			out.APIKeyAuth[name] = a
		}
	}
	for name, j := range other.JWTAuth {
		if !known(name) {
			out.JWTAuth[name] = j
		}
	}
	for name, a := range other.IntrospectAuth {
		if !known(name) {
			out.IntrospectAuth[name] = a
		}
	}
	addMissing(out.Policies, other.Policies)
	return out
}

func rateLimitWithNames(base, other *ratelimit.Config) *ratelimit.Config {
	out := &ratelimit.Config{
		Domains:      make(map[string]*ratelimit.Domain, len(base.Domains)),
		Limits:       maps.Clone(base.Limits),
		Plans:        base.Plans,
		ConsumerPlan: base.ConsumerPlan,
	}
	for d, dom := range base.Domains {
		out.Domains[d] = dom
	}
	for d, dom := range other.Domains {
		prev := out.Domains[d]
		if prev == nil {
			out.Domains[d] = dom
			continue
		}
		names := slices.Clone(prev.RateLimits)
		for _, n := range dom.RateLimits {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		out.Domains[d] = &ratelimit.Domain{RateLimits: names}
	}
	addMissing(out.Limits, other.Limits)
	return out
}

// wafWithNames: base's Firewalls plus other's that base lacks.
func wafWithNames(base, other map[string]waf.Policy) map[string]waf.Policy {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]waf.Policy{}
	}
	addMissing(out, other)
	return out
}

// transformWithNames: base's Transformations plus other's that base lacks.
func transformWithNames(base, other map[string]transform.Transformation) map[string]transform.Transformation {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]transform.Transformation{}
	}
	addMissing(out, other)
	return out
}

// addMissing copies into dst the entries of src whose keys dst lacks.
func addMissing[V any](dst, src map[string]V) {
	for k, v := range src {
		if _, ok := dst[k]; !ok {
			dst[k] = v
		}
	}
}
