package server

import "maps"

// deltaSub is one delta stream's subscription to one type: go-control-
// plane's delta subscription (pkg/server/stream/v3 subscription.go,
// NewDeltaSubscription and UpdateResourceSubscriptions: legacy wildcard,
// "*" subscribed and unsubscribed, and the returned-resources edits an
// unsubscribe makes), except that its set of subscribed names may be
// shared: a stream subscribing to exactly the names of its group's
// snapshot (a new Envoy asks for every CLA of its clusters) takes the
// snapshot's set (sotwsub.go's subNames) instead of building one of its
// own, and copies it only when its subscription changes. go-control-plane
// built and kept a 1,000-name set per stream: most of the live heap of
// 1,000 delta Envoys, and a tenth of a reconnect storm's CPU.
type deltaSub struct {
	wildcard bool
	legacy   bool
	set      *subNames
	own      bool // set is this stream's alone (writable)
	// returned is the map the delta watcher hands over with each response
	// (deltaConn's ret) or, before the first, the request's initial
	// resource versions; unsubscribes edit it as go-control-plane's do.
	returned map[string]string
}

func newDeltaSub(subscribe, unsubscribe []string, initial map[string]string, legacy bool, shared *subNames) *deltaSub {
	s := &deltaSub{wildcard: len(subscribe) == 0 && legacy, legacy: legacy, set: emptyNames, returned: initial}
	if s.returned == nil {
		s.returned = map[string]string{}
	}
	if len(subscribe) > 0 && !s.wildcard && shared != nil && shared.matches(subscribe) {
		// The first request naming exactly the snapshot's resources.
		s.legacy, s.set = false, shared
		s.unsubscribe(unsubscribe)
		return s
	}
	s.update(subscribe, unsubscribe)
	return s
}

func (s *deltaSub) ReturnedResources() map[string]string     { return s.returned }
func (s *deltaSub) SubscribedResources() map[string]struct{} { return s.set.m }
func (s *deltaSub) IsWildcard() bool                         { return s.wildcard }

// update applies a request's subscribes and unsubscribes
// (UpdateResourceSubscriptions' rules).
func (s *deltaSub) update(subscribe, unsubscribe []string) {
	if s.legacy {
		if len(subscribe) == 0 {
			return
		}
		s.legacy = false
	}
	for _, n := range subscribe {
		if n == "*" {
			s.wildcard = true
			continue
		}
		if _, ok := s.set.m[n]; !ok {
			s.writable()[n] = struct{}{}
		}
	}
	s.unsubscribe(unsubscribe)
}

func (s *deltaSub) unsubscribe(unsubscribe []string) {
	for _, n := range unsubscribe {
		if n == "*" {
			s.wildcard = false
			continue
		}
		_, subscribed := s.set.m[n]
		if subscribed && s.wildcard {
			s.returned[n] = ""
		} else {
			delete(s.returned, n)
		}
		if subscribed {
			delete(s.writable(), n)
		}
	}
}

// writable returns the set's map, copied first if it is shared.
func (s *deltaSub) writable() map[string]struct{} {
	if !s.own {
		s.set = &subNames{m: maps.Clone(s.set.m)}
		if s.set.m == nil {
			s.set.m = map[string]struct{}{}
		}
		s.own = true
	}
	return s.set.m
}
