package server

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// sotwADS serves state-of-the-world ADS streams (issue 10). It is
// go-control-plane's ordered ADS loop (pkg/server/sotw/v3/ads.go and
// server.go: the same request, nonce and response rules, the same
// callbacks, the same cache interface) with gatehouse's subscription
// (sotwsub.go) in place of stream/v3's, so that an ACK builds nothing and
// streams of a group share their name sets and returned maps.
//
// What it keeps of go-control-plane's rules, all of them observable by a
// client:
//   - a request whose response_nonce is not the last sent of its type
//     (once one was sent since the type's last request) is ignored;
//   - a new request of a type closes the type's watch and drops the
//     responses of that type not yet sent, sending the others first, in
//     the order they came (ADS order);
//   - nonces count up per stream from 1, in decimal;
//   - only the first request must carry the node; later ones are given it;
//   - an empty first request of a type is a wildcard subscription (legacy
//     wildcard) until a request names resources.
type sotwADS struct {
	ctx   context.Context
	cache cache.ConfigWatcher
	cb    sotw.Callbacks
	hub   *deltaHub
	grpc  *grpcShared // nil: every response marshalled by its cache
	ids   atomic.Int64
}

// sotwWatch is a stream's open watch of one type.
type sotwWatch struct {
	cancel func()
	sub    *sotwSub
	nonce  string // of the last response sent for the type; "" since its request
}

// namesKeeper is a stream whose requests are decoded by a requestReader
// (sotwrecv.go), told which names a request went on with.
type namesKeeper interface {
	keptNames(typeURL string, names, kept []string)
}

// sotwConn is one state-of-the-world stream.
type sotwConn struct {
	s       *sotwADS
	st      stream.Stream
	id      int64
	node    *corev3.Node
	nonce   int64
	watches map[string]*sotwWatch
}

// requestInput is where a stream's requests come from.
type requestInput struct {
	reqs <-chan *discoveryv3.DiscoveryRequest // closed when the input ends
	// ended is closed when gatehouse ends the stream (nil: never).
	ended <-chan struct{}
	// err says why the input ended, once reqs is closed or ended is.
	err func() error
	// taken, when set, is called with each request as the loop takes it.
	taken func(*discoveryv3.DiscoveryRequest)
}

// requestFeeder is a stream whose requests a goroutine of its own already
// reads (endable, under admittedSotW): the loop takes them from there
// rather than through one more goroutine, a handoff less per request (a
// thousand per change at 1,000 Envoys).
type requestFeeder interface {
	requestInput() (requestInput, bool)
}

// readRequests reads st's requests on a goroutine of their own.
func (s *sotwADS) readRequests(st stream.Stream) requestInput {
	reqs := make(chan *discoveryv3.DiscoveryRequest)
	var recvErr error // written before reqs is closed
	go func() {
		defer close(reqs)
		for {
			req, err := st.Recv()
			if err != nil {
				recvErr = err
				return
			}
			select {
			case reqs <- req:
			case <-st.Context().Done():
				return
			case <-s.ctx.Done():
				return
			}
		}
	}()
	return requestInput{reqs: reqs, err: func() error { return recvErr }}
}

// serve serves st until it ends. A stream ended by gatehouse (its gateway
// was removed: orphans.go) ends with the reason its Recv gave.
func (s *sotwADS) serve(st stream.Stream) error {
	in, ok := requestInput{}, false
	if f, isFeeder := st.(requestFeeder); isFeeder {
		in, ok = f.requestInput()
	}
	if !ok {
		in = s.readRequests(st)
	}
	c := &sotwConn{s: s, st: st, id: s.ids.Add(1), node: &corev3.Node{}, watches: make(map[string]*sotwWatch, numTypes)}
	defer c.shutdown()
	if err := s.cb.OnStreamOpen(st.Context(), c.id, resource.AnyType); err != nil {
		return err
	}
	inputEnded, err := c.run(in)
	if inputEnded {
		if recvErr := in.err(); recvErr != nil {
			if st, ok := status.FromError(recvErr); ok && st.Code() == codes.Unavailable {
				return recvErr // ended by gatehouse (orphans.go): the client is told why
			}
		}
	}
	return err
}

// run serves the stream; inputEnded says it ended because its input did
// (then nil: as go-control-plane, a stream the client ended is not an
// error).
func (c *sotwConn) run(in requestInput) (inputEnded bool, err error) {
	// One channel for every type's responses, of the size go-control-plane
	// gives it: a watch answers once, so at most one response per type
	// waits in it.
	resps := make(chan cache.Response, types.UnknownType)
	for {
		select {
		case <-c.s.ctx.Done():
			return false, nil
		case <-in.ended:
			return true, nil
		case r := <-resps:
			if err := c.send(r); err != nil {
				return false, status.Error(codes.Unavailable, err.Error())
			}
		case req, ok := <-in.reqs:
			if !ok {
				return true, nil
			}
			if in.taken != nil {
				in.taken(req)
			}
			if err := c.request(req, resps); err != nil {
				return false, err
			}
		}
	}
}

