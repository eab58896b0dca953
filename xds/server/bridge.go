package server

import (
	"maps"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
)

// Make-before-break on removal for state of the world. A publish that
// drops clusters while it changes the routes that named them would, in
// one snapshot, have go-control-plane's ordered ADS send the CDS response
// (which removes the clusters) before the RDS response (which stops naming
// them): CDS, EDS, LDS, RDS is its order. In between, Envoy's routes name
// clusters it no longer has and fail with 503 NC. Envoy's xDS protocol
// docs ("Eventual consistency considerations") ask for the RDS/LDS updates
// first. So such a publish first sets a bridge snapshot, the new one with
// the dropped clusters still in CDS, and the final one only once every
// state-of-the-world stream of the group has ACKed the bridge's routes and
// listeners, or ended, or a bound passed (the bridge hold: sotwhold.go).
// Waiting for the ACKs, rather than for the bridge's responses to be
// queued, covers a stream whose RDS watch was not open when the bridge was
// set (its previous RDS response not yet ACKed): it gets the bridge's
// routes when it answers, and the removal only after it ACKed them. A
// publish while the final is held bridges from the bridge being served.
// The delta path orders removals per stream instead
// (deltaConn.removalsHeld).

// bridgeState returns the state to serve before next, or nil when next
// keeps every cluster of prev (the state served: the last final, or the
// bridge held). Only CDS differs from next: it is the union of both, the
// dropped clusters as prev had them. scratch is a typeVersion buffer.
func bridgeState(prev, next *groupState, scratch *[]byte) *groupState {
	if prev == nil {
		return nil
	}
	u, ok := unionState(&prev.types[tClusters], &next.types[tClusters], scratch)
	if !ok {
		return nil
	}
	b := &groupState{group: next.group, types: next.types}
	b.types[tClusters] = u
	b.buildSnapshot()
	return b
}

// dropsNames reports whether prev, sorted, has a name next, sorted, lacks.
func dropsNames(prev, next []string) bool {
	if sameStrings(prev, next) {
		return false
	}
	j := 0
	for _, n := range prev {
		for j < len(next) && next[j] < n {
			j++
		}
		if j == len(next) || next[j] != n {
			return true
		}
	}
	return false
}

// unionState is next plus the resources of prev whose names next lacks;
// ok is false when there are none.
func unionState(prev, next *typeState, scratch *[]byte) (typeState, bool) {
	if !dropsNames(prev.names, next.names) {
		return typeState{}, false // most publishes: nothing built
	}
	out := typeState{}
	i, j := 0, 0
	dropped := false
	for i < len(prev.names) || j < len(next.names) {
		switch {
		case j == len(next.names) || (i < len(prev.names) && prev.names[i] < next.names[j]):
			dropped = true
			out.names = append(out.names, prev.names[i])
			out.items = append(out.items, prev.items[i])
			out.hashes = append(out.hashes, prev.hashes[i])
			i++
		default:
			if i < len(prev.names) && prev.names[i] == next.names[j] {
				i++
			}
			out.names = append(out.names, next.names[j])
			out.items = append(out.items, next.items[j])
			out.hashes = append(out.hashes, next.hashes[j])
			j++
		}
	}
	if !dropped {
		return typeState{}, false
	}
	items := maps.Clone(next.res.Items)
	if items == nil {
		items = map[string]types.ResourceWithTTL{}
	}
	out.versions = maps.Clone(next.versions)
	out.plain = maps.Clone(next.plain)
	for k, n := range out.names {
		if _, ok := next.versions[n]; ok {
			continue
		}
		items[n] = prev.res.Items[n]
		out.versions[n] = prev.versions[n]
		out.plain[n] = out.items[k]
	}
	out.res.Items = items
	out.res.Version = typeVersion(out.names, out.hashes, scratch)
	return out, true
}
