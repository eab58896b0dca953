package policy

import (
	"fmt"
	"slices"
	"strings"
)

// RetryOn lists the values Retries.On accepts: Envoy's retry_on conditions
// and the gRPC status codes proxyless clients retry on.
var RetryOn = []string{
	"5xx", "gateway-error", "reset", "connect-failure", "retriable-4xx", "refused-stream",
	"cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
}

// HTTPMethods lists the methods a Route may match.
var HTTPMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

const (
	maxBackendWeight = 1000
	maxRetryAttempts = 10
)

// validateRoute checks everything a Route can get wrong on its own;
// references to other objects are resolved later (resolveRoute).
func validateRoute(files *fileReader, o *objErrs, r *Route) {
	sp := &r.Spec
	if len(sp.Gateways) == 0 {
		o.add("spec.gateways", "required: list at least one Gateway")
	}
	seenGW := map[string]bool{}
	for i, g := range sp.Gateways {
		p := fmt.Sprintf("spec.gateways[%d]", i)
		if seenGW[g] {
			o.add(p, "duplicate Gateway %q", g)
		}
		seenGW[g] = true
	}
	seenHost := map[string]bool{}
	for i, h := range sp.Hosts {
		p := fmt.Sprintf("spec.hosts[%d]", i)
		switch {
		case h != "*" && !dnsName(h) && !wildcardName(h):
			o.add(p, "%q is not a valid host; use %s, or * for any host", h, hostRule)
		case seenHost[h]:
			o.add(p, "duplicate host %q", h)
		}
		seenHost[h] = true
	}
	validateVersion(o, r)
	validateMatch(o, &sp.Match)
	validateAnswer(files, o, r)
	validateTraffic(o, r)
	if rt := sp.Retries; rt != nil {
		if rt.Attempts < 1 || rt.Attempts > maxRetryAttempts {
			o.add("spec.retries.attempts", "%d is out of range; 1..%d", rt.Attempts, maxRetryAttempts)
		}
		seen := map[string]bool{}
		for i, on := range rt.On {
			p := fmt.Sprintf("spec.retries.on[%d]", i)
			switch {
			case !oneOf(on, RetryOn...):
				o.add(p, "%q is not a retry condition; one of %s", on, strings.Join(RetryOn, ", "))
			case seen[on]:
				o.add(p, "duplicate retry condition %q", on)
			}
			seen[on] = true
		}
	}
	validateTimeouts(o, r)
	if rw := sp.Rewrite; rw != nil {
		if rw.Prefix != "" && rw.Regex != nil {
			o.add("spec.rewrite", "set at most one of prefix, regex")
		}
		if rw.Prefix == "" && rw.Regex == nil && rw.Host == "" {
			o.add("spec.rewrite", "set at least one of prefix, regex, host (or remove rewrite)")
		}
		if o.has("spec.rewrite.prefix") && !strings.HasPrefix(rw.Prefix, "/") {
			o.add("spec.rewrite.prefix", "%q must start with /", rw.Prefix)
		}
		if rw.Regex != nil {
			checkRegex(o, "spec.rewrite.regex.pattern", rw.Regex.Pattern)
		}
		if rw.Host != "" && !dnsName(rw.Host) {
			o.add("spec.rewrite.host", "%q is not a valid hostname", rw.Host)
		}
	}
	if h := sp.Headers; h != nil {
		validateHeaderChanges(o, "spec.headers.request", h.Request)
		validateHeaderChanges(o, "spec.headers.response", h.Response)
	}
	if sp.Authentication != nil {
		checkNameList(o, "spec.authentication", KindAuthentication, *sp.Authentication)
	}
	if sp.Require != nil {
		validateRequire(o, sp.Require)
	}
	if o.has("spec.authorization") && sp.Authorization == "" {
		o.add("spec.authorization", "must name an Authorization (omit it for none)")
	}
	if o.has("spec.rateLimit") && sp.RateLimit == "" {
		o.add("spec.rateLimit", "must name a RateLimit, or be none to turn the Gateway default off")
	}
	if o.has("spec.firewall") && sp.Firewall == "" {
		o.add("spec.firewall", "must name a Firewall, or be none to turn the Gateway default off")
	}
	transformationName(o, r)
	validateCache(o, "spec.cache", sp.Cache, true)
	validateCDN(o, "spec.cdn", sp.CDN, true)
	validateCompression(o, "spec.compression", sp.Compression, true)
	validateProxyless(o, "spec.proxyless")
	validateCORS(o, "spec.cors", sp.CORS, true)
	validateRouteUpgrades(o, r)
	validateValidation(files, o, "spec.validation", r.File, sp.Validation, true)
	validateTranscoding(files, o, "spec.transcoding", r.File, sp.Transcoding)
	validateTranscodingRoute(o, r)
	if sp.Validation != nil && !sp.Validation.Off() && sp.Rewrite != nil && (sp.Rewrite.Prefix != "" || sp.Rewrite.Regex != nil) {
		// The validator sees the client's path (it runs before the router
		// rewrites it), so the document would describe other paths.
		o.add("spec.validation", "cannot be combined with a path rewrite: requests are validated with the path the client sent, before the rewrite; describe the client-facing paths in the document (servers: url) instead")
	}
}