// request takes in one request: closes its type's watch and opens the
// next.
func (c *sotwConn) request(req *discoveryv3.DiscoveryRequest, resps chan cache.Response) error {
	if err := carryNode(&c.node, req.GetNode(), func(n *corev3.Node) { req.Node = n }, req.GetTypeUrl()); err != nil {
		return err
	}
	typeURL := req.GetTypeUrl()
	if err := c.s.cb.OnStreamRequest(c.id, req); err != nil {
		return err
	}
	w := c.watches[typeURL]
	names := req.GetResourceNames()
	var sub *sotwSub
	var shared *subNames
	if w == nil || !w.sub.unchanged(names) {
		shared = c.sharedNames(req)
	}
	if w != nil {
		if w.nonce != "" && req.GetResponseNonce() != w.nonce {
			// Stale: answers a response that was superseded. Envoy's
			// protocol (api-docs/xds_protocol.rst, "Resource updates")
			// and go-control-plane ignore it; the newer response's
			// answer follows.
			return nil
		}
		// Closed first, so that nothing answers it while the
		// subscription changes.
		if w.cancel != nil {
			w.cancel()
		}
		if err := c.sendAllBut(typeURL, resps); err != nil {
			return err
		}
		sub = w.sub
		sub.update(names, shared)
	} else {
		sub = newSotwSub(names, true, shared)
	}
	if sub.set.names != nil && !sub.wildcard {
		// The request names exactly the group snapshot's resources: it
		// carries the snapshot's list instead of its own decoded copy,
		// which the watch would keep for as long as it waits; so do the
		// stream's next requests with the same names (sotwrecv.go), which
		// the subscription then recognises without reading a name.
		req.ResourceNames = sub.set.names
		if k, ok := c.st.(namesKeeper); ok && !sameSlice(names, sub.set.names) {
			k.keptNames(typeURL, names, sub.set.names)
		}
	}
	cancel, err := c.s.cache.CreateWatch(req, sub, resps)
	if err != nil {
		return err
	}
	c.watches[typeURL] = &sotwWatch{cancel: cancel, sub: sub}
	return nil
}

// carryNode keeps a stream's node: only its first request must carry it,
// and later ones are given it (as go-control-plane does); every ADS
// request must name its type.
func carryNode(node **corev3.Node, got *corev3.Node, give func(*corev3.Node), typeURL string) error {
	if got != nil {
		*node = got
	} else {
		give(*node)
	}
	if typeURL == "" {
		return status.Error(codes.InvalidArgument, "type URL is required for ADS")
	}
	return nil
}

// sharedNames returns the group snapshot's name set of the request's type
// when the request names resources; called only when the stream's
// subscription changes (an ACK needs none). When the names are not
// exactly the snapshot's, the stream builds a set of its own: those the
// snapshot has are first interned (deltaHub.intern), so that the set
// keeps the snapshot's strings rather than the request's.
func (c *sotwConn) sharedNames(req *discoveryv3.DiscoveryRequest) *subNames {
	names := req.GetResourceNames()
	t := typeIndex(req.GetTypeUrl())
	if len(names) == 0 || t < 0 || c.s.hub == nil {
		return nil
	}
	k := nodeKey(req.GetNode())
	cur := c.s.hub.current(k)
	if cur == nil || cur.types[t].nameSet == nil {
		return nil
	}
	shared := cur.types[t].nameSet()
	if !shared.matches(names) {
		c.s.hub.intern(k, t, names)
	}
	return shared
}

// sendAllBut sends the waiting responses of every type but typeURL, whose
// are dropped (a newer request of the type supersedes them).
func (c *sotwConn) sendAllBut(typeURL string, resps chan cache.Response) error {
	for {
		select {
		case r := <-resps:
			if r.GetRequest().GetTypeUrl() != typeURL {
				if err := c.send(r); err != nil {
					return err
				}
			}
		default:
			return nil
		}
	}
}

// send sends r with the stream's next nonce.
func (c *sotwConn) send(r cache.Response) error {
	out, err := c.discoveryResponse(r)
	if err != nil {
		return err
	}
	typeURL := r.GetRequest().GetTypeUrl()
	w := c.watches[typeURL]
	if w == nil {
		return fmt.Errorf("no current watch for %s", typeURL)
	}
	c.nonce++
	out.Nonce = strconv.FormatInt(c.nonce, 10)
	w.sub.returned = returnedFor(r, w.sub)
	w.nonce = out.Nonce
	c.s.cb.OnStreamResponse(r.GetContext(), c.id, r.GetRequest(), out)
	return c.st.Send(out)
}

// discoveryResponse is r's DiscoveryResponse, from the proxyless groups'
// shared encodings when r is a stock response they can build.
func (c *sotwConn) discoveryResponse(r cache.Response) (*discoveryv3.DiscoveryResponse, error) {
	if raw, ok := r.(*cache.RawResponse); ok && c.s.grpc != nil {
		out, ok, err := c.s.grpc.response(raw)
		if err != nil || ok {
			return out, err
		}
	}
	return r.GetDiscoveryResponse()
}

func (c *sotwConn) shutdown() {
	for _, w := range c.watches {
		if w.cancel != nil {
			w.cancel()
		}
	}
	c.s.cb.OnStreamClosed(c.id, c.node)
}

// returnedFor is what a stream subscribed as sub holds once sent r: r's
// returned names, less those it did not subscribe to (unless wildcard).
// The stock cache answers a request naming nothing (grpc-go's, once it
// dropped every route configuration or every cluster load assignment)
// with every resource of the type; a client that did not subscribe to
// them drops them, so they must not count as held: when it subscribes to
// one of them, it gets it again at once. It also keeps the returned names
// a subset of the subscribed ones, which classify and edsStream rely on.
// A whole-type response to a stream subscribed to exactly the snapshot's
// names costs nothing here.
func returnedFor(r cache.Response, sub *sotwSub) map[string]string {
	ret := r.GetReturnedResources()
	if sub.wildcard {
		return ret
	}
	if w, ok := r.(wholeType); ok && w.returnedNames() == sub.set {
		return ret
	}
	return restrictNames(ret, sub.set.m)
}

// wholeType is a response that returns every name of a snapshot type:
// returnedNames is that type's name set.
type wholeType interface{ returnedNames() *subNames }
