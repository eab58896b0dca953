package server

import (
	"maps"
	"reflect"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Both client kinds of a Gateway ask for the same EDS names, and Publish
// hashes each shared ClusterLoadAssignment once. The versions must be those
// of each group published on its own, and a changed shared CLA must move
// the endpoints version of every group that carries it.
func TestPublishSharedCLAsHashedOnceAgree(t *testing.T) {
	envoy := newFixture("gw", translate.ClientEnvoy, 8, 3)
	grpc := newFixture("gw", translate.ClientGRPC, 8, 3)
	grpc.clas = envoy.clas // same pointers, as the controller hands them
	groups := merge(envoy.groups(), grpc.groups())

	p := newTestPublisher(t)
	mustPublish(t, p, groups, envoy.clas)
	for _, f := range []*fixture{envoy, grpc} {
		alone := newTestPublisher(t)
		mustPublish(t, alone, f.groups(), f.clas)
		if got, want := versionsOf(t, p, f.key), versionsOf(t, alone, f.key); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: versions with a shared CLA memo %v, alone %v", f.key, got, want)
		}
	}

	before := map[translate.GroupKey]map[string]string{envoy.key: versionsOf(t, p, envoy.key), grpc.key: versionsOf(t, p, grpc.key)}
	clas := maps.Clone(envoy.clas)
	clas[edsName(3)] = testCLA(edsName(3), 20000, 3)
	st := mustPublish(t, p, groups, clas)
	if len(st.Changed) != 2 {
		t.Fatalf("changed %v, want both groups", st.Changed)
	}
	for k, b := range before {
		after := versionsOf(t, p, k)
		if after["endpoints"] == b["endpoints"] {
			t.Fatalf("%s: endpoints version did not move", k)
		}
		if after["clusters"] != b["clusters"] || after["routes"] != b["routes"] || after["listeners"] != b["listeners"] {
			t.Fatalf("%s: non-EDS version moved: %v -> %v", k, b, after)
		}
	}
	// Equal content from another replica gives the same versions.
	other := newTestPublisher(t)
	mustPublish(t, other, groups, clas)
	for k := range before {
		if got, want := versionsOf(t, other, k), versionsOf(t, p, k); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: replicas disagree: %v vs %v", k, got, want)
		}
	}
}

// The publisher takes the translator's hashes (Group.Hashes) instead of
// encoding those resources again; correct ones give the versions it would
// have computed itself.
func TestPublishUsesGroupHashes(t *testing.T) {
	plain := newFixture("gw", translate.ClientEnvoy, 6, 2)
	p := newTestPublisher(t)
	mustPublish(t, p, plain.groups(), plain.clas)
	want := versionsOf(t, p, plain.key)

	hashed := newFixture("gw", translate.ClientEnvoy, 6, 2)
	hashed.group.Hashes = map[types.Resource]uint64{}
	for _, c := range hashed.group.Clusters {
		h, err := hashResource(c)
		if err != nil {
			t.Fatal(err)
		}
		hashed.group.Hashes[c] = h
	}
	q := newTestPublisher(t)
	mustPublish(t, q, hashed.groups(), hashed.clas)
	if got := versionsOf(t, q, hashed.key); !reflect.DeepEqual(got, want) {
		t.Fatalf("with Group.Hashes %v, without %v", got, want)
	}

	// They are used, not recomputed: a different one moves only the
	// clusters version.
	lying := hashed.clone()
	lying.group.Clusters = append([]types.Resource(nil), hashed.group.Clusters...)
	c0 := proto.Clone(lying.group.Clusters[0])
	lying.group.Clusters[0] = c0
	lying.group.Hashes = map[types.Resource]uint64{c0: hashed.group.Hashes[hashed.group.Clusters[0]] + 1}
	r := newTestPublisher(t)
	mustPublish(t, r, lying.groups(), lying.clas)
	got := versionsOf(t, r, lying.key)
	if got["clusters"] == want["clusters"] {
		t.Fatal("the group's hash was not used")
	}
	for _, typ := range []string{TypeEndpoints, TypeListeners, TypeRoutes, TypeSecrets} {
		if got[typ] != want[typ] {
			t.Errorf("%s version moved: %s vs %s", typ, got[typ], want[typ])
		}
	}
	if len(got) != len(want) {
		t.Errorf("versions %v, want the types of %v", got, want)
	}
}