// checkNameList checks a list of references to objects of kind: names, each
// once. Whether they exist is checked later (resolve).
func checkNameList(o *objErrs, p, kind string, names []string) {
	seen := map[string]bool{}
	for i, n := range names {
		ip := fmt.Sprintf("%s[%d]", p, i)
		switch {
		case n == "":
			o.add(ip, "must name a %s", kind)
		case seen[n]:
			o.add(ip, "duplicate %s %q", kind, n)
		}
		seen[n] = true
	}
}

func validateMatch(o *objErrs, m *RouteMatch) {
	pm := &m.Path
	switch countSet(pm.Prefix != "", pm.Exact != "", pm.Regex != "") {
	case 0:
		if o.has("spec.match.path") && (o.has("spec.match.path.prefix") || o.has("spec.match.path.exact") || o.has("spec.match.path.regex")) {
			o.add("spec.match.path", "the path must not be empty; omit path to match every path")
		}
	case 1:
	default:
		o.add("spec.match.path", "set exactly one of prefix, exact, regex")
	}
	if pm.Prefix != "" && !strings.HasPrefix(pm.Prefix, "/") {
		o.add("spec.match.path.prefix", "%q must start with /", pm.Prefix)
	}
	if o.has("spec.match.path.segments") {
		validateSegments(o, pm)
	}
	switch {
	case o.has("spec.match.path.caseInsensitive") && !pm.CaseInsensitive:
		o.add("spec.match.path.caseInsensitive", "only true is allowed; omit caseInsensitive for a case-sensitive match")
	case pm.CaseInsensitive && pm.Regex != "":
		// Envoy's case_sensitive does not apply to safe_regex.
		o.add("spec.match.path.caseInsensitive", "does not apply to a regex; start the regex with (?i) instead")
	}
	if pm.Exact != "" && !strings.HasPrefix(pm.Exact, "/") {
		o.add("spec.match.path.exact", "%q must start with /", pm.Exact)
	}
	if pm.Regex != "" {
		checkRegex(o, "spec.match.path.regex", pm.Regex)
	}
	seen := map[string]bool{}
	for i, meth := range m.Methods {
		p := fmt.Sprintf("spec.match.methods[%d]", i)
		switch {
		case !oneOf(meth, HTTPMethods...):
			o.add(p, "%q is not an HTTP method; one of %s", meth, strings.Join(HTTPMethods, ", "))
		case seen[meth]:
			o.add(p, "duplicate method %q", meth)
		}
		seen[meth] = true
	}
	for i := range m.Headers {
		p := fmt.Sprintf("spec.match.headers[%d]", i)
		h := &m.Headers[i]
		if h.Name == "" {
			o.add(p+".name", "required")
		} else if !headerName(h.Name) {
			o.add(p+".name", "%q is not a valid HTTP header name", h.Name)
		}
		validateValueMatch(o, p, h)
	}
	for i := range m.Query {
		p := fmt.Sprintf("spec.match.query[%d]", i)
		q := &m.Query[i]
		if q.Name == "" {
			o.add(p+".name", "required")
		}
		validateValueMatch(o, p, q)
	}
}

