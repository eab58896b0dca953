package controller

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// TestEarlyCLAs: a full build starts the CLAs while Translate finishes
// (translate.Options.EDSReady) and uses them: each CLA is built once, and
// the result is the one a build without the early start makes, given
// every EDS name the groups ask for, with its Service and zone.
func TestEarlyCLAs(t *testing.T) {
	for _, zone := range []string{"", "a"} {
		p, eps := builderPolicy(3 * parallelCLAMin)

		early := &Builder{Options: translate.Options{Zone: zone}}
		before := clasBuilt.Load()
		got, err := early.Build(p, eps, true)
		if err != nil {
			t.Fatal(err)
		}
		if built := clasBuilt.Load() - before; built != int64(len(got.CLAs)) {
			t.Fatalf("zone %q: %d CLAs built for %d EDS names: the early ones were not used", zone, built, len(got.CLAs))
		}

		var targets []translate.EDSTarget
		late := &Builder{Options: translate.Options{Zone: zone, EDSReady: func(ts []translate.EDSTarget) { targets = ts }}}
		want, err := late.Build(p, eps, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.CLAs) != len(want.CLAs) || got.EndpointsChanged != want.EndpointsChanged {
			t.Fatalf("zone %q: %d CLAs (%d built), want %d (%d)", zone, len(got.CLAs), got.EndpointsChanged, len(want.CLAs), want.EndpointsChanged)
		}
		for eds, cla := range want.CLAs {
			if !proto.Equal(got.CLAs[eds], cla) || got.CLAHashes[got.CLAs[eds]] != want.CLAHashes[cla] {
				t.Fatalf("zone %q: CLA %s or its hash differs with the early start", zone, eds)
			}
		}
		var fromGroups []translate.EDSTarget
		for _, g := range want.Groups {
			for eds, svc := range g.EDS {
				ts := translate.EDSTarget{EDS: eds, Service: svc, Zone: g.LocalZone[eds]}
				if !slices.Contains(fromGroups, ts) {
					fromGroups = append(fromGroups, ts)
				}
			}
		}
		cmp := func(a, b translate.EDSTarget) int {
			if a.EDS < b.EDS {
				return -1
			}
			if a.EDS > b.EDS {
				return 1
			}
			return 0
		}
		slices.SortFunc(fromGroups, cmp)
		slices.SortFunc(targets, cmp)
		if !slices.Equal(targets, fromGroups) {
			t.Fatalf("zone %q: EDSReady gave %d targets, the groups ask for %d (or they differ)", zone, len(targets), len(fromGroups))
		}
	}
}
