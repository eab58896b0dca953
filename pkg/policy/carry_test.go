package policy

import (
	"strings"
	"testing"
)

const routeR = `kind: Route
name: r
spec:
  gateways: [gw]
  backends: [{service: a, weight: 3}]
`

const routeQ = `kind: Route
name: q
spec:
  gateways: [gw]
  backends: [{service: b}]
`

func TestCarryOverInvalidEdit(t *testing.T) {
	prev := Load(testFS(t, map[string]string{"routes.yaml": routeR + "---\n" + routeQ}), nil)
	if len(prev.Rejected) != 0 || prev.Routes["r"] == nil {
		t.Fatalf("setup: %q", prev.Errors())
	}
	bad := strings.Replace(routeR, "weight: 3", "weight: -3", 1)
	next := Load(testFS(t, map[string]string{"routes.yaml": bad + "---\n" + routeQ}), prev)
	r := next.Routes["r"]
	if r == nil || r.Spec.Backends[0].W() != 3 {
		t.Fatalf("Route r not carried over with its old weight: %+v", r)
	}
	rej := rejectedEntry(next, "Route/r")
	if rej == nil || !rej.CarriedOver || rej.File != "routes.yaml" || rej.Line != 1 {
		t.Fatalf("rejected entry = %+v", rej)
	}
	if _, ok := findErr(next, "routes.yaml:5: Route/r: spec.backends[0].weight: ", "-3 is out of range"); !ok {
		t.Errorf("errors: %q", next.Errors())
	}
	if next.Routes["q"] == nil {
		t.Errorf("valid Route q lost")
	}

	// Without a previous snapshot nothing is carried.
	fresh := Load(testFS(t, map[string]string{"routes.yaml": bad}), nil)
	if fresh.Routes["r"] != nil || rejectedEntry(fresh, "Route/r").CarriedOver {
		t.Errorf("carried over without prev")
	}
}

func TestCarryOverSyntaxError(t *testing.T) {
	svc := "kind: Service\nname: c\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 7}]}\n"
	files := map[string]string{"routes.yaml": routeR + "---\n" + svc, "q.yaml": routeQ}
	prev := Load(testFS(t, files), nil)
	if len(prev.Rejected) != 0 {
		t.Fatalf("setup: %q", prev.Errors())
	}
	files["routes.yaml"] = routeR + "---\n" + svc + "  bad: [\n"
	next := Load(testFS(t, files), prev)
	if next.Routes["r"] != prev.Routes["r"] || next.Services["c"] != prev.Services["c"] || next.Routes["q"] == nil {
		t.Fatalf("objects of the unparseable file not carried over: routes %v services %v", keys(next.Routes), keys(next.Services))
	}
	if _, ok := findErr(next, "routes.yaml:12: routes.yaml: ", "yaml: did not find expected node content"); !ok {
		t.Errorf("syntax error missing: %q", next.Errors())
	}
	for _, ref := range []string{"Route/r", "Service/c"} {
		if e := rejectedEntry(next, ref); e == nil || !e.CarriedOver || !strings.Contains(e.Errors[0], "syntax error") {
			t.Errorf("%s: entry %+v", ref, e)
		}
	}

}

func TestCarryOverDanglingPrevious(t *testing.T) {
	// Route r is valid and served; then its Service is deleted and r is
	// edited into something invalid. The old r is kept, and so is Service c
	// it names: a served Route never loses what it references.
	svc := "kind: Service\nname: c\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 7}]}\n"
	rc := strings.Replace(routeR, "service: a", "service: c", 1)
	prev := Load(testFS(t, map[string]string{"r.yaml": rc, "c.yaml": svc}), nil)
	if prev.Routes["r"] == nil {
		t.Fatalf("setup: %q", prev.Errors())
	}
	next := Load(testFS(t, map[string]string{"r.yaml": rc + "  timeout: x\n"}), prev)
	if next.Routes["r"] != prev.Routes["r"] || next.Services["c"] != prev.Services["c"] {
		t.Fatalf("routes %v services %v errors %q", keys(next.Routes), keys(next.Services), next.Errors())
	}
	if e := rejectedEntry(next, "Route/r"); e == nil || !e.CarriedOver {
		t.Fatalf("entry %+v", e)
	}
	if _, ok := findErr(next, "c.yaml:1: Service/c: ", "deleted or renamed, but still referenced by Route/r (spec.backends[0].service)"); !ok {
		t.Errorf("errors: %q", next.Errors())
	}
	assertConsistent(t, next)

	// Once the reference is gone, so is the Service.
	after := Load(testFS(t, map[string]string{"r.yaml": routeR}), next)
	if after.Services["c"] != nil || len(after.Rejected) != 0 {
		t.Fatalf("services %v errors %q", keys(after.Services), after.Errors())
	}
}

