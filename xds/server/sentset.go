package server

import "sync/atomic"

// sentVersions is what one delta stream holds of one type (name ->
// version), kept as an overlay over a snapshot's versions map instead of a
// map of its own: at fleet scale every stream holds nearly the same
// thousands of names at the same versions, and 1,000 private copies of a
// 1,000-name map per type were most of the server's live heap. base is a
// published snapshot's map, shared and never written; over holds only
// where the stream differs from it (absentVersion: a name of base the
// stream does not hold). Without a base, over is the whole set.
type sentVersions struct {
	base map[string]string
	over map[string]string
	n    int // names held
}

// absentVersion marks, in over, a name of base the stream does not hold.
// Resource versions are hex content hashes (or the client's own strings
// from initial_resource_versions, which never contain a NUL).
const absentVersion = "\x00"

// rebaseMin is the overlay size below which a stream never re-bases: a
// handful of entries costs less than a pass over the snapshot.
var rebaseMin atomic.Int64 // a variable so that tests can re-base on every diff;
// atomic, as streams of earlier tests may still be reading it

func init() { rebaseMin.Store(64) }

func newSentVersions(initial map[string]string) *sentVersions {
	s := &sentVersions{over: make(map[string]string, len(initial))}
	for n, v := range initial {
		s.over[n] = v
	}
	s.n = len(s.over)
	return s
}

func (s *sentVersions) get(n string) (string, bool) {
	if v, ok := s.over[n]; ok {
		if v == absentVersion {
			return "", false
		}
		return v, true
	}
	v, ok := s.base[n]
	return v, ok
}

func (s *sentVersions) len() int { return s.n }

func (s *sentVersions) set(n, v string) {
	if _, had := s.get(n); !had {
		s.n++
	}
	if b, ok := s.base[n]; ok && b == v {
		delete(s.over, n)
		return
	}
	s.over[n] = v
}

// holdExactly makes s hold exactly base's names at base's versions: base
// (a snapshot's map, never written) becomes the base, with an empty
// overlay.
func (s *sentVersions) holdExactly(base map[string]string) {
	s.base, s.over, s.n = base, map[string]string{}, len(base)
}

func (s *sentVersions) del(n string) {
	if _, had := s.get(n); !had {
		return
	}
	s.n--
	if _, ok := s.base[n]; ok {
		s.over[n] = absentVersion
		return
	}
	delete(s.over, n)
}

// each calls f for every name held; f must not modify s.
func (s *sentVersions) each(f func(n, v string)) {
	for n, v := range s.over {
		if v != absentVersion {
			f(n, v)
		}
	}
	for n, v := range s.base {
		if _, ok := s.over[n]; !ok {
			f(n, v)
		}
	}
}

// names lists the names held (a copy: the caller may modify s while it
// walks them).
func (s *sentVersions) names() []string {
	out := make([]string, 0, s.n)
	s.each(func(n, _ string) { out = append(out, n) })
	return out
}

// compact re-bases the overlay on versions (the snapshot the stream was
// just moved to) when that makes it smaller, and drops a base that costs
// more than a private map would (a stream holding few of a snapshot's
// names). Called after every diff, it is O(1) until the overlay grows past
// rebaseMin, then O(held + snapshot) once per that many changes.
func (s *sentVersions) compact(versions map[string]string) {
	if int64(len(s.over)) < rebaseMin.Load() {
		return
	}
	// Entries of the overlay re-based on versions: what is held at another
	// version, and what versions has that is not held.
	size := 0
	s.each(func(n, v string) {
		if versions[n] != v {
			size++
		}
	})
	size += len(versions) - s.heldOf(versions)
	switch {
	case size < len(s.over)/2:
		over := make(map[string]string, size)
		s.each(func(n, v string) {
			if b, ok := versions[n]; !ok || b != v {
				over[n] = v
			}
		})
		for n := range versions {
			if _, ok := s.get(n); !ok {
				over[n] = absentVersion
			}
		}
		s.base, s.over = versions, over
	case s.base != nil && len(s.over) > s.n:
		over := make(map[string]string, s.n)
		s.each(func(n, v string) { over[n] = v })
		s.base, s.over = nil, over
	}
}

// heldOf counts the names of versions that s holds (at any version).
func (s *sentVersions) heldOf(versions map[string]string) int {
	c := 0
	for n := range versions {
		if _, ok := s.get(n); ok {
			c++
		}
	}
	return c
}
