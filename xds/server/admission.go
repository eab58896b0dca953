package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

// Admission of initial syncs. A stream's first response of each type is
// the whole of that type (thousands of resources at fleet scale), and the
// gRPC transport holds each encoded response until the client read it. When
// a control plane restarts, every proxy reconnects at once: answered all
// together, the encoded initial syncs of all of them are alive at the same
// time (above 1 GB at 1,000 Envoys x 1,000 Services) and their CPU crowds
// out the established streams. So a stream needs one of a bounded number of
// sync slots to send a first response of a type; it keeps the slot until
// the client answered (ACK or NACK) every such response, and gives it back
// early when that takes longer than the hold bound (a stuck client) or the
// stream ends. A stream waits its turn at most the wait bound, then goes
// ahead without a slot (late, never starved). Later responses (changes on
// an established stream) never wait.

// Default admission bounds (Options.InitialSyncs, InitialSyncWait,
// InitialSyncHold).
const (
	defaultInitialSyncs    = 32
	defaultInitialSyncWait = 30 * time.Second
	defaultInitialSyncHold = 10 * time.Second
)

// admission is the server-wide pool of sync slots.
type admission struct {
	slots      chan struct{} // nil: unlimited
	wait, hold time.Duration
	m          *serverMetrics
	waiting    atomic.Int64 // streams waiting for a slot
	settle     *stormSettle // nil: unlimited slots, no storm to settle
}

func newAdmission(n int, wait, hold time.Duration, m *serverMetrics) *admission {
	a := &admission{wait: wait, hold: hold, m: m}
	if n > 0 {
		a.slots = make(chan struct{}, n)
		a.settle = newStormSettle(settleQuiet, func() bool { return len(a.slots) > 0 || a.waiting.Load() > 0 })
	}
	return a
}

// syncTicket is one stream's use of the admission pool.
type syncTicket struct {
	a *admission

	mu          sync.Mutex
	sent        map[string]bool     // types whose first response was sent
	outstanding map[string]struct{} // nonces of first responses not yet answered
	holding     bool
	timer       *time.Timer // gives the slot back after a.hold
}

func (a *admission) ticket() *syncTicket {
	return &syncTicket{a: a, sent: map[string]bool{}, outstanding: map[string]struct{}{}}
}

// beforeSend is called before a response is sent: a type's first response
// waits for a slot (unless the stream holds one), bounded by a.wait and
// ctx (the stream's).
func (t *syncTicket) beforeSend(ctx context.Context, typeURL, nonce string) {
	t.mu.Lock()
	if t.sent[typeURL] {
		t.mu.Unlock()
		return
	}
	t.sent[typeURL] = true
	if !t.holding && t.a.slots != nil {
		t.mu.Unlock()
		got := t.acquire(ctx)
		t.mu.Lock()
		if got {
			t.holding = true
			t.timer = time.AfterFunc(t.a.hold, t.expire)
		}
	}
	if t.holding {
		t.outstanding[nonce] = struct{}{}
	}
	t.mu.Unlock()
}

// acquire waits for a slot, at most a.wait.
func (t *syncTicket) acquire(ctx context.Context) bool {
	select {
	case t.a.slots <- struct{}{}:
		return true
	default:
	}
	t.a.m.syncWaiting.Inc()
	defer t.a.m.syncWaiting.Dec()
	t.a.waiting.Add(1)
	t.a.settle.waited()
	defer func() {
		t.a.waiting.Add(-1)
		t.a.settle.released() // a waiter that gave up may have been the last
	}()
	timer := time.NewTimer(t.a.wait)
	defer timer.Stop()
	select {
	case t.a.slots <- struct{}{}:
		return true
	case <-timer.C:
		t.a.m.syncWaitExpired.Inc()
		return false
	case <-ctx.Done():
		return false
	}
}

// answered is called for every request that answers a response (its
// response_nonce): once every first response is answered, the slot goes
// back.
func (t *syncTicket) answered(nonce string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.holding {
		return
	}
	delete(t.outstanding, nonce)
	if len(t.outstanding) == 0 {
		t.releaseLocked()
	}
}

// expire gives the slot back when the client took longer than a.hold.
func (t *syncTicket) expire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.holding {
		t.a.m.syncHoldExpired.Inc()
		t.releaseLocked()
	}
}

// close gives the slot back when the stream ends.
func (t *syncTicket) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.holding {
		t.releaseLocked()
	}
}

func (t *syncTicket) releaseLocked() {
	t.holding = false
	clear(t.outstanding)
	t.timer.Stop()
	<-t.a.slots
	t.a.settle.released()
}

// admittedSotW and admittedDelta pass a stream's responses and requests through
// its ticket on their way to and from go-control-plane's servers.
type admittedSotW struct {
	discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesServer
	t *syncTicket
}

func (s admittedSotW) Send(r *discoveryv3.DiscoveryResponse) error {
	s.t.beforeSend(s.Context(), r.GetTypeUrl(), r.GetNonce())
	return s.AggregatedDiscoveryService_StreamAggregatedResourcesServer.Send(r)
}

func (s admittedSotW) Recv() (*discoveryv3.DiscoveryRequest, error) {
	r, err := s.AggregatedDiscoveryService_StreamAggregatedResourcesServer.Recv()
	if n := r.GetResponseNonce(); err == nil && n != "" {
		s.t.answered(n)
	}
	return r, err
}

// requestInput hands the state-of-the-world loop the endable's requests
// (sotwads.go, requestFeeder), noting each answered nonce as Recv does.
func (s admittedSotW) requestInput() (requestInput, bool) {
	e, ok := s.AggregatedDiscoveryService_StreamAggregatedResourcesServer.(*endable)
	if !ok {
		return requestInput{}, false
	}
	in := e.requestInput()
	in.taken = func(r *discoveryv3.DiscoveryRequest) {
		if n := r.GetResponseNonce(); n != "" {
			s.t.answered(n)
		}
	}
	return in, true
}

// keptNames passes sotwConn.request's choice of names on to the stream's
// requestReader (sotwrecv.go).
func (s admittedSotW) keptNames(typeURL string, names, kept []string) {
	if e, ok := s.AggregatedDiscoveryService_StreamAggregatedResourcesServer.(*endable); ok {
		e.reader.kept(typeURL, names, kept)
	}
}

type admittedDelta struct {
	discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesServer
	t     *syncTicket
	whole *wholeSlot // nil: no shared bodies (deltawhole.go)
}

func (s admittedDelta) Send(r *discoveryv3.DeltaDiscoveryResponse) error {
	s.whole.apply(r)
	s.t.beforeSend(s.Context(), r.GetTypeUrl(), r.GetNonce())
	return s.AggregatedDiscoveryService_DeltaAggregatedResourcesServer.Send(r)
}

func (s admittedDelta) Recv() (*discoveryv3.DeltaDiscoveryRequest, error) {
	r, err := s.AggregatedDiscoveryService_DeltaAggregatedResourcesServer.Recv()
	if n := r.GetResponseNonce(); err == nil && n != "" {
		s.t.answered(n)
	}
	return r, err
}
