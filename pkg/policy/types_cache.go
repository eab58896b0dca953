package policy

// ---- Response caching ----

// Cache stores a Route's responses in Envoy's in-memory HTTP cache
// (xds/translate cache.go). On a Route it replaces the Gateway default
// (spec.defaults.cache); disabled: true turns that default off.
//
// What is cached follows HTTP caching (RFC 9111) as Envoy implements it:
// GET and HEAD only, responses that say how long they are fresh
// (Cache-Control max-age or s-maxage, or Expires), never a request that
// carries Authorization (Envoy's own rule). A Route that requires
// authentication is not cached unless it says private: false; it is then
// cached per consumer (the key varies on the consumer and Authorization).
type Cache struct {
	// Disabled, on a Route only, turns the Gateway default off.
	Disabled bool `yaml:"disabled"`
	// TTL is the freshness lifetime given to responses whose upstream
	// sent no Cache-Control (Cache-Control: max-age, added only when
	// absent: an upstream's no-store or private is never overridden).
	// Refused on a Route that requires authentication: the header would
	// also reach a cache in front (a CDN) that does not key on the
	// consumer.
	TTL Duration `yaml:"ttl"`
	// Vary lists the request headers a response may vary on (Vary): a
	// response varying on another header is not cached.
	Vary []string `yaml:"vary"`
	// Private: on a Route that requires authentication, nil or true
	// bypasses the cache; false caches per consumer.
	Private *bool `yaml:"private"`
}

// EffectiveCache is the Cache that applies to r on Gateway g: the Route's
// own (nil when it says disabled), else g's default, else nil.
func (r *Route) EffectiveCache(g *Gateway) *Cache {
	if c := r.Spec.Cache; c != nil {
		if c.Disabled {
			return nil
		}
		return c
	}
	if g != nil && g.Spec.Defaults != nil {
		return g.Spec.Defaults.Cache
	}
	return nil
}

// CachedOn reports whether r's responses are cached on g and whether per
// consumer: a Route requiring authentication is cached only when its
// cache says private: false, and then per consumer.
func (r *Route) CachedOn(g *Gateway) (cached, perConsumer bool) {
	c := r.EffectiveCache(g)
	if c == nil {
		return false, false
	}
	if len(r.EffectiveAuthentication(g)) == 0 {
		return true, false
	}
	if c.Private == nil || *c.Private {
		return false, false
	}
	return true, true
}
