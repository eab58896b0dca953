package translate

import (
	"errors"
	"io"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// TestRouteOnMissingGatewayIgnored: a Route naming only a Gateway that
// does not exist is attached nowhere and not built, so a Service it
// names that does not exist either fails nothing.
func TestRouteOnMissingGatewayIgnored(t *testing.T) {
	p := bigSnapshot(t, 2, 2, 1)
	r := clone(p).Routes["route-0000"]
	r.Name = "orphan"
	r.Spec.Gateways = []string{"gone", "gone"}
	r.Spec.Backends = append(r.Spec.Backends[:0:0], r.Spec.Backends...)
	r.Spec.Backends[0].Service = "no-such-service"
	p.Routes["orphan"] = r
	groups, err := Translate(p, Options{})
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	for k, g := range groups {
		eachRoute(g, func(_ string, rt *routev3.Route) {
			if rt.GetName() == "orphan" {
				t.Errorf("%v: the orphan Route was built", k)
			}
		})
	}
}

// TestCheckErrorsAreMarked: an error of Check matches errCheck (the fuzz
// test tells a translator bug from bad input by it) and nothing else; an
// error about the input does not match it.
func TestCheckErrorsAreMarked(t *testing.T) {
	g := checkedEdge(t, "cache")
	g.Clusters = nil
	err := Check(g, clasOf(g))
	if err == nil || !errors.Is(err, errCheck) {
		t.Fatalf("Check of a group without its clusters: %v, want an error matching errCheck", err)
	}
	if errors.Is(err, io.EOF) {
		t.Error("a Check error matches io.EOF")
	}
	p := bigSnapshot(t, 2, 2, 1)
	delete(p.Services, "svc-0001")
	if _, err := Translate(p, Options{}); err == nil || errors.Is(err, errCheck) {
		t.Errorf("a missing Service: %v, want an input error, not errCheck", err)
	}
}