func TestCarryOverRejectedService(t *testing.T) {
	// A Service edit that is invalid keeps the old Service, so the Routes
	// that send to it keep working.
	svc := "kind: Service\nname: c\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 7}]}\n"
	rc := strings.Replace(routeR, "service: a", "service: c", 1)
	prev := Load(testFS(t, map[string]string{"r.yaml": rc, "c.yaml": svc}), nil)
	next := Load(testFS(t, map[string]string{"r.yaml": rc, "c.yaml": strings.Replace(svc, "port: 7", "port: 0", 1)}), prev)
	if next.Services["c"] != prev.Services["c"] || next.Routes["r"] == nil {
		t.Fatalf("services %v routes %v errors %q", keys(next.Services), keys(next.Routes), next.Errors())
	}
	if e := rejectedEntry(next, "Service/c"); e == nil || !e.CarriedOver {
		t.Fatalf("entry %+v", e)
	}
	assertConsistent(t, next)
}

func TestDeletedFileRemovesObjects(t *testing.T) {
	prev := Load(testFS(t, map[string]string{"routes.yaml": routeR, "q.yaml": routeQ}), nil)
	next := Load(testFS(t, map[string]string{"routes.yaml": ""}), prev) // "" deletes
	if next.Routes["r"] != nil || next.Routes["q"] != nil {
		t.Fatalf("deleted files' objects still served: %v", keys(next.Routes))
	}
	if len(next.Rejected) != 0 {
		t.Errorf("unexpected rejections %q", next.Errors())
	}
	// Deleting the base file while Route r still names its Gateway and
	// Service keeps both at their last good version, and says so.
	fsys := testFS(t, map[string]string{"routes.yaml": routeR})
	delete(fsys, "base.yaml")
	next = Load(fsys, prev)
	if next.Routes["r"] == nil || next.Gateways["gw"] != prev.Gateways["gw"] || next.Services["a"] != prev.Services["a"] {
		t.Fatalf("routes %v errors %q", keys(next.Routes), next.Errors())
	}
	if next.Services["b"] != nil {
		t.Errorf("Service b kept although nothing names it")
	}
	if _, ok := findErr(next, "base.yaml:1: Gateway/gw: ", "deleted or renamed, but still referenced by Route/r (spec.gateways[0])"); !ok {
		t.Errorf("errors: %q", next.Errors())
	}
	assertConsistent(t, next)
	// On a fresh start there is nothing to keep: the Route is rejected.
	fresh := Load(fsys, nil)
	if fresh.Routes["r"] != nil {
		t.Fatalf("Route r served without its Gateway")
	}
	if _, ok := findErr(fresh, "routes.yaml:4: Route/r: spec.gateways[0]: ", `Gateway "gw" does not exist`); !ok {
		t.Errorf("errors: %q", fresh.Errors())
	}
	assertConsistent(t, fresh)
}

func TestDuplicateKeepsPrevious(t *testing.T) {
	prev := Load(testFS(t, map[string]string{"a.yaml": routeR}), nil)
	next := Load(testFS(t, map[string]string{"a.yaml": routeR, "b.yaml": routeR}), prev)
	if next.Routes["r"] != prev.Routes["r"] {
		t.Fatalf("Route r not carried over")
	}
	a, b := rejectedEntry(next, "Route/r"), next.Rejected[len(next.Rejected)-1]
	if a == nil || !a.CarriedOver || !b.CarriedOver || a.File != "a.yaml" || b.File != "b.yaml" {
		t.Fatalf("entries %+v", next.Rejected)
	}
	if _, ok := findErr(next, "b.yaml:2: Route/r: name: ", "duplicate Route \"r\": also defined at a.yaml:1"); !ok {
		t.Errorf("errors: %q", next.Errors())
	}
	if _, ok := findErr(next, "a.yaml:2: Route/r: name: ", "also defined at b.yaml:1"); !ok {
		t.Errorf("errors: %q", next.Errors())
	}
}

