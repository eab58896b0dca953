// Package usage is gatehouse's API usage analytics: it hosts Envoy's gRPC
// Access Log Service (envoy.service.accesslog.v3 StreamAccessLogs) and turns
// the HTTP entries into per-gateway, per-route, per-consumer and per-plan
// usage, as Prometheus series and as a queryable store (Service.Query,
// served by the admin API at /api/v1/usage and read by `gatehouse usage`).
//
// # Where each figure comes from
//
// The gateway is the stream's identifier.node.cluster (Envoy sends the
// identifier on the first message of each stream only). The route is
// common_properties.route_name, which the translator sets to the Route
// object's name; the service is upstream_cluster "svc/<service>"; the
// consumer is the dynamic metadata that gatehouse's ext_authz service sets
// (envoy.filters.http.ext_authz: consumer), absent on routes that make no
// ext_authz call; the plan is the consumer's Plan in the current policy
// (Service.Update). Latency is common_properties.duration. Quota used comes
// from the x-ratelimit-limit and x-ratelimit-remaining response headers
// when the access log is told to carry them.
//
// # Series
//
//	gatehouse_usage_requests_total{gateway,route,service,code_class}
//	gatehouse_usage_request_duration_seconds{gateway,route,service}
//	gatehouse_usage_consumer_requests_total{gateway,consumer,plan,code_class}
//	gatehouse_usage_quota_used_ratio{gateway,consumer,plan}
//	gatehouse_usage_entries_total{result}        counted, malformed, tcp_ignored
//	gatehouse_usage_malformed_total{reason}
//	gatehouse_usage_overflow_total{dimension}    gateway, route, consumer, store
//	gatehouse_usage_streams
//
// code_class is 1xx..5xx, or none when Envoy sent no response.
//
// # Bounded cardinality and memory
//
// The first MaxGateways gateways (64 by default), MaxRoutes (gateway, route,
// service) triples (1000) and MaxConsumers (gateway, consumer) pairs (1000)
// seen since the process started get their own series; later ones are
// counted under the name "_other" (no policy object can have that name) and
// in gatehouse_usage_overflow_total. So, per code class, route series are
// at most MaxRoutes + MaxGateways + 1 and consumer series at most
// (MaxConsumers + MaxGateways + 1) × plans, whatever the traffic.
//
// The usage store keeps the last Window (1 h by default) in buckets of
// Bucket (1 min) by arrival time; each bucket holds at most MaxRows (4096)
// rows of (gateway, route, service, consumer, plan), the rest going to one
// overflow row, so it never holds more than Window/Bucket × (MaxRows+1)
// rows. Older usage is in Prometheus.
//
// # Bad input
//
// A stream whose first message has no identifier or no node.cluster, a
// message without entries, or an entry that no Envoy sends (no
// common_properties, a status outside 100-599, a negative duration, a name
// longer than 253 bytes) is counted in gatehouse_usage_malformed_total and
// the stream is answered with InvalidArgument (the good entries of the same
// message still count). Bytes that do not decode are answered by gRPC with
// Internal and counted as undecodable.
package usage
