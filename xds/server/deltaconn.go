package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// deltaConn is the cache.ConfigWatcher of one delta ADS stream (the
// Server builds a go-control-plane delta server per stream around it, so
// that its state lives exactly as long as the stream). Envoy groups are
// served from the deltaHub; proxyless gRPC clients, which have no delta
// client today, from the publisher's stock cache as before.
//
// Watches are one-shot, as in go-control-plane's SnapshotCache: a type's
// watch answers at most once and the stream's next request of that type
// (its ACK or NACK) re-creates it. So at most two responses per type are in
// the server's response channel at any time (one from a publish, one from
// the re-created watch), well within its buffer of twice the number of
// types (pkg/server/delta/v3/watches.go), and a push never blocks.
type deltaConn struct {
	hub   *deltaHub
	stock cache.ConfigWatcher // for proxyless gRPC clients

	mu     sync.Mutex
	joined bool
	key    translate.GroupKey
	types  [numTypes]deltaWatch
	// whole hands a whole-type response's shared body from
	// GetDeltaDiscoveryResponse to the stream's Send (deltawhole.go);
	// used on the stream's goroutine only.
	whole wholeSlot
}

// deltaWatch is one type's state on the stream.
type deltaWatch struct {
	// sent is what the client holds, name -> version: its
	// initial_resource_versions, then what it was sent, as an overlay over
	// the snapshot's versions (sentset.go), so that a stream holds no copy
	// of the thousands of names every stream holds alike.
	sent *sentVersions
	// ret is the map responses hand the stream's loop as the
	// subscription's returned resources. The subscription only edits it on
	// unsubscribe (deltaSub.unsubscribe, as go-control-plane's
	// pkg/server/stream/v3/subscription.go,
	// UpdateResourceSubscriptions: "" to have a name re-sent, or delete),
	// and CreateDeltaWatch reads those edits back into sent (unsubscribed).
	ret  map[string]string
	snap *deltaSnap // the snapshot sent reflects; nil before any
	// stray says sent may hold names outside an explicit subscription.
	stray bool
	// hold says the response being computed leaves removals out.
	hold bool
	// held says removals were left out of a response (still in sent)
	// because a type that may name them was not yet sent the snapshot
	// (removalsHeld); releaseHeld sends them once it was.
	held bool

	// slot is the stream's wholeSlot (deltawhole.go).
	slot *wholeSlot

	// Set while a watch is open.
	open bool
	req  *discoveryv3.DeltaDiscoveryRequest
	sub  cache.Subscription
	out  chan cache.DeltaResponse
}

var _ cache.ConfigWatcher = (*deltaConn)(nil)

func newDeltaConn(hub *deltaHub, stock cache.ConfigWatcher) *deltaConn {
	return &deltaConn{hub: hub, stock: stock}
}

// CreateDeltaWatch answers a request at once if the client lacks anything
// of the current snapshot, or else leaves a watch open for the next one.
func (s *deltaConn) CreateDeltaWatch(req *discoveryv3.DeltaDiscoveryRequest, sub cache.Subscription, out chan cache.DeltaResponse) (func(), error) {
	if clientKind(req.GetNode()) != translate.ClientEnvoy {
		return s.stock.CreateDeltaWatch(req, sub, out)
	}
	t := typeIndex(req.GetTypeUrl())
	if t < 0 {
		// A type gatehouse does not serve: nothing will ever answer it.
		return func() {}, nil
	}
	key := nodeKey(req.GetNode())
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.joined || s.key != key {
		if s.joined {
			s.hub.leave(s.key, s)
			for i := range s.types {
				s.types[i].snap = nil // another group: diff in full
			}
		}
		s.key, s.joined = key, true
		s.hub.join(key, s)
	}
	w := &s.types[t]
	w.slot = &s.whole
	if w.sent == nil {
		// initial_resource_versions, with this request's unsubscribes
		// already applied by the server.
		w.sent = newSentVersions(sub.ReturnedResources())
		w.ret = map[string]string{}
	} else {
		w.unsubscribed(req, sub)
	}
	w.open, w.req, w.sub, w.out = true, req, sub, out
	cur := s.hub.current(key)
	if cur == nil {
		return s.cancelFunc(t), nil
	}
	w.hold = s.removalsHeld(t, cur)
	var resp *deltaResponse
	switch {
	case requestWildcardChange(req):
		resp = w.diffAll(cur, t)
	case w.snap == cur:
		// Up to date: only the names this request (un)subscribes can need
		// sending (an ACK names none: O(1)).
		names := make([]string, 0, len(req.GetResourceNamesSubscribe())+len(req.GetResourceNamesUnsubscribe()))
		names = append(append(names, req.GetResourceNamesSubscribe()...), req.GetResourceNamesUnsubscribe()...)
		resp = w.diffNames(cur, t, names)
	default:
		resp = s.catchUp(w, cur, t)
	}
	if resp != nil || (sub.IsWildcard() && req.GetResponseNonce() == "") {
		// The first wildcard request is answered even when empty: Envoy
		// waits for it to finish initialising (as go-control-plane does).
		w.respond(resp, cur, t)
	}
	s.releaseHeld(cur)
	return s.cancelFunc(t), nil
}

