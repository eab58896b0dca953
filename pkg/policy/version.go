package policy

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// RouteVersion marks a Route as one version of an API: which requests ask
// for it (exactly one of PathPrefix, Header, MediaType) and, once it is on
// its way out, the Deprecation (RFC 9745) and Sunset (RFC 8594) response
// headers and a Link to its successor (rel="successor-version", RFC 5829).
type RouteVersion struct {
	Name string `yaml:"name"`
	// PathPrefix: paths under it, segment-wise (/v1 and /v1/..., never
	// /v10); the Route's match.path stays unset.
	PathPrefix string `yaml:"pathPrefix"`
	// Header: requests whose header Header equals Name.
	Header string `yaml:"header"`
	// MediaType: requests whose Accept lists it (e.g.
	// application/vnd.example.v1+json), case-insensitively.
	MediaType string `yaml:"mediaType"`
	// Deprecation and Sunset: RFC 3339 times or dates (2026-07-01, midnight
	// UTC). Successor: an absolute http(s) URL or a path.
	Deprecation string `yaml:"deprecation"`
	Sunset      string `yaml:"sunset"`
	Successor   string `yaml:"successor"`

	// Filled by validation.
	DeprecatedAt time.Time `yaml:"-"`
	SunsetAt     time.Time `yaml:"-"`
}

// Response headers a version sets; a Route's own headers.response may not
// set them too.
const (
	HeaderDeprecation = "deprecation"
	HeaderSunset      = "sunset"
	HeaderLink        = "link"
)

var versionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// mediaTypeRE: type/subtype of RFC 6838 restricted names (no parameters).
var mediaTypeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)

// ParseVersionTime reads a deprecation or sunset time: RFC 3339, or a
// date meaning its midnight UTC.
func ParseVersionTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time; use RFC 3339 (2026-07-01T00:00:00Z) or a date (2026-07-01)", s)
}

// validateVersion checks a Route's version and turns its selector into
// match conditions, so that ordering, proxyless routing and explain see
// the same Route as Envoy.
func validateVersion(o *objErrs, r *Route) {
	v := r.Spec.Version
	if v == nil {
		return
	}
	const p = "spec.version"
	if !versionName.MatchString(v.Name) {
		o.add(p+".name", "%q is not a version name; letters, digits, '.', '_', '-' (required, at most 63)", v.Name)
	}
	m := &r.Spec.Match
	switch countSet(v.PathPrefix != "", v.Header != "", v.MediaType != "") {
	case 1:
	default:
		o.add(p, "set exactly one of pathPrefix, header, mediaType: how a request asks for this version")
	}
	switch {
	case v.PathPrefix != "":
		switch {
		case !strings.HasPrefix(v.PathPrefix, "/") || v.PathPrefix == "/" || strings.HasSuffix(v.PathPrefix, "/"):
			o.add(p+".pathPrefix", "%q must start with / and name at least one segment, without a trailing / (e.g. /v1)", v.PathPrefix)
		case strings.ContainsAny(v.PathPrefix, "?#%* \t\r\n"):
			o.add(p+".pathPrefix", "%q must be a plain path", v.PathPrefix)
		case m.Path.Prefix == v.PathPrefix && m.Path.Segments:
			// Validated before (the selector is already a match).
		case m.Path.Prefix != "" || m.Path.Exact != "" || m.Path.Regex != "":
			o.add(p+".pathPrefix", "the Route already matches a path (spec.match.path); set the path in one place")
		default:
			m.Path.Prefix, m.Path.Segments = v.PathPrefix, true
		}
	case v.Header != "":
		if !headerName(v.Header) {
			o.add(p+".header", "%q is not a valid HTTP header name", v.Header)
		} else {
			addHeaderMatch(m, HeaderMatch{Name: strings.ToLower(v.Header), Exact: v.Name})
		}
	case v.MediaType != "":
		if !mediaTypeRE.MatchString(v.MediaType) {
			o.add(p+".mediaType", "%q is not a media type (type/subtype, no parameters)", v.MediaType)
		} else {
			// Accept lists media ranges separated by commas, each with
			// optional parameters: the type must be one of them.
			addHeaderMatch(m, HeaderMatch{Name: "accept", Regex: `(?i)(.*[\s,])?` + regexp.QuoteMeta(v.MediaType) + `(\s*[;,].*)?`})
		}
	}
	if v.Deprecation != "" {
		t, err := ParseVersionTime(v.Deprecation)
		if err != nil {
			o.add(p+".deprecation", "%v", err)
		}
		v.DeprecatedAt = t
	}
	if v.Sunset != "" {
		t, err := ParseVersionTime(v.Sunset)
		if err != nil {
			o.add(p+".sunset", "%v", err)
		}
		v.SunsetAt = t
	}
	if !v.DeprecatedAt.IsZero() && !v.SunsetAt.IsZero() && v.SunsetAt.Before(v.DeprecatedAt) {
		// RFC 9745 section 4: the sunset must not be before the deprecation.
		o.add(p+".sunset", "%s is before the deprecation %s", v.Sunset, v.Deprecation)
	}
	if v.Successor != "" {
		if err := checkSuccessor(v.Successor); err != nil {
			o.add(p+".successor", "%v", err)
		}
	}
	if hc := r.Spec.Headers; hc != nil && hc.Response != nil {
		for _, h := range []string{HeaderDeprecation, HeaderSunset, HeaderLink} {
			for k := range hc.Response.Set {
				if strings.EqualFold(k, h) {
					o.add("spec.headers.response.set."+k, "set by spec.version; remove it here")
				}
			}
			for k := range hc.Response.Add {
				if strings.EqualFold(k, h) {
					o.add("spec.headers.response.add."+k, "set by spec.version; remove it here")
				}
			}
		}
	}
}

// checkSuccessor: the Link target goes between < and > in a header, so
// it must be a URI reference without spaces, quotes or angle brackets.
func checkSuccessor(s string) error {
	if strings.ContainsAny(s, "<>\" \t\r\n\\") {
		return fmt.Errorf("%q must be a URL without spaces, quotes or angle brackets", s)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: %v", s, err)
	case u.IsAbs() && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
	case !u.IsAbs() && u.Host == "" && strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//"):
	default:
		return fmt.Errorf("%q must be an absolute http(s) URL or a path starting with /", s)
	}
	return nil
}

// Deprecated reports whether r is a version deprecated at now.
func (r *Route) Deprecated(now time.Time) bool {
	v := r.Spec.Version
	return v != nil && !v.DeprecatedAt.IsZero() && !now.Before(v.DeprecatedAt)
}

// addHeaderMatch adds h to m unless it is there already (a Route validated
// twice keeps one copy).
func addHeaderMatch(m *RouteMatch, h HeaderMatch) {
	for _, x := range m.Headers {
		if x.Name == h.Name && x.Exact == h.Exact && x.Regex == h.Regex && x.Prefix == h.Prefix && x.Present == h.Present {
			return
		}
	}
	m.Headers = append(m.Headers, h)
}
