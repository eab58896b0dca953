package fleet

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"
)

// kindFloor is the floor: the least work an ADS server on grpc-go can do
// for this benchmark's protocol and still serve the fleet correctly. It
// measures what any grpc-go xDS server pays on this machine (writing a
// response to each stream, reading its ACK, the goroutine that sends it),
// so that gatehouse's figures can be read against it as well as against
// stock go-control-plane.
//
// What it does: it encodes every resource once up front (Any bytes shared
// by every stream); it answers CDS and LDS (wildcard or by name) and RDS
// and EDS by name, over state of the world and delta; on a change it
// encodes the new ClusterLoadAssignment once and sends every stream that
// subscribed to it one response holding only that resource (the same
// message for all streams; grpc-go still marshals that small message for
// each stream, 3% of the floor's CPU, which only a custom codec sending
// the same bytes would save), and reads the ACK. Per stream, besides
// grpc-go's own: one goroutine that reads (and drops ACKs) and one that
// sends everything.
//
// What it skips, that a real control plane must do:
//   - Clusters, listeners and routes never change: it keeps no per-stream
//     state for them beyond "this type was asked for", and never removes
//     anything. Only ClusterLoadAssignments change.
//   - No versions or nonces are tracked: a request that changes no
//     subscription (state of the world: the same names as the last of its
//     type; delta: nothing to subscribe or unsubscribe, and not the first
//     wildcard request) is taken for an ACK; a NACK is ignored
//     (it never sends anything the fleet rejects). No ACK bookkeeping, no
//     make-before-break ordering across types, no per-node snapshots or
//     groups, no authentication, no metrics, no admission of reconnect
//     storms, no backpressure, no translation or validation (the
//     resources are the fleet's, already built), no delta
//     initial_resource_versions (a reconnecting client gets everything
//     again), no removed_resources for names that do not exist.
//   - Its log of changes is kept forever (a stream's cursor into it is its
//     only EDS state besides its subscription); a real server would
//     compact it.
//
// Over state of the world it also sends only the changed CLA, which the
// xDS protocol allows for EDS (only LDS and CDS responses must hold every
// resource): Envoy updates an EDS watch only when the response names its
// resource (GrpcMuxImpl::processDiscoveryResources,
// source/extensions/config_subscription/grpc/grpc_mux_impl.cc: "onConfigUpdate
// should be called only on watches(clusters/listeners) that have updates
// in the message for EDS/RDS"). gatehouse and stock send every CLA there,
// so over state of the world the floor is far below them by design.
const kindFloor = "floor"

// floorBackend serves the fleet's resources over ADS; see kindFloor.
type floorBackend struct {
	discoveryv3.UnimplementedAggregatedDiscoveryServiceServer

	// static are the clusters, listeners and route configurations, by
	// type, encoded once (read-only after construction).
	static map[string]*floorType
	// edsIndex maps an EDS name to its Service index (read-only).
	edsIndex map[string]int

	nonces atomic.Uint64
	// settleOnce returns the initial sync's memory to the OS before the
	// changes, as gatehouse does (server_test.go, "pending").
	settleOnce sync.Once

	mu sync.RWMutex
	// eds is each Service's current ClusterLoadAssignment, encoded; an
	// element is replaced, never modified, on a change.
	eds []*discoveryv3.Resource
	// changes is every change so far, in order; log is the same, for
	// streams to read without the lock (stored under it).
	changes []*floorChange
	log     atomic.Pointer[[]*floorChange]
	streams map[*floorStream]struct{}
}

// floorType is one never-changing type's resources, encoded once.
type floorType struct {
	all    []*discoveryv3.Resource // sorted by name
	anys   []*anypb.Any            // the same, for state of the world
	byName map[string]*discoveryv3.Resource
}

// floorChange is one endpoint change: the responses every subscribed
// stream gets, built once and shared (marshalling a message concurrently
// is safe as long as nobody modifies it).
type floorChange struct {
	svc   int
	sotw  *discoveryv3.DiscoveryResponse
	delta *discoveryv3.DeltaDiscoveryResponse
}

// floorStream is one ADS stream's state: which EDS names it subscribed
// to and how far into the change log it is. Only the stream's handler
// goroutine touches it (and sends).
type floorStream struct {
	eds    []uint64 // bit i: subscribed to Service i's CLA
	cursor int      // changes[:cursor] were sent or skipped
	wake   chan struct{}
}

