package policy

// ---- Edge and CDN: Cache-Control / Surrogate-Control, compression ----

// CDN sets the headers a cache in front of the Gateway (a CDN, a shared
// proxy) reads on a Route's responses (cdn.go; xds/translate cdn.go). On
// a Route it replaces the Gateway default (spec.defaults.cdn); disabled:
// true turns that default off.
type CDN struct {
	// Disabled, on a Route only, turns the Gateway default off.
	Disabled bool `yaml:"disabled"`
	// CacheControl is a Cache-Control value (RFC 9111 response
	// directives, stale-while-revalidate and stale-if-error of RFC 5861,
	// immutable of RFC 8246), for example "public, max-age=300".
	CacheControl string `yaml:"cacheControl"`
	// SurrogateControl is a Surrogate-Control value (W3C Edge
	// Architecture: max-age, no-store, no-store-remote, and the
	// stale-while-revalidate and stale-if-error CDNs accept there), read
	// and removed by the CDN, never seen by clients.
	SurrogateControl string `yaml:"surrogateControl"`
	// Override replaces the upstream's headers; by default they are set
	// only on responses whose upstream sent none.
	Override bool `yaml:"override"`
	// Private: on a Route that requires authentication, nil or true keeps
	// its responses out of shared caches (gatehouse adds private to the
	// Cache-Control it sets, refuses public, s-maxage and must-revalidate,
	// and sets no Surrogate-Control); false says explicitly that a cache in
	// front may share them between callers.
	Private *bool `yaml:"private"`
}

// Compression compresses responses with Envoy's compressor filter (gzip,
// brotli). On a Gateway (spec.defaults.compression) it turns compression
// on for every Route that does not say otherwise and holds the
// compressor's settings; on a Route it can only turn compression off
// (disabled) or on, and say whether an authenticated Route is compressed.
type Compression struct {
	// Disabled, on a Route only, turns the Gateway default off.
	Disabled bool `yaml:"disabled"`
	// Algorithms, on a Gateway: brotli, gzip; the first is preferred when
	// a client accepts both equally. Default: [brotli, gzip].
	Algorithms []string `yaml:"algorithms"`
	// MinBytes, on a Gateway: a response whose Content-Length is smaller
	// is sent as is. Default 1024.
	MinBytes int `yaml:"minBytes"`
	// ContentTypes, on a Gateway: the media types compressed (parameters
	// such as charset ignored). Default: DefaultCompressedTypes.
	ContentTypes []string `yaml:"contentTypes"`
	// Authenticated compresses the responses of Routes that require
	// authentication too. Default false: a response carrying a secret next
	// to data an attacker can reflect into it leaks the secret through its
	// compressed length over TLS (BREACH); see docs/transformations.md.
	Authenticated *bool `yaml:"authenticated"`
}

// Compression algorithms.
const (
	CompressBrotli = "brotli"
	CompressGzip   = "gzip"
)

// DefaultCompressionMinBytes is Compression.MinBytes when omitted: below
// about a kilobyte the framing and the CPU cost outweigh what is saved.
const DefaultCompressionMinBytes = 1024

// DefaultCompressedTypes are the media types compressed when a Gateway
// lists none: text and the structured formats APIs answer with. Images,
// video, archives and fonts are compressed already.
var DefaultCompressedTypes = []string{
	"application/javascript",
	"application/json",
	"application/problem+json",
	"application/x-ndjson",
	"application/xhtml+xml",
	"application/xml",
	"image/svg+xml",
	"text/css",
	"text/csv",
	"text/html",
	"text/javascript",
	"text/plain",
	"text/xml",
}

// EffectiveCDN is the CDN block that applies to r on g: the Route's own
// (nil when disabled), else g's default, else nil.
func (r *Route) EffectiveCDN(g *Gateway) *CDN {
	if c := r.Spec.CDN; c != nil {
		if c.Disabled {
			return nil
		}
		return c
	}
	if g != nil && g.Spec.Defaults != nil {
		return g.Spec.Defaults.CDN
	}
	return nil
}

// CDNShared reports whether r's responses on g may be stored by a shared
// cache in front: a public Route always, an authenticated one only when
// its CDN block says private: false.
func (r *Route) CDNShared(g *Gateway) bool {
	if len(r.EffectiveAuthentication(g)) == 0 {
		return true
	}
	c := r.EffectiveCDN(g)
	return c != nil && c.Private != nil && !*c.Private
}

// CompressedOn reports whether r's responses are compressed on g: the
// Route's own block or else the Gateway default turns it on, and a Route
// that requires authentication only with authenticated: true (the Route's
// own setting, else the Gateway's).
func (r *Route) CompressedOn(g *Gateway) bool {
	var def *Compression
	if g != nil && g.Spec.Defaults != nil {
		def = g.Spec.Defaults.Compression
	}
	own := r.Spec.Compression
	switch {
	case r.Tunnels():
		return false // a CONNECT tunnel carries bytes, not a response body
	case own != nil && own.Disabled:
		return false
	case own == nil && def == nil:
		return false
	}
	if len(r.EffectiveAuthentication(g)) == 0 {
		return true
	}
	if own != nil && own.Authenticated != nil {
		return *own.Authenticated
	}
	return def != nil && def.Authenticated != nil && *def.Authenticated
}

// GatewayCompression is the compressor's settings on g: its default block
// with the omitted fields filled in (a Route can turn compression on
// where the Gateway has no default: the built-in settings then).
func GatewayCompression(g *Gateway) Compression {
	var c Compression
	if g != nil && g.Spec.Defaults != nil && g.Spec.Defaults.Compression != nil {
		c = *g.Spec.Defaults.Compression
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{CompressBrotli, CompressGzip}
	}
	if c.MinBytes == 0 {
		c.MinBytes = DefaultCompressionMinBytes
	}
	if len(c.ContentTypes) == 0 {
		c.ContentTypes = DefaultCompressedTypes
	}
	return c
}

// TransformationNone as a Route's transformation turns the Gateway
// default off. It is therefore not a valid Transformation name.
const TransformationNone = "none"

// EffectiveTransformation is the Transformation name that applies to r on
// Gateway g, or "" for none: the Route's own, else g's default; none
// turns it off.
func (r *Route) EffectiveTransformation(g *Gateway) string {
	x := r.Spec.Transformation
	if x == "" && g != nil && g.Spec.Defaults != nil {
		x = g.Spec.Defaults.Transformation
	}
	if x == TransformationNone {
		return ""
	}
	return x
}
