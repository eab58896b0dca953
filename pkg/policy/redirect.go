package policy

import (
	"io/fs"
	"path"
	"strings"
)

// Redirect answers a Route's requests with a redirect instead of
// forwarding them. Path and Prefix are exclusive; unset parts of the URL
// are kept from the request.
type Redirect struct {
	Scheme string `yaml:"scheme"` // "https" or omitted (keep the request's)
	Host   string `yaml:"host"`
	Port   int    `yaml:"port"`
	Path   string `yaml:"path"`   // replaces the whole path
	Prefix string `yaml:"prefix"` // replaces the matched prefix; needs a prefix match
	Code   int    `yaml:"code"`   // 301 (default), 302, 303, 307, 308
}

// DirectResponse answers a Route's requests itself (maintenance pages,
// deprecation notices). Body and BodyFile are exclusive.
type DirectResponse struct {
	Status      int    `yaml:"status"`
	Body        string `yaml:"body"`
	BodyFile    string `yaml:"bodyFile"` // relative to the file naming it, inside the policy directory
	ContentType string `yaml:"contentType"`
	// BodyText is the body, from Body or BodyFile, filled by Load.
	BodyText string `yaml:"-"`
}

// RedirectCodes lists the redirect status codes a Route may answer with.
var RedirectCodes = []int{301, 302, 303, 307, 308}

// MaxDirectResponseBody caps a direct response body. Envoy refuses bodies
// over the RouteConfiguration's max_direct_response_body_size_bytes
// (default 4096); the translator raises that field when a body needs it.
const MaxDirectResponseBody = 64 << 10

// Answers reports whether r answers requests itself (redirect or direct
// response) rather than forwarding them to backends.
func (r *Route) Answers() bool { return r.Spec.Redirect != nil || r.Spec.DirectResponse != nil }

// validateAnswer checks a Route's redirect or direct response, and that a
// Route has exactly one of backends, redirect, directResponse.
func validateAnswer(files *fileReader, o *objErrs, r *Route) {
	sp := &r.Spec
	switch n := countSet(o.has("spec.backends"), sp.Redirect != nil, sp.DirectResponse != nil); {
	case n > 1:
		o.add("spec", "set exactly one of backends, redirect, directResponse (a Route either forwards or answers itself)")
	case n == 0 || o.has("spec.backends"):
		validateBackends(o, sp.Backends)
	}
	if rd := sp.Redirect; rd != nil {
		validateRedirect(o, rd, &sp.Match.Path)
	}
	if dr := sp.DirectResponse; dr != nil {
		validateDirectResponse(files, o, r.File, dr)
	}
	if r.Answers() {
		for _, f := range []string{"timeout", "retries", "rewrite", "streaming", "websocket"} {
			if o.has("spec." + f) {
				o.add("spec."+f, "applies only to a Route with backends; remove it from a redirect or direct response")
			}
		}
	}
}

func validateRedirect(o *objErrs, rd *Redirect, pm *PathMatch) {
	const p = "spec.redirect"
	if !oneOf(rd.Scheme, "", "https") {
		o.add(p+".scheme", "%q is not allowed; only https (omit scheme to keep the request's)", rd.Scheme)
	}
	if rd.Host != "" && !dnsName(rd.Host) {
		o.add(p+".host", "%q is not a valid hostname", rd.Host)
	}
	if o.has(p+".port") && (rd.Port < 1 || rd.Port > 65535) {
		o.add(p+".port", "%d is out of range; a port is 1..65535", rd.Port)
	}
	if o.has(p+".code") && !containsInt(RedirectCodes, rd.Code) {
		o.add(p+".code", "%d is not a redirect code; one of 301, 302, 303, 307, 308", rd.Code)
	}
	if rd.Path != "" && rd.Prefix != "" {
		o.add(p, "set at most one of path, prefix")
	}
	for _, f := range []struct{ name, v string }{{"path", rd.Path}, {"prefix", rd.Prefix}} {
		if o.has(p+"."+f.name) && !strings.HasPrefix(f.v, "/") {
			o.add(p+"."+f.name, "%q must start with /", f.v)
		}
		if strings.ContainsAny(f.v, "\r\n\x00") {
			o.add(p+"."+f.name, "must not contain CR, LF or NUL")
		}
	}
	if rd.Prefix != "" && (pm.Exact != "" || pm.Regex != "") {
		o.add(p+".prefix", "replaces the matched prefix, so the Route must match by prefix; use path with an exact or regex match")
	}
	if rd.Scheme == "" && rd.Host == "" && !o.has(p+".port") && rd.Path == "" && rd.Prefix == "" {
		o.add(p, "set at least one of scheme, host, port, path, prefix (a redirect to the same URL loops)")
	}
}