func (s *floorStream) subscribed(svc int) bool { return s.eds[svc/64]&(1<<(svc%64)) != 0 }
func (s *floorStream) set(svc int, on bool) {
	if on {
		s.eds[svc/64] |= 1 << (svc % 64)
	} else {
		s.eds[svc/64] &^= 1 << (svc % 64)
	}
}

func newFloorBackend(cfg *fleetConfig) (*floorBackend, error) {
	b := &floorBackend{static: map[string]*floorType{}, edsIndex: map[string]int{}, streams: map[*floorStream]struct{}{}}
	b.log.Store(&b.changes)
	for t, rs := range map[string][]types.Resource{resource.ClusterType: cfg.clusters, resource.ListenerType: cfg.listeners, resource.RouteType: cfg.routes} {
		ft := &floorType{byName: map[string]*discoveryv3.Resource{}}
		for _, r := range rs {
			a, err := anypb.New(r)
			if err != nil {
				return nil, err
			}
			res := &discoveryv3.Resource{Name: resourceName(r), Version: "1", Resource: a}
			ft.all = append(ft.all, res)
			ft.anys = append(ft.anys, a)
			ft.byName[res.Name] = res
		}
		b.static[t] = ft
	}
	for i, c := range cfg.clas {
		a, err := anypb.New(c)
		if err != nil {
			return nil, err
		}
		b.eds = append(b.eds, &discoveryv3.Resource{Name: c.GetClusterName(), Version: "0", Resource: a})
		b.edsIndex[c.GetClusterName()] = i
	}
	return b, nil
}

func resourceName(r types.Resource) string {
	return r.(interface{ GetName() string }).GetName()
}

func (b *floorBackend) register(g *grpc.Server) {
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(g, b)
}

// change encodes the new CLA once, logs the change and wakes every stream.
func (b *floorBackend) change(svc int, next *endpointv3.ClusterLoadAssignment) error {
	a, err := anypb.New(next)
	if err != nil {
		return err
	}
	b.mu.Lock()
	v := strconv.Itoa(len(b.changes) + 1)
	r := &discoveryv3.Resource{Name: next.GetClusterName(), Version: v, Resource: a}
	b.eds[svc] = r
	nonce := b.nonce()
	b.changes = append(b.changes, &floorChange{
		svc:   svc,
		sotw:  &discoveryv3.DiscoveryResponse{VersionInfo: v, Resources: []*anypb.Any{a}, TypeUrl: resource.EndpointType, Nonce: nonce},
		delta: &discoveryv3.DeltaDiscoveryResponse{SystemVersionInfo: v, Resources: []*discoveryv3.Resource{r}, TypeUrl: resource.EndpointType, Nonce: nonce},
	})
	log := b.changes
	b.log.Store(&log)
	wake := make([]*floorStream, 0, len(b.streams))
	for s := range b.streams {
		wake = append(wake, s)
	}
	b.mu.Unlock()
	// Woken outside the lock, which the streams do not take to send.
	for _, s := range wake {
		select {
		case s.wake <- struct{}{}:
		default: // already woken; it will see this change too
		}
	}
	return nil
}

// nonce is unique in the process, so in every stream.
func (b *floorBackend) nonce() string { return strconv.FormatUint(b.nonces.Add(1), 36) }

// serve runs one stream. A goroutine reads requests (recv): it drops ACKs
// and NACKs there, and hands a request that changes a subscription to
// this goroutine as a function to run, which answers it; this goroutine
// also sends the changes. One goroutine sending everything keeps a
// subscription's answer and the changes after it in order, and has its
// stack grown by the initial sync, not by the first change (a second
// goroutine doing only the changes grew 5,000 stacks during it).
func (b *floorBackend) serve(done <-chan struct{}, recv func() (func(*floorStream) error, error), send func(*floorChange) error) error {
	s := &floorStream{eds: make([]uint64, (len(b.edsIndex)+63)/64), wake: make(chan struct{}, 1)}
	b.mu.Lock()
	s.cursor = len(b.changes) // the EDS table read at subscription has them
	b.streams[s] = struct{}{}
	b.mu.Unlock()
	stop := make(chan struct{})
	defer func() {
		b.mu.Lock()
		delete(b.streams, s)
		b.mu.Unlock()
		close(stop)
	}()
	reqs := make(chan func(*floorStream) error)
	recvErr := make(chan error, 1)
	go func() {
		for {
			handle, err := recv()
			if err != nil {
				recvErr <- err
				return
			}
			if handle == nil {
				continue // an ACK or NACK
			}
			select {
			case reqs <- handle:
			case <-stop:
				return
			}
		}
	}()
	for {
		select {
		case handle := <-reqs:
			if err := handle(s); err != nil {
				return err
			}
		case <-s.wake:
			if err := b.flush(s, send); err != nil {
				return err
			}
		case err := <-recvErr:
			return err
		case <-done:
			return nil
		}
	}
}

