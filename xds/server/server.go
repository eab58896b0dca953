package server

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the base codec
	"google.golang.org/grpc/keepalive"

	"github.com/gatehouse-dev/gatehouse/pkg/peerauth"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Registerer receives the gatehouse_xds_* metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// OnUnknownGateway, if set, is called when a proxy connects whose
	// node.cluster names no published Gateway (the edge logs it; the
	// server counts it in gatehouse_xds_unknown_gateway_total).
	OnUnknownGateway func(nodeID, gateway, reason string)
	// Acks, if set, makes proxies' ACKs spans of the control-plane trace.
	Acks *AckTracer
	// Auth is the gRPC port's TLS, nil when it serves plaintext. With mTLS,
	// a stream must come from a peer whose client certificate names a
	// Gateway, and every request's node.cluster must name that Gateway.
	Auth *peerauth.Auth
	// InitialSyncs bounds the streams sending their initial responses at
	// once (admission.go): 0 is the default (32), negative is unbounded.
	InitialSyncs int
	// InitialSyncWait bounds how long a stream waits for a sync slot
	// before it goes ahead without one (0: 30 s).
	InitialSyncWait time.Duration
	// InitialSyncHold bounds how long a stream keeps its slot while its
	// client does not answer its initial responses (0: 10 s).
	InitialSyncHold time.Duration
	// BridgeHold bounds how long an Envoy group is served its bridge
	// snapshot (a publish that drops clusters) while one of its state-of-
	// the-world streams has not ACKed the bridge's routes and listeners
	// (sotwhold.go; 0: 10 s).
	BridgeHold time.Duration
	// OnBridgeHoldExpired, if set, is called when that bound ends a hold,
	// with the nodes that had answered nothing (silent) and those that
	// NACKed (rejected); counted in gatehouse_xds_bridge_hold_expired_total.
	OnBridgeHoldExpired func(gateway string, silent, rejected []string)
}

// Server serves the Publisher's snapshots over ADS (state of the world and
// delta) and tracks every connected proxy.
type Server struct {
	pub       *Publisher
	xds       *sotwADS // state of the world
	tracker   *tracker
	ctx       context.Context
	admission *admission
	// deltaIDs numbers delta streams for the tracker (each has its own
	// go-control-plane delta server, whose ids all start at 1).
	deltaIDs atomic.Int64
	// sotw are the state-of-the-world streams by group, for Remove to end
	// (orphans.go).
	sotw *sotwStreams
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
	tr := newTracker(pub, m)
	tr.onUnknown = opts.OnUnknownGateway
	tr.acks = opts.Acks
	tr.auth = opts.Auth
	tr.holds = newBridgeHolds(opts.BridgeHold, m)
	tr.holds.onExpired = opts.OnBridgeHoldExpired
	pub.setHolds(tr.holds)
	// Ordered ADS sends each stream's responses through one queue in the
	// order the cache produces them (CDS, EDS, LDS, RDS for Envoy groups).
	xs := &sotwADS{ctx: ctx, cache: pub.mux, cb: tr, hub: pub.delta, grpc: pub.grpcShare}
	syncs, wait, hold := opts.InitialSyncs, opts.InitialSyncWait, opts.InitialSyncHold
	if syncs == 0 {
		syncs = defaultInitialSyncs
	}
	if wait <= 0 {
		wait = defaultInitialSyncWait
	}
	if hold <= 0 {
		hold = defaultInitialSyncHold
	}
	adm := newAdmission(syncs, wait, hold, m)
	streams := newSotWStreams()
	pub.onRemove(streams.end)
	return &Server{pub: pub, xds: xs, tracker: tr, ctx: ctx, admission: adm, sotw: streams}, nil
}

// Register adds the Aggregated Discovery Service to g: state of the world
// and delta (incremental) ADS.
func (s *Server) Register(g *grpc.Server) {
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(g, adsService{s: s})
}

