package translate

import (
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestPrecheckCoversTranslatedResources: every Route of every route table
// and every Service's Cluster of both groups is one newIndex checked, for
// its own client kind only, so that Check skips no rule that did not run
// on that very proto; with and without a Memo. 200 Routes are enough for
// newIndex to use two goroutines (run it with -race).
func TestPrecheckCoversTranslatedResources(t *testing.T) {
	const n = 200
	for _, memo := range []*Memo{nil, NewMemo()} {
		groups, err := Translate(memoPolicy(n), Options{Memo: memo})
		if err != nil {
			t.Fatal(err)
		}
		for k, g := range groups {
			envoy := k.Client == ClientEnvoy
			routes := 0
			for _, r := range routeProtos(g) {
				routes++
				if !g.pre.has(r, envoy) {
					t.Errorf("%s: route %s not prechecked", k, r.GetName())
				}
				if g.pre.has(r, !envoy) {
					t.Errorf("%s: route %s prechecked for the other client kind", k, r.GetName())
				}
			}
			clusters := 0
			for _, r := range g.Clusters {
				cl := r.(*clusterv3.Cluster)
				if !strings.HasPrefix(cl.GetName(), "svc-") && !strings.Contains(cl.GetName(), "/svc-") {
					continue
				}
				clusters++
				if !g.pre.has(cl, envoy) {
					t.Errorf("%s: cluster %s not prechecked", k, cl.GetName())
				}
			}
			if routes != n || clusters != n {
				t.Errorf("%s: %d routes and %d Service clusters, want %d each", k, routes, clusters, n)
			}
		}
		if memo != nil {
			g := envoyGroup(t, groups)
			if r := routeProtos(g)["route-7"]; !memo.wasChecked(r, true) {
				t.Error("a prechecked Route is not recorded in the memo")
			}
		}
	}
}

// TestPrecheckDoesNotRecordFailures: a Route or Cluster that fails its own
// rules is not marked; one that fails on a regex does not leave the regex
// in the checker's cache as seen, so a second Route with the same bad
// regex fails too; a good Route still passes after a failure.
func TestPrecheckDoesNotRecordFailures(t *testing.T) {
	groups, err := Translate(memoPolicy(2), Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := envoyGroup(t, groups)
	good := routeProtos(g)["route-0"]
	badRegex := func() *routev3.Route {
		r := proto.Clone(good).(*routev3.Route)
		r.Match.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "(unclosed"}}
		return r
	}
	var o ownChecker
	for _, envoy := range []bool{true, false} {
		if o.route(good, encode(t, good), envoy) == 0 {
			t.Fatalf("envoy=%v: the translator's Route fails its own rules", envoy)
		}
		for i := range 2 {
			bad := badRegex()
			if o.route(bad, encode(t, bad), envoy) != 0 {
				t.Errorf("envoy=%v: Route %d with an invalid regex passed", envoy, i)
			}
		}
		if o.route(good, encode(t, good), envoy) == 0 {
			t.Errorf("envoy=%v: a good Route fails after a bad one", envoy)
		}
	}
	cl := proto.Clone(g.Clusters[0]).(*clusterv3.Cluster)
	if o.cluster(cl, encode(t, cl), true) == 0 {
		t.Fatal("the translator's Cluster fails its own rules")
	}
	cl.ConnectTimeout = &durationpb.Duration{Seconds: -1}
	if o.cluster(cl, encode(t, cl), true) != 0 {
		t.Error("a Cluster with a negative connect timeout passed")
	}
	// The walk reads the encoding: without one, or with one it cannot
	// read, an Envoy resource fails its precheck (Check then runs its
	// rules in its group); a proxyless one is not walked.
	enc := encode(t, good)
	for name, e := range map[string][]byte{"nil": nil, "truncated": enc[:len(enc)-1], "group": append([]byte{0x0b}, enc...)} {
		if o.route(good, e, true) != 0 {
			t.Errorf("Envoy Route with a %s encoding passed its precheck", name)
		}
		if o.route(good, e, false) == 0 {
			t.Errorf("proxyless Route with a %s encoding failed its precheck: it is not walked", name)
		}
	}
}

// encode is m's deterministic encoding.
func encode(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := deterministic.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCheckRunsOwnRulesOfWhatWasNotPrechecked: a Route put in a group's
// table after Translate (not one newIndex built and checked) has its own
// rules run by Check, with its place in the error.
func TestCheckRunsOwnRulesOfWhatWasNotPrechecked(t *testing.T) {
	groups, err := Translate(memoPolicy(2), Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := envoyGroup(t, groups)
	rc := proto.Clone(g.Routes[0]).(*routev3.RouteConfiguration)
	vh := rc.GetVirtualHosts()[0]
	vh.Routes[0].Match.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "(unclosed"}}
	bad := &Group{Key: g.Key, Listeners: g.Listeners, Routes: append([]typesResource{rc}, g.Routes[1:]...), Clusters: g.Clusters, Secrets: g.Secrets, EDS: g.EDS, pre: g.pre}
	err = Check(bad, nil)
	want := "route config " + rc.GetName() + " virtual host " + vh.GetName() + " route " + vh.Routes[0].GetName()
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "not valid RE2") {
		t.Errorf("Check = %v, want the invalid regex at %q", err, want)
	}
}