// flush sends the stream every change it has not seen, for the names it
// subscribed to.
func (b *floorBackend) flush(s *floorStream, send func(*floorChange) error) error {
	pending := (*b.log.Load())[s.cursor:]
	for _, c := range pending {
		s.cursor++
		if s.subscribed(c.svc) {
			if err := send(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// subscribe sets the stream's EDS subscription for names (on) and returns
// the current resources of those that exist.
func (b *floorBackend) subscribe(s *floorStream, names []string, on bool) []*discoveryv3.Resource {
	var out []*discoveryv3.Resource
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, n := range names {
		i, ok := b.edsIndex[n]
		if !ok {
			continue
		}
		s.set(i, on)
		if on {
			out = append(out, b.eds[i])
		}
	}
	return out
}

func anys(rs []*discoveryv3.Resource) []*anypb.Any {
	out := make([]*anypb.Any, len(rs))
	for i, r := range rs {
		out[i] = r.Resource
	}
	return out
}

// StreamAggregatedResources serves state of the world. A request whose
// names differ from the last of its type (or the first of its type)
// subscribes; any other is an ACK or NACK and needs no answer.
func (b *floorBackend) StreamAggregatedResources(st discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	last := map[string][]string{} // the reader's own
	recv := func() (func(*floorStream) error, error) {
		req, err := st.Recv()
		if err != nil {
			return nil, err
		}
		t, names := req.GetTypeUrl(), req.GetResourceNames()
		if prev, seen := last[t]; seen && slices.Equal(prev, names) {
			return nil, nil
		}
		last[t] = names
		return func(s *floorStream) error {
			resp := &discoveryv3.DiscoveryResponse{TypeUrl: t, VersionInfo: "1", Nonce: b.nonce()}
			if t == resource.EndpointType {
				clear(s.eds)
				resp.VersionInfo = "0"
				resp.Resources = anys(b.subscribe(s, names, true))
			} else if ft, ok := b.static[t]; ok {
				if len(names) == 0 && (t == resource.ClusterType || t == resource.ListenerType) {
					resp.Resources = ft.anys // wildcard
				} else {
					resp.Resources = anys(pick(ft, names))
				}
			} else {
				return nil // a type it does not serve
			}
			return st.Send(resp)
		}, nil
	}
	return b.serve(st.Context().Done(), recv, func(c *floorChange) error { return st.Send(c.sotw) })
}

// DeltaAggregatedResources serves delta xDS. The first request of CDS or
// LDS with no names is a wildcard subscription; otherwise a request's
// subscribe list is answered with those resources; a request with
// neither is an ACK or NACK and needs no answer.
func (b *floorBackend) DeltaAggregatedResources(st discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesServer) error {
	seen := map[string]bool{} // the reader's own
	recv := func() (func(*floorStream) error, error) {
		req, err := st.Recv()
		if err != nil {
			return nil, err
		}
		t, sub, unsub := req.GetTypeUrl(), req.GetResourceNamesSubscribe(), req.GetResourceNamesUnsubscribe()
		first := !seen[t]
		seen[t] = true
		wildcard := first && len(sub) == 0 && (t == resource.ClusterType || t == resource.ListenerType)
		if !wildcard && len(sub) == 0 && len(unsub) == 0 {
			return nil, nil
		}
		return func(s *floorStream) error {
			resp := &discoveryv3.DeltaDiscoveryResponse{TypeUrl: t, SystemVersionInfo: "1"}
			if t == resource.EndpointType {
				b.subscribe(s, unsub, false)
				resp.Resources = b.subscribe(s, sub, true)
			} else if ft, ok := b.static[t]; ok {
				if wildcard {
					resp.Resources = ft.all
				} else {
					resp.Resources = pick(ft, sub) // never change: nothing to unsubscribe
				}
			}
			if len(resp.Resources) == 0 {
				return nil
			}
			resp.Nonce = b.nonce()
			return st.Send(resp)
		}, nil
	}
	return b.serve(st.Context().Done(), recv, func(c *floorChange) error { return st.Send(c.delta) })
}

func pick(ft *floorType, names []string) []*discoveryv3.Resource {
	var out []*discoveryv3.Resource
	for _, n := range names {
		if r, ok := ft.byName[n]; ok {
			out = append(out, r)
		}
	}
	return out
}
