package server

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

// typeState is what a group last published for one resource type. It is
// never modified once built: Publish builds new states and swaps them in
// only when every group checked out, so a failed Publish changes nothing.
type typeState struct {
	names  []string         // sorted
	items  []types.Resource // parallel to names; pointer identity says "unchanged"
	hashes []uint64         // parallel to names
	res    cache.Resources  // what the snapshot holds (Version + Items)
	// versions is each resource's delta xDS version by name: its content
	// hash, so replicas agree. The snapshot's VersionMap holds it, so that
	// go-control-plane does not marshal every resource again to hash it.
	versions map[string]string
	// plain is res.Items without TTLs, for servedSnapshot.
	plain map[string]types.Resource
}

// resourceVersion is a resource's delta xDS version: its content hash, as
// 16 hex digits (the first 64 bits of the SHA-256 go-control-plane puts on
// the wire, see wireVersionLen).
func resourceVersion(h uint64) string {
	return hex.EncodeToString(binary.BigEndian.AppendUint64(nil, h))
}

// emptyState is the state of a type with no resources. Its version is the
// hash of the empty list, so that an empty type is still answered (an empty
// LDS/CDS response is how a client learns it has nothing of that type).
func emptyState(scratch *[]byte) typeState {
	return typeState{res: cache.Resources{Version: typeVersion(nil, nil, scratch), Items: map[string]types.ResourceWithTTL{}}, versions: map[string]string{}, plain: map[string]types.Resource{}}
}

// samePointers reports whether items are, one by one, the very resources
// the state was built from.
func (st *typeState) samePointers(items []types.Resource) bool {
	if len(items) != len(st.items) {
		return false
	}
	for i, r := range items {
		if r != st.items[i] {
			return false
		}
	}
	return true
}

// fromSlice builds the next state from a name-sorted resource slice.
// known (may be nil) holds hashes the translator computed (Group.Hashes).
func (st *typeState) fromSlice(items []types.Resource, scratch *[]byte, known map[types.Resource]uint64) (typeState, bool, error) {
	if st.samePointers(items) {
		return *st, false, nil
	}
	names := make([]string, len(items))
	for i, r := range items {
		if r == nil {
			return typeState{}, false, fmt.Errorf("resource %d is nil", i)
		}
		names[i] = cache.GetResourceName(r)
		if names[i] == "" {
			return typeState{}, false, fmt.Errorf("resource %d (%T) has no name", i, r)
		}
		if i > 0 && names[i] <= names[i-1] {
			return typeState{}, false, fmt.Errorf("resources not sorted by name or duplicated: %q after %q", names[i], names[i-1])
		}
	}
	return st.next(names, items, scratch, known, nil)
}

// hashMemo holds the content hashes of resources already hashed in one
// Publish, by pointer (an unchanged pointer is unchanged content). Groups
// share ClusterLoadAssignments (both client kinds of a Gateway ask for the
// same EDS names), so each is marshalled and hashed once, not once per
// group.
type hashMemo map[types.Resource]uint64

// fromEDS builds the next endpoints state: one ClusterLoadAssignment per
// EDS name of the group, taken from clas. memo (may be nil) supplies and
// receives the hashes of CLAs other groups of the same Publish hashed.
// sameEDS says eds is the very map st was built from (the same immutable
// Group), so its names need no comparing: an endpoint-only change.
func (st *typeState) fromEDS(eds map[string]string, sameEDS bool, clas map[string]*endpointv3.ClusterLoadAssignment, scratch *[]byte, memo *publishMemo) (typeState, bool, error) {
	names := st.names
	if !sameEDS && !sameKeys(eds, names) {
		names = slices.Sorted(maps.Keys(eds))
	}
	items := make([]types.Resource, len(names))
	for i, n := range names {
		cla, ok := clas[n]
		if !ok || cla == nil {
			return typeState{}, false, fmt.Errorf("no ClusterLoadAssignment for EDS name %q (service %q)", n, eds[n])
		}
		items[i] = cla
	}
	if st.samePointers(items) {
		return *st, false, nil
	}
	sameNames := sameStrings(names, st.names)
	for i, n := range names {
		if sameNames && items[i] == st.items[i] {
			continue // checked when it was first published under n
		}
		// The cache indexes a CLA by its cluster_name, which is the name
		// the client asks for.
		if got := clas[n].GetClusterName(); got != n {
			return typeState{}, false, fmt.Errorf("ClusterLoadAssignment for EDS name %q is named %q", n, got)
		}
	}
	var hashes hashMemo
	var known map[types.Resource]uint64
	if memo != nil {
		if out, ok := memo.sharedEDS(names, items); ok {
			return out, out.res.Version != st.res.Version, nil
		}
		hashes, known = memo.hashes, memo.known
	}
	out, changed, err := st.next(names, items, scratch, known, hashes)
	if err == nil && memo != nil {
		memo.eds = append(memo.eds, out)
	}
	return out, changed, err
}

