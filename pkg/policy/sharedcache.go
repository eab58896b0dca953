package policy

import (
	"fmt"
	"strings"
)

// Response headers with which a cache in front (a CDN, a shared proxy)
// would store an authenticated Route's answer and serve it to another
// caller. The cdn block is held to RFC 9111 3.5 in resolveCDN; these
// rules hold every other way gatehouse writes response headers to the
// same rule: a Route's own headers.response, and the response
// setHeaders of the Transformation that applies to it (its own or the
// Gateway default). The escape is the cdn block's: private: false in the
// Route's own cdn.

// cdnHeaderCacheControl is the header every shared cache reads.
const cdnHeaderCacheControl = "cache-control"

// cdnTargetedHeaders are the response headers a cache in front reads
// instead of (or before) Cache-Control, and that clients never act on:
// Surrogate-Control (W3C Edge Architecture; Fastly, Akamai, Varnish),
// CDN-Cache-Control (RFC 9213, a targeted Cache-Control field), the
// vendor-targeted fields of RFC 9213 section 2 that CDNs document
// (Cloudflare-CDN-Cache-Control, Akamai-Cache-Control,
// Vercel-CDN-Cache-Control) and Akamai's Edge-Control. On an
// authenticated Route the only value allowed for them is one that stores
// nothing: no-store (RFC 9213 fields also private, which there means the
// targeted cache must not store).
var cdnTargetedHeaders = map[string]bool{
	"surrogate-control":            true,
	"cdn-cache-control":            true,
	"cloudflare-cdn-cache-control": true,
	"akamai-cache-control":         true,
	"vercel-cdn-cache-control":     true,
	"edge-control":                 true,
}

// IsCDNHeader reports whether name (any case) is a header a cache in
// front reads to decide whether to store a response.
func IsCDNHeader(name string) bool {
	n := strings.ToLower(name)
	return n == cdnHeaderCacheControl || cdnTargetedHeaders[n]
}

// SharedCacheProblem says why the value v of the response header name
// would let a cache in front store an authenticated answer for every
// caller, or "" when it does not. It reuses the cdn block's directive
// parser: a value it cannot parse cannot be shown safe and is refused.
func SharedCacheProblem(name, v string) string {
	n := strings.ToLower(name)
	if n == cdnHeaderCacheControl {
		var tmp objErrs
		d, ok := parseDirectives(&tmp, "", v, cacheControlDirectives)
		if !ok {
			return fmt.Sprintf("Cache-Control %q is not a list of known directives (gatehouse cannot tell that a cache in front will not share the answer)", v)
		}
		for _, k := range sharedStorable {
			if hasKey(d, k) {
				return fmt.Sprintf("Cache-Control %q says %s, which lets a cache in front (a CDN) serve one caller's answer to another (RFC 9111 3.5)", v, k)
			}
		}
		return ""
	}
	var tmp objErrs
	d, ok := parseDirectives(&tmp, "", v, cacheControlDirectives)
	if !ok {
		d, ok = parseDirectives(&tmp, "", v, surrogateControlDirectives)
	}
	if ok {
		safe := len(d) > 0
		for k := range d {
			if k != "no-store" && !(k == "private" && n != "surrogate-control" && n != "edge-control") {
				safe = false
			}
		}
		if safe {
			return ""
		}
	}
	return fmt.Sprintf("%s %q is read by a cache in front (a CDN), which would store the answer for every caller; only no-store is allowed here", canonicalHeader(n), v)
}

// sharedCacheHeaders refuses, on each Gateway of r where r requires
// authentication and its cdn does not say private: false, a response
// header that lets a cache in front share answers: from r's own
// headers.response, or from the response setHeaders of the
// Transformation that applies to r there (xs by name).
func sharedCacheHeaders(o *objErrs, r *Route, gateways map[string]*Gateway, xs map[string]*Transformation) {
	const escape = "; remove it, or say private: false in the Route's cdn to share its answers on purpose"
	seenX := map[string]bool{}
	for _, gn := range r.Spec.Gateways {
		g := gateways[gn]
		if g == nil || r.CDNShared(g) {
			continue
		}
		if h := r.Spec.Headers; h != nil && h.Response != nil {
			for _, set := range []struct {
				name string
				m    map[string]string
			}{{"set", h.Response.Set}, {"add", h.Response.Add}} {
				for _, k := range sortedKeys(set.m) {
					if !IsCDNHeader(k) {
						continue
					}
					if why := SharedCacheProblem(k, set.m[k]); why != "" {
						o.add("spec.headers.response."+set.name+"."+k, "on %s the Route requires authentication and %s%s", g.Meta.Ref(), why, escape)
						return
					}
				}
			}
		}
		xn := r.EffectiveTransformation(g)
		x := xs[xn]
		if x == nil || x.Spec.Response == nil || seenX[xn] {
			continue
		}
		seenX[xn] = true
		for _, k := range sortedKeys(x.Spec.Response.SetHeaders) {
			if !IsCDNHeader(k) {
				continue
			}
			v := x.Spec.Response.SetHeaders[k]
			s, literal := v.Literal.(string)
			why := ""
			switch {
			case !literal:
				why = canonicalHeader(k) + " comes from a header, a claim, the consumer or a non-text literal: its value cannot be checked, and could let a cache in front (a CDN) share one caller's answer with another"
			default:
				why = SharedCacheProblem(k, s)
			}
			if why != "" {
				o.add(transformationField(r), "on %s the Route requires authentication and its Transformation %q (response.setHeaders.%s): %s%s", g.Meta.Ref(), xn, k, why, escape)
				return
			}
		}
	}
}

// canonicalHeader writes a lower-case header name as Word-Word.
func canonicalHeader(n string) string {
	parts := strings.Split(n, "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}

// CDNHeaderNames are the lower-case names IsCDNHeader accepts:
// Cache-Control and Surrogate-Control first (the cdn block's), then the
// rest sorted. The translator makes each no-store on local replies.
func CDNHeaderNames() []string {
	out := []string{cdnHeaderCacheControl, "surrogate-control"}
	for _, k := range sortedKeys(cdnTargetedHeaders) {
		if k != "surrogate-control" {
			out = append(out, k)
		}
	}
	return out
}