// Proxies returns the status of every open ADS stream, sorted by node id.
func (s *Server) Proxies() []ProxyStatus { return s.tracker.Proxies() }

// StormPending reports whether a reconnect storm's memory is still to be
// returned to the OS (settle.go): the fleet benchmark waits until it is
// not, so that this one-off cost of a storm is not counted in a change.
func (s *Server) StormPending() bool { return s.admission.settle.pending() }

// adsService exposes only the aggregated streams of the go-control-plane
// server, not its per-type services.
type adsService struct {
	discoveryv3.UnimplementedAggregatedDiscoveryServiceServer
	s *Server
}

func (a adsService) StreamAggregatedResources(st discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	t := a.s.admission.ticket()
	defer t.close()
	e := newEndable(st, a.s.sotw)
	defer e.close()
	return a.s.xds.serve(admittedSotW{e, t})
}

// DeltaAggregatedResources serves one delta stream with gatehouse's delta
// loop (deltaads.go) around a deltaConn of its own, which holds what the
// stream was sent and is dropped with it.
func (a adsService) DeltaAggregatedResources(st discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesServer) error {
	ds := newDeltaConn(a.s.pub.delta, a.s.pub.grpc)
	defer ds.close()
	cb := deltaCallbacks{t: a.s.tracker, id: a.s.deltaIDs.Add(1)}
	t := a.s.admission.ticket()
	defer t.close()
	return serveDelta(a.s.ctx, admittedDelta{st, t, &ds.whole}, ds, cb, a.s.pub.delta)
}

// deltaCallbacks hands the tracker the stream's server-wide id in place of
// its per-stream server's.
type deltaCallbacks struct {
	t  *tracker
	id int64
}

func (c deltaCallbacks) OnDeltaStreamOpen(ctx context.Context, _ int64, typeURL string) error {
	return c.t.OnDeltaStreamOpen(ctx, c.id, typeURL)
}

func (c deltaCallbacks) OnDeltaStreamClosed(_ int64, n *corev3.Node) {
	c.t.OnDeltaStreamClosed(c.id, n)
}

func (c deltaCallbacks) OnStreamDeltaRequest(_ int64, req *discoveryv3.DeltaDiscoveryRequest) error {
	return c.t.OnStreamDeltaRequest(c.id, req)
}

func (c deltaCallbacks) OnStreamDeltaResponse(_ int64, req *discoveryv3.DeltaDiscoveryRequest, resp *discoveryv3.DeltaDiscoveryResponse) {
	c.t.OnStreamDeltaResponse(c.id, req, resp)
}

// flowWindow is the static HTTP/2 flow-control window for what clients send.
const flowWindow = 1 << 20

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
//   - 16 MiB requests: a NACK's error_detail can list many resources;
//   - static flow-control windows of 1 MiB (stream and connection) instead
//     of grpc-go's dynamic ones: with dynamic windows the server answers
//     the first DATA frame after each round trip (every ACK of every proxy)
//     with a WINDOW_UPDATE and a BDP ping, a write and a read more per
//     proxy and change on top of the response and its ACK
//     (google.golang.org/grpc internal/transport/http2_server.go,
//     handleData and bdp_estimator.go). The estimator exists to grow
//     windows for bulk transfers over long fat links; ADS requests are
//     small, and 1 MiB takes even a large NACK in few round trips
//     (TestNoBDPPings);
//   - RequestCodec over the proto codec: state-of-the-world requests are
//     decoded by their stream, which skips names it decoded before
//     (sotwrecv.go). A later grpc.ForceServerCodecV2 replaces it: wrap
//     that codec in RequestCodec instead (cmd/gatehouse does for authz).
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
		grpc.StaticStreamWindowSize(flowWindow),
		grpc.StaticConnWindowSize(flowWindow),
		// State-of-the-world requests decoded by their stream's reader
		// (sotwrecv.go); the standard proto codec for everything else.
		grpc.ForceServerCodecV2(RequestCodec(encoding.GetCodecV2("proto"))),
	}
}
