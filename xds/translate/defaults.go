package translate

import "time"

// Defaults applied where the policy leaves a field out. The edge values
// follow Envoy's "Configuring Envoy as an edge proxy" best-practices page.
const (
	defaultConnectTimeout       = 5 * time.Second
	defaultMaxRequestHeadersKB  = 60
	defaultRequestTimeout       = 300 * time.Second
	defaultStreamIdleTimeout    = 300 * time.Second
	defaultIdleTimeout          = 3600 * time.Second
	defaultRequestHeadersTimout = 10 * time.Second
	defaultAccessLogPath        = "/dev/stdout"

	// HTTP/2 limits from the edge best-practices page.
	edgeMaxConcurrentStreams         = 100
	edgeInitialStreamWindowSize      = 65536   // 64 KiB
	edgeInitialConnectionWindowSize  = 1048576 // 1 MiB
	edgePerConnectionBufferLimitByte = 32768   // 32 KiB, listeners and clusters

	defaultHCInterval           = 5 * time.Second
	defaultHCTimeout            = 1 * time.Second
	defaultHCUnhealthyThreshold = 3
	defaultHCHealthyThreshold   = 2
	defaultHCPath               = "/"

	// serverName replaces Envoy's "envoy" Server header on responses.
	serverName = "gatehouse"

	// consumerHeader carries the authenticated consumer to upstreams; a
	// client-sent value is always removed first.
	consumerHeader = "x-gatehouse-consumer"

	// grpcUpstreamCAInstance is the certificate provider instance a proxyless
	// gRPC client's bootstrap must define to reach TLS upstreams: grpc-go
	// NACKs inline trusted CAs and only takes certificate providers.
	grpcUpstreamCAInstance = "gatehouse-upstream-ca"
)