// unsubscribed applies to sent what the server did to the subscription's
// returned resources for this request's unsubscribes: a name it marked ""
// (unsubscribed while the wildcard still covers it: the client dropped it
// and must get it again, or its removal) is held at version "", any other
// is forgotten. The server wrote every unsubscribed name, so the map's
// final state for it says which. s.mu must be held.
func (w *deltaWatch) unsubscribed(req *discoveryv3.DeltaDiscoveryRequest, sub cache.Subscription) {
	ret := sub.ReturnedResources()
	for _, n := range req.GetResourceNamesUnsubscribe() {
		if n == "*" {
			continue
		}
		if v, ok := ret[n]; ok && v == "" {
			w.sent.set(n, "")
		} else {
			w.sent.del(n)
		}
	}
	clear(w.ret) // read: keep it small
}

// requestWildcardChange reports whether req subscribes or unsubscribes the
// wildcard, which changes what every name of the type means to the stream.
func requestWildcardChange(req *discoveryv3.DeltaDiscoveryRequest) bool {
	for _, lists := range [2][]string{req.GetResourceNamesSubscribe(), req.GetResourceNamesUnsubscribe()} {
		for _, n := range lists {
			if n == "*" {
				return true
			}
		}
	}
	return false
}

// catchUp diffs w against cur: only the names changed since w's snapshot
// when that is in cur's chain, else every name (a new stream, or one far
// behind). s.mu must be held.
func (s *deltaConn) catchUp(w *deltaWatch, cur *deltaSnap, t typeIdx) *deltaResponse {
	if w.snap != nil {
		if changed, ok := s.hub.changedSince(w.snap, cur, t); ok {
			// changed may be a snapshot's own list: append to a copy.
			names := make([]string, 0, len(changed)+len(w.req.GetResourceNamesSubscribe())+len(w.req.GetResourceNamesUnsubscribe()))
			names = append(append(append(names, changed...), w.req.GetResourceNamesSubscribe()...), w.req.GetResourceNamesUnsubscribe()...)
			return w.diffNames(cur, t, names)
		}
	}
	return w.diffAll(cur, t)
}

// update answers the stream's open watches with snapshot cur of group k,
// in ADS order (CDS, EDS, LDS, RDS, SDS): pushed under s.mu, so that a
// watch re-created concurrently cannot overtake them (make-before-break).
// A stream that moved to another group since publish listed it (its node
// changed) gets nothing: cur is not its group's. Removals a type's parents
// do not reflect yet are held and follow (releaseHeld).
func (s *deltaConn) update(k translate.GroupKey, cur *deltaSnap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.joined || s.key != k {
		return
	}
	for t := range numTypes {
		w := &s.types[t]
		if !w.open || w.snap == cur {
			continue
		}
		w.hold = s.removalsHeld(t, cur)
		var resp *deltaResponse
		if w.snap != nil {
			if names, ok := s.hub.changedSince(w.snap, cur, t); ok {
				resp = w.diffNames(cur, t, names)
			} else {
				resp = w.diffAll(cur, t)
			}
		} else {
			resp = w.diffAll(cur, t)
		}
		if resp != nil || (w.sub.IsWildcard() && w.req.GetResponseNonce() == "") {
			w.respond(resp, cur, t) // a first wildcard request waited for a snapshot
		}
	}
	s.releaseHeld(cur)
}

