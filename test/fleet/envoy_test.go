package fleet

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"
)

// A simulated Envoy: one ADS stream that subscribes to what Envoy would
// (CDS and LDS wildcard, then the EDS names its clusters name and the route
// configurations its listeners name) and ACKs every response. It decodes
// resources only where Envoy needs them to subscribe, and, when verify is
// set, the EDS resources of every response after the fleet is armed (one
// client per fleet verifies; decoding 1,000 CLAs in every client would
// measure the load generator instead of the server).

// Protocols.
const (
	protoSotW  = "sotw"
	protoDelta = "delta"
)

type envoy struct {
	id     int
	proto  string
	verify bool

	// armed is the change the fleet waits for: the client records the
	// arrival of the first EDS response after arming (and, verifying,
	// checks it carries wantPort for wantEDS).
	mu       sync.Mutex
	armed    bool
	wantEDS  string
	wantPort uint32
	arrived  chan<- arrival

	synced    chan struct{} // closed once every type arrived
	seen      [4]bool       // CDS, EDS, LDS, RDS
	nonEDS    atomic.Int64  // non-EDS responses while armed
	resources atomic.Int64  // resources received while armed (EDS included)
}

type arrival struct {
	at  time.Time
	err error // a verification failure
}

var typeSlot = map[string]int{resource.ClusterType: 0, resource.EndpointType: 1, resource.ListenerType: 2, resource.RouteType: 3}

func (e *envoy) node() *corev3.Node {
	return &corev3.Node{Id: fmt.Sprintf("envoy-%04d", e.id), Cluster: fleetGateway, UserAgentName: "envoy"}
}

// arm makes the client report its next EDS response on ch.
func (e *envoy) arm(eds string, port uint32, ch chan<- arrival) {
	e.mu.Lock()
	e.armed, e.wantEDS, e.wantPort, e.arrived = true, eds, port, ch
	e.mu.Unlock()
}

// disarm stops counting re-sends.
func (e *envoy) disarm() {
	e.mu.Lock()
	e.armed = false
	e.mu.Unlock()
}

// onResponse records a response of typeURL; clas decodes its EDS resources
// (only called when verifying).
func (e *envoy) onResponse(typeURL string, count int, clas func() ([]*endpointv3.ClusterLoadAssignment, error)) {
	now := time.Now()
	slot, ok := typeSlot[typeURL]
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.seen[slot] {
		e.seen[slot] = true
		if e.seen[0] && e.seen[1] && e.seen[2] && e.seen[3] {
			close(e.synced)
		}
	}
	if !e.armed {
		return
	}
	e.resources.Add(int64(count))
	if slot != 1 {
		e.nonEDS.Add(1)
		return
	}
	if e.arrived == nil {
		return // this change already arrived
	}
	a := arrival{at: now}
	if e.verify {
		a.err = checkCLA(clas, e.wantEDS, e.wantPort)
	}
	e.arrived <- a
	e.arrived = nil
}

func checkCLA(decode func() ([]*endpointv3.ClusterLoadAssignment, error), name string, port uint32) error {
	clas, err := decode()
	if err != nil {
		return err
	}
	for _, c := range clas {
		if c.GetClusterName() != name {
			continue
		}
		got := c.GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue()
		if got != port {
			return fmt.Errorf("%s: first endpoint port %d, want %d", name, got, port)
		}
		return nil
	}
	return fmt.Errorf("the EDS response after the change has no %s", name)
}

