package server

import (
	"sync"
	"sync/atomic"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Encode once for state of the world. go-control-plane's SnapshotCache
// answers every stream with a RawResponse of its own, which marshals every
// resource again for that stream (pkg/cache/v3/cache.go,
// RawResponse.GetDiscoveryResponse): at 200 Envoys x 1,000 CLAs that was
// 1.6 s of CPU per endpoint change. Envoy groups' state-of-the-world
// streams keep that cache's snapshots and, where gatehouse does not answer
// a watch itself (sotwwatch.go), its responses; those pass through
// sharedSotW, which hands the stream, in their
// place, a response whose resources are the group snapshot's own encodings
// (deltaTypeSnap.sotw: each resource encoded once per snapshot, shared
// with the delta path and every stream), whenever the response carries the
// whole of the type at the snapshot's version, which is what an Envoy of
// the group asks for. Anything else (a subset of names, a version the delta
// hub does not hold, such as the bridge snapshot's) keeps the
// RawResponse. Each stream still builds its own small DiscoveryResponse
// (go-control-plane writes the stream's nonce into it) and gRPC copies the
// shared bytes into the stream's message.
//
// The cache writes its responses into a channel of sharedSotW's (mid), as
// do gatehouse's own answers, and sharedSotW moves them to the server's
// channel, converted, in ADS order:
// after the cache's CreateWatch returns, before a watch's cancel returns
// (the server cancels before it drains its channel, so it sees exactly
// what it would have seen), and after each Publish (flush).

// sharedSotW wraps the Envoy groups' SnapshotCache for state of the world.
type sharedSotW struct {
	cache.SnapshotCache
	hub *deltaHub

	mu      sync.Mutex
	streams map[chan cache.Response]*sotwFan
	groups  map[translate.GroupKey]map[*sotwFan]struct{}
	// answered counts, for tests, the watches answered from the shared
	// encodings at once (immediate) or by flush (shared), and the held
	// ones flush handed to the cache (byCache); guarded by mu.
	answered answerCounts
}

// sotwFan is one state-of-the-world stream: its response channel, the
// channel the cache writes to, and its open watches.
type sotwFan struct {
	out     chan cache.Response
	mid     chan cache.Response
	key     translate.GroupKey
	watches int // open watches; the entry goes with the last one

	mu sync.Mutex // serialises forward

	// held are the stream's watches sharedSotW holds itself, by type
	// (sotwwatch.go); guarded by sharedSotW.mu.
	held [numTypes]*heldWatch

	// eds is what the stream holds of EDS (sotweds.go). It lives with the
	// entry: a stream whose only watch is EDS loses it between requests
	// (the server closes the watch before it opens the next), which only
	// makes its next response whole.
	eds edsStream
}

// midCapacity bounds the responses waiting in mid: one per open watch
// (at most one per type: watches are one-shot), forwarded before the next
// is opened or when a publish ends.
const midCapacity = 2 * int(numTypes)

func newSharedSotW(c cache.SnapshotCache, hub *deltaHub) *sharedSotW {
	return &sharedSotW{SnapshotCache: c, hub: hub, streams: map[chan cache.Response]*sotwFan{},
		groups: map[translate.GroupKey]map[*sotwFan]struct{}{}}
}

func (s *sharedSotW) CreateWatch(req *cache.Request, sub cache.Subscription, out chan cache.Response) (func(), error) {
	key := nodeKey(req.GetNode())
	s.mu.Lock()
	f := s.streams[out]
	if f == nil {
		f = &sotwFan{out: out, mid: make(chan cache.Response, midCapacity), key: key}
		s.streams[out] = f
		s.join(f)
	} else if f.key != key {
		s.leave(f)
		f.key = key
		s.join(f)
		f.eds.reset()
	}
	f.watches++
	s.mu.Unlock()
	t := typeIndex(req.GetTypeUrl())
	if t == tEndpoints {
		f.eds.request(req, sub)
	}

	cancel, err := s.watch(f, key, t, req, sub)
	s.forward(f)
	if err != nil {
		s.release(f)
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if cancel != nil {
				cancel()
			}
			s.forward(f)
			s.release(f)
		})
	}, nil
}

// join and leave index f by group; s.mu must be held.
func (s *sharedSotW) join(f *sotwFan) {
	g := s.groups[f.key]
	if g == nil {
		g = map[*sotwFan]struct{}{}
		s.groups[f.key] = g
	}
	g[f] = struct{}{}
}

func (s *sharedSotW) leave(f *sotwFan) {
	if g := s.groups[f.key]; g != nil {
		delete(g, f)
		if len(g) == 0 {
			delete(s.groups, f.key)
		}
	}
}

// release drops a closed watch; the stream's entry goes with its last.
func (s *sharedSotW) release(f *sotwFan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.watches--
	if f.watches == 0 && len(f.mid) == 0 {
		delete(s.streams, f.out)
		s.leave(f)
	}
}

// flush answers the held watches of group k's streams whose type changed
// (sotwwatch.go) and forwards those answers and what the cache wrote on
// the publish into its streams' channels.
func (s *sharedSotW) flush(k translate.GroupKey) {
	s.mu.Lock()
	// Removed (no snapshot): held watches stay, the streams are ended
	// (orphans.go).
	snap, err := s.SnapshotCache.GetSnapshot(k.String())
	fans := make([]*sotwFan, 0, len(s.groups[k]))
	for f := range s.groups[k] {
		fans = append(fans, f)
		if err == nil && snap != nil {
			s.answerHeld(f, snap)
		}
	}
	s.mu.Unlock()
	for _, f := range fans {
		s.forward(f)
	}
}

