//go:generate go run ./internal/envoyapigen -o envoyapi_gen.go

package translate

// Choices this package makes (ENVOY-MAPPING.md decides the names and the
// filter order; these fill the gaps):
//
// Defaults. Hosts omitted: ["*"]. Path omitted: prefix "/". Weight omitted:
// 1. Protocol omitted: HTTP/1.1 upstream. LB omitted: ROUND_ROBIN. Connect
// timeout 5s. Route timeout omitted: RouteAction.timeout unset, so Envoy's
// 15s default applies (proxyless clients: no max_stream_duration). Health
// checks: interval 5s, timeout 1s, unhealthy 3, healthy 2, HTTP path "/".
// Edge settings follow Envoy's "Configuring Envoy as an edge proxy": see
// defaults.go.
//
// Route order within a virtual host: exact paths, then prefixes longest
// first, then regexes (as POLICY-MODEL.md says: a regex Route therefore
// never wins over a prefix that covers it, the "/" default included), then
// more conditions (methods count as one, each header and query matcher as
// one), then Route name.
//
// Listener hostnames. A listener with hostnames serves a Route host that
// falls under one of them; a Route host wider than a listener hostname
// ("*", or "*.example.com" for "api.example.com") is served as that
// hostname. A Route host under no hostname of the listener is not served
// there.
//
// Upstream TLS. Envoy gets the Service's CA inline, or the system roots when
// the Service names no CA, and checks the DNS SAN against the SNI. grpc-go
// accepts only certificate providers, so proxyless clients get the provider
// instance "gatehouse-upstream-ca" with the Service name as certificate
// name: their bootstrap must define that instance.
//
// Proxyless gRPC groups leave out what grpc-go would skip or reject, and say
// so in Group.Skipped: Routes with query matches; MAGLEV becomes ring hash
// and RANDOM round robin (load_balancing_policy); hashOn cookie/sourceIP
// becomes grpc-go's per-channel hash; retries keep only gRPC status
// conditions (5xx, gateway-error, reset, connect-failure and refused-stream
// become "unavailable"), and a Route with none keeps no retry policy;
// rewrites, header changes and active health checks are Envoy-only;
// redirects and direct responses are withheld like protected Routes
// (redirect.go).
//
// Authentication, authorization and rate limits (Envoy groups only; a
// proxyless group gets none of these filters, since grpc-go NACKs filters
// it does not implement: a protected Route is withheld from it, kept as a
// non-forwarding route so that its calls fail rather than fall through,
// unless the Route or Gateway sets proxyless.serveUnprotected; Skipped
// lists both cases). A filter no Route of the Gateway needs is left out,
// with its cluster. A Route that requires a credential always uses the
// fail-closed ext_authz instance, whatever its Authorization's failOpen.
// header_mutation strips the claim headers of every JWT Authentication of
// the snapshot, the consumer header and x-envoy-auth-failure-mode-allowed.
// jwt_authn providers always forward the token; forwardToken: false is the
// route's request_headers_to_remove: authorization. The CORS filter, where
// some Route has CORS, comes right after header_mutation (ENVOY-MAPPING.md
// predates it): preflights are answered before any filter that could
// refuse them; each Route's effective policy is its own per-route
// CorsPolicy (cors.go).
//
// Streaming Routes (policy.Route.IsStreaming) get timeout 0 and
// max_stream_duration.grpc_timeout_header_max (the Route's timeout, or 0:
// grpc-timeout as sent; a timeout also becomes max_stream_duration, as
// Envoy reads no route timeout once that block is set: retries.go), and
// listeners serving one no request_timeout
// unless the Gateway sets it. Upgrades are enabled per route
// (policy.Route.Upgrades: websocket unless the Route or its Gateways'
// defaults say otherwise or every backend is GRPC; CONNECT only on a
// connect_matcher route of its own, upgrades.go), never on the
// connection manager. Listener certificates come over SDS with
// initial_fetch_timeout 0. Envoy clusters get max_retries = max_requests
// unless the Service sets maxRetries (Envoy's default is 3) or a retryBudget
// (retry_budget instead, retries.go).
// Routes get explicit per-route configs for jwt_authn and both ext_authz
// instances whenever those filters are present: a Route that needs no call
// disables them. A Route calls ext_authz when it has any Authentication or
// an Authorization other than sourceCIDRs alone (rbac enforces those, on
// remote_ip: the TCP peer, or the client the Gateway's clientIP detects,
// clientip.go). API
// key and JWT-only Routes still call ext_authz: it decides "any one of"
// and sets the consumer. jwt_authn requirements are named after their
// sorted provider list ("a,b"). Clusters: gatehouse/authz and
// gatehouse/ratelimit are h2c, STATIC for an IP and STRICT_DNS otherwise,
// 1s connect timeout; a remote JWKS gets "jwks/<host>" (https on 443),
// "jwks/<host>:<port>" (https elsewhere) or "jwks/http/<host>:<port>"
// (the plain-http opt-in), LOGICAL_DNS preferring IPv4, TLS with SNI and a
// DNS SAN check against the system CA bundle file as trusted_ca
// (Options.SystemCAFile, default DefaultSystemCAFile; never
// system_root_certs, which Envoy does not implement).
//
// Rate-limit descriptors: the two ratelimit instances use stages 1 (deny)
// and 2 (allow); a Route's RouteAction.rate_limits carry its RateLimit's
// stage. Envoy drops a descriptor whose header or claim is missing, so
// each header:NAME key gets a second variant of the descriptor that applies
// only when the header is absent and sends (header:NAME, "missing"); a
// claim:NAME limit does not count requests without the claim. A claim
// limit gets one descriptor per JWT provider of the Route (payloads sit
// under one metadata key per provider; only the verified one yields a
// descriptor) and none on a Route without JWT providers; NAME is a
// top-level payload field whose value must be a string. The path key is
// the path without its query string, from a header the header_mutation
// filter sets (and the route tables remove before the upstream);
// remote_address is masked_remote_address, /32 and /64 unless the key says
// otherwise. The access log writes paths without query strings. Local
// limits are per Route and per Envoy
// (per-route token buckets, the route key being implicit); keyed local
// limits use wildcard descriptors with an LRU of 1024 values per limit:
// approximate under high cardinality. Shadow RateLimits set shadow_mode
// on their local descriptors; the rate-limit service handles the rest.
//
// EDS names are "svc/<service>/<fnv32a of both client kinds' clusters>", so
// both groups share one ClusterLoadAssignment per Service and a changed
// cluster always asks for a new name (it never stays warming).
