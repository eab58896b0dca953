package server

import (
	"maps"
	"slices"
	"sync"

	"github.com/gatehouse-dev/gatehouse/pkg/parallel"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Gatehouse's delta (incremental) xDS cache for Envoy groups. It replaces
// go-control-plane's SnapshotCache on the delta path only (state of the
// world keeps it), because that cache costs O(streams x subscribed names)
// per change: for every stream it walks every subscribed name and builds a
// new version map, on every snapshot and again on every ACK, under one lock
// (pkg/cache/v3/delta.go, createDeltaResponse). Here:
//   - each publish computes, once per group and type, the names whose
//     version changed or that were removed (deltaSnap.changed);
//   - each stream keeps what it was sent (name -> version) and, on a new
//     snapshot, checks only the changed names against its subscription;
//   - an ACK re-creates the watch (the stream's loop, deltaads.go, cancels
//     and re-creates it on every request, as go-control-plane's): when the stream already reflects
//     the current snapshot that is O(1), plus the names the request
//     (un)subscribes;
//   - resources are encoded once per snapshot and shared by every stream
//     (deltaEncoding), outside any lock, when the server sends them.

// snapChainMax bounds how many snapshots back a stream can catch up
// incrementally; further behind, it is diffed in full (as a new stream).
const snapChainMax = 16

// deltaSnap is one published snapshot of a group, as the delta path sees it.
// It is never modified once published, except prev, which the hub cuts
// (under its lock) to bound the chain.
type deltaSnap struct {
	types [numTypes]deltaTypeSnap
	prev  *deltaSnap // the snapshot this one replaced, nil past snapChainMax
	depth int        // length of the prev chain
}

type deltaTypeSnap struct {
	version  string                    // the type's version (system_version_info)
	names    []string                  // the names of versions, sorted (the publisher's own strings)
	versions map[string]string         // name -> resource version (content hash)
	enc      map[string]*deltaEncoding // name -> its encoding, shared by every stream
	// changed lists the names whose version differs from the previous
	// snapshot's, removed ones included; nil when the type did not change.
	changed []string
	// sotw is the type's resources as a state-of-the-world response
	// carries them (sharedSotW), built once on first use.
	sotw func() (*sotwEncoding, error)
	// returned is what a state-of-the-world response of the whole type
	// tells the stream's subscription it returned (every name at the
	// type's version, as the stock cache writes it), built once on first
	// use; read only, shared by every stream it was sent to (sotwsub.go).
	returned func() map[string]string
	// nameSet is names as a subscription set, built once on first use and carried to
	// the next snapshot while the names stay the same; the subscription
	// of every stream naming exactly these resources (sotwsub.go).
	nameSet func() *subNames
	// whole is the type's resources as a delta response carrying all of
	// them holds them, built once on first use (deltawhole.go).
	whole func() (*deltaWholeEnc, error)
}

// deltaGroup is one group's current snapshot and its delta streams.
type deltaGroup struct {
	cur     *deltaSnap // nil until published, and after Remove
	streams map[*deltaConn]struct{}
	// staged is the snapshot being published: built before the stock
	// cache is set, so that the state-of-the-world responses the cache
	// produces before the hub's publish find it (sharedSotW.share).
	staged *deltaSnap
}

// deltaHub holds the delta state of every Envoy group.
type deltaHub struct {
	mu     sync.Mutex
	groups map[translate.GroupKey]*deltaGroup
}

func newDeltaHub() *deltaHub {
	return &deltaHub{groups: map[translate.GroupKey]*deltaGroup{}}
}

// newDeltaSnap builds the delta view of a group's state from the previous
// one: the names changed per type are computed here, once per publish, and
// encodings of unchanged resources are carried over.
func newDeltaSnap(prev *deltaSnap, st *[numTypes]typeState) *deltaSnap {
	s := &deltaSnap{}
	for t := range numTypes {
		ts := &st[t]
		out := &s.types[t]
		out.version, out.versions, out.names = ts.res.Version, ts.versions, ts.names
		if prev != nil && prev.types[t].version == out.version {
			out.enc, out.sotw, out.returned = prev.types[t].enc, prev.types[t].sotw, prev.types[t].returned
			out.nameSet = prev.types[t].nameSet
			out.whole = prev.types[t].whole
			continue
		}
		out.sotw = sotwResources(out)
		out.returned = sotwReturned(out)
		out.whole = deltaWholeResources(out)
		var old *deltaTypeSnap
		if prev != nil {
			old = &prev.types[t]
		}
		if old != nil && old.nameSet != nil && sameStrings(ts.names, old.names) {
			out.nameSet = old.nameSet
		} else {
			out.nameSet = snapshotSubNames(ts.names)
		}
		if old != nil && old.enc != nil && sameStrings(ts.names, old.names) {
			// The same names (an endpoint-only change): copy the previous
			// encodings and replace those whose version moved, rather than
			// re-inserting every name.
			out.enc = maps.Clone(old.enc)
			for _, name := range ts.names {
				if v := ts.versions[name]; old.versions[name] != v || out.enc[name] == nil {
					out.enc[name] = newDeltaEncoding(name, typeURLs[t], ts.plain[name])
					out.changed = append(out.changed, name)
				}
			}
			if out.changed == nil {
				out.changed = []string{} // the version changed: mark the type changed
			}
			continue
		}
		out.enc = make(map[string]*deltaEncoding, len(ts.versions))
		for name, v := range ts.versions {
			if old != nil && old.versions[name] == v {
				if e := old.enc[name]; e != nil {
					out.enc[name] = e
					continue
				}
			}
			out.enc[name] = newDeltaEncoding(name, typeURLs[t], ts.plain[name])
			out.changed = append(out.changed, name)
		}
		if old != nil {
			for name := range old.versions {
				if _, ok := ts.versions[name]; !ok {
					out.changed = append(out.changed, name)
				}
			}
		}
		if out.changed == nil {
			out.changed = []string{} // the version changed: mark the type changed
		}
	}
	return s
}

// publish makes st the current snapshot of group k and answers the open
// watches of its streams. Publishes are serialised by the Publisher (as is
// remove), so g.cur does not change while next is built outside h.mu.
func (h *deltaHub) publish(k translate.GroupKey, st *[numTypes]typeState) {
	h.commit(k, h.stage(k, st))
}

// stage builds group k's next snapshot from st without publishing it;
// commit publishes it.
func (h *deltaHub) stage(k translate.GroupKey, st *[numTypes]typeState) *deltaSnap {
	h.mu.Lock()
	prev := h.group(k).cur
	h.mu.Unlock()
	next := newDeltaSnap(prev, st)
	h.mu.Lock()
	h.group(k).staged = next
	h.mu.Unlock()
	return next
}

// commit makes next (from stage) group k's current snapshot and answers
// the open watches of its streams.
func (h *deltaHub) commit(k translate.GroupKey, next *deltaSnap) {
	h.mu.Lock()
	g := h.group(k)
	if g.staged == next {
		g.staged = nil
	}
	if g.cur != nil {
		next.prev, next.depth = g.cur, g.cur.depth+1
		if next.depth > snapChainMax {
			// Cut the chain: streams further behind are diffed in full.
			cut := next
			for range snapChainMax {
				cut = cut.prev
			}
			cut.prev = nil
			next.depth = snapChainMax
		}
	}
	g.cur = next
	streams := make([]*deltaConn, 0, len(g.streams))
	for s := range g.streams {
		streams = append(streams, s)
	}
	h.mu.Unlock()
	fanOut(streams, func(s *deltaConn) { s.update(k, next) })
}

// parallelUpdateMin is the number of streams per goroutine below which
// spreading a publish's stream updates costs more than it saves.
const parallelUpdateMin = 128

// fanOut calls fn for every stream and returns once all returned, on up to
// GOMAXPROCS goroutines when there are many (issue 10: with 5,000 streams
// the loop of diffs and channel sends that wake each stream's goroutine
// ran on one core while the other idled). Each update locks only its own
// stream and reads the shared snapshot, so the order of streams does not
// matter; a push never blocks (deltaConn).
func fanOut(streams []*deltaConn, fn func(*deltaConn)) {
	parallel.For(parallel.Workers(len(streams), parallelUpdateMin), len(streams), func(_, i int) error {
		fn(streams[i])
		return nil
	})
}

// remove forgets group k's snapshot: its streams keep what they have and
// get nothing until the group is published again (then in full).
func (h *deltaHub) remove(k translate.GroupKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if g := h.groups[k]; g != nil {
		g.cur = nil
		if len(g.streams) == 0 {
			delete(h.groups, k)
		}
	}
}

// group returns group k's entry, creating it; h.mu must be held.
func (h *deltaHub) group(k translate.GroupKey) *deltaGroup {
	g := h.groups[k]
	if g == nil {
		g = &deltaGroup{streams: map[*deltaConn]struct{}{}}
		h.groups[k] = g
	}
	return g
}

// join registers s with group k and returns the group's current snapshot.
func (h *deltaHub) join(k translate.GroupKey, s *deltaConn) *deltaSnap {
	h.mu.Lock()
	defer h.mu.Unlock()
	g := h.group(k)
	g.streams[s] = struct{}{}
	return g.cur
}

// current returns group k's current snapshot.
func (h *deltaHub) current(k translate.GroupKey) *deltaSnap {
	h.mu.Lock()
	defer h.mu.Unlock()
	if g := h.groups[k]; g != nil {
		return g.cur
	}
	return nil
}

// snapshotAt returns group k's current or staged snapshot whose type t is
// at version, or nil.
func (h *deltaHub) snapshotAt(k translate.GroupKey, t typeIdx, version string) *deltaSnap {
	h.mu.Lock()
	defer h.mu.Unlock()
	g := h.groups[k]
	if g == nil {
		return nil
	}
	for _, s := range []*deltaSnap{g.cur, g.staged} {
		if s != nil && s.types[t].version == version {
			return s
		}
	}
	return nil
}

// leave unregisters s from group k.
func (h *deltaHub) leave(k translate.GroupKey, s *deltaConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if g := h.groups[k]; g != nil {
		delete(g.streams, s)
		if len(g.streams) == 0 && g.cur == nil {
			delete(h.groups, k)
		}
	}
}

// intern replaces, in place, the names of a request that group k's
// current snapshot has with the snapshot's own strings. Every proxy
// subscribes to the same thousands of names, and the decoded request holds
// a fresh copy of each, which go-control-plane keeps in the stream's
// subscription for as long as the stream lives: interned, 1,000 streams
// share one copy. Names the snapshot lacks stay the client's own (an
// interning table filled from requests would let a client grow it).
func (h *deltaHub) intern(k translate.GroupKey, t typeIdx, names []string) {
	cur := h.current(k)
	if cur == nil || len(names) == 0 {
		return
	}
	sorted := cur.types[t].names
	for i, n := range names {
		if j, ok := slices.BinarySearch(sorted, n); ok {
			names[i] = sorted[j]
		}
	}
}

// changedSince returns the names of type t changed between from and to
// (to reached from from through prev links), or ok false when from is not
// in to's chain (the stream must be diffed in full). names may be a
// snapshot's own list: read only.
func (h *deltaHub) changedSince(from, to *deltaSnap, t typeIdx) (names []string, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var parts [][]string
	for s := to; s != nil; s = s.prev {
		if s == from {
			if len(parts) == 1 {
				return parts[0], true
			}
			seen := map[string]struct{}{}
			for _, p := range parts {
				for _, n := range p {
					if _, dup := seen[n]; !dup {
						seen[n] = struct{}{}
						names = append(names, n)
					}
				}
			}
			return names, true
		}
		if c := s.types[t].changed; len(c) > 0 {
			parts = append(parts, c)
		}
	}
	return nil, false
}
