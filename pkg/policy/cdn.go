package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// maxCDNSeconds bounds every delta-seconds value of a CDN block: a longer
// lifetime is almost surely a unit mistake, and gatehouse cannot purge a
// cache in front.
const maxCDNSeconds = 365 * 24 * 60 * 60

// directive is one Cache-Control or Surrogate-Control directive: whether
// it takes a delta-seconds value.
type directive struct{ seconds bool }

// cacheControlDirectives are the response directives of RFC 9111 5.2.2,
// stale-while-revalidate and stale-if-error (RFC 5861) and immutable (RFC
// 8246). The field-list forms of private and no-cache are not offered:
// a cache in front either keeps the whole answer or none of it.
var cacheControlDirectives = map[string]directive{
	"max-age": {true}, "s-maxage": {true}, "stale-while-revalidate": {true}, "stale-if-error": {true},
	"public": {}, "private": {}, "no-store": {}, "no-cache": {}, "no-transform": {},
	"must-revalidate": {}, "proxy-revalidate": {}, "must-understand": {}, "immutable": {},
}

// surrogateControlDirectives are those of the W3C Edge Architecture
// Specification that CDNs read, plus the RFC 5861 extensions they accept
// there (Fastly, Akamai). Surrogate-Control is consumed by the CDN.
var surrogateControlDirectives = map[string]directive{
	"max-age": {true}, "stale-while-revalidate": {true}, "stale-if-error": {true},
	"no-store": {}, "no-store-remote": {},
}

// sharedStorable are the Cache-Control directives with which a shared
// cache may store and reuse a response to a request that carried
// Authorization (RFC 9111 3.5).
var sharedStorable = []string{"public", "s-maxage", "must-revalidate"}

