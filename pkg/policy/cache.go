package policy

import (
	"fmt"
	"strings"
	"time"
)

// maxCacheTTL bounds cache.ttl: a longer lifetime is almost surely a unit
// mistake, and a stale answer cannot be purged from Envoy's cache.
const maxCacheTTL = 365 * 24 * time.Hour

// validateCache checks a cache block at path p; onRoute allows disabled.
func validateCache(o *objErrs, p string, c *Cache, onRoute bool) {
	if c == nil {
		if o.has(p) {
			o.add(p, "must not be empty: write cache: {} to cache with the defaults (or omit cache)")
		}
		return
	}
	if o.has(p + ".disabled") {
		switch {
		case !onRoute:
			o.add(p+".disabled", "only a Route's cache can be disabled (it turns the Gateway default off); omit cache here for none")
		case !c.Disabled:
			o.add(p+".disabled", "only true is allowed; omit disabled to cache")
		case o.has(p+".ttl") || o.has(p+".vary") || o.has(p+".private"):
			o.add(p, "disabled: true takes no other field")
		}
		return
	}
	if o.has(p + ".ttl") {
		switch d := c.TTL.D(); {
		case d <= 0:
			o.add(p+".ttl", "must be greater than 0 (omit it to keep the upstream's Cache-Control)")
		case d%time.Second != 0:
			o.add(p+".ttl", "%s is not whole seconds (Cache-Control max-age counts seconds)", d)
		case d > maxCacheTTL:
			o.add(p+".ttl", "%s is longer than a year; a cached answer cannot be purged before it expires", d)
		}
	}
	seen := map[string]bool{}
	for i, h := range c.Vary {
		ip := fmt.Sprintf("%s.vary[%d]", p, i)
		lh := strings.ToLower(h)
		switch {
		case h == "*":
			o.add(ip, `"*" would make every response uncacheable (Vary: * is never cached); list header names`)
		case !headerName(h):
			o.add(ip, "%q is not a header name", h)
		case lh == "authorization" || lh == "x-gatehouse-consumer":
			o.add(ip, "%q is added by gatehouse itself where it matters (a Route requiring authentication is cached per consumer and Authorization); remove it", h)
		case seen[lh]:
			o.add(ip, "duplicate header %q", h)
		}
		seen[lh] = true
	}
}

// resolveCache checks a cached Route against each of its Gateways: a ttl
// is refused where the Route is cached per consumer, and nothing the
// Route controls may set a cookie on a cached response (one client's
// cookie would be served to the next). Cookies the upstream sets are
// removed from cached Routes' responses by the translator.
func resolveCache(o *objErrs, r *Route, gateways map[string]*Gateway, xs map[string]*Transformation) {
	for _, gn := range r.Spec.Gateways {
		g := gateways[gn]
		if g == nil {
			continue
		}
		cached, perConsumer := r.CachedOn(g)
		if !cached {
			continue
		}
		field := "spec.cache.ttl"
		if r.Spec.Cache == nil {
			field = "spec.gateways" // the Gateway default's ttl
		}
		if perConsumer && r.EffectiveCache(g).TTL > 0 {
			o.add(field, "on %s the Route requires authentication and is cached per consumer: a ttl would add Cache-Control max-age to its responses, which a cache in front (a CDN) would share between consumers; let the upstream send Cache-Control", g.Meta.Ref())
			return
		}
		if h := r.Spec.Headers; h != nil && h.Response != nil {
			for _, k := range sortedKeys(h.Response.Set) {
				if strings.EqualFold(k, "set-cookie") {
					o.add("spec.headers.response.set."+k, "on %s the Route's responses are cached: a cookie would be served to every client that gets the cached answer; remove the cookie or the cache", g.Meta.Ref())
					return
				}
			}
			for _, k := range sortedKeys(h.Response.Add) {
				if strings.EqualFold(k, "set-cookie") {
					o.add("spec.headers.response.add."+k, "on %s the Route's responses are cached: a cookie would be served to every client that gets the cached answer; remove the cookie or the cache", g.Meta.Ref())
					return
				}
			}
		}
		xn := r.EffectiveTransformation(g)
		if x := xs[xn]; x != nil && x.Spec.Response != nil {
			for k := range x.Spec.Response.SetHeaders {
				if strings.EqualFold(k, "set-cookie") {
					o.add(transformationField(r), "on %s the Route's responses are cached, and its Transformation %q sets a cookie on them: it would be served to every client that gets the cached answer", g.Meta.Ref(), xn)
					return
				}
			}
		}
	}
}
