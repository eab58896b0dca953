package server

import (
	"context"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/delta/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
)

// deltaWatcher answers a delta stream's watches: gatehouse's deltaConn
// (or, in tests, the stock cache).
type deltaWatcher interface {
	CreateDeltaWatch(*discoveryv3.DeltaDiscoveryRequest, cache.Subscription, chan cache.DeltaResponse) (func(), error)
}

// serveDelta serves one delta ADS stream with the delta watcher ds
// (deltaconn.go). It is go-control-plane's delta loop (pkg/server/delta/v3/
// server.go, processDelta: the same request handling, nonces, callbacks
// and cache interface) with gatehouse's subscription (deltasub.go), so
// that streams subscribed to exactly their group's resources share one
// name set.
//
// What it keeps of go-control-plane's rules, all observable by a client:
//   - responses waiting when a request arrives are sent first;
//   - nonces count up per stream from 1, in decimal; a delta request's
//     nonce is not checked against them (go-control-plane does not);
//   - only the first request must carry the node; later ones are given it;
//   - an empty first request of a type is a wildcard subscription (legacy
//     wildcard) until a request subscribes to names.
func serveDelta(ctx context.Context, st stream.DeltaStream, ds deltaWatcher, cb delta.Callbacks, hub *deltaHub) error {
	reqs := make(chan *discoveryv3.DeltaDiscoveryRequest)
	go func() {
		defer close(reqs)
		for {
			req, err := st.Recv()
			if err != nil {
				return
			}
			select {
			case reqs <- req:
			case <-st.Context().Done():
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	c := &deltaStreamLoop{st: st, ds: ds, cb: cb, hub: hub, node: &corev3.Node{}, watches: make(map[string]*deltaStreamWatch, numTypes),
		resps: make(chan cache.DeltaResponse, 2*int(types.UnknownType))}
	defer c.shutdown()
	if err := cb.OnDeltaStreamOpen(st.Context(), 0, resource.AnyType); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-c.resps:
			if err := c.send(r); err != nil {
				return err
			}
		case req, ok := <-reqs:
			if !ok {
				return nil
			}
			if err := c.request(req); err != nil {
				return err
			}
		}
	}
}

// deltaStreamLoop is one delta stream's loop state.
type deltaStreamLoop struct {
	st      stream.DeltaStream
	ds      deltaWatcher
	cb      delta.Callbacks
	hub     *deltaHub
	node    *corev3.Node
	nonce   int64
	watches map[string]*deltaStreamWatch
	resps   chan cache.DeltaResponse
}

// deltaStreamWatch is the stream's watch of one type.
type deltaStreamWatch struct {
	cancel func()
	sub    *deltaSub
}

func (c *deltaStreamLoop) request(req *discoveryv3.DeltaDiscoveryRequest) error {
	// What the watcher answered before this request goes first.
	for drained := false; !drained; {
		select {
		case r := <-c.resps:
			if err := c.send(r); err != nil {
				return err
			}
		default:
			drained = true
		}
	}
	if err := c.cb.OnStreamDeltaRequest(0, req); err != nil {
		return err
	}
	if err := carryNode(&c.node, req.GetNode(), func(n *corev3.Node) { req.Node = n }, req.GetTypeUrl()); err != nil {
		return err
	}
	typeURL := req.GetTypeUrl()
	w := c.watches[typeURL]
	subscribe := req.GetResourceNamesSubscribe()
	if w == nil {
		shared := c.sharedNames(req)
		if shared == nil || !shared.matches(subscribe) {
			c.intern(req)
		}
		w = &deltaStreamWatch{sub: newDeltaSub(subscribe, req.GetResourceNamesUnsubscribe(),
			req.GetInitialResourceVersions(), true, shared)}
		c.watches[typeURL] = w
	} else {
		c.intern(req)
		if w.cancel != nil {
			w.cancel()
		}
		w.sub.update(req.GetResourceNamesSubscribe(), req.GetResourceNamesUnsubscribe())
	}
	cancel, err := c.ds.CreateDeltaWatch(req, w.sub, c.resps)
	if err != nil {
		return err
	}
	w.cancel = cancel
	return nil
}

// intern replaces the names req subscribes to that the group's snapshot
// has with the snapshot's own strings (deltaHub.intern), before the
// subscription keeps them.
func (c *deltaStreamLoop) intern(req *discoveryv3.DeltaDiscoveryRequest) {
	if t := typeIndex(req.GetTypeUrl()); t >= 0 && c.hub != nil && len(req.GetResourceNamesSubscribe()) > 0 {
		c.hub.intern(nodeKey(req.GetNode()), t, req.GetResourceNamesSubscribe())
	}
}

// sharedNames is the group snapshot's name set of a first request's type
// when it subscribes to names (deltaSub takes it if they are exactly its).
func (c *deltaStreamLoop) sharedNames(req *discoveryv3.DeltaDiscoveryRequest) *subNames {
	t := typeIndex(req.GetTypeUrl())
	if len(req.GetResourceNamesSubscribe()) == 0 || t < 0 || c.hub == nil {
		return nil
	}
	cur := c.hub.current(nodeKey(req.GetNode()))
	if cur == nil || cur.types[t].nameSet == nil {
		return nil
	}
	return cur.types[t].nameSet()
}

func (c *deltaStreamLoop) send(r cache.DeltaResponse) error {
	out, err := r.GetDeltaDiscoveryResponse()
	if err != nil {
		return err
	}
	c.nonce++
	out.Nonce = strconv.FormatInt(c.nonce, 10)
	c.cb.OnStreamDeltaResponse(0, r.GetDeltaRequest(), out)
	if err := c.st.Send(out); err != nil {
		return err
	}
	if w := c.watches[r.GetDeltaRequest().GetTypeUrl()]; w != nil {
		w.sub.returned = r.GetNextVersionMap()
	}
	return nil
}

func (c *deltaStreamLoop) shutdown() {
	for _, w := range c.watches {
		if w.cancel != nil {
			w.cancel()
		}
	}
	c.cb.OnDeltaStreamClosed(0, c.node)
}