// removalParents lists, per type, the types whose resources can name it:
// removals of a type wait until the stream's parents of it reflect the
// snapshot (make-before-break on removal: Envoy's xDS protocol docs,
// "Eventual consistency considerations", want RDS/LDS updates before the
// CDS removals they allow, and a CLA removed only after its cluster). A
// route naming a cluster Envoy no longer has fails its requests with 503
// NC (Envoy: source/common/router/router.cc, Filter::decodeHeaders,
// "unknown cluster": NoClusterFound and the route's not-found code).
var removalParents = [numTypes][]typeIdx{
	tClusters:  {tListeners, tRoutes},
	tEndpoints: {tClusters},
	tRoutes:    {tListeners},
	tSecrets:   {tListeners, tClusters},
}

// releaseOrder visits parents before the types they name, so that one
// pass of releaseHeld sends every removal that became due.
var releaseOrder = [numTypes]typeIdx{tListeners, tRoutes, tClusters, tSecrets, tEndpoints}

// removalsHeld reports whether removals of type t must wait: a parent type
// the stream subscribes to was not yet sent cur, or still holds removals
// of its own. s.mu must be held.
func (s *deltaConn) removalsHeld(t typeIdx, cur *deltaSnap) bool {
	for _, p := range removalParents[t] {
		pw := &s.types[p]
		if pw.sent == nil {
			continue // not subscribed: nothing of it to wait for
		}
		if pw.snap != cur || pw.held {
			return true
		}
	}
	return false
}

// releaseHeld sends the removals held back on open watches whose parents
// now reflect cur. s.mu must be held.
func (s *deltaConn) releaseHeld(cur *deltaSnap) {
	for _, t := range releaseOrder {
		w := &s.types[t]
		if !w.held || !w.open || w.snap != cur || s.removalsHeld(t, cur) {
			continue
		}
		ts := &cur.types[t]
		var gone []string
		w.sent.each(func(n, _ string) {
			if _, ok := ts.versions[n]; !ok {
				gone = append(gone, n)
			}
		})
		w.held, w.hold = false, false
		if resp := w.diffNames(cur, t, gone); resp != nil {
			w.respond(resp, cur, t)
		}
	}
}

// respond sends resp (nil: an empty response) on the open watch and closes
// the watch. s.mu must be held.
func (w *deltaWatch) respond(resp *deltaResponse, cur *deltaSnap, t typeIdx) {
	if resp == nil {
		resp = &deltaResponse{}
	}
	if w.stray && !w.sub.IsWildcard() {
		// A response of an explicit subscription makes the stream forget
		// what it holds outside it, as go-control-plane's next version map
		// does (pkg/cache/v3/delta.go): subscribing the wildcard again
		// sends those anew. Until then their removals are still sent.
		subscribed := w.sub.SubscribedResources()
		for _, n := range w.sent.names() {
			if _, ok := subscribed[n]; !ok {
				w.sent.del(n)
			}
		}
		w.stray = false
	}
	resp.req, resp.returned, resp.version = w.req, w.ret, cur.types[t].version
	resp.slot = w.slot
	w.open = false
	w.out <- resp
}

// cancelFunc closes type t's watch: the server calls it before every new
// request of the type and when the stream ends.
func (s *deltaConn) cancelFunc(t typeIdx) func() {
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.types[t].open = false
	}
}

// close unregisters the stream once its server returned.
func (s *deltaConn) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.joined {
		s.hub.leave(s.key, s)
		s.joined = false
	}
}

// diffAll is go-control-plane's createDeltaResponse rule over every name
// (pkg/cache/v3/delta.go): a wildcard stream gets every resource whose
// version differs from what it holds and removals for whatever it holds
// that is gone; an explicit one the same for its subscribed names only.
func (w *deltaWatch) diffAll(cur *deltaSnap, t typeIdx) *deltaResponse {
	ts := &cur.types[t]
	if w.sent.len() == 0 {
		if resp := w.sendWhole(cur, t); resp != nil {
			return resp
		}
	}
	var names []string
	if w.sub.IsWildcard() {
		names = make([]string, 0, len(ts.versions)+w.sent.len())
		for n := range ts.versions {
			names = append(names, n)
		}
		w.sent.each(func(n, _ string) {
			if _, ok := ts.versions[n]; !ok {
				names = append(names, n)
			}
		})
	} else {
		// sent may hold names outside the subscription (initial versions,
		// or the wildcard was left): respond drops them.
		subscribed := w.sub.SubscribedResources()
		w.stray = true
		names = make([]string, 0, len(subscribed))
		for n := range subscribed {
			names = append(names, n)
		}
	}
	return w.diffNames(cur, t, names)
}

