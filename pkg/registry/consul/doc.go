// Package consul is the Consul discovery source: it keeps the passing
// instances of every Consul service that a policy Service references
// (`discovery.consul: {service, tags, datacenter}`) and reports them, keyed by
// policy Service name, to a callback.
//
// # Connection budget
//
// A Consul agent accepts at most 200 concurrent HTTP connections per client IP
// by default (limits.http_max_conns_per_client), and HTTP/1.1 carries one
// request at a time per connection. The classic design, one blocking query per
// watched service, therefore stops working at a couple of hundred services.
// This package uses a fixed number of connections whatever the number of
// watched services:
//
//   - Per datacenter, two change detectors, each one blocking query:
//     /v1/catalog/services (its index moves on every instance registration or
//     deregistration) and /v1/health/state/any filtered to the checks that are
//     not passing (its index moves on every check change; its body stays
//     small however many healthy instances there are). The catalog index alone
//     is not enough: Consul does not move it when a check changes status. A
//     service is re-read when one of its non-passing checks changed, when one
//     left the set, or when its last read was newer than the detector's
//     previous index (so a flip and its reversal between two detector reads
//     cannot leave a read of the intermediate state standing).
//   - A bounded pool of workers (Config.Workers, default 8) reads
//     /v1/health/service/<name>?passing (with the tags, all of which must
//     match, and the datacenter) for each watch a detector marked dirty; only
//     endpoints that differ from the last read are reported.
//   - One shared http.Transport whose MaxConnsPerHost is Config.MaxConns
//     (default 32): workers + 2 per datacenter stay well below 200 (beyond
//     12 datacenters the detectors queue for connections rather than exceed
//     the bound).
//
// A registration change costs one read per watch in that datacenter (the
// catalog index does not say which service changed); health changes cost one
// read per affected watch. Both detectors are rate limited (Config.MinInterval
// between reads when the index moves, Config.CatalogMinInterval for the
// registration detector, so constant registration churn costs at most five
// full re-reads a second; Config.IdleInterval when the index does not move);
// an index that goes backwards is reset to 0 and every watch is re-read, as
// Consul's blocking-query documentation requires. Errors back off
// exponentially with jitter, and the first read after an error is a plain one
// (index 0): an agent that restarted empty has lower indexes, and a blocking
// query on the old index would sit out its WaitTime. Every Config.Resync all watches are re-read, which
// also picks up node metadata (the node `zone`) changed on its own.
//
// # Last known good
//
// A failed or timed-out read never changes what a Service has: only a
// successful read that says "no passing instances" empties it. A policy Service
// whose watch changed (new tags, say) keeps its previous endpoints until the
// new watch has been read once. Synced reports whether every watch has had one
// successful read, so a control plane that restarts while Consul is down can
// hold back its first snapshot instead of pushing empty clusters.
//
// # Endpoints
//
// Address: the service address, else the node address (an address that is
// not an IP is skipped, since EDS needs IPs). Weight: Service.Weights.Passing
// (1 if unset). Zone (the Envoy locality): service meta `zone`, else the
// service's Consul Locality.Zone, else node meta `zone`, else the node's
// Locality.Zone.
package consul