// publishMemo is what one Publish shares between the groups it assembles.
type publishMemo struct {
	hashes hashMemo
	// known holds the CLA hashes the caller of Publish computed (read
	// only; may be nil).
	known map[types.Resource]uint64
	// eds holds the endpoints states built so far. Both client kinds of a
	// Gateway ask for the same EDS names and so get the same CLAs: the
	// second group takes the first one's state (its maps included) instead
	// of copying and patching three maps of every EDS name again, most of
	// an endpoint-only change's cost. States are never modified once built
	// (see typeState), so sharing them is safe.
	eds []typeState
}

func newPublishMemo() *publishMemo { return &publishMemo{hashes: hashMemo{}} }

// sharedEDS returns a state built in this Publish from exactly names and
// items (the same resources by pointer, so the same content and hashes).
func (m *publishMemo) sharedEDS(names []string, items []types.Resource) (typeState, bool) {
	for _, s := range m.eds {
		if sameStrings(names, s.names) && s.samePointers(items) {
			return s, true
		}
	}
	return typeState{}, false
}

// sameKeys reports whether m's keys are exactly names.
func sameKeys(m map[string]string, names []string) bool {
	if len(m) != len(names) {
		return false
	}
	for _, n := range names {
		if _, ok := m[n]; !ok {
			return false
		}
	}
	return true
}

// next hashes what changed (by pointer) and builds the new state. names
// must be sorted and unique, items parallel to them. known, when not nil,
// holds hashes the translator computed (read only); memo, when not nil,
// supplies hashes of resources hashed earlier in this Publish and receives
// those hashed here.
func (st *typeState) next(names []string, items []types.Resource, scratch *[]byte, known map[types.Resource]uint64, memo hashMemo) (typeState, bool, error) {
	out := typeState{names: names, items: items, hashes: make([]uint64, len(items))}
	sameNames := sameStrings(names, st.names)
	var changed []int
	j := 0 // merge cursor into st.names when the name lists differ
	for i, r := range items {
		if sameNames {
			if st.items[i] == r {
				out.hashes[i] = st.hashes[i]
				continue
			}
		} else {
			for j < len(st.names) && st.names[j] < names[i] {
				j++
			}
			if j < len(st.names) && st.names[j] == names[i] && st.items[j] == r {
				out.hashes[i] = st.hashes[j]
				continue
			}
		}
		changed = append(changed, i)
	}
	toHash := changed
	if memo != nil || known != nil {
		toHash = make([]int, 0, len(changed))
		for _, i := range changed {
			if h, ok := known[items[i]]; ok {
				out.hashes[i] = h
				continue
			}
			if h, ok := memo[items[i]]; ok {
				out.hashes[i] = h
				continue
			}
			toHash = append(toHash, i)
		}
	}
	if err := hashAll(items, toHash, out.hashes); err != nil {
		return typeState{}, false, err
	}
	if memo != nil {
		for _, i := range toHash {
			memo[items[i]] = out.hashes[i]
		}
	}
	version := typeVersion(names, out.hashes, scratch)
	if version == st.res.Version {
		// Same content under new pointers: keep serving the old Items, which
		// the cache may still be reading, and remember the new pointers so
		// that the next Publish takes the fast path.
		out.res, out.versions, out.plain = st.res, st.versions, st.plain
		return out, false, nil
	}
	var itemsMap map[string]types.ResourceWithTTL
	if sameNames && st.res.Items != nil && st.versions != nil {
		// Few resources changed: patch copies instead of rebuilding the maps.
		itemsMap = maps.Clone(st.res.Items)
		out.versions = maps.Clone(st.versions)
		out.plain = maps.Clone(st.plain)
		for _, i := range changed {
			itemsMap[names[i]] = types.ResourceWithTTL{Resource: items[i]}
			out.versions[names[i]] = resourceVersion(out.hashes[i])
			out.plain[names[i]] = items[i]
		}
	} else {
		itemsMap = make(map[string]types.ResourceWithTTL, len(items))
		out.versions = make(map[string]string, len(items))
		out.plain = make(map[string]types.Resource, len(items))
		for i, r := range items {
			itemsMap[names[i]] = types.ResourceWithTTL{Resource: r}
			out.versions[names[i]] = resourceVersion(out.hashes[i])
			out.plain[names[i]] = r
		}
	}
	out.res = cache.Resources{Version: version, Items: itemsMap}
	return out, true, nil
}

// sameStrings is slices.Equal with a shortcut for the common case of the
// very same slice (fromEDS reuses the previous names when they match).
func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return slices.Equal(a, b)
}