// forward moves f's waiting responses to the server's channel, in the
// cache's ADS type order (a flush adds held watches' answers after those
// the cache wrote), each shared when it can be.
func (s *sharedSotW) forward(f *sotwFan) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var buf [midCapacity]cache.Response
	for {
		rs := buf[:0]
	drain:
		for {
			select {
			case r := <-f.mid:
				rs = append(rs, r)
			default:
				break drain
			}
		}
		if len(rs) == 0 {
			return
		}
		inADSOrder(rs)
		for _, r := range rs {
			f.out <- s.share(f, r)
		}
	}
}

// share returns the shared form of r when r carries the whole of its type
// at a version the group's delta snapshot has, else r. EDS responses to
// explicit subscriptions go to f's edsStream, which trims them to what
// the stream lacks (sotweds.go).
func (s *sharedSotW) share(f *sotwFan, r cache.Response) cache.Response {
	t := typeIndex(r.GetRequest().GetTypeUrl())
	if hr, ok := r.(*heldResp); ok {
		if t != tEndpoints {
			return hr
		}
		cur := hr.cur
		if !hr.named {
			cur = nil // wildcard EDS: the whole body, as for the cache's
		}
		return &edsResponse{Response: hr, e: &f.eds, hub: s.hub, cur: cur}
	}
	raw, ok := r.(*cache.RawResponse)
	if !ok || t < 0 {
		if t == tEndpoints {
			return &edsResponse{Response: r, e: &f.eds}
		}
		return r
	}
	cur := s.hub.snapshotAt(nodeKey(raw.GetRequest().GetNode()), t, raw.GetResponseVersion())
	var ts *deltaTypeSnap
	if cur != nil {
		ts = &cur.types[t]
	}
	whole := ts != nil && len(raw.GetReturnedResources()) == len(ts.versions)
	if t == tEndpoints {
		if !whole || len(raw.GetRequest().GetResourceNames()) == 0 {
			cur = nil // as the cache built it
		}
		return &edsResponse{Response: raw, e: &f.eds, hub: s.hub, cur: cur}
	}
	if !whole {
		return r
	}
	return &sharedResponse{RawResponse: raw, ts: ts}
}

// sharedResponse is a RawResponse whose resources come from the group
// snapshot's shared encodings.
type sharedResponse struct {
	*cache.RawResponse
	ts *deltaTypeSnap
}

func (r *sharedResponse) GetDiscoveryResponse() (*discoveryv3.DiscoveryResponse, error) {
	enc, err := r.ts.sotw()
	if err != nil {
		return nil, err
	}
	out := &discoveryv3.DiscoveryResponse{VersionInfo: r.ts.version, TypeUrl: r.GetRequest().GetTypeUrl()}
	// The resources travel as the type's encoded resources field, shared by
	// every stream: gRPC's marshal of this message copies those bytes
	// after the stream's own fields (version, type, nonce) and walks no
	// resource. Field order on the wire does not matter to a parser.
	out.ProtoReflect().SetUnknown(enc.all())
	return out, nil
}

// sotwEncoding is a type's resources as every state-of-the-world response
// of a snapshot carries them, in name order: each resource's response
// field (deltaEncoding.sotwField, made once per resource content and
// carried from snapshot to snapshot) and, joined from them on first use,
// the whole type's repeated resources field (field 2 of
// DiscoveryResponse). An endpoint change makes one new field; a stream
// that lacks only that CLA gets it without the whole body being made
// (sotweds.go).
type sotwEncoding struct {
	// names are the resources' names, sorted; fields[i] is names[i]'s.
	names  []string
	fields [][]byte

	bodyOnce sync.Once
	body     protoreflect.RawFields // full capacity: never appended to in place
}

// sotwBodies and sotwFields count the whole-type bodies joined and the
// resources' response fields encoded for state of the world (tests).
var sotwBodies, sotwFields atomic.Int64

// all is every resource's field, joined: the whole type's body.
func (e *sotwEncoding) all() protoreflect.RawFields {
	e.bodyOnce.Do(func() {
		sotwBodies.Add(1)
		size := 0
		for _, f := range e.fields {
			size += len(f)
		}
		body := make([]byte, 0, size)
		for _, f := range e.fields {
			body = append(body, f...)
		}
		e.body = body
	})
	return e.body
}

// sotwResources builds a type's sotwEncoding once per snapshot, on first
// use (read only: every stream shares it).
func sotwResources(ts *deltaTypeSnap) func() (*sotwEncoding, error) {
	return sync.OnceValues(func() (*sotwEncoding, error) {
		out := &sotwEncoding{names: ts.names, fields: make([][]byte, len(ts.names))}
		for i, n := range ts.names {
			f, err := ts.enc[n].sotwField()
			if err != nil {
				return nil, err
			}
			out.fields[i] = f
		}
		return out, nil
	})
}

// sotwResourcesField is DiscoveryResponse.resources' field number.
const sotwResourcesField = 2