// parseDirectives parses a header value into directive name -> value
// (lower-case names, "" for a directive without a value), checking each
// against known, reporting on o at field p.
func parseDirectives(o *objErrs, p, v string, known map[string]directive) (map[string]string, bool) {
	out := map[string]string{}
	if strings.TrimSpace(v) == "" {
		o.add(p, "must not be empty (omit it to leave the header alone)")
		return nil, false
	}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		name, val, hasVal := strings.Cut(part, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		val = strings.TrimSpace(val)
		d, ok := known[name]
		switch {
		case part == "":
			o.add(p, "%q has an empty directive", v)
			return nil, false
		case !ok:
			o.add(p, "unknown directive %q; allowed: %s", name, strings.Join(sortedKeys(known), ", "))
			return nil, false
		case hasKey(out, name):
			o.add(p, "duplicate directive %q", name)
			return nil, false
		case d.seconds && !hasVal:
			o.add(p, "%s needs a number of seconds (%s=60)", name, name)
			return nil, false
		case !d.seconds && hasVal:
			o.add(p, "%s takes no value (field lists and arguments are not supported)", name)
			return nil, false
		}
		if d.seconds {
			n, err := strconv.Atoi(val)
			switch {
			case err != nil || n < 0 || strings.TrimLeft(val, "0123456789") != "":
				o.add(p, "%s=%s is not a whole number of seconds", name, val)
				return nil, false
			case n > maxCDNSeconds:
				o.add(p, "%s=%d is longer than a year; gatehouse cannot purge a cache in front", name, n)
				return nil, false
			}
			val = strconv.Itoa(n)
		}
		out[name] = val
	}
	return out, true
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// conflicts reports directives that contradict each other.
func directiveConflicts(o *objErrs, p string, d map[string]string) {
	if hasKey(d, "public") && hasKey(d, "private") {
		o.add(p, "public and private contradict each other; keep one")
		return
	}
	if hasKey(d, "no-store") {
		for _, k := range []string{"public", "max-age", "s-maxage", "stale-while-revalidate", "stale-if-error", "immutable"} {
			if hasKey(d, k) {
				o.add(p, "no-store and %s contradict each other: nothing is stored; keep one", k)
				return
			}
		}
	}
}

// formatDirectives writes directives in the order given, then the rest
// sorted: name or name=value, comma-separated.
func formatDirectives(d map[string]string, first ...string) string {
	var parts []string
	seen := map[string]bool{}
	for _, k := range append(first, sortedKeys(d)...) {
		v, ok := d[k]
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		if v == "" {
			parts = append(parts, k)
		} else {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, ", ")
}

// validateCDN checks a cdn block at path p; onRoute allows disabled.
func validateCDN(o *objErrs, p string, c *CDN, onRoute bool) {
	if c == nil {
		if o.has(p) {
			o.add(p, "must not be empty (omit cdn for none)")
		}
		return
	}
	if o.has(p + ".disabled") {
		switch {
		case !onRoute:
			o.add(p+".disabled", "only a Route's cdn can be disabled (it turns the Gateway default off); omit cdn here for none")
		case !c.Disabled:
			o.add(p+".disabled", "only true is allowed; omit disabled to set the headers")
		case c.CacheControl != "" || c.SurrogateControl != "" || o.has(p+".override") || o.has(p+".private"):
			o.add(p, "disabled: true takes no other field")
		}
		return
	}
	// Sharing an authenticated Route's answers is said per Route: a
	// Gateway default would say it for every Route, including ones that
	// require authentication later.
	if !onRoute && c.Private != nil && !*c.Private {
		o.add(p+".private", "only a Route's cdn can say private: false (share an authenticated Route's answers with a cache in front); a Gateway default would say it for every Route")
	}
	// private: false alone is the escape for a Route that sets its own
	// shared-cache headers (headers.response, a Transformation:
	// sharedcache.go); it replaces the Gateway default and sets nothing.
	if !o.has(p+".cacheControl") && !o.has(p+".surrogateControl") && !(onRoute && c.Private != nil && !*c.Private && !o.has(p+".override")) {
		o.add(p, "set cacheControl, surrogateControl or both (or, on a Route, only private: false)")
		return
	}
	if o.has(p + ".cacheControl") {
		if d, ok := parseDirectives(o, p+".cacheControl", c.CacheControl, cacheControlDirectives); ok {
			directiveConflicts(o, p+".cacheControl", d)
		}
	}
	if o.has(p + ".surrogateControl") {
		if d, ok := parseDirectives(o, p+".surrogateControl", c.SurrogateControl, surrogateControlDirectives); ok {
			directiveConflicts(o, p+".surrogateControl", d)
		}
	}
}

// CDNHeaders is what the translator sets on r's responses on g for a
// cache in front: the Cache-Control and Surrogate-Control values ("" for
// none), normalized, with private added to the Cache-Control of a Route
// that requires authentication and is not shared (CDNShared). It assumes
// a policy that loaded (resolveCDN refused the rest).
func (r *Route) CDNHeaders(g *Gateway) (cacheControl, surrogateControl string) {
	c := r.EffectiveCDN(g)
	if c == nil {
		return "", ""
	}
	if c.CacheControl != "" {
		if d := directivesOf(c.CacheControl, cacheControlDirectives); d != nil {
			if !r.CDNShared(g) && !hasKey(d, "no-store") {
				d["private"] = ""
			}
			cacheControl = formatDirectives(d, "public", "private", "no-store", "no-cache", "max-age", "s-maxage")
		}
	}
	if c.SurrogateControl != "" {
		if d := directivesOf(c.SurrogateControl, surrogateControlDirectives); d != nil {
			surrogateControl = formatDirectives(d, "no-store", "no-store-remote", "max-age")
		}
	}
	return cacheControl, surrogateControl
}

// resolveCDN checks a Route's CDN headers against each of its Gateways:
// on a Route that requires authentication and did not say private: false,
// nothing may let a shared cache in front store its responses (it keys on
// the URL, not on the caller); the headers must not fight gatehouse's own
// cache or the Route's header changes.
func resolveCDN(o *objErrs, r *Route, gateways map[string]*Gateway) {
	for _, gn := range r.Spec.Gateways {
		g := gateways[gn]
		if g == nil {
			continue
		}
		c := r.EffectiveCDN(g)
		if c == nil {
			continue
		}
		field, whose := "spec.cdn", "its cdn"
		if r.Spec.CDN == nil {
			field, whose = "spec.gateways", g.Meta.Ref()+"'s default cdn"
		}
		cc, sc := directivesOf(c.CacheControl, cacheControlDirectives), directivesOf(c.SurrogateControl, surrogateControlDirectives)
		if !r.CDNShared(g) {
			for _, k := range sharedStorable {
				if hasKey(cc, k) {
					o.add(fieldOr(field, ".cacheControl", r), "on %s the Route requires authentication and %s says %s, which lets a cache in front (a CDN) serve one caller's answer to another; remove it, or say private: false in the Route's cdn to share its answers on purpose", g.Meta.Ref(), whose, k)
					return
				}
			}
			if c.SurrogateControl != "" && !(len(sc) == 1 && hasKey(sc, "no-store")) {
				o.add(fieldOr(field, ".surrogateControl", r), "on %s the Route requires authentication and %s sets Surrogate-Control %q, with which a CDN stores its answers for every caller; remove it (or make it no-store), or say private: false in the Route's cdn to share its answers on purpose", g.Meta.Ref(), whose, c.SurrogateControl)
				return
			}
		}
		if c.CacheControl != "" {
			if cached, perConsumer := r.CachedOn(g); cached {
				ec := r.EffectiveCache(g)
				switch {
				case ec.TTL > 0:
					o.add(fieldOr(field, ".cacheControl", r), "on %s the Route is also cached by gatehouse with a ttl: both would set Cache-Control; drop the cache's ttl and put max-age in cdn.cacheControl (Envoy's cache reads it too)", g.Meta.Ref())
					return
				case perConsumer && !r.CDNShared(g):
					o.add(fieldOr(field, ".cacheControl", r), "on %s the Route is cached per consumer by gatehouse, and the Cache-Control gatehouse would set for a cache in front says private, which Envoy's cache does not store either; drop cdn.cacheControl (let the upstream send Cache-Control)", g.Meta.Ref())
					return
				}
			}
		}
		if h := r.Spec.Headers; h != nil && h.Response != nil {
			for _, k := range append(sortedKeys(h.Response.Set), sortedKeys(h.Response.Add)...) {
				if lk := strings.ToLower(k); (lk == "cache-control" && c.CacheControl != "") || (lk == "surrogate-control" && c.SurrogateControl != "") {
					o.add("spec.headers.response", "on %s %s sets %s too; set it in one place", g.Meta.Ref(), whose, lk)
					return
				}
			}
		}
	}
}

// directivesOf parses a value validateCDN accepted (nil for none).
func directivesOf(v string, known map[string]directive) map[string]string {
	if v == "" {
		return nil
	}
	var tmp objErrs
	d, _ := parseDirectives(&tmp, "", v, known)
	return d
}

// fieldOr is the Route's own cdn field, or spec.gateways for a Gateway
// default.
func fieldOr(field, sub string, r *Route) string {
	if r.Spec.CDN == nil {
		return field
	}
	return field + sub
}

// validateCompression checks a compression block at path p; onRoute
// allows only disabled and authenticated.
func validateCompression(o *objErrs, p string, c *Compression, onRoute bool) {
	if c == nil {
		if o.has(p) {
			o.add(p, "must not be empty: write compression: {} (omit it for the default)")
		}
		return
	}
	if o.has(p + ".disabled") {
		switch {
		case !onRoute:
			o.add(p+".disabled", "only a Route's compression can be disabled (it turns the Gateway default off); omit compression here for none")
		case !c.Disabled:
			o.add(p+".disabled", "only true is allowed; omit disabled to compress")
		case o.has(p + ".authenticated"):
			o.add(p, "disabled: true takes no other field")
		}
	}
	for _, f := range []string{"algorithms", "minBytes", "contentTypes"} {
		if onRoute && o.has(p+"."+f) {
			o.add(p+"."+f, "is set on the Gateway (spec.defaults.compression.%s): Envoy's compressor settings are per connection manager; a Route can only turn compression on or off", f)
		}
	}
	if onRoute {
		return
	}
	if o.has(p+".algorithms") && len(c.Algorithms) == 0 {
		o.add(p+".algorithms", "must list brotli, gzip or both (omit it for both)")
	}
	seen := map[string]bool{}
	for i, a := range c.Algorithms {
		ip := fmt.Sprintf("%s.algorithms[%d]", p, i)
		switch {
		case a != CompressBrotli && a != CompressGzip:
			o.add(ip, "%q is not an algorithm; one of brotli, gzip", a)
		case seen[a]:
			o.add(ip, "duplicate algorithm %q", a)
		}
		seen[a] = true
	}
	if o.has(p+".minBytes") && (c.MinBytes <= 0 || c.MinBytes > 1<<30) {
		o.add(p+".minBytes", "must be between 1 and 1073741824 (omit it for %d)", DefaultCompressionMinBytes)
	}
	if o.has(p+".contentTypes") && len(c.ContentTypes) == 0 {
		o.add(p+".contentTypes", "must list media types (omit it for the default list)")
	}
	seenT := map[string]bool{}
	for i, t := range c.ContentTypes {
		ip := fmt.Sprintf("%s.contentTypes[%d]", p, i)
		lt := strings.ToLower(t)
		typ, sub, ok := strings.Cut(lt, "/")
		switch {
		case !ok || !headerName(typ) || !headerName(sub) || strings.Contains(lt, "*"):
			o.add(ip, "%q is not a media type (type/subtype, no parameters or wildcards)", t)
		case seenT[lt]:
			o.add(ip, "duplicate media type %q", t)
		}
		seenT[lt] = true
	}
}
