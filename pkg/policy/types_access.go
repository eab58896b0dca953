package policy

import (
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// ---- Authentication ----

// Authentication is a way a caller proves who it is. A Route lists several;
// any one of them suffices.
type Authentication struct {
	Meta `yaml:",inline"`
	Spec AuthenticationSpec `yaml:"spec"`
}

// AuthenticationSpec has exactly one of JWT, APIKey or OAuth2Introspection.
type AuthenticationSpec struct {
	JWT                 *JWTAuth           `yaml:"jwt"`
	APIKey              *APIKeyAuth        `yaml:"apiKey"`
	OAuth2Introspection *IntrospectionAuth `yaml:"oauth2Introspection"`
	// ClientCertificate: a client certificate the listener verified
	// (listeners[].tls.clientCertificates) identifies the Consumer whose
	// certificates entry matches it.
	ClientCertificate *ClientCertAuth `yaml:"clientCertificate"`
	// OAuth2Login signs browsers in (authorization-code flow with PKCE)
	// through Envoy's OAuth2 filter (oauth2login.go).
	OAuth2Login *OAuth2LoginAuth `yaml:"oauth2Login"`
}

// ClientCertAuth has no settings: trust is the listener's.
type ClientCertAuth struct{}

// IntrospectionAuth checks opaque OAuth2 access tokens (Authorization:
// Bearer) with the authorization server's RFC 7662 introspection endpoint,
// from gatehouse's ext_authz service (pkg/introspect). An active token's
// (Issuer, sub) is looked up among the Consumers' jwtSubjects, as for a JWT.
type IntrospectionAuth struct {
	Endpoint string `yaml:"endpoint"` // https URL; http only with AllowInsecureHTTP
	// AllowInsecureHTTP is the explicit opt-in for a plain-http endpoint
	// (tokens and the client secret would cross the network in clear).
	AllowInsecureHTTP bool `yaml:"allowInsecureHTTP"`
	// Issuer names the authorization server: it maps (Issuer, sub) to a
	// Consumer, and an answer whose "iss" differs is refused.
	Issuer   string `yaml:"issuer"`
	ClientID string `yaml:"clientId"` // gatehouse's own credentials at the endpoint
	// ClientSecretFile holds the client secret (relative to the file
	// naming it). The secret is never inline: ClientSecret exists only to
	// reject it with a clear message.
	ClientSecretFile string   `yaml:"clientSecretFile"`
	ClientSecret     string   `yaml:"clientSecret"`
	CacheTTL         Duration `yaml:"cacheTTL"`         // active tokens, bounded by their exp; 0: 60s
	NegativeCacheTTL Duration `yaml:"negativeCacheTTL"` // inactive tokens; 0: 10s
	Timeout          Duration `yaml:"timeout"`          // one introspection call; 0: 1s
	// CAFile (relative to the file naming it) holds the PEM CA
	// certificates the endpoint's certificate must chain to, instead of
	// the system roots: for an identity provider with a private CA.
	CAFile string `yaml:"caFile"`
	CAPEM  []byte `yaml:"-" json:"-"` // filled by Load

	// Filled by Load: the secret file's path relative to the policy
	// directory, and the secret (trailing newline removed), which prints
	// and marshals as "[redacted]" so that no API output or log shows it.
	ClientSecretPath  string `yaml:"-" json:"-"`
	ClientSecretValue Secret `yaml:"-" json:"-"`
}

// Secret is a credential read from a file. Only Reveal gives its value.
type Secret struct{ v string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{v} }

// Reveal returns the secret itself, for the one caller that sends it.
func (s Secret) Reveal() string { return s.v }

func (Secret) String() string               { return "[redacted]" }
func (Secret) GoString() string             { return "[redacted]" }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }
func (Secret) MarshalYAML() (any, error)    { return "[redacted]", nil }
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Introspection defaults (IntrospectionAuth).
const (
	DefaultIntrospectionCacheTTL    = 60 * time.Second
	DefaultIntrospectionNegativeTTL = 10 * time.Second
	DefaultIntrospectionTimeout     = time.Second
)