// sendWhole answers a stream that holds nothing of type t and subscribes
// to every resource of it (wildcard, or exactly its names: a new Envoy's
// first request) with the whole type, after which the stream holds
// exactly the snapshot's versions: that map becomes its base (shared,
// read only) with nothing of its own, instead of a thousand inserts into
// a private map that compact would throw away (a fifth of the server's
// CPU in a reconnect storm of 1,000 Envoys, FLEET_SYNCPROFILE). It
// returns nil, changing nothing, when the subscription is anything else.
func (w *deltaWatch) sendWhole(cur *deltaSnap, t typeIdx) *deltaResponse {
	ts := &cur.types[t]
	if len(ts.names) == 0 {
		return nil
	}
	if !w.sub.IsWildcard() {
		subscribed := w.sub.SubscribedResources()
		if len(subscribed) != len(ts.versions) {
			return nil
		}
		for n := range subscribed {
			if _, ok := ts.versions[n]; !ok {
				return nil
			}
		}
		w.stray = true // as diffAll: respond checks sent against the subscription
	}
	resp := &deltaResponse{resources: make([]*deltaEncoding, len(ts.names)), whole: ts, slot: w.slot}
	for i, n := range ts.names {
		resp.resources[i] = ts.enc[n]
	}
	w.sent.holdExactly(ts.versions)
	w.snap = cur
	return resp
}

// diffNames applies the same rule to the given names only (duplicates are
// harmless), records what it sends in w.sent and moves w to cur. It
// returns nil when there is nothing to send.
func (w *deltaWatch) diffNames(cur *deltaSnap, t typeIdx, names []string) *deltaResponse {
	ts := &cur.types[t]
	wildcard := w.sub.IsWildcard()
	subscribed := w.sub.SubscribedResources()
	var resp *deltaResponse
	for _, n := range names {
		if n == "*" {
			continue
		}
		_, explicit := subscribed[n]
		if !wildcard && !explicit {
			continue
		}
		held, has := w.sent.get(n)
		if v, ok := ts.versions[n]; ok {
			if has && held == v {
				continue
			}
			if resp == nil {
				resp = &deltaResponse{}
			}
			w.sent.set(n, v)
			resp.resources = append(resp.resources, ts.enc[n])
		} else if has {
			if w.hold {
				w.held = true // still in sent: releaseHeld sends it
				continue
			}
			if resp == nil {
				resp = &deltaResponse{}
			}
			w.sent.del(n)
			resp.removed = append(resp.removed, n)
		}
	}
	w.snap = cur
	w.sent.compact(ts.versions)
	return resp
}

// CreateWatch is not used: state of the world is served by the stock caches.
func (s *deltaConn) CreateWatch(*cache.Request, cache.Subscription, chan cache.Response) (func(), error) {
	return nil, fmt.Errorf("delta stream: state of the world is not served here")
}

// deltaResponse is one response of the delta path: resources encoded once
// per snapshot (shared with every stream), marshalled into the response by
// the server's goroutine, outside any lock.
type deltaResponse struct {
	req       *discoveryv3.DeltaDiscoveryRequest
	resources []*deltaEncoding
	removed   []string
	returned  map[string]string
	version   string
	// whole, when set, says resources are every resource of that type
	// snapshot in name order: the response goes out with the snapshot's
	// shared body (deltawhole.go) through slot.
	whole *deltaTypeSnap
	slot  *wholeSlot
}

var _ cache.DeltaResponse = (*deltaResponse)(nil)

func (r *deltaResponse) GetDeltaDiscoveryResponse() (*discoveryv3.DeltaDiscoveryResponse, error) {
	if r.whole != nil && r.slot != nil && len(r.removed) == 0 {
		return r.wholeResponse()
	}
	if r.slot != nil && len(r.resources) > 0 {
		return r.fieldsResponse()
	}
	out := &discoveryv3.DeltaDiscoveryResponse{
		Resources:         make([]*discoveryv3.Resource, 0, len(r.resources)),
		RemovedResources:  r.removed,
		TypeUrl:           r.req.GetTypeUrl(),
		SystemVersionInfo: r.version,
	}
	for _, e := range r.resources {
		res, err := e.get()
		if err != nil {
			return nil, err
		}
		out.Resources = append(out.Resources, res)
	}
	return out, nil
}

