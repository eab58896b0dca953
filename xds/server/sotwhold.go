package server

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// The bridge hold: how long an Envoy group is served its bridge snapshot
// (bridge.go) before the final one, which drops the clusters.
//
// go-control-plane's ADS cache answers only the watches open when a
// snapshot is set (pkg/cache/v3/simple.go, respondSOTWWatches), and a
// stream's watch of a type is closed from the moment it was answered until
// the stream's next request of that type, its ACK or NACK
// (sotwads.go, as go-control-plane's pkg/server/sotw/v3/ads.go). So a stream whose RDS response was not yet ACKed when the
// bridge was set does not get the bridge's routes then, while its open CDS
// watch would get the final snapshot's CDS, the removal, at once: Envoy
// would route to a cluster it no longer has. The hold closes that gap: the
// final snapshot is set only once every state-of-the-world stream of the
// group that subscribes to LDS or RDS has ACKed the bridge's version of
// each (which the final shares: only CDS differs), with no other version
// of them sent since and unanswered (holdType.inFlight), or has ended. Envoy
// applies a response before it answers it, and a NACK carries the last
// version it accepted (Envoy: source/extensions/config_subscription/grpc/
// grpc_mux_impl.cc, GrpcMuxImpl::onDiscoveryResponse), so an ACK of the
// bridge's versions says that the routes and listeners it holds no longer
// name the dropped clusters, as Envoy's xDS protocol docs ask before a
// cluster is removed (docs/root/api-docs/xds_protocol.rst, "Eventual
// consistency considerations").
//
//   - A stream that NACKs the bridge's routes or listeners keeps its old
//     ones (Envoy keeps the last accepted configuration), which still name
//     the clusters: a NACK is no answer, the stream still holds the bridge
//     until it ACKs newer ones, ends, or a publish stops dropping the
//     clusters.
//   - The hold is bounded (Options.BridgeHold), for streams that answer
//     nothing and for those that NACK alike: then the final is set anyway,
//     counted in gatehouse_xds_bridge_hold_expired_total and reported with
//     the nodes still waited for (Options.OnBridgeHoldExpired). Without a
//     bound one stream, broken or hostile, that NACKs every version would
//     keep every cluster dropped since, for the whole group, for good.
//   - A stream that connects during the hold is served the bridge and
//     waited for like the others once it subscribes.
//   - A publish during the hold bridges from the snapshot served (the
//     bridge), so the clusters still held stay, and replaces the pending
//     final and the versions awaited, not the deadline; when it keeps
//     every cluster served it ends the hold.
//   - Delta streams order removals per stream (deltaConn.removalsHeld) and
//     are served the final at once; proxyless gRPC groups have no bridge.

// defaultBridgeHold is Options.BridgeHold's default: a client that has not
// answered in that time is stuck (as admission's defaultInitialSyncHold).
const defaultBridgeHold = 10 * time.Second

// holdTypes are the types whose ACK the hold waits for, in holdType order:
// the ones that can name a cluster.
var holdTypes = [...]typeIdx{tListeners, tRoutes}

func holdSlot(t typeIdx) int {
	switch t {
	case tListeners:
		return 0
	case tRoutes:
		return 1
	}
	return -1
}

// holdStream is what the hold knows of one state-of-the-world stream.
type holdStream struct {
	key   translate.GroupKey
	node  string
	types [len(holdTypes)]holdType
}

type holdType struct {
	requested bool   // the stream subscribes to the type
	acked     string // the version its last request holds
	nacked    string // the version its last request rejected ("" after an ACK)
	// inFlight is the version of the response last sent and not yet
	// answered ("" when none), with its nonce. Envoy applies a response
	// when it receives it, so until it answers, it may hold inFlight
	// rather than acked: versions are content hashes, and a stream that
	// ACKed routes without the dropped clusters, then was sent routes
	// naming them again (a cluster removed, added back and removed again),
	// holds the latter although its last ACK equals the bridge's version.
	inFlight, inFlightNonce string
}

// streamState classifies a stream against a hold's versions.
type streamState int

