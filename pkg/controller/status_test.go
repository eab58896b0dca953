package controller

import (
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Status hands the admin API a copy: a caller that edits what it got (or
// encodes it while a build updates the status) never changes the
// controller's own status, and a status with nothing held stays without a
// Held map.
func TestStatusIsACopy(t *testing.T) {
	c := &Controller{}
	c.status = Status{
		Ready:     true,
		Gateways:  []string{"public"},
		Rejected:  []policy.Rejected{{Ref: "Route/r", Errors: []string{"x.yaml:1: Route/r: bad"}}},
		Held:      map[string][]string{"public": {"Route/r names Service/missing"}},
		Proxyless: []string{"Route/p: withheld"},
	}
	want := Status{
		Ready:     true,
		Gateways:  []string{"public"},
		Rejected:  []policy.Rejected{{Ref: "Route/r", Errors: []string{"x.yaml:1: Route/r: bad"}}},
		Held:      map[string][]string{"public": {"Route/r names Service/missing"}},
		Proxyless: []string{"Route/p: withheld"},
	}
	got := c.Status()
	if !reflect.DeepEqual(got, want) || !c.Ready() {
		t.Fatalf("Status() = %+v, Ready %v; want %+v, true", got, c.Ready(), want)
	}
	got.Gateways[0] = "edited"
	got.Rejected[0].Ref = "edited"
	got.Held["public"][0] = "edited"
	got.Held["other"] = nil
	got.Proxyless[0] = "edited"
	if again := c.Status(); !reflect.DeepEqual(again, want) {
		t.Fatalf("editing the returned Status changed the controller's: %+v", again)
	}

	c.status = Status{}
	if s := c.Status(); s.Held != nil || s.Ready || c.Ready() {
		t.Errorf("empty status: Held %#v, Ready %v/%v; want nil, false", s.Held, s.Ready, c.Ready())
	}
}
