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
// rewrites, header changes and active health checks are Envoy-only.
//
// EDS names are "svc/<service>/<fnv32a of both client kinds' clusters>", so
// both groups share one ClusterLoadAssignment per Service and a changed
// cluster always asks for a new name (it never stays warming).