const (
	streamDone     streamState = iota // holds the versions, or subscribes to neither type
	streamWaiting                     // has not answered them yet
	streamRejected                    // rejected one: keeps routes that may name the clusters
)

func (s *holdStream) state(want [len(holdTypes)]string) streamState {
	st := streamDone
	for i, t := range s.types {
		switch {
		case !t.requested:
		case t.inFlight != "" && t.inFlight != want[i]:
			st = streamWaiting // may hold what it was sent: wait for its answer
		case t.acked == want[i]: // and nothing else in flight
		case t.nacked == want[i]:
			return streamRejected
		default:
			st = streamWaiting
		}
	}
	return st
}

// bridgeHold is one group's pending final snapshot.
type bridgeHold struct {
	gen      uint64
	want     [len(holdTypes)]string // the bridge's LDS and RDS versions
	waiting  map[*holdStream]streamState
	deadline time.Time
	timer    *time.Timer
}

// bridgeHolds tracks the state-of-the-world streams' LDS and RDS answers
// and the groups whose final snapshot waits for them. The tracker feeds it
// (request, closed); the Publisher starts and cancels holds (begin,
// cancel) and is called back to set a final (finish, on a goroutine of its
// own: the callers hold the tracker's or the publisher's lock).
type bridgeHolds struct {
	timeout   time.Duration
	finish    func(k translate.GroupKey, gen uint64)
	onExpired func(gateway string, silent, rejected []string)
	expiredN  prometheus.Counter
	held      prometheus.Gauge

	mu      sync.Mutex
	gen     uint64
	streams map[int64]*holdStream
	byKey   map[translate.GroupKey]map[*holdStream]struct{}
	holds   map[translate.GroupKey]*bridgeHold
}

func newBridgeHolds(timeout time.Duration, m *serverMetrics) *bridgeHolds {
	if timeout <= 0 {
		timeout = defaultBridgeHold
	}
	return &bridgeHolds{timeout: timeout, expiredN: m.bridgeHoldExpired, held: m.bridgesHeld,
		streams: map[int64]*holdStream{}, byKey: map[translate.GroupKey]map[*holdStream]struct{}{},
		holds: map[translate.GroupKey]*bridgeHold{}}
}

// begin starts (or replaces) the hold of group k for a bridge whose LDS
// and RDS versions are want. ready says no stream needs waiting for: the
// caller sets the final at once. Otherwise finish(k, gen) is called once
// the hold ends. A hold replaced keeps its deadline.
func (h *bridgeHolds) begin(k translate.GroupKey, want [len(holdTypes)]string) (gen uint64, ready bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen++
	b := &bridgeHold{gen: h.gen, want: want, waiting: map[*holdStream]streamState{}}
	for s := range h.byKey[k] {
		b.place(s)
	}
	old := h.holds[k]
	if old != nil {
		// The bound counts from the first bridge of the chain: each
		// bridge carries the clusters the one before still held, so
		// publishes more frequent than the bound would otherwise keep
		// them, and add to them, for as long as one stream is silent.
		old.timer.Stop()
		b.deadline = old.deadline
	}
	if len(b.waiting) == 0 {
		if old != nil {
			delete(h.holds, k)
			h.held.Dec()
		}
		return b.gen, true
	}
	if old == nil {
		h.held.Inc()
	}
	if b.deadline.IsZero() {
		b.deadline = time.Now().Add(h.timeout)
	}
	gen = b.gen
	b.timer = time.AfterFunc(time.Until(b.deadline), func() { h.expire(k, gen) })
	h.holds[k] = b
	return gen, false
}

// cancel drops group k's hold (a publish that ends it, or Remove).
func (h *bridgeHolds) cancel(k translate.GroupKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b := h.holds[k]; b != nil {
		b.timer.Stop()
		delete(h.holds, k)
		h.held.Dec()
	}
}

// place files s under b by its state.
func (b *bridgeHold) place(s *holdStream) {
	if st := s.state(b.want); st != streamDone {
		b.waiting[s] = st
	} else {
		delete(b.waiting, s)
	}
}

