package server

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// harness is a real gRPC server on loopback serving a Publisher over ADS.
type harness struct {
	pub  *Publisher
	srv  *Server
	reg  *prometheus.Registry
	conn *grpc.ClientConn
	addr string // the server's address, for clients of their own
	// unknown receives "node gateway" for every OnUnknownGateway call.
	unknown chan string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessOpts(t, Options{})
}

// newHarnessOpts is newHarness with server options (registry and
// OnUnknownGateway are the harness's own).
func newHarnessOpts(t *testing.T, opts Options) *harness {
	t.Helper()
	return newHarnessGRPC(t, opts)
}

// newHarnessGRPC is newHarnessOpts with gRPC server options after
// GRPCServerOptions.
func newHarnessGRPC(t *testing.T, opts Options, gopts ...grpc.ServerOption) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	pub, err := NewPublisher(PublisherOptions{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	unknown := make(chan string, 16)
	opts.Registerer = reg
	opts.OnUnknownGateway = func(node, gw, _ string) {
		select {
		case unknown <- node + " " + gw:
		default:
		}
	}
	srv, err := NewServer(ctx, pub, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(append(GRPCServerOptions(), gopts...)...)
	srv.Register(g)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &harness{pub: pub, srv: srv, reg: reg, conn: conn, addr: lis.Addr().String(), unknown: unknown}
}

// adsStream is a raw ADS stream: it shows versions and nonces, which the
// go-control-plane sotw client hides.
type adsStream struct {
	t      *testing.T
	node   *corev3.Node
	s      discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	resp   chan *discoveryv3.DiscoveryResponse
	cancel context.CancelFunc
	first  bool
	err    error // why the stream ended; read once resp is closed
}

func (h *harness) open(t *testing.T, id, gateway, userAgent string) *adsStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := discoveryv3.NewAggregatedDiscoveryServiceClient(h.conn).StreamAggregatedResources(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	a := &adsStream{
		t:      t,
		node:   &corev3.Node{Id: id, Cluster: gateway, UserAgentName: userAgent, UserAgentVersionType: &corev3.Node_UserAgentVersion{UserAgentVersion: "1.0"}},
		s:      s,
		resp:   make(chan *discoveryv3.DiscoveryResponse, 16),
		cancel: cancel,
		first:  true,
	}
	go func() {
		defer close(a.resp)
		for {
			r, err := s.Recv()
			if err != nil {
				a.err = err
				return
			}
			a.resp <- r
		}
	}()
	t.Cleanup(a.close)
	return a
}

func (a *adsStream) close() { a.cancel() }

// send sends a request; the node goes on the first one only, as Envoy does.
func (a *adsStream) send(typeURL string, names []string, version, nonce string) {
	a.t.Helper()
	req := &discoveryv3.DiscoveryRequest{TypeUrl: typeURL, ResourceNames: names, VersionInfo: version, ResponseNonce: nonce}
	if a.first {
		req.Node = a.node
		a.first = false
	}
	if err := a.s.Send(req); err != nil {
		a.t.Fatalf("send %s: %v", typeURL, err)
	}
}

func (a *adsStream) ack(r *discoveryv3.DiscoveryResponse, names []string) {
	a.t.Helper()
	a.send(r.GetTypeUrl(), names, r.GetVersionInfo(), r.GetNonce())
}

// recv waits (bounded) for the next response and checks its type.
func (a *adsStream) recv(typeURL string) *discoveryv3.DiscoveryResponse {
	a.t.Helper()
	select {
	case r, ok := <-a.resp:
		if !ok {
			a.t.Fatalf("stream closed while waiting for %s", typeURL)
		}
		if r.GetTypeUrl() != typeURL {
			a.t.Fatalf("got a %s response (version %s), want %s", r.GetTypeUrl(), r.GetVersionInfo(), typeURL)
		}
		return r
	case <-time.After(5 * time.Second):
		a.t.Fatalf("no %s response within 5s", typeURL)
	}
	return nil
}

// expectNone checks that nothing arrives for d.
func (a *adsStream) expectNone(d time.Duration) {
	a.t.Helper()
	select {
	case r, ok := <-a.resp:
		if ok {
			a.t.Fatalf("unexpected %s response, version %s", r.GetTypeUrl(), r.GetVersionInfo())
		}
	case <-time.After(d):
	}
}

// waitFor polls cond until it holds or 5 s pass, and returns how long it took.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within 5s", what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

func (h *harness) proxy(nodeID string) (ProxyStatus, bool) {
	for _, p := range h.srv.Proxies() {
		if p.NodeID == nodeID {
			return p, true
		}
	}
	return ProxyStatus{}, false
}

// resourceNames decodes the resource names of a response, sorted (the
// cache sends them in map order).
func resourceNames(t *testing.T, r *discoveryv3.DiscoveryResponse) []string {
	t.Helper()
	var out []string
	for _, a := range r.GetResources() {
		m, err := a.UnmarshalNew()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cache.GetResourceName(m))
	}
	slices.Sort(out)
	return out
}

// metricValue reads one counter or gauge from the registry (-1 if absent).
func (h *harness) metricValue(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

// published is a new harness with n Services of the given number of
// endpoints published for the Envoy group of Gateway gw.
func published(t *testing.T, n, endpoints int) (*harness, *fixture) {
	t.Helper()
	h := newHarness(t)
	f := newFixture("gw", translate.ClientEnvoy, n, endpoints)
	mustPublish(t, h.pub, f.groups(), f.clas)
	return h, f
}

// cdsStream is published with one stream open for the group that asked
// for the clusters and got them (not yet ACKed).
func cdsStream(t *testing.T, id string, n, endpoints int) (*harness, *fixture, *adsStream, *discoveryv3.DiscoveryResponse) {
	t.Helper()
	h, f := published(t, n, endpoints)
	a := h.open(t, id, "gw", "envoy")
	a.send(resource.ClusterType, nil, "", "")
	return h, f, a, a.recv(resource.ClusterType)
}
