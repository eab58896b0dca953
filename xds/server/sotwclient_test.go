package server

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
)

// envoySotW drives a state-of-the-world ADS stream as Envoy applies one:
// responses in the order they come, an RDS response applied when it is
// received and then answered (ACK, or NACK when reject says so: the routes
// applied before stay), and every CDS response checked against the
// clusters the routes the client holds name, those applied and those it
// last ACKed: a route naming a cluster Envoy no longer has fails with 503
// NC. A test can leave RDS responses unanswered (holdRoutes) to stand for
// a client whose ACK is late.
type envoySotW struct {
	t *testing.T
	a *adsStream

	// reject, if set, decides from the clusters an RDS response names
	// whether the client NACKs it.
	reject func(named []string) bool
	// holdRoutes leaves RDS responses unanswered (in held) until release.
	holdRoutes bool
	held       []*discoveryv3.DiscoveryResponse

	applied     []string // clusters named by the routes applied
	ackedRoutes []string // clusters named by the routes last ACKed
	routeVer    string   // the RDS version last ACKed
	clusters    []string // the clusters of the last CDS response
	cdsVersions []string // every CDS version received, in order
	rdsNACKs    int

	eds      []string // EDS names subscribed
	lastEDS  *discoveryv3.DiscoveryResponse
	violated bool // a CDS response lacked a cluster the routes name
}

// newEnvoySotW opens a stream for gateway's Envoy group and subscribes
// like Envoy: LDS and CDS (wildcard), then EDS for the clusters and RDS
// for the listener's route configuration, as the responses come.
func newEnvoySotW(t *testing.T, h *harness, id, gateway string) *envoySotW {
	t.Helper()
	return &envoySotW{t: t, a: h.open(t, id, gateway, "envoy")}
}

// sync subscribes and answers until the stream holds every type.
func (e *envoySotW) sync() {
	e.t.Helper()
	e.a.send(resource.ListenerType, nil, "", "")
	e.a.send(resource.ClusterType, nil, "", "")
	got := map[string]bool{}
	asked := false
	deadline := time.After(5 * time.Second)
	for len(got) < 4 {
		select {
		case r, ok := <-e.a.resp:
			if !ok {
				e.t.Fatal("stream closed during the initial sync")
			}
			got[r.GetTypeUrl()] = true
			e.handle(r)
			if r.GetTypeUrl() == resource.ListenerType && !asked {
				asked = true
				e.a.send(resource.RouteType, []string{gatewayOf(e) + "-http"}, "", "")
			}
		case <-deadline:
			e.t.Fatalf("initial sync: got %v within 5s", slices.Sorted(maps.Keys(got)))
		}
	}
}

func gatewayOf(e *envoySotW) string { return e.a.node.GetCluster() }

// handle applies and answers one response.
func (e *envoySotW) handle(r *discoveryv3.DiscoveryResponse) {
	e.t.Helper()
	switch r.GetTypeUrl() {
	case resource.RouteType:
		named := routeClusters(e.t, r)
		if e.reject != nil && e.reject(named) {
			e.rdsNACKs++
			e.a.s.Send(&discoveryv3.DiscoveryRequest{
				TypeUrl: resource.RouteType, ResourceNames: []string{gatewayOf(e) + "-http"},
				VersionInfo: e.routeVer, ResponseNonce: r.GetNonce(),
				ErrorDetail: &status.Status{Code: 3, Message: "rejected by the test"},
			})
			return
		}
		e.applied = named
		if e.holdRoutes {
			e.held = append(e.held, r)
			return
		}
		e.ackRoutes(r)
	case resource.ClusterType:
		names := resourceNames(e.t, r)
		for _, c := range append(slices.Clone(e.applied), e.ackedRoutes...) {
			if !slices.Contains(names, c) {
				e.violated = true
				e.t.Errorf("%s: CDS version %s has %v: no %s, which the routes the client holds name (applied %v, ACKed %v)",
					e.a.node.GetId(), r.GetVersionInfo(), names, c, e.applied, e.ackedRoutes)
				break
			}
		}
		e.clusters = names
		e.cdsVersions = append(e.cdsVersions, r.GetVersionInfo())
		e.a.ack(r, nil)
		eds := edsNamesOf(e.t, r)
		if !slices.Equal(eds, e.eds) {
			// Envoy asks for the CLAs of the clusters it now has (a
			// resource hint at the EDS version it holds).
			e.eds = eds
			if e.lastEDS == nil {
				e.a.send(resource.EndpointType, eds, "", "")
			} else {
				e.a.ack(e.lastEDS, eds)
			}
		}
	case resource.EndpointType:
		e.lastEDS = r
		e.a.ack(r, e.eds)
	default:
		e.a.ack(r, nil)
	}
}

