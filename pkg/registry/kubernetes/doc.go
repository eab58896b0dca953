// Package kubernetes is the Kubernetes discovery source: it keeps the ready
// endpoints of every Kubernetes Service that a policy Service references
// (`discovery.kubernetes: {service, namespace, port}`), read from its
// EndpointSlices (discovery.k8s.io/v1) with client-go informers, and reports
// them, keyed by policy Service name, to a callback.
//
// # Informers
//
// One informer per namespace that the policy references (or one for the
// whole cluster with Config.AllNamespaces), each listing and watching the
// EndpointSlices that carry the kubernetes.io/service-name label. An
// informer starts when the first policy Service in its namespace appears and
// stops when the last one goes. Only get, list and watch on endpointslices
// are needed (see deploy/kubernetes/rbac.yaml); Service objects are not
// read, so a port number is matched against the EndpointSlice ports, which
// are the target (pod) ports.
//
// # Endpoints
//
// A Service's endpoints are the union of all its slices (a Service has
// several past 100 endpoints, and one per address family when dual-stack).
// Per endpoint (conditions as documented on discovery.k8s.io/v1
// EndpointConditions, where an unset ready means ready and an unset serving
// means the value of ready):
//
//   - ready (and not terminating): served.
//   - terminating and still serving: served with health status DRAINING,
//     so that it is drained, not cut. Envoy keeps a DRAINING host in the
//     host set, so its open connections and in-flight requests finish, but
//     sends it no new requests (Envoy: source/common/upstream/upstream_impl.cc,
//     HostImplBase::setEdsHealthFlag, EDS_STATUS_DRAINING, an excluded host);
//     removing it instead would also make Envoy drop its connection pools to
//     it. grpc-go leaves DRAINING endpoints out of picking
//     (internal/xds/balancer/cdsbalancer/configbuilder.go).
//   - otherwise (not ready, or terminating and no longer serving): left out.
//
// The address is the endpoint's first address (the API says consumers use
// the first; one endpoint is one pod), FQDN slices are skipped (EDS takes
// IPs), the zone is the endpoint's `zone` (the Envoy locality), and an
// address:port seen in two slices (a slice being split) is kept once,
// preferring the not-draining copy.
//
// # Last known good and readiness
//
// An informer keeps its cache when the API server goes away (the reflector
// retries with backoff and re-lists when it is back), so an outage changes
// nothing that is served; only the API server saying an endpoint is gone
// removes it. Synced is false until every informer has completed its first
// list, so a control plane starting while the API server is unreachable (or
// without credentials) holds its first configuration back instead of
// pushing empty clusters. Up reports whether the API server answered the
// last probe of /readyz and no watch failed since.
package kubernetes
