package translate

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Remote JWKS fetching of a discovered issuer (setDiscoveryJWKS).
const (
	// jwksRetries, jwksRetryBase and jwksRetryMax: one fetch is retried
	// with randomized exponential backoff (Envoy turns the core retry
	// policy into a route retry on 5xx, gateway-error, connect-failure
	// and reset: source/extensions/filters/http/jwt_authn/jwks_cache.cc).
	jwksRetries   = 3
	jwksRetryBase = 200 * time.Millisecond
	jwksRetryMax  = 2 * time.Second
	// jwksFailedRefetch is how soon a failed background fetch is tried
	// again (Envoy's default is 1s: jwks_async_fetcher.cc); the keys
	// fetched last stay in use meanwhile.
	jwksFailedRefetch = 5 * time.Second
)

// noKeysJWKS is the key set of a discovered issuer whose discovery never
// succeeded: no key, so no token verifies. Envoy logs the empty set
// ("Invalid inline jwks", jwks_cache.cc) and, as the provider has no
// remote_jwks, ends every token with JwksNoValidKeys (authenticator.cc,
// startVerify): 401. A request without a token still goes to ext_authz,
// which refuses it unless the Route allows anonymous callers. The Gateway
// is never served unauthenticated while discovery is failing.
const noKeysJWKS = `{"keys":[]}`

// discoveredURI is the jwks_uri discovery found for j, "" if none yet.
func (f *gwFilters) discoveredURI(j *policy.JWTAuth) string {
	if f.opts.DiscoveredJWKS == nil {
		return ""
	}
	return f.opts.DiscoveredJWKS(j)
}

// jwksURI is where Envoy fetches j's keys: its jwks.uri or the discovered
// jwks_uri; "" for keys given in the policy or not discovered yet.
func (f *gwFilters) jwksURI(j *policy.JWTAuth) string {
	if j.UseDiscovery {
		return f.discoveredURI(j)
	}
	return j.JWKS.URI
}

// setDiscoveryJWKS is the key source of a JWT Authentication that names
// only its issuer. Envoy fetches the keys from the discovered jwks_uri and
// refreshes them itself:
//
//   - async_fetch: the main thread fetches the keys and fetches them again
//     cacheDuration-5s later, or jwksFailedRefetch after a failure, keeping
//     the last good keys meanwhile (they never expire under async_fetch:
//     jwks_cache.cc setJwksToAllThreads; jwks_async_fetcher.cc). So a key
//     the issuer adds is accepted within cacheDuration, with no push.
//   - fast_listener: the listener does not wait for the first fetch (a
//     failing identity provider must not hold back every other change to
//     the Gateway); a token that arrives before it is verified after an
//     on-demand fetch instead (authenticator.cc, startVerify), never let
//     through.
//   - retry_policy: a failed fetch is retried with backoff.
//
// Envoy does not fetch again when a token names an unknown kid: the
// pinned jwt_authn verifies against the cached keys and fails (the TODO
// in authenticator.cc, startVerify). A rotation must therefore publish the
// new key at least cacheDuration before signing with it, which is what
// identity providers do (they publish the next key ahead of use).
func setDiscoveryJWKS(p *jwtv3.JwtProvider, uri string, cache time.Duration) {
	if uri == "" {
		p.JwksSourceSpecifier = &jwtv3.JwtProvider_LocalJwks{LocalJwks: &corev3.DataSource{
			Specifier: &corev3.DataSource_InlineString{InlineString: noKeysJWKS},
		}}
		return
	}
	t, _ := parseJWKSURI(uri) // checked by clusters() first
	p.JwksSourceSpecifier = &jwtv3.JwtProvider_RemoteJwks{RemoteJwks: &jwtv3.RemoteJwks{
		HttpUri: &corev3.HttpUri{
			Uri:              uri,
			HttpUpstreamType: &corev3.HttpUri_Cluster{Cluster: t.cluster},
			Timeout:          durationpb.New(jwksFetchTimeout),
		},
		CacheDuration: durationpb.New(cache),
		AsyncFetch: &jwtv3.JwksAsyncFetch{
			FastListener:          true,
			FailedRefetchDuration: durationpb.New(jwksFailedRefetch),
		},
		RetryPolicy: &corev3.RetryPolicy{
			RetryBackOff: &corev3.BackoffStrategy{
				BaseInterval: durationpb.New(jwksRetryBase),
				MaxInterval:  durationpb.New(jwksRetryMax),
			},
			NumRetries: wrapperspb.UInt32(jwksRetries),
		},
	}}
}
