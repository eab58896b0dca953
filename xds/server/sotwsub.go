package server

import (
	"hash/maphash"
	"sync"
)

// State-of-the-world subscriptions shared between streams (issue 10).
//
// go-control-plane's sotw server keeps, per stream and type, the set of
// names the stream subscribed to and a map of the names it was returned
// (pkg/server/stream/v3 subscription.go). It builds the set anew from every
// request (SetResourceSubscription: every EDS ACK of an Envoy names its
// 1,000 CLAs, so 1,000 inserts per stream and change) and mutates the
// returned map when names are unsubscribed, so each response's map had to
// be a copy of its own. At 1,000 Envoys that was most of the server's
// memory (153 MB of returned maps, 51 MB of name sets, heap profile) and a
// large part of its CPU per change.
//
// sotwSub is gatehouse's subscription (sotwads.go serves the streams with
// it). It never mutates a map it was given or built, so:
//   - an unchanged subscription (every ACK) is recognised without building
//     anything (subNames.matches);
//   - a subscription to exactly the names of the group's snapshot shares
//     the snapshot's subNames, one per snapshot type for every stream;
//   - the returned map of a whole-type response is the snapshot's own
//     (deltaTypeSnap.returned), not a copy.

// nameSeed seeds subNames fingerprints; per process, so that a client
// cannot choose names whose fingerprints collide.
var nameSeed = maphash.MakeSeed()

// subNames is a read-only set of resource names.
type subNames struct {
	m map[string]struct{}
	// names are the set's names, sorted, when the set is a snapshot's
	// (shared requests carry them: sotwads.go); nil otherwise.
	names []string
	// sum is the sum of the names' fingerprints: with the size and the
	// membership of every name, it tells a request naming the set (in any
	// order) from one repeating some names and missing others.
	sum uint64
}

var emptyNames = &subNames{m: map[string]struct{}{}}

func nameSum(names []string) uint64 {
	var sum uint64
	for _, n := range names {
		sum += maphash.String(nameSeed, n)
	}
	return sum
}

// matches reports whether names (a request's, in any order) are exactly
// the set. A request repeating a name while missing another has the
// same size and members but (but for a chance of 2^-64 with a seed the
// client does not know) not the same sum.
func (s *subNames) matches(names []string) bool {
	if len(names) != len(s.m) {
		return false
	}
	if s.names != nil && sameSlice(names, s.names) {
		// The snapshot's own sorted, distinct list: a stream's requests
		// carry it once they named exactly the snapshot's resources
		// (sotwrecv.go), so an ACK reads no name.
		return true
	}
	var sum uint64
	for _, n := range names {
		if _, ok := s.m[n]; !ok {
			return false
		}
		sum += maphash.String(nameSeed, n)
	}
	return sum == s.sum
}

// snapshotSubNames builds a snapshot type's subNames once, on first use.
// sorted must be sorted and distinct (deltaTypeSnap.names).
func snapshotSubNames(sorted []string) func() *subNames {
	return sync.OnceValue(func() *subNames {
		m := make(map[string]struct{}, len(sorted))
		for _, n := range sorted {
			m[n] = struct{}{}
		}
		return &subNames{m: m, names: sorted, sum: nameSum(sorted)}
	})
}

// sotwSub is one stream's subscription to one type. It implements
// go-control-plane's cache.Subscription with the semantics of its
// state-of-the-world subscription (stream/v3 subscription.go): legacy
// wildcard (an empty first request subscribes to everything until a
// request names resources), explicit wildcard ("*"), and the returned
// names kept a subset of the subscribed ones unless wildcard.
type sotwSub struct {
	wildcard bool
	legacy   bool // an empty request still means wildcard
	set      *subNames
	// returned are the names the stream was sent, at the version of the
	// response that sent them; read only (possibly a snapshot's own).
	returned map[string]string
}

func newSotwSub(names []string, legacy bool, shared *subNames) *sotwSub {
	s := &sotwSub{wildcard: len(names) == 0 && legacy, legacy: legacy, set: emptyNames}
	s.update(names, shared)
	return s
}

func (s *sotwSub) ReturnedResources() map[string]string     { return s.returned }
func (s *sotwSub) SubscribedResources() map[string]struct{} { return s.set.m }
func (s *sotwSub) IsWildcard() bool                         { return s.wildcard }

// unchanged reports whether a request naming names leaves the
// subscription as it is (update would change nothing).
func (s *sotwSub) unchanged(names []string) bool {
	if s.legacy && len(names) == 0 {
		return true
	}
	return !s.wildcard && !s.legacy && s.set.matches(names)
}

// update takes in a request's names (SetResourceSubscription's rules).
// shared, when not nil, is the group snapshot's set of the type, taken in
// place of a set of the stream's own when the names are exactly it.
func (s *sotwSub) update(names []string, shared *subNames) {
	if s.legacy {
		if len(names) == 0 {
			return
		}
		s.legacy = false
	}
	if !s.wildcard && s.set.matches(names) {
		return // the common case: an ACK naming what it named before
	}
	set, explicit := emptyNames, false
	switch {
	case shared != nil && shared.matches(names):
		set = shared
	case len(names) > 0:
		m := make(map[string]struct{}, len(names))
		for _, n := range names {
			if n == "*" {
				explicit = true
				continue
			}
			m[n] = struct{}{}
		}
		set = &subNames{m: m}
		for n := range m {
			set.sum += maphash.String(nameSeed, n)
		}
	}
	if !explicit {
		s.returned = restrictNames(s.returned, set.m)
	}
	s.wildcard = explicit
	s.set = set
}

// restrictNames returns the entries of returned whose names are in m:
// returned itself when all are (read only: never deleted from in place).
func restrictNames(returned map[string]string, m map[string]struct{}) map[string]string {
	keep := 0
	for n := range returned {
		if _, ok := m[n]; ok {
			keep++
		}
	}
	if keep == len(returned) {
		return returned
	}
	out := make(map[string]string, keep)
	for n, v := range returned {
		if _, ok := m[n]; ok {
			out[n] = v
		}
	}
	return out
}
