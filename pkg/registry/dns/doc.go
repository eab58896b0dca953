// Package dns is the DNS discovery source for proxyless gRPC clients:
// gatehouse resolves each `discovery.dns` name itself and serves the
// addresses over EDS, since grpc-go has no STRICT_DNS cluster. Envoy gets
// a STRICT_DNS or LOGICAL_DNS cluster and resolves the name on its own
// (xds/translate/dnscluster.go); both follow the same rules:
//
//   - A name is resolved again when the shortest TTL of its answer ends
//     (respect_dns_ttl), or after refreshRate when the answer has no TTL.
//     A TTL under MinTTL counts as MinTTL, so a zero TTL cannot make
//     gatehouse query in a loop.
//   - lookupFamily: v4 asks for A records, v6 for AAAA, all for both, auto
//     for AAAA and then A when there is no AAAA (Envoy's AUTO).
//   - strict: every address is an endpoint; an answer with none (NXDOMAIN
//     or no records) empties the Service, as Envoy's STRICT_DNS does.
//     logical: the first address only, and an empty answer keeps the last
//     one, as Envoy's LOGICAL_DNS does.
//   - A failed query (timeout, SERVFAIL, REFUSED, unreachable server) keeps
//     the last known addresses, marks the source down, and retries after
//     1s, doubling up to refreshRate.
//
// Names are absolute: no search domains are appended. Queries go to
// Config.Servers, or the nameservers of /etc/resolv.conf.
package dns