// validateSegments checks a segment-wise prefix. Envoy's
// path_separated_prefix must not end with / and cannot hold ? or #
// (its API's pattern ^[^?#]+[^?#/]$); "/" alone matches every path either
// way and is sent as a plain prefix.
func validateSegments(o *objErrs, pm *PathMatch) {
	const p = "spec.match.path.segments"
	switch {
	case !pm.Segments:
		o.add(p, "only true is allowed; omit segments for a plain string prefix")
	case pm.Prefix == "" && (pm.Exact != "" || pm.Regex != ""):
		o.add(p, "only applies to prefix; exact and regex already say where the path ends")
	case pm.Prefix == "":
		o.add(p, "needs a prefix, e.g. {prefix: /api, segments: true}")
	case strings.ContainsAny(pm.Prefix, "?#"):
		o.add("spec.match.path.prefix", "%q must not contain ? or # with segments: true (the query is never part of the matched path)", pm.Prefix)
	case pm.Prefix != "/" && strings.HasSuffix(pm.Prefix, "/"):
		t := strings.TrimRight(pm.Prefix, "/")
		if t == "" {
			t = "/"
		}
		o.add("spec.match.path.prefix", "%q must not end with / with segments: true; write %s, which matches %s, %s/ and %s/...", pm.Prefix, t, t, t, t)
	}
}

func validateValueMatch(o *objErrs, p string, h *HeaderMatch) {
	if o.has(p+".present") && !h.Present {
		o.add(p+".present", "only true is allowed; omit present to use exact, prefix or regex")
		return
	}
	if countSet(h.Exact != "", h.Prefix != "", h.Regex != "", h.Present) != 1 {
		o.add(p, "set exactly one of exact, prefix, regex, present: true")
	}
	if h.Regex != "" {
		checkRegex(o, p+".regex", h.Regex)
	}
}

func validateBackends(o *objErrs, bs []Backend) {
	if len(bs) == 0 {
		o.add("spec.backends", "required: list at least one backend")
		return
	}
	sum := 0
	seen := map[string]string{}
	for i, b := range bs {
		p := fmt.Sprintf("spec.backends[%d]", i)
		if b.Service == "" {
			o.add(p+".service", "required: the name of a Service")
		} else if first, dup := seen[b.Service]; dup {
			o.add(p+".service", "Service %q is already a backend (%s); list each Service once", b.Service, first)
		} else {
			seen[b.Service] = p
		}
		if w := b.W(); w < 0 || w > maxBackendWeight {
			o.add(p+".weight", "%d is out of range; 0..%d", w, maxBackendWeight)
		} else {
			sum += w
		}
	}
	if sum == 0 {
		o.add("spec.backends", "the weights add up to 0; at least one backend needs a positive weight")
	}
}

func validateHeaderChanges(o *objErrs, p string, hc *HeaderChanges) {
	if hc == nil {
		return
	}
	for _, set := range []struct {
		name string
		m    map[string]string
	}{{"set", hc.Set}, {"add", hc.Add}} {
		for k, v := range set.m {
			kp := p + "." + set.name + "." + k
			checkHeaderName(o, kp, k)
			if strings.ContainsAny(v, "\r\n\x00") {
				o.add(kp, "header values must not contain CR, LF or NUL")
			}
		}
	}
	for i, k := range hc.Remove {
		checkHeaderName(o, fmt.Sprintf("%s.remove[%d]", p, i), k)
	}
}

// IsStreaming reports whether r's calls may be long-lived streams, which a
// whole-request timeout would cut: the Route says streaming or websocket,
// is a CONNECT tunnel,
// or every backend is a GRPC Service (gRPC streams look like any other
// call until they run long). The translator gives such Routes no request
// timeout and honours the client's grpc-timeout instead.
func (r *Route) IsStreaming(services map[string]*Service) bool {
	if r.Spec.Streaming || (r.Spec.WebSocket != nil && *r.Spec.WebSocket) || r.Tunnels() {
		return true
	}
	return r.allGRPC(services)
}

// allGRPC: every backend is a GRPC Service (none: false).
func (r *Route) allGRPC(services map[string]*Service) bool {
	if len(r.Spec.Backends) == 0 {
		return false
	}
	for _, b := range r.Spec.Backends {
		if s := services[b.Service]; s == nil || s.Spec.Protocol != ServiceGRPC {
			return false
		}
	}
	return true
}

// WebSocketAllowed reports whether r accepts the WebSocket upgrade: as its
// websocket field says, else on for a Route that can serve HTTP/1.1, that
// is one with a backend that is not a GRPC Service (gRPC runs on HTTP/2
// and never upgrades).
func (r *Route) WebSocketAllowed(services map[string]*Service) bool {
	return slices.ContainsFunc(r.Upgrades(services), func(u string) bool { return strings.EqualFold(u, UpgradeWebSocket) })
}