// JWTAuth is one jwt_authn provider; its name is the Authentication's name.
type JWTAuth struct {
	Issuer    string   `yaml:"issuer"`    // required
	Audiences []string `yaml:"audiences"` // required, at least one
	// JWKS is where the signing keys are. Omitted: OpenID Connect
	// discovery (Discovery) finds them from the issuer.
	JWKS JWKS `yaml:"jwks"`
	// Discovery tunes OpenID Connect discovery; it applies only when jwks
	// is omitted (UseDiscovery).
	Discovery       OIDCDiscovery   `yaml:"discovery"`
	ClaimsToHeaders []ClaimToHeader `yaml:"claimsToHeaders"`
	// ForwardToken false (the default) removes the Authorization header
	// before the upstream, after ext_authz has seen it. A token sent as
	// the access_token query parameter is not removed.
	ForwardToken bool `yaml:"forwardToken"`
	// UseDiscovery is set by Load when jwks is omitted: gatehouse reads
	// <issuer>/.well-known/openid-configuration for the JWKS URI.
	UseDiscovery bool `yaml:"-"`
}

// Defaults of OpenID Connect discovery.
const (
	DefaultDiscoveryRefresh = 5 * time.Minute
)

// OIDCDiscovery tunes how gatehouse finds an issuer's JWKS URI from its
// OpenID Connect discovery document, and how Envoy caches the keys.
type OIDCDiscovery struct {
	// AllowInsecureHTTP is the explicit opt-in for a plain-http issuer
	// (and JWKS URI): a document or keys fetched without TLS can be
	// replaced by anyone on the path.
	AllowInsecureHTTP bool `yaml:"allowInsecureHTTP"`
	// RefreshInterval is how often gatehouse re-reads the discovery
	// document (0: DefaultDiscoveryRefresh).
	RefreshInterval Duration `yaml:"refreshInterval"`
	// CacheDuration is how long Envoy keeps the keys before fetching the
	// JWKS again (0: DefaultJWKSCacheDuration); a rotated-in key is
	// accepted at the latest this long after the issuer publishes it.
	CacheDuration Duration `yaml:"cacheDuration"`
}

// Refresh returns the discovery refresh interval, defaulted.
func (d *OIDCDiscovery) Refresh() time.Duration {
	if d.RefreshInterval <= 0 {
		return DefaultDiscoveryRefresh
	}
	return d.RefreshInterval.D()
}

// Cache returns the JWKS cache duration, defaulted.
func (d *OIDCDiscovery) Cache() time.Duration {
	if d.CacheDuration <= 0 {
		return DefaultJWKSCacheDuration
	}
	return d.CacheDuration.D()
}

// DefaultJWKSCacheDuration is how long a remote JWKS is cached when
// cacheDuration is omitted.
const DefaultJWKSCacheDuration = 5 * time.Minute

// JWKS has exactly one of URI, File or Inline.
type JWKS struct {
	URI string `yaml:"uri"` // https://...; http:// only with AllowInsecureHTTP
	// AllowInsecureHTTP is the explicit opt-in for a plain-http URI (keys
	// fetched without TLS can be replaced by anyone on the path).
	AllowInsecureHTTP bool     `yaml:"allowInsecureHTTP"`
	File              string   `yaml:"file"`          // path relative to the file naming it
	Inline            string   `yaml:"inline"`        // the JWKS JSON itself
	CacheDuration     Duration `yaml:"cacheDuration"` // uri only; 0: DefaultJWKSCacheDuration
	// JWKSJSON is filled by Load for File and Inline: the JWKS document
	// (checked to be a JSON object with a non-empty "keys" array of keys
	// that each have a "kty"). Nil for URI.
	JWKSJSON []byte `yaml:"-"`
}