// assertConsistent checks the Snapshot contract: every reference resolves
// and credentials identify one Consumer.
func assertConsistent(t testing.TB, s *Snapshot) {
	t.Helper()
	for _, p := range inconsistencies(s) {
		t.Errorf("inconsistent snapshot: %s", p)
	}
}

func TestSyntaxErrorKeepsReferencedPrevious(t *testing.T) {
	svc := "kind: Service\nname: c\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 7}]}\n"
	rc := strings.Replace(routeR, "service: a", "service: c", 1)
	prev := Load(testFS(t, map[string]string{"r.yaml": rc, "c.yaml": svc}), nil)
	// r.yaml breaks and c.yaml is deleted in the same load: r is served at
	// its last good version, and so is c, which it names.
	next := Load(testFS(t, map[string]string{"r.yaml": rc + "x: [\n"}), prev)
	if next.Routes["r"] != prev.Routes["r"] || next.Services["c"] != prev.Services["c"] {
		t.Fatalf("routes %v services %v errors %q", keys(next.Routes), keys(next.Services), next.Errors())
	}
	e := rejectedEntry(next, "Route/r")
	if e == nil || !e.CarriedOver || !strings.Contains(e.Errors[0], "not reloaded: r.yaml has a YAML syntax error") {
		t.Fatalf("entry %+v", e)
	}
	assertConsistent(t, next)
}

// A deleted object whose last good version cannot be kept (here a Gateway
// whose Zipkin collector Service is now GRPC) is reported once, however
// many objects still name it, and nothing naming it is served.
func TestUnkeptDeletedObjectReportedOnce(t *testing.T) {
	gw := "kind: Gateway\nname: tg\nspec:\n  listeners: [{name: http, port: 8090, protocol: HTTP}]\n  tracing: {provider: zipkin, service: zk}\n"
	zk := "kind: Service\nname: zk\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 9411}]}\n"
	routes := strings.Replace(routeR, "[gw]", "[tg]", 1) + "---\n" + strings.Replace(routeQ, "[gw]", "[tg]", 1)
	prev := Load(testFS(t, map[string]string{"tg.yaml": gw, "zk.yaml": zk, "routes.yaml": routes}), nil)
	if len(prev.Rejected) != 0 || prev.Routes["r"] == nil || prev.Routes["q"] == nil {
		t.Fatalf("setup: %q", prev.Errors())
	}
	next := Load(testFS(t, map[string]string{"zk.yaml": strings.Replace(zk, "spec:\n", "spec:\n  protocol: GRPC\n", 1), "routes.yaml": routes}), prev)
	n := 0
	for _, e := range next.Rejected {
		if e.Ref == "Gateway/tg" {
			n++
			if e.CarriedOver || !strings.Contains(strings.Join(e.Errors, "\n"), "its last good version cannot be kept") {
				t.Errorf("entry %+v", e)
			}
		}
	}
	if n != 1 {
		t.Errorf("Gateway/tg reported %d times: %q", n, next.Errors())
	}
	if next.Gateways["tg"] != nil || next.Routes["r"] != nil || next.Routes["q"] != nil {
		t.Errorf("served: gateways %v routes %v", keys(next.Gateways), keys(next.Routes))
	}
	assertConsistent(t, next)
}

// Entries at the same file and line (an object kept at its last good
// version where this load defines another, invalid one) are ordered by
// Kind/name, so the list does not depend on the order they were found in.
func TestRejectedOrderAtOneLine(t *testing.T) {
	svc := func(name, port string) string {
		return "kind: Service\nname: " + name + "\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: " + port + "}]}\n"
	}
	rc := strings.Replace(routeR, "service: a", "service: s1", 1)
	prev := Load(testFS(t, map[string]string{"s.yaml": svc("s1", "7"), "r.yaml": rc}), nil)
	if len(prev.Rejected) != 0 {
		t.Fatalf("setup: %q", prev.Errors())
	}
	for _, name := range []string{"s0", "s2"} {
		next := Load(testFS(t, map[string]string{"s.yaml": svc(name, "0"), "r.yaml": rc}), prev)
		var got []string
		for _, e := range next.Rejected {
			got = append(got, e.File+":"+e.Ref)
		}
		want := []string{"s.yaml:Service/s0", "s.yaml:Service/s1"}
		if name == "s2" {
			want = []string{"s.yaml:Service/s1", "s.yaml:Service/s2"}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: rejected %q, want %q", name, got, want)
		}
	}
}