func decodeCLAs(anys []*anypb.Any) ([]*endpointv3.ClusterLoadAssignment, error) {
	out := make([]*endpointv3.ClusterLoadAssignment, 0, len(anys))
	for _, a := range anys {
		c := &endpointv3.ClusterLoadAssignment{}
		if err := a.UnmarshalTo(c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// dependents returns the names a CDS or LDS response makes Envoy ask for
// (EDS service names, route configuration names).
func dependents(typeURL string, anys []*anypb.Any) ([]string, error) {
	var out []string
	for _, a := range anys {
		switch typeURL {
		case resource.ClusterType:
			c := &clusterv3.Cluster{}
			if err := a.UnmarshalTo(c); err != nil {
				return nil, err
			}
			out = append(out, c.GetEdsClusterConfig().GetServiceName())
		case resource.ListenerType:
			l := &listenerv3.Listener{}
			if err := a.UnmarshalTo(l); err != nil {
				return nil, err
			}
			for _, fc := range l.GetFilterChains() {
				for _, f := range fc.GetFilters() {
					if f.GetName() != "envoy.filters.network.http_connection_manager" {
						continue // the connection limit
					}
					h := &hcmv3.HttpConnectionManager{}
					if err := f.GetTypedConfig().UnmarshalTo(h); err != nil {
						return nil, err
					}
					out = append(out, h.GetRds().GetRouteConfigName())
				}
			}
		}
	}
	return out, nil
}

// envoyWindow is Envoy's default HTTP/2 stream and connection window
// (256 MiB, DEFAULT_INITIAL_STREAM_WINDOW_SIZE and
// DEFAULT_INITIAL_CONNECTION_WINDOW_SIZE in Envoy's
// source/common/http/http2 options), which Envoy keeps static. grpc-go's
// client instead grows its windows with BDP pings, one per response
// received, which the server must read and answer (a read and a write per
// Envoy and change that a real Envoy does not cause). The simulated Envoy
// keeps static windows, as Envoy does; clientWindowsEnv=dynamic restores
// grpc-go's behaviour (a proxyless gRPC client's).
const envoyWindow = 256 << 20

// clientWindowsEnv selects the simulated Envoys' flow control: "dynamic"
// for grpc-go's BDP-driven windows, else Envoy's static ones.
const clientWindowsEnv = "FLEET_CLIENT_WINDOWS"

// run connects and serves the stream until ctx ends.
func (e *envoy) run(ctx context.Context, addr string) error {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256 << 20))}
	if os.Getenv(clientWindowsEnv) != "dynamic" {
		opts = append(opts, grpc.WithStaticStreamWindowSize(envoyWindow), grpc.WithStaticConnWindowSize(envoyWindow))
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return err
	}
	defer cc.Close()
	ads := discoveryv3.NewAggregatedDiscoveryServiceClient(cc)
	if e.proto == protoDelta {
		return e.runDelta(ctx, ads)
	}
	return e.runSotW(ctx, ads)
}

func (e *envoy) runSotW(ctx context.Context, ads discoveryv3.AggregatedDiscoveryServiceClient) error {
	st, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	names := map[string][]string{}
	send := func(typeURL, version, nonce string) error {
		return st.Send(&discoveryv3.DiscoveryRequest{Node: e.node(), TypeUrl: typeURL, ResourceNames: names[typeURL], VersionInfo: version, ResponseNonce: nonce})
	}
	if err := send(resource.ClusterType, "", ""); err != nil {
		return err
	}
	if err := send(resource.ListenerType, "", ""); err != nil {
		return err
	}
	for {
		r, err := st.Recv()
		if err != nil {
			return ctxErr(ctx, err)
		}
		t := r.GetTypeUrl()
		e.onResponse(t, len(r.GetResources()), func() ([]*endpointv3.ClusterLoadAssignment, error) { return decodeCLAs(r.GetResources()) })
		if err := send(t, r.GetVersionInfo(), r.GetNonce()); err != nil {
			return err
		}
		if child, ok := childType[t]; ok && names[child] == nil {
			// Envoy subscribes once the parents arrive; the fleet's parents
			// never change, so the first response is enough.
			deps, err := dependents(t, r.GetResources())
			if err != nil {
				return err
			}
			names[child] = deps
			if err := send(child, "", ""); err != nil {
				return err
			}
		}
	}
}

var childType = map[string]string{resource.ClusterType: resource.EndpointType, resource.ListenerType: resource.RouteType}

func (e *envoy) runDelta(ctx context.Context, ads discoveryv3.AggregatedDiscoveryServiceClient) error {
	st, err := ads.DeltaAggregatedResources(ctx)
	if err != nil {
		return err
	}
	subscribed := map[string]bool{}
	for _, t := range []string{resource.ClusterType, resource.ListenerType} {
		// An empty first subscribe list is a wildcard subscription.
		if err := st.Send(&discoveryv3.DeltaDiscoveryRequest{Node: e.node(), TypeUrl: t}); err != nil {
			return err
		}
	}
	for {
		r, err := st.Recv()
		if err != nil {
			return ctxErr(ctx, err)
		}
		t := r.GetTypeUrl()
		anys := make([]*anypb.Any, len(r.GetResources()))
		for i, res := range r.GetResources() {
			anys[i] = res.GetResource()
		}
		e.onResponse(t, len(anys), func() ([]*endpointv3.ClusterLoadAssignment, error) { return decodeCLAs(anys) })
		if err := st.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: t, ResponseNonce: r.GetNonce()}); err != nil {
			return err
		}
		if child, ok := childType[t]; ok && !subscribed[child] {
			deps, err := dependents(t, anys)
			if err != nil {
				return err
			}
			subscribed[child] = true
			if err := st.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: child, ResourceNamesSubscribe: deps}); err != nil {
				return err
			}
		}
	}
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