// Cache returns the remote JWKS cache duration, defaulted.
func (j *JWKS) Cache() time.Duration {
	if j.CacheDuration <= 0 {
		return DefaultJWKSCacheDuration
	}
	return j.CacheDuration.D()
}

// ClaimToHeader copies a verified token's claim into a request header for
// the upstream. A client-sent value of Header is always removed first.
type ClaimToHeader struct {
	Claim  string `yaml:"claim"`
	Header string `yaml:"header"`
}

// APIKeyAuth has exactly one of Header or Query: where the key is sent.
// Keys belong to Consumers (ConsumerAPIKey).
type APIKeyAuth struct {
	Header string `yaml:"header"`
	Query  string `yaml:"query"`
}

// ---- Consumer ----

// Consumer is a caller of the API: identified by an API key or by a
// verified JWT's (issuer, sub). An API key hash and an (issuer, sub) pair
// identify at most one Consumer in a Snapshot.
type Consumer struct {
	Meta `yaml:",inline"`
	Spec ConsumerSpec `yaml:"spec"`
}

type ConsumerSpec struct {
	APIKeys     []ConsumerAPIKey `yaml:"apiKeys"`
	JWTSubjects []JWTSubject     `yaml:"jwtSubjects"`
	// Certificates identify the Consumer by a verified client certificate.
	Certificates []ConsumerCertificate `yaml:"certificates"`
	Groups       []string              `yaml:"groups"` // group names (object-name syntax)
	Plan         string                `yaml:"plan"`   // Plan name; "": none
}

// ConsumerAPIKey is one key of a Consumer: only its SHA-256 is stored.
type ConsumerAPIKey struct {
	ID     string `yaml:"id"`     // unique within the Consumer; names the key in logs
	SHA256 string `yaml:"sha256"` // 64 lowercase hex digits: hex(sha256(key))
}

// JWTSubject: a verified JWT from Issuer whose "sub" claim is Sub is the
// Consumer.
type JWTSubject struct {
	Issuer string `yaml:"issuer"`
	Sub    string `yaml:"sub"`
}

// ---- Authorization ----

// Authorization decides whether a caller may make a request.
type Authorization struct {
	Meta `yaml:",inline"`
	Spec AuthorizationSpec `yaml:"spec"`
}

// DefaultRegoQuery is opa-envoy-plugin's default decision.
const DefaultRegoQuery = "data.envoy.authz.allow"

// AuthorizationSpec has exactly one of Rego, Inline or Allow.
type AuthorizationSpec struct {
	Rego     string      `yaml:"rego"`     // path to a .rego file, relative to the file naming it
	Inline   string      `yaml:"inline"`   // Rego source
	Allow    *AllowRules `yaml:"allow"`    // simple rules, all of which must hold
	Query    string      `yaml:"query"`    // Rego only; "": DefaultRegoQuery
	FailOpen bool        `yaml:"failOpen"` // allow on an evaluation error or timeout only; never skips authentication

	// Filled by Load for Rego and Inline (not YAML fields). The module has
	// been parsed and compiled with RegoVersion: RegoV1, or RegoV0 for a
	// module that parses only with the pre-1.0 syntax (policies written for
	// older opa-envoy-plugin releases keep working unchanged).
	RegoSource  string          `yaml:"-"`
	RegoFile    string          `yaml:"-"` // for messages: the path relative to the policy directory, or "File.yaml:Authorization/name" for inline
	RegoVersion ast.RegoVersion `yaml:"-"`
}

// RegoQuery returns the decision query, defaulted.
func (a *AuthorizationSpec) RegoQuery() string {
	if a.Query == "" {
		return DefaultRegoQuery
	}
	return a.Query
}

// AllowRules: every listed condition must hold; at least one is listed.
type AllowRules struct {
	SourceCIDRs []string `yaml:"sourceCIDRs"` // enforced by Envoy's RBAC filter; canonical CIDRs (netip.ParsePrefix, host bits zero)
	Groups      []string `yaml:"groups"`      // the consumer must be in one of them; checked by the authz service
}