func (e *envoySotW) ackRoutes(r *discoveryv3.DiscoveryResponse) {
	e.ackedRoutes = routeClusters(e.t, r)
	e.routeVer = r.GetVersionInfo()
	e.a.ack(r, []string{gatewayOf(e) + "-http"})
}

// release answers the RDS responses left unanswered, in order, and stops
// holding them.
func (e *envoySotW) release() {
	e.t.Helper()
	e.holdRoutes = false
	for _, r := range e.held {
		e.ackRoutes(r)
	}
	e.held = nil
}

// run handles responses for d.
func (e *envoySotW) run(d time.Duration) {
	e.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case r, ok := <-e.a.resp:
			if !ok {
				return
			}
			e.handle(r)
		case <-deadline:
			return
		}
	}
}

// until handles responses until cond holds, for at most 5 s.
func (e *envoySotW) until(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case r, ok := <-e.a.resp:
			if !ok {
				e.t.Fatalf("%s: stream closed first", what)
			}
			e.handle(r)
		case <-deadline:
			e.t.Fatalf("%s: not within 5s (clusters %v, routes applied %v, ACKed %v)", what, e.clusters, e.applied, e.ackedRoutes)
		}
	}
}

// untilAll handles the responses of every stream, as they come, until cond
// holds for each, for at most 5 s: a group's streams wait for each other's
// answers.
func untilAll(t *testing.T, what string, cond func(*envoySotW) bool, streams ...*envoySotW) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		done := true
		for _, e := range streams {
			done = done && cond(e)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			for _, e := range streams {
				t.Logf("%s: %s", e.a.node.GetId(), e.describe())
			}
			t.Fatalf("%s: not within 5s", what)
		}
		idle := true
		for _, e := range streams {
			select {
			case r, ok := <-e.a.resp:
				if !ok {
					t.Fatalf("%s: %s's stream closed first", what, e.a.node.GetId())
				}
				e.handle(r)
				idle = false
			default:
			}
		}
		if idle {
			time.Sleep(time.Millisecond)
		}
	}
}

// has reports whether the last CDS response had every cluster in names.
func (e *envoySotW) has(names ...string) bool {
	for _, n := range names {
		if !slices.Contains(e.clusters, n) {
			return false
		}
	}
	return true
}

// routeClusters lists, sorted, the clusters an RDS response's routes name.
func routeClusters(t *testing.T, r *discoveryv3.DiscoveryResponse) []string {
	t.Helper()
	var out []string
	for _, a := range r.GetResources() {
		var rc routev3.RouteConfiguration
		if err := a.UnmarshalTo(&rc); err != nil {
			t.Fatal(err)
		}
		for _, vh := range rc.GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				if c := rt.GetRoute().GetCluster(); c != "" && !slices.Contains(out, c) {
					out = append(out, c)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// edsNamesOf lists, sorted, the EDS service names of a CDS response.
func edsNamesOf(t *testing.T, r *discoveryv3.DiscoveryResponse) []string {
	t.Helper()
	var out []string
	for _, a := range r.GetResources() {
		var c clusterv3.Cluster
		if err := a.UnmarshalTo(&c); err != nil {
			t.Fatal(err)
		}
		if n := c.GetEdsClusterConfig().GetServiceName(); n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// describe is for failure messages.
func (e *envoySotW) describe() string {
	return strings.Join([]string{"clusters " + strings.Join(e.clusters, ","), "routes " + strings.Join(e.applied, ",")}, "; ")
}
