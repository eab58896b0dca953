package server

import (
	"context"
	"fmt"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/log"
	"github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	xdsserver "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Registerer receives the gatehouse_xds_* metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger receives go-control-plane's server logs; nil discards them.
	Logger log.Logger
	// OnUnknownGateway, if set, is called when a proxy connects whose
	// node.cluster names no published Gateway (the edge logs it; the
	// server counts it in gatehouse_xds_unknown_gateway_total).
	OnUnknownGateway func(nodeID, gateway, reason string)
}

// Server serves the Publisher's snapshots over ADS (state of the world and
// delta) and tracks every connected proxy.
type Server struct {
	pub     *Publisher
	xds     xdsserver.Server
	tracker *tracker
}

// NewServer builds the ADS server; ctx ends every stream when cancelled.
// Register it on a grpc.Server to serve it.
func NewServer(ctx context.Context, pub *Publisher, opts Options) (*Server, error) {
	if pub == nil {
		return nil, fmt.Errorf("xds server: nil publisher")
	}
	m, err := newServerMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = log.NewDefaultLogger() // a no-op logger
	}
	tr := newTracker(pub, m)
	tr.onUnknown = opts.OnUnknownGateway
	// Ordered ADS sends each stream's responses through one queue in the
	// order the cache produces them (CDS, EDS, LDS, RDS for Envoy groups).
	xs := xdsserver.NewServer(ctx, pub.mux, tr, sotw.WithOrderedADS(), sotw.WithLogger(logger))
	return &Server{pub: pub, xds: xs, tracker: tr}, nil
}

// Register adds the Aggregated Discovery Service to g: state of the world
// and delta (incremental) ADS.
func (s *Server) Register(g *grpc.Server) {
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(g, adsService{xds: s.xds})
}

// Proxies returns the status of every open ADS stream, sorted by node id.
func (s *Server) Proxies() []ProxyStatus { return s.tracker.Proxies() }

// adsService exposes only the aggregated streams of the go-control-plane
// server, not its per-type services.
type adsService struct {
	discoveryv3.UnimplementedAggregatedDiscoveryServiceServer
	xds xdsserver.Server
}

func (a adsService) StreamAggregatedResources(st discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	return a.xds.StreamAggregatedResources(st)
}

func (a adsService) DeltaAggregatedResources(st discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesServer) error {
	return a.xds.DeltaAggregatedResources(st)
}

// GRPCServerOptions are the grpc.Server options gatehouse uses for the port
// serving ADS (and, sharing it, rate limiting and ext_authz):
//   - keepalive enforcement lets clients ping every 10 s even with no RPC in
//     flight (Envoy's and grpc-go's xDS keepalives are often configured that
//     low); tighter would make the server close their connections with
//     GOAWAY "too_many_pings";
//   - the server pings idle connections after 30 s and drops them if no
//     answer in 10 s, so a vanished proxy leaves the proxy table within a
//     minute instead of at the OS TCP timeout; connections are not aged out,
//     because reconnecting re-sends every resource to the proxy;
//   - up to 1024 concurrent streams per connection: one ADS stream per
//     proxy, but Envoy multiplexes many authz and rate-limit calls;
//   - 16 MiB requests: a NACK's error_detail can list many resources.
func GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             10 * time.Second,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    30 * time.Second,
			Timeout: 10 * time.Second,
		}),
		grpc.MaxConcurrentStreams(1024),
		grpc.MaxRecvMsgSize(16 << 20),
	}
}