func validateDirectResponse(files *fileReader, o *objErrs, file string, dr *DirectResponse) {
	const p = "spec.directResponse"
	if dr.Status < 200 || dr.Status > 599 {
		o.add(p+".status", "%d is out of range; 200..599 (required)", dr.Status)
	}
	if strings.ContainsAny(dr.ContentType, "\r\n\x00") {
		o.add(p+".contentType", "must not contain CR, LF or NUL")
	}
	if o.has(p+".contentType") && dr.ContentType == "" {
		o.add(p+".contentType", "must not be empty (omit it for Envoy's default, text/plain for a body)")
	}
	switch {
	case o.has(p+".body") && o.has(p+".bodyFile"):
		o.add(p, "set at most one of body, bodyFile")
	case o.has(p + ".bodyFile"):
		if data, ok := readBodyFile(files, o, p+".bodyFile", file, dr.BodyFile); ok {
			dr.BodyText = string(data)
		}
	default:
		dr.BodyText = dr.Body
	}
	if o.has(p+".contentType") && dr.BodyText == "" && !o.has(p+".bodyFile") {
		// Envoy drops content-type from a local reply without a body.
		o.add(p+".contentType", "needs a body (Envoy sends no content-type with an empty body)")
	}
	if len(dr.BodyText) > MaxDirectResponseBody {
		o.add(p+".body", "is %d bytes; at most %d", len(dr.BodyText), MaxDirectResponseBody)
	}
}

// readBodyFile reads a direct response body, which must lie inside the
// policy directory; its size is checked before it is read whole.
func readBodyFile(files *fileReader, o *objErrs, p, file, name string) ([]byte, bool) {
	full := path.Join(path.Dir(file), name)
	if name != "" && !path.IsAbs(name) && !fs.ValidPath(full) {
		o.add(p, "%q points outside the policy directory; keep body files beside the policies", name)
		return nil, false
	}
	if fs.ValidPath(full) && name != "" {
		if st, err := fs.Stat(files.fsys, full); err == nil && st.Size() > MaxDirectResponseBody {
			o.add(p, "%s is %d bytes; a direct response body is at most %d", full, st.Size(), MaxDirectResponseBody)
			return nil, false
		}
	}
	data, _, ok := files.readRelative(o, p, file, name)
	return data, ok
}

// validateProtectedAnswer rejects a redirect or direct response that
// would be protected on one of its Gateways. Envoy's ext_authz and global
// rate-limit filters skip a route that has no route entry (a redirect or
// direct response), so authorization and those limits would silently not
// apply (Envoy: source/extensions/filters/http/ext_authz/ext_authz.cc and
// source/extensions/filters/http/ratelimit/ratelimit.cc, initiateCall:
// "route->routeEntry() == nullptr" returns without a check; the ratelimit
// filter needs the route entry's rate_limits in every version, ext_authz's
// check has varied across versions). Failing closed here is right for any
// Envoy version and beats answering unchecked.
func validateProtectedAnswer(o *objErrs, r *Route, gateways map[string]*Gateway) {
	if !r.Answers() {
		return
	}
	for _, gn := range r.Spec.Gateways {
		g := gateways[gn]
		if g == nil {
			continue
		}
		if prot := r.Protections(g, nil); len(prot) > 0 {
			o.add("spec", "a redirect or direct response cannot be protected (it would have %s on %s): Envoy skips external authorization and global rate limits on routes that do not forward; set authentication: [] and rateLimit: none and drop authorization, or forward to a Service",
				strings.Join(prot, ", "), g.Meta.Ref())
			return
		}
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// validateHTTPSRedirect: only an HTTP listener can redirect to HTTPS.
func validateHTTPSRedirect(o *objErrs, p string, l *Listener) {
	if l.HTTPSRedirect && l.Protocol == ProtocolHTTPS {
		o.add(p+".httpsRedirect", "only an HTTP listener redirects to HTTPS; remove it from this HTTPS listener")
	}
	if o.has(p+".httpsRedirect") && !l.HTTPSRedirect {
		o.add(p+".httpsRedirect", "only true is allowed; omit httpsRedirect to serve Routes on this listener")
	}
}
