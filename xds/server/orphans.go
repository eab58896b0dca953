package server

import (
	"sync"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Removing a group clears its snapshot from go-control-plane's cache, and
// ClearSnapshot drops the node's status with every open state-of-the-world
// watch in it (go-control-plane pkg/cache/v3/simple.go). A stream of that
// group would then wait on a watch nobody answers, and miss the group when
// its Gateway is defined again. So Remove ends the group's state-of-the-
// world streams: the proxy keeps its configuration (Envoy keeps what it
// has when a stream ends, grpc-go keeps cached resources after a stream
// that had received a response fails: gRFC A57), reconnects, and its new
// watches wait in a fresh status until the group is published again.
// Delta streams are served by gatehouse's own hub, which keeps them.

// sotwStreams are the open state-of-the-world streams by group.
type sotwStreams struct {
	mu    sync.Mutex
	byKey map[translate.GroupKey]map[*endable]struct{}
}

func newSotWStreams() *sotwStreams {
	return &sotwStreams{byKey: map[translate.GroupKey]map[*endable]struct{}{}}
}

// join files e under key (leaving the group it was in: a stream's node
// may change).
func (s *sotwStreams) join(e *endable, key translate.GroupKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.joined && e.key == key {
		return
	}
	s.leaveLocked(e)
	m := s.byKey[key]
	if m == nil {
		m = map[*endable]struct{}{}
		s.byKey[key] = m
	}
	m[e] = struct{}{}
	e.key, e.joined = key, true
}

func (s *sotwStreams) leave(e *endable) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leaveLocked(e)
}

func (s *sotwStreams) leaveLocked(e *endable) {
	if !e.joined {
		return
	}
	if m := s.byKey[e.key]; m != nil {
		delete(m, e)
		if len(m) == 0 {
			delete(s.byKey, e.key)
		}
	}
	e.joined = false
}

// end ends every stream of the groups.
func (s *sotwStreams) end(keys ...translate.GroupKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		for e := range s.byKey[k] {
			e.end(k)
		}
	}
}

// endable is a state-of-the-world stream that gatehouse can end: its
// requests are read by a goroutine of its own, so that Recv can return
// when the stream is ended even while the proxy sends nothing.
type endable struct {
	discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesServer
	streams *sotwStreams
	reader  requestReader // decodes requests, unchanged names once (sotwrecv.go)
	reqs    chan *discoveryv3.DiscoveryRequest
	ended   chan struct{} // closed by end
	once    sync.Once
	err     error // why reading stopped; read after reqs is closed

	// key and joined are guarded by streams.mu.
	key    translate.GroupKey
	joined bool
	gone   translate.GroupKey // the group whose removal ended the stream
}

func newEndable(st discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesServer, streams *sotwStreams) *endable {
	e := &endable{AggregatedDiscoveryService_StreamAggregatedResourcesServer: st, streams: streams,
		reqs: make(chan *discoveryv3.DiscoveryRequest), ended: make(chan struct{})}
	go e.read()
	return e
}

func (e *endable) read() {
	defer close(e.reqs)
	// The stream's context ends when its handler returns, for whatever
	// reason, so this goroutine never outlives the stream.
	done := e.Context().Done()
	for {
		r, err := e.reader.recv(e.AggregatedDiscoveryService_StreamAggregatedResourcesServer)
		if err != nil {
			e.err = err
			return
		}
		if n := r.GetNode(); n != nil {
			e.streams.join(e, nodeKey(n))
		}
		select {
		case e.reqs <- r:
		case <-e.ended:
			e.err = errEnded
			return
		case <-done:
			e.err = e.Context().Err()
			return
		}
	}
}

var errEnded = status.Error(codes.Unavailable, "ended by gatehouse")

// end makes Recv fail; called with streams.mu held.
func (e *endable) end(k translate.GroupKey) {
	e.once.Do(func() {
		e.gone = k
		close(e.ended)
	})
}

func (e *endable) Recv() (*discoveryv3.DiscoveryRequest, error) {
	select {
	case r, ok := <-e.reqs:
		if !ok {
			return nil, e.err
		}
		return r, nil
	case <-e.ended:
		return nil, e.endedErr()
	}
}

// requestInput is the endable's requests as the state-of-the-world loop
// takes them (sotwads.go): read by the endable's own goroutine.
func (e *endable) requestInput() requestInput {
	return requestInput{reqs: e.reqs, ended: e.ended, err: e.inputErr}
}

// inputErr says why the input ended: gatehouse ended the stream, or (once
// reqs is closed) what reading it returned.
func (e *endable) inputErr() error {
	select {
	case <-e.ended:
		return e.endedErr()
	default:
		return e.err
	}
}

func (e *endable) endedErr() error {
	e.streams.mu.Lock()
	k := e.gone
	e.streams.mu.Unlock()
	return status.Errorf(codes.Unavailable, "gateway %q was removed: reconnect to be served when it is defined again (the configuration held is kept)", k.Gateway)
}

// close leaves the stream's group; call when the stream's handler returns.
func (e *endable) close() { e.streams.leave(e) }
