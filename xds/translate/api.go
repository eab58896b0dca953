// Package translate turns a validated policy snapshot into Envoy resources,
// one group per (Gateway, client kind). It is pure: no clocks, no I/O, no
// mutation of its input, and the same input always gives the same output.
package translate

import (
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
)

// ClientKind says which kind of xDS client a snapshot group is for.
type ClientKind string

const (
	// ClientEnvoy is an Envoy proxy (node.user_agent_name "envoy" or unset).
	ClientEnvoy ClientKind = "envoy"
	// ClientGRPC is a proxyless gRPC client (any other user_agent_name).
	ClientGRPC ClientKind = "grpc"
)

// GroupKey names one snapshot group. Its String() is the go-control-plane
// node hash key: "<gateway>/<kind>".
type GroupKey struct {
	Gateway string
	Client  ClientKind
}

func (k GroupKey) String() string { return k.Gateway + "/" + string(k.Client) }

// Group is everything one group of clients gets except endpoints: each slice
// sorted by resource name. Endpoints are built separately (Endpoints) so that
// an endpoint-only change never rebuilds listeners, routes or clusters.
type Group struct {
	Listeners []types.Resource // *listener.Listener
	Routes    []types.Resource // *route.RouteConfiguration
	Clusters  []types.Resource // *cluster.Cluster
	Secrets   []types.Resource // *tls.Secret
	// EDS maps each EDS resource name that a Cluster of this group asks for
	// to the Service whose endpoints it carries.
	EDS map[string]string
}
