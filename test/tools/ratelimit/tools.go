//go:build tools

// Package tools pins envoyproxy/ratelimit, the rate-limit service that the
// conformance test and the benchmark compare gatehouse against. It lives in
// its own module so that the peer's dependencies never enter gatehouse's
// go.mod. Build it with `make envoy-ratelimit` (cached outside the repository).
package tools

import _ "github.com/envoyproxy/ratelimit/src/service_cmd"