func (r *deltaResponse) GetDeltaRequest() *discoveryv3.DeltaDiscoveryRequest { return r.req }
func (r *deltaResponse) GetSystemVersion() (string, error)                   { return r.version, nil }
func (r *deltaResponse) GetResponseVersion() string                          { return r.version }
func (r *deltaResponse) GetNextVersionMap() map[string]string                { return r.returned }
func (r *deltaResponse) GetReturnedResources() map[string]string             { return r.returned }
func (r *deltaResponse) GetContext() context.Context                         { return context.Background() }

// resourceEncodings counts the resources encoded for responses, over both
// protocols (gatehouse_xds_resource_encodings_total): once per resource
// and snapshot, whatever the number of streams.
var resourceEncodings atomic.Int64

// deltaEncoding is one resource of one snapshot as delta responses carry
// it, encoded on first use and then shared by every stream it goes to.
// Its wire version is go-control-plane's for the same resource: the hex
// SHA-256 of the deterministic encoding (pkg/cache/v3/cached_resource.go),
// whose first 64 bits are the VersionMap version (see wireVersionLen), so
// clients reconnecting from either path are recognised.
type deltaEncoding struct {
	name, typeURL string
	r             types.Resource

	// One allocation per resource and snapshot (a full build makes
	// thousands): the two encodings are made on first use, under Onces
	// held in the struct rather than in sync.OnceValues closures.
	resOnce sync.Once
	res     *discoveryv3.Resource
	resErr  error
	// fieldEnc is the Resource as a delta response carries it (field 2
	// of DeltaDiscoveryResponse), encoded once and shared by every
	// response that carries it (deltawhole.go); full capacity, read only.
	fieldOnce sync.Once
	fieldEnc  []byte
	fieldErr  error
	// sotwEnc is the resource as a state-of-the-world response carries
	// it (an Any in field 2 of DiscoveryResponse), shared the same way
	// (sotwEncoding).
	sotwOnce sync.Once
	sotwEnc  []byte
	sotwErr  error
}

func newDeltaEncoding(name, typeURL string, r types.Resource) *deltaEncoding {
	return &deltaEncoding{name: name, typeURL: typeURL, r: r}
}

// get returns the resource as a delta response lists it, encoding it on
// the first call.
func (e *deltaEncoding) get() (*discoveryv3.Resource, error) {
	e.resOnce.Do(func() {
		resourceEncodings.Add(1)
		b, err := cache.MarshalResource(e.r)
		if err != nil {
			e.resErr = fmt.Errorf("encode %s %q: %w", e.typeURL, e.name, err)
			return
		}
		e.res = &discoveryv3.Resource{
			Name:     e.name,
			Version:  cache.HashResource(b),
			Resource: &anypb.Any{TypeUrl: e.typeURL, Value: b},
		}
	})
	return e.res, e.resErr
}

// sotwField returns the resource's encoding as field 2 of a
// DiscoveryResponse (an Any), made on the first call; full capacity, read
// only.
func (e *deltaEncoding) sotwField() ([]byte, error) {
	e.sotwOnce.Do(func() {
		sotwFields.Add(1)
		res, err := e.get()
		if err != nil {
			e.sotwErr = err
			return
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(res.GetResource())
		if err != nil {
			e.sotwErr = fmt.Errorf("encode %s %q: %w", e.typeURL, e.name, err)
			return
		}
		f := protowire.AppendTag(make([]byte, 0, len(b)+12), sotwResourcesField, protowire.BytesType)
		f = protowire.AppendBytes(f, b)
		e.sotwEnc = f[:len(f):len(f)]
	})
	return e.sotwEnc, e.sotwErr
}

// field returns the resource's encoding as field 2 of a
// DeltaDiscoveryResponse, made on the first call.
func (e *deltaEncoding) field() ([]byte, error) {
	e.fieldOnce.Do(func() { e.fieldEnc, e.fieldErr = resourceField(e) })
	return e.fieldEnc, e.fieldErr
}
