package policy

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// CORS is the cross-origin policy of a Route, or a Gateway's default for
// Routes without one. Envoy's CORS filter answers preflights (OPTIONS with
// Origin and Access-Control-Request-Method) itself, before authentication
// and rate limits, and adds the Access-Control-* headers to the responses
// of actual requests, which still need their credentials.
type CORS struct {
	// Disabled, on a Route only, turns the Gateway default off.
	Disabled bool `yaml:"disabled"`
	// Origins allowed: each exactly one of exact ("https://app.example.com",
	// or "*" for any origin) or regex (RE2, matching the whole origin).
	Origins       []CORSOrigin `yaml:"origins"`
	Methods       []string     `yaml:"methods"`       // Access-Control-Allow-Methods
	Headers       []string     `yaml:"headers"`       // Access-Control-Allow-Headers
	ExposeHeaders []string     `yaml:"exposeHeaders"` // Access-Control-Expose-Headers
	// Credentials lets browsers send cookies and Authorization to the
	// allowed origins (Access-Control-Allow-Credentials: true).
	Credentials bool `yaml:"credentials"`
	// MaxAge is how long browsers may cache a preflight answer (whole
	// seconds; omitted: the browser's default).
	MaxAge Duration `yaml:"maxAge"`
}

// CORSOrigin has exactly one of Exact or Regex.
type CORSOrigin struct {
	Exact string `yaml:"exact"`
	Regex string `yaml:"regex"`
}

// maxCORSMaxAge: browsers cap a preflight cache at 24h (Firefox) or less.
const maxCORSMaxAge = 24 * time.Hour

// EffectiveCORS is the CORS policy that applies to r on Gateway g: the
// Route's own (nil when it says disabled), else g's default, else nil.
func (r *Route) EffectiveCORS(g *Gateway) *CORS {
	if c := r.Spec.CORS; c != nil {
		if c.Disabled {
			return nil
		}
		return c
	}
	if g != nil && g.Spec.Defaults != nil {
		return g.Spec.Defaults.CORS
	}
	return nil
}

// validateCORS checks a CORS block at path p; onRoute allows disabled.
func validateCORS(o *objErrs, p string, c *CORS, onRoute bool) {
	if c == nil {
		if o.has(p) {
			o.add(p, "must not be empty: list origins (or omit cors)")
		}
		return
	}
	if o.has(p + ".disabled") {
		switch {
		case !onRoute:
			o.add(p+".disabled", "only a Route's cors can be disabled (it turns the Gateway default off); omit cors here for none")
		case !c.Disabled:
			o.add(p+".disabled", "only true is allowed; omit disabled to use the origins listed")
		case len(c.Origins)+len(c.Methods)+len(c.Headers)+len(c.ExposeHeaders) > 0 || c.Credentials || o.has(p+".maxAge"):
			o.add(p, "disabled: true takes no other field")
		}
		return
	}
	if len(c.Origins) == 0 {
		o.add(p+".origins", "required: list at least one origin, e.g. {exact: https://app.example.com}")
	}
	seen := map[CORSOrigin]bool{}
	for i, og := range c.Origins {
		validateCORSOrigin(o, fmt.Sprintf("%s.origins[%d]", p, i), og, c.Credentials)
		if seen[og] {
			o.add(fmt.Sprintf("%s.origins[%d]", p, i), "duplicate origin")
		}
		seen[og] = true
	}
	seenM := map[string]bool{}
	for i, m := range c.Methods {
		mp := fmt.Sprintf("%s.methods[%d]", p, i)
		switch {
		case !oneOf(m, HTTPMethods...):
			o.add(mp, "%q is not an HTTP method; one of %s", m, strings.Join(HTTPMethods, ", "))
		case seenM[m]:
			o.add(mp, "duplicate method %q", m)
		}
		seenM[m] = true
	}
	corsHeaderList(o, p+".headers", c.Headers)
	corsHeaderList(o, p+".exposeHeaders", c.ExposeHeaders)
	if o.has(p + ".maxAge") {
		switch d := c.MaxAge.D(); {
		case d <= 0 || d > maxCORSMaxAge:
			o.add(p+".maxAge", "%s is out of range; 1s..%s (omit it for the browser's default)", d, maxCORSMaxAge)
		case d%time.Second != 0:
			o.add(p+".maxAge", "%s is not a whole number of seconds (Access-Control-Max-Age counts seconds)", d)
		}
	}
}

func validateCORSOrigin(o *objErrs, p string, og CORSOrigin, credentials bool) {
	if countSet(og.Exact != "", og.Regex != "") != 1 {
		o.add(p, "set exactly one of exact, regex")
		return
	}
	// Envoy allows any origin when a matcher matches the string "*"
	// (Envoy: source/extensions/filters/http/cors/cors_filter.cc,
	// isOriginAllowed), and then reflects the caller's Origin. With
	// credentials that lets every web site read credentialed responses
	// (and browsers refuse a literal * with credentials), so it is refused.
	const anyOriginCreds = "allows any origin, which credentials: true must not (any web site could read responses sent with the user's cookies); list the origins"
	if og.Exact != "" {
		switch {
		case og.Exact == "*":
			if credentials {
				o.add(p+".exact", "%q %s", og.Exact, anyOriginCreds)
			}
		case !validOrigin(og.Exact):
			o.add(p+".exact", "%q is not an origin; write scheme://host[:port] in lower case, no path (e.g. https://app.example.com), or * for any", og.Exact)
		}
		return
	}
	checkRegex(o, p+".regex", og.Regex)
	if re, err := regexp.Compile(`^(?:` + og.Regex + `)$`); err == nil && credentials && re.MatchString("*") {
		o.add(p+".regex", "%q matches \"*\", so it %s", og.Regex, anyOriginCreds)
	}
}

// validOrigin reports whether s is a serialized origin as browsers send
// it: http or https, a lower-case host, an optional port, nothing else.
func validOrigin(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Host == "" {
		return false
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return false
	}
	return s == strings.ToLower(s) && u.Scheme+"://"+u.Host == s
}

func corsHeaderList(o *objErrs, p string, hs []string) {
	seen := map[string]bool{}
	for i, h := range hs {
		hp := fmt.Sprintf("%s[%d]", p, i)
		checkHeaderName(o, hp, h)
		if seen[strings.ToLower(h)] {
			o.add(hp, "duplicate header %q", h)
		}
		seen[strings.ToLower(h)] = true
	}
}
