// Package authz is gatehouse's ext_authz service
// (envoy.service.auth.v3.Authorization/Check). It identifies the caller from
// a verified JWT payload (put in metadata by Envoy's jwt_authn filter) or an
// API key checked by hash, resolves the Consumer, and evaluates the route's
// Authorization: consumer groups, or Rego with an input compatible with
// opa-envoy-plugin's. It never reads policy files: the controller feeds it a
// Config built from the policy model, and Envoy tells it per request (context
// extensions, see pkg/wire) which route matched and which policies apply.
package authz

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse/pkg/introspect"
)

// Config is everything the service decides with. It is replaced as a whole
// by Service.Update; the service keeps no reference to the caller's maps
// after Update returns.
type Config struct {
	// APIKeyAuth holds the apiKey Authentications by name.
	APIKeyAuth map[string]APIKeyAuth
	// JWTAuth holds the jwt Authentications by name. The name is also the
	// jwt_authn provider name and the key of its verified payload in
	// metadata_context (namespace wire.JWTMetadataNamespace).
	JWTAuth map[string]JWTAuth
	// IntrospectAuth holds the oauth2Introspection Authentications by name:
	// bearer tokens checked with an RFC 7662 endpoint (pkg/introspect).
	IntrospectAuth map[string]IntrospectAuth
	// CertAuth names the clientCertificate Authentications: a client
	// certificate Envoy verified (sent as source.certificate, with
	// include_peer_certificate) identifies the Consumer.
	CertAuth map[string]bool
	// Consumers by name.
	Consumers map[string]Consumer
	// Policies holds the Authorizations by name.
	Policies map[string]Policy
	// MaxBodyBytes caps the request body parsed into input.parsed_body;
	// a longer body is denied with 413 when the policy reads the body
	// (parsed_body null and truncated_body true for one that does not).
	// Zero means DefaultMaxBodyBytes; negative disables body parsing.
	MaxBodyBytes int
}

// DefaultMaxBodyBytes is the body size parsed for Rego when Config leaves it 0.
const DefaultMaxBodyBytes = 64 << 10

// APIKeyAuth says where a request carries its key: exactly one of Header
// (case-insensitive) or Query (a query parameter name).
type APIKeyAuth struct {
	Header string
	Query  string
}

// JWTAuth is a JWT Authentication as the service needs it: Envoy verified
// the token already, so only the issuer is needed to map the payload's
// (iss, sub) to a Consumer.
type JWTAuth struct {
	Issuer string
	// Realm is used in the WWW-Authenticate challenge; empty means the gateway name.
	Realm string
}

// IntrospectAuth is an oauth2Introspection Authentication: an active
// token's (Issuer, sub) is looked up among the Consumers' JWTSubjects, as
// for a JWT. Its Introspector (cache and circuit breaker) is kept across
// Updates as long as Introspect and Issuer do not change.
type IntrospectAuth struct {
	Issuer string
	// Realm is used in the WWW-Authenticate challenge; empty means the gateway name.
	Realm      string
	Introspect introspect.Config
}

// Consumer is a known caller.
type Consumer struct {
	APIKeys     []APIKey
	JWTSubjects []JWTSubject
	// Certificates are client certificate identities ("uri:...",
	// "dns:..." lower-case, "subject:..." as Go's pkix.Name.String
	// prints it): policy.ConsumerCertificate.Key.
	Certificates []string
	Groups       []string
	Plan         string
}

// APIKey is one key of a Consumer: only its SHA-256 is ever held.
type APIKey struct {
	ID     string
	SHA256 [32]byte
}

// JWTSubject maps a verified token's issuer and subject to a Consumer.
type JWTSubject struct {
	Issuer  string
	Subject string
}

// Policy is one Authorization: either Allow (simple conditions checked
// here) or Rego (modules + query).
type Policy struct {
	// Allow, when non-nil, makes this a simple rule; Modules must be empty.
	Allow *Allow
	// Modules maps a file name (used in error messages) to Rego source.
	// The shipped library (package gatehouse.lib) is always loaded too.
	Modules map[string]string
	// Query defaults to DefaultQuery.
	Query string
	// FailOpen allows the request when the policy could not be evaluated:
	// an evaluation error (a conflict, a built-in error, an internal
	// failure) or the evaluation time limit. It never covers what the
	// client chooses: a request the input cannot be built from is denied
	// (400, or 413 when the policy reads a body Envoy cut), and an
	// undefined or malformed decision (several results, a value of another
	// type) denies (403), because a policy that says nothing allows
	// nothing. Nor does it cover authentication, which is decided first:
	// no credential, an unknown key or a missing JWT is always a 401; nor
	// an evaluation the caller cancelled (its context ended), which denies.
	FailOpen bool
}

// Allow is the part of a simple Authorization checked by this service.
// (sourceCIDRs are enforced by Envoy's rbac filter and never reach here.)
type Allow struct {
	// Groups: the consumer must belong to at least one of them.
	Groups []string
}

// DefaultQuery is opa-envoy-plugin's default decision.
const DefaultQuery = "data.envoy.authz.allow"

// Options configures a Service.
type Options struct {
	// EvalTimeout bounds one Rego evaluation; zero means DefaultEvalTimeout.
	EvalTimeout time.Duration
	// DecisionLogger, if set, receives every decision synchronously: keep it fast.
	DecisionLogger DecisionLogger
	// Now is the clock for decision timestamps (tests); nil means time.Now.
	Now func() time.Time
	// Registerer receives the service's metrics; none are registered when nil.
	Registerer prometheus.Registerer
	// TracerProvider, if set, gets a span per Check, a child of the trace
	// Envoy propagates (pkg/tracing); nil traces nothing.
	TracerProvider trace.TracerProvider

	// topdownOnly evaluates every policy with OPA's topdown (tests compare
	// the two engines).
	topdownOnly bool
}

// DefaultEvalTimeout bounds a Rego evaluation when Options leaves it 0.
const DefaultEvalTimeout = 200 * time.Millisecond

// DecisionLogger receives decisions. A Decision never holds credentials.
type DecisionLogger func(Decision)

// KeyDigest is the SHA-256 of an API key, the only form in which a key is stored.
func KeyDigest(key string) [32]byte { return sha256.Sum256([]byte(key)) }

// ParseKeyDigest parses the hex SHA-256 found in a Consumer's apiKeys entry.
func ParseKeyDigest(s string) ([32]byte, error) {
	var d [32]byte
	s = strings.TrimSpace(s)
	if len(s) != hex.EncodedLen(len(d)) {
		return d, fmt.Errorf("sha256 %q: want 64 hex digits", s)
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("sha256 %q: %w", s, err)
	}
	return d, nil
}
