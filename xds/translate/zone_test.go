package translate

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// TestEndpointPriorities: endpoints in the local zone get priority 0 and
// all others priority 1, but only when the local zone has endpoints and is
// not alone; otherwise everything stays at 0 (no gap from 0).
func TestEndpointPriorities(t *testing.T) {
	ep := func(addr, zone string) registry.Endpoint {
		return registry.Endpoint{Address: addr, Port: 80, Weight: 1, Zone: zone}
	}
	ab := []registry.Endpoint{ep("10.0.0.1", "a"), ep("10.0.0.2", "a"), ep("10.0.1.1", "b")}
	for _, tc := range []struct {
		name, local string
		eps         []registry.Endpoint
		want        string // zone=priority per locality, in order
	}{
		{"no local zone", "", ab, "a=0 b=0"},
		{"local zone a", "a", ab, "a=0 b=1"},
		{"local zone b", "b", ab, "a=1 b=0"},
		{"local zone without endpoints", "c", ab, "a=0 b=0"},
		{"one zone, the local one", "a", ab[:2], "a=0"},
		{"one zone, another", "b", ab[:2], "a=0"},
		{"zone-less endpoints are not local", "a", []registry.Endpoint{ep("10.0.2.1", ""), ep("10.0.0.1", "a")}, "=1 a=0"},
		{"three zones", "b", append(ab, ep("10.0.3.1", "c")), "a=1 b=0 c=1"},
		{"no endpoints", "a", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cla := Endpoints("svc/s/00000000@x", tc.local, tc.eps)
			var got []string
			for _, l := range cla.GetEndpoints() {
				got = append(got, fmt.Sprintf("%s=%d", l.GetLocality().GetZone(), l.GetPriority()))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("priorities %q, want %q", g, tc.want)
			}
			if err := checkCLA(cla); err != nil {
				t.Errorf("checkCLA: %v", err)
			}
			if err := cla.ValidateAll(); err != nil {
				t.Errorf("ValidateAll: %v", err)
			}
		})
	}
}

const zoneCase = `kind: Gateway
name: east
spec:
  zone: us-east-1a
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Gateway
name: plain
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Service
name: users
spec:
  discovery:
    static: [{address: 10.0.0.1, port: 80}]
---
kind: Route
name: r
spec:
  gateways: [east, plain]
  hosts: [users.internal]
  backends: [{service: users}]
`

// TestGatewayZone: a Gateway's spec.zone, else Options.Zone, names the
// zone of its EDS resources; Gateways of different zones get different
// EDS names for one Service, and a Gateway without any zone keeps the
// plain name.
func TestGatewayZone(t *testing.T) {
	snap := policy.Load(fstest.MapFS{"p.yaml": {Data: []byte(zoneCase)}}, nil)
	if len(snap.Rejected) > 0 {
		t.Fatalf("rejected: %v", snap.Errors())
	}
	for _, tc := range []struct {
		defaultZone         string
		wantEast, wantPlain string
	}{
		{"", "us-east-1a", ""},
		{"us-west-2b", "us-east-1a", "us-west-2b"},
		{"us-east-1a", "us-east-1a", "us-east-1a"},
	} {
		groups, err := Translate(snap, Options{Zone: tc.defaultZone})
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]string{}
		for _, gw := range []string{"east", "plain"} {
			for _, kind := range []ClientKind{ClientEnvoy, ClientGRPC} {
				g := groups[GroupKey{gw, kind}]
				if len(g.EDS) != 1 {
					t.Fatalf("%s/%s: EDS %v, want one name", gw, kind, g.EDS)
				}
				for eds := range g.EDS {
					want := map[string]string{"east": tc.wantEast, "plain": tc.wantPlain}[gw]
					if got := g.LocalZone[eds]; got != want {
						t.Errorf("default %q: %s/%s: local zone of %s = %q, want %q", tc.defaultZone, gw, kind, eds, got, want)
					}
					if want != "" && !strings.HasSuffix(eds, "@"+want) || want == "" && strings.Contains(eds, "@") {
						t.Errorf("default %q: %s/%s: EDS name %q does not end with its zone %q", tc.defaultZone, gw, kind, eds, want)
					}
					if prev, ok := names[gw]; ok && prev != eds {
						t.Errorf("%s: envoy and grpc groups ask for different EDS names %q and %q", gw, prev, eds)
					}
					names[gw] = eds
				}
			}
		}
		if sameZone := tc.wantEast == tc.wantPlain; sameZone != (names["east"] == names["plain"]) {
			t.Errorf("default %q: EDS names %q and %q: shared must mean same zone", tc.defaultZone, names["east"], names["plain"])
		}
	}
	if _, err := Translate(snap, Options{Zone: "us east"}); err == nil || !strings.Contains(err.Error(), "Options.Zone") {
		t.Errorf("Translate with a bad Options.Zone: %v", err)
	}
}
