package server

import (
	"reflect"
	"slices"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Groups of one Publish that ask for the same EDS names with the same CLAs
// share one endpoints state (maps included) instead of each copying and
// patching its own; each group still reports a change against its own
// previous state, and a group with other names gets its own state.
func TestPublishGroupsShareEndpointsState(t *testing.T) {
	p := newTestPublisher(t)
	env := newFixture("gw", translate.ClientEnvoy, 20, 2)
	grpc := newFixture("gw", translate.ClientGRPC, 20, 2)
	small := newFixture("other", translate.ClientEnvoy, 5, 2)
	grpc.clas, small.clas = env.clas, env.clas // the same CLAs, as a build gives them
	items := func(k translate.GroupKey) uintptr {
		s, _ := p.Snapshot(k)
		return reflect.ValueOf(s.Resources[types.Endpoint].Items).Pointer()
	}
	groups := func(fs ...*fixture) map[translate.GroupKey]*translate.Group {
		out := map[translate.GroupKey]*translate.Group{}
		for _, f := range fs {
			out[f.key] = f.group
		}
		return out
	}

	mustPublish(t, p, groups(env), env.clas)
	// grpc joins while one CLA changes: both groups change, the new one
	// against its empty state, and they share the state built once.
	next := env.clone()
	next.clas[edsName(7)] = testCLA(edsName(7), 20000, 2)
	st := mustPublish(t, p, groups(next, grpc, small), next.clas)
	for _, k := range []translate.GroupKey{env.key, grpc.key, small.key} {
		if !slices.Contains(st.Changed[k], TypeEndpoints) {
			t.Errorf("group %s: endpoints not reported changed: %v", k, st.Changed[k])
		}
	}
	if items(env.key) != items(grpc.key) {
		t.Error("groups with the same EDS names and CLAs built two endpoints states")
	}
	if items(small.key) == items(env.key) {
		t.Error("a group with other EDS names took another group's endpoints state")
	}
	ve, vg, vs := versionsOf(t, p, env.key), versionsOf(t, p, grpc.key), versionsOf(t, p, small.key)
	if ve[TypeEndpoints] != vg[TypeEndpoints] || vs[TypeEndpoints] == ve[TypeEndpoints] {
		t.Errorf("endpoints versions envoy %s grpc %s other %s: want the first two equal, the third apart", ve[TypeEndpoints], vg[TypeEndpoints], vs[TypeEndpoints])
	}
	s, _ := p.Snapshot(grpc.key)
	if got := s.Resources[types.Endpoint].Items[edsName(7)].Resource; got != next.clas[edsName(7)] {
		t.Error("shared state does not hold the changed CLA")
	}
	if len(s.Resources[types.Endpoint].Items) != 20 {
		t.Errorf("grpc group holds %d CLAs, want 20", len(s.Resources[types.Endpoint].Items))
	}

	// The same input again: nothing changes for anyone.
	st = mustPublish(t, p, groups(next, grpc, small), next.clas)
	if len(st.Changed) != 0 {
		t.Errorf("unchanged publish changed %v", st.Changed)
	}
}
