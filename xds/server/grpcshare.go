package server

import (
	"fmt"
	"slices"
	"sync"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Encode once for proxyless gRPC groups (issue 10).
//
// Proxyless clients are served by the stock SnapshotCache over state of
// the world: each asks for its own names (its listener, the route
// configuration it names, the clusters its routes name and their
// endpoints), so the Envoy groups' whole-type sharing (sotwshare.go) does
// not apply, and the cache's RawResponse marshals every resource it
// carries again for every stream (pkg/cache/v3/cache.go,
// GetDiscoveryResponse). grpcShared keeps, per proxyless group, each
// resource's encoding keyed by its content hash (the snapshot's
// VersionMap), made on first use and shared by every stream that is sent
// it, and carried to the next snapshot while the content stays the same.
// The stream's loop (sotwConn.send) builds the response from those bytes
// when the cache's response is at the version grpcShared holds for the
// group, else lets the cache marshal it.

// grpcShared holds the proxyless groups' shared encodings.
type grpcShared struct {
	mu     sync.Mutex
	groups map[string]*[numTypes]grpcTypeEnc // by GroupKey.String()
}

// grpcTypeEnc is one type of one group's published snapshot and its
// encodings so far.
type grpcTypeEnc struct {
	version  string                    // the type's version (the response's)
	versions map[string]string         // name -> content hash; read only
	plain    map[string]types.Resource // name -> resource; read only
	enc      map[string]*anyField      // guarded by grpcShared.mu
}

// anyField is one resource as a DiscoveryResponse carries it: its Any,
// tagged as field 2 (resources), encoded once.
type anyField struct {
	version string
	get     func() ([]byte, error)
}

func newGRPCShared() *grpcShared {
	return &grpcShared{groups: map[string]*[numTypes]grpcTypeEnc{}}
}

// published takes in group k's new state, keeping the encodings of the
// resources whose content did not change.
func (g *grpcShared) published(k translate.GroupKey, st *groupState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.groups[k.String()]
	next := new([numTypes]grpcTypeEnc)
	for t := range numTypes {
		ts := &st.types[t]
		n := &next[t]
		n.version, n.versions, n.plain = ts.res.Version, ts.versions, ts.plain
		n.enc = map[string]*anyField{}
		if old == nil {
			continue
		}
		for name, e := range old[t].enc {
			if e.version != "" && ts.versions[name] == e.version {
				n.enc[name] = e
			}
		}
	}
	g.groups[k.String()] = next
}

// removed forgets group k.
func (g *grpcShared) removed(k translate.GroupKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.groups, k.String())
}

// response builds raw's DiscoveryResponse from the shared encodings, or
// reports false when it cannot (not a proxyless group's, a version other
// than the one published here, a heartbeat).
func (g *grpcShared) response(raw *cache.RawResponse) (*discoveryv3.DiscoveryResponse, bool, error) {
	typeURL := raw.GetRequest().GetTypeUrl()
	t := typeIndex(typeURL)
	if raw.Heartbeat || t < 0 {
		return nil, false, nil
	}
	returned := raw.GetReturnedResources()
	names := make([]string, 0, len(returned))
	for n := range returned {
		names = append(names, n)
	}
	slices.Sort(names) // the same bytes for the same names
	fields := make([]*anyField, len(names))
	g.mu.Lock()
	grp := g.groups[nodeKey(raw.GetRequest().GetNode()).String()]
	if grp == nil || grp[t].version != raw.Version {
		g.mu.Unlock()
		return nil, false, nil
	}
	ts := &grp[t]
	for i, n := range names {
		e := ts.enc[n]
		if e == nil {
			r, v := ts.plain[n], ts.versions[n]
			if r == nil {
				g.mu.Unlock()
				return nil, false, nil
			}
			e = newAnyField(typeURL, n, v, r)
			ts.enc[n] = e
		}
		fields[i] = e
	}
	g.mu.Unlock()
	var body []byte
	for _, e := range fields {
		b, err := e.get()
		if err != nil {
			return nil, false, err
		}
		body = append(body, b...)
	}
	out := &discoveryv3.DiscoveryResponse{VersionInfo: raw.Version, TypeUrl: typeURL}
	out.ProtoReflect().SetUnknown(protoreflect.RawFields(body)) // as sharedResponse
	return out, true, nil
}

func newAnyField(typeURL, name, version string, r types.Resource) *anyField {
	return &anyField{version: version, get: sync.OnceValues(func() ([]byte, error) {
		resourceEncodings.Add(1)
		b, err := cache.MarshalResource(r)
		if err != nil {
			return nil, fmt.Errorf("encode %s %q: %w", typeURL, name, err)
		}
		a, err := proto.MarshalOptions{Deterministic: true}.Marshal(&anypb.Any{TypeUrl: typeURL, Value: b})
		if err != nil {
			return nil, fmt.Errorf("encode %s %q: %w", typeURL, name, err)
		}
		f := protowire.AppendTag(make([]byte, 0, len(a)+8), sotwResourcesField, protowire.BytesType)
		return protowire.AppendBytes(f, a), nil
	})}
}