// request records a state-of-the-world stream's request of type t of an
// Envoy group: acked is its version_info, nacked the version it rejects
// ("" for an ACK, or a NACK of a response not known), nonce the response
// it answers.
func (h *bridgeHolds) request(id int64, k translate.GroupKey, node string, t typeIdx, acked, nacked, nonce string, nack bool) {
	i := holdSlot(t)
	if i < 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.streams[id]
	switch {
	case s == nil:
		s = &holdStream{key: k, node: node}
		h.streams[id] = s
		h.join(s)
	case s.key != k:
		// The node names another group now: what the stream held is
		// not that group's.
		h.leave(s)
		*s = holdStream{key: k, node: node}
		h.join(s)
	}
	ht := &s.types[i]
	ht.requested = true
	if ht.inFlightNonce != "" && nonce == ht.inFlightNonce {
		ht.inFlight, ht.inFlightNonce = "", "" // answered (a stale nonce is not)
	}
	if nack {
		// A NACK's version is the last one the client accepted.
		ht.acked, ht.nacked = acked, nacked
	} else {
		ht.acked, ht.nacked = acked, ""
	}
	if b := h.holds[s.key]; b != nil {
		b.place(s)
		h.endIfReady(s.key, b)
	}
}

// sent records a response of type t sent to a state-of-the-world stream
// (before the stream can answer it): until the answer, the stream may hold
// its version.
func (h *bridgeHolds) sent(id int64, t typeIdx, version, nonce string) {
	i := holdSlot(t)
	if i < 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.streams[id]
	if s == nil {
		return // not a stream of an Envoy group the holds follow
	}
	s.types[i].inFlight, s.types[i].inFlightNonce = version, nonce
	if b := h.holds[s.key]; b != nil {
		b.place(s)
	}
}

// closed forgets a stream that ended.
func (h *bridgeHolds) closed(id int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.streams[id]
	if s == nil {
		return
	}
	delete(h.streams, id)
	h.leave(s)
}

// leave drops s from its group and from the group's hold, which may end.
// h.mu must be held.
func (h *bridgeHolds) leave(s *holdStream) {
	if m := h.byKey[s.key]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(h.byKey, s.key)
		}
	}
	if b := h.holds[s.key]; b != nil {
		delete(b.waiting, s)
		h.endIfReady(s.key, b)
	}
}

func (h *bridgeHolds) join(s *holdStream) {
	m := h.byKey[s.key]
	if m == nil {
		m = map[*holdStream]struct{}{}
		h.byKey[s.key] = m
	}
	m[s] = struct{}{}
}

// expire ends a hold its bound ran out on: the final is set although the
// streams listed have not ACKed the bridge (silent: answered nothing;
// rejected: NACKed it).
func (h *bridgeHolds) expire(k translate.GroupKey, gen uint64) {
	h.mu.Lock()
	b := h.holds[k]
	if b == nil || b.gen != gen {
		h.mu.Unlock()
		return
	}
	var silent, rejected []string
	for s, st := range b.waiting {
		if st == streamRejected {
			rejected = append(rejected, s.node)
		} else {
			silent = append(silent, s.node)
		}
	}
	slices.Sort(silent)
	slices.Sort(rejected)
	h.expiredN.Inc()
	h.end(k, b)
	onExpired := h.onExpired
	h.mu.Unlock()
	if onExpired != nil {
		onExpired(k.Gateway, silent, rejected)
	}
}

// endIfReady ends b when no stream is waited for any more. h.mu must be
// held.
func (h *bridgeHolds) endIfReady(k translate.GroupKey, b *bridgeHold) {
	if len(b.waiting) == 0 {
		h.end(k, b)
	}
}

// end drops b and has the final set. h.mu must be held.
func (h *bridgeHolds) end(k translate.GroupKey, b *bridgeHold) {
	b.timer.Stop()
	delete(h.holds, k)
	h.held.Dec()
	go h.finish(k, b.gen)
}
