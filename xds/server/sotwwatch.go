package server

import (
	"context"
	"slices"
	"sync"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// State-of-the-world watches held by gatehouse (issue 10).
//
// go-control-plane's SnapshotCache answers each open watch, when a snapshot
// changes its type's version, with a response of its own built for that
// stream (pkg/cache/v3/simple.go, respondSOTWWatches and createResponse):
// a cachedResource per resource and a returned-resources map, and a debug
// line's list of every name even with logging off. With 1,000 CLAs that
// was about 70% of the server's CPU per endpoint change over state of the
// world, garbage collection included (fleet benchmark, 200 Envoys, CPU
// profile). The responses' resources were already shared (sotwshare.go);
// their per-stream scaffolding was not.
//
// So sharedSotW keeps the watches that wait for a change itself. A watch
// whose request is up to date (its version is the snapshot's, and the
// stream holds every resource it subscribed to that the snapshot has: the
// cache's own rule, simple.go CreateWatch) is held here instead of in the
// cache. After each SetSnapshot of the group (flush), a held watch whose
// type changed version is answered:
//   - from the group's delta snapshot at that version (its shared
//     encodings, and for EDS the trimming of sotweds.go), when the delta
//     hub has that version and the request asks for every resource of the
//     type (wildcard, or exactly its names: what an Envoy of the group
//     asks for);
//   - otherwise (a bridge snapshot, a request for some names only) by the
//     cache, whose CreateWatch answers at once since the version differs:
//     the response the cache would have sent on SetSnapshot.
//
// Check and registration happen under sharedSotW.mu, and flush reads the
// snapshot under it after SetSnapshot returned, so a watch is never left
// waiting on a version it missed. A flush sends each stream's responses
// in the cache's ADS order (clusters, endpoints, listeners, routes,
// secrets), those the cache wrote for its own watches included.

// answerCounts are sharedSotW.answered.
type answerCounts struct{ immediate, shared, byCache int }

// heldWatch is one watch sharedSotW holds.
type heldWatch struct {
	req *cache.Request
	sub cache.Subscription
	t   typeIdx
	// stockCancel cancels the cache's watch when the cache took the
	// watch over (flush's fallback) and kept it open.
	stockCancel func()
}

// classify says what the cache would do with req's watch for group k:
// hold it open (wait), or answer it at once at version (the snapshot's
// version of the type); known is false when k has no snapshot (the cache
// then holds the watch until the first). It applies the cache's rule
// (simple.go, CreateWatch): answer when the version differs, or when the
// stream lacks a resource it asks for that the snapshot has. s.mu must be
// held.
func (s *sharedSotW) classify(k string, req *cache.Request, sub cache.Subscription) (wait bool, version string, known bool) {
	snap, err := s.SnapshotCache.GetSnapshot(k)
	if err != nil || snap == nil {
		return false, "", false
	}
	typeURL := req.GetTypeUrl()
	version = snap.GetVersion(typeURL)
	if version != req.GetVersionInfo() {
		return false, version, true
	}
	resources := snap.GetResourcesAndTTL(typeURL)
	returned := sub.ReturnedResources()
	if !sub.IsWildcard() {
		subscribed := sub.SubscribedResources()
		if len(returned) == len(subscribed) {
			// The server keeps the returned names a subset of the
			// subscribed ones (sotwSub.update, as go-control-plane's
			// SetResourceSubscription; sotweds.go relies on it too), so
			// equal sizes mean every subscribed name was returned: an ACK
			// of an up-to-date stream costs no walk of its thousand names.
			return true, version, true
		}
		for r := range subscribed {
			if _, ok := returned[r]; !ok {
				if _, ok := resources[r]; ok {
					return false, version, true
				}
			}
		}
		return true, version, true
	}
	for r := range resources {
		if _, ok := returned[r]; !ok {
			return false, version, true
		}
	}
	return true, version, true
}

// watch opens req's watch for stream f of group k: held, or answered at
// once from the shared encodings, when the group has a snapshot and the
// request allows it, else by the cache. A nil cancel means answered.
func (s *sharedSotW) watch(f *sotwFan, k translate.GroupKey, t typeIdx, req *cache.Request, sub cache.Subscription) (func(), error) {
	if t >= 0 {
		s.mu.Lock()
		wait, version, known := s.classify(k.String(), req, sub)
		w := &heldWatch{req: req, sub: sub, t: t}
		switch {
		case known && wait:
			cancel := s.hold(f, w) // answered by flush
			s.mu.Unlock()
			return cancel, nil
		case known:
			if r := s.heldResponse(f, w, version); r != nil {
				f.mid <- r // as the cache would answer at once
				s.answered.immediate++
				s.mu.Unlock()
				return nil, nil
			}
		}
		s.mu.Unlock()
	}
	return s.SnapshotCache.CreateWatch(req, sub, f.mid)
}

// hold registers w as f's open watch of its type; s.mu must be held. The
// returned cancel is the watch's.
func (s *sharedSotW) hold(f *sotwFan, w *heldWatch) func() {
	f.held[w.t] = w
	return func() {
		s.mu.Lock()
		if f.held[w.t] == w {
			f.held[w.t] = nil
		}
		stock := w.stockCancel
		s.mu.Unlock()
		if stock != nil {
			stock()
		}
	}
}

// answerHeld answers f's held watches whose type changed version in snap
// (the group's snapshot, read once per flush), into f.mid. s.mu must be
// held.
func (s *sharedSotW) answerHeld(f *sotwFan, snap cache.ResourceSnapshot) {
	for t := range numTypes {
		w := f.held[t]
		if w == nil || w.stockCancel != nil {
			continue
		}
		version := snap.GetVersion(w.req.GetTypeUrl())
		if version == w.req.GetVersionInfo() {
			continue
		}
		if r := s.heldResponse(f, w, version); r != nil {
			f.held[t] = nil
			f.mid <- r
			s.answered.shared++
			continue
		}
		s.answered.byCache++
		// The cache answers at once (the version differs); if it keeps a
		// watch open after all, the held watch's cancel cancels it.
		cancel, err := s.SnapshotCache.CreateWatch(w.req, w.sub, f.mid)
		if err != nil {
			f.held[t] = nil // as the cache: a watch that could not answer is dropped
			continue
		}
		if cancel == nil {
			cancel = func() {}
		}
		w.stockCancel = cancel
	}
}

// heldResponse is the response to w at version from the group's delta
// snapshot, or nil when the delta hub does not have that version or the
// request does not ask for the whole type.
func (s *sharedSotW) heldResponse(f *sotwFan, w *heldWatch, version string) cache.Response {
	cur := s.hub.snapshotAt(f.key, w.t, version)
	if cur == nil {
		return nil
	}
	ts := &cur.types[w.t]
	names := w.req.GetResourceNames()
	// A request naming exactly the snapshot's resources usually carries
	// the snapshot's own list (sotwrecv.go): then no name is looked up.
	if len(names) > 0 && !sameSlice(names, ts.names) && !sameNameSet(names, len(w.sub.SubscribedResources()), ts.versions) {
		return nil
	}
	return &heldResp{req: w.req, ts: ts, cur: cur, named: len(names) > 0}
}

// sameNameSet reports whether the request's names are exactly the keys of
// m; distinct is the size of the subscription built from them, which
// tells a repeated name (then one key is missing) without another set.
func sameNameSet(names []string, distinct int, m map[string]string) bool {
	if len(names) != len(m) || distinct != len(names) {
		return false
	}
	for _, n := range names {
		if _, ok := m[n]; !ok {
			return false
		}
	}
	return true
}

// sotwReturned builds a type's returned map once per snapshot, on first
// use (read only: responses carry copies).
func sotwReturned(ts *deltaTypeSnap) func() map[string]string {
	return sync.OnceValue(func() map[string]string {
		out := make(map[string]string, len(ts.names))
		for _, n := range ts.names {
			out[n] = ts.version
		}
		return out
	})
}

// heldResp answers a held watch with the whole of a type of a delta
// snapshot.
type heldResp struct {
	req   *cache.Request
	ts    *deltaTypeSnap
	cur   *deltaSnap
	named bool // the request named the resources (EDS, RDS)
}

func (r *heldResp) GetDiscoveryResponse() (*discoveryv3.DiscoveryResponse, error) {
	enc, err := r.ts.sotw()
	if err != nil {
		return nil, err
	}
	out := &discoveryv3.DiscoveryResponse{VersionInfo: r.ts.version, TypeUrl: r.req.GetTypeUrl()}
	out.ProtoReflect().SetUnknown(enc.all()) // as sharedResponse
	return out, nil
}

func (r *heldResp) GetRequest() *discoveryv3.DiscoveryRequest { return r.req }
func (r *heldResp) GetVersion() (string, error)               { return r.ts.version, nil }
func (r *heldResp) GetResponseVersion() string                { return r.ts.version }

// GetReturnedResources is the snapshot type's own map: the stream's
// subscription keeps it and never writes to it (sotwSub.update copies
// what it keeps of it when the stream unsubscribes), so every stream sent
// the whole type shares it.
func (r *heldResp) GetReturnedResources() map[string]string { return r.ts.returned() }

func (r *heldResp) GetContext() context.Context { return context.Background() }

func (r *heldResp) returnedNames() *subNames { return r.ts.nameSet() }

// inADSOrder sorts responses by the cache's ADS type order (stable: a
// type's responses keep their order).
func inADSOrder(rs []cache.Response) {
	slices.SortStableFunc(rs, func(a, b cache.Response) int {
		return adsRank(a) - adsRank(b)
	})
}

func adsRank(r cache.Response) int {
	t := typeIndex(r.GetRequest().GetTypeUrl())
	if t < 0 {
		return int(numTypes)
	}
	return int(responseTypes[t])
}
