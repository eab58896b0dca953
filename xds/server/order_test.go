package server

import (
	"slices"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// withoutCluster is f with cluster i, its CLA and the route's reference to
// it removed in one change.
func withoutCluster(f *fixture, i int) *fixture {
	g := f.clone()
	var kept []types.Resource
	var names []string
	for _, c := range g.group.Clusters {
		if n := cache.GetResourceName(c); n != clusterName(i) {
			kept = append(kept, c)
			names = append(names, n)
		}
	}
	g.group.Clusters = kept
	delete(g.group.EDS, edsName(i))
	delete(g.clas, edsName(i))
	g.group.Routes = []types.Resource{testRoute(f.key.Gateway+"-http", names...)}
	return g
}

// Removing a cluster and the route naming it in one publish sends, over
// delta, the route update first, then the cluster's removal, then its
// CLA's removal: a route naming a cluster Envoy no longer has fails its
// requests (503 NC), so stale clusters go only once routes stop naming
// them (Envoy's xDS protocol docs, "Eventual consistency considerations").
func TestDeltaRemovalAfterRouteUpdate(t *testing.T) {
	h, f := published(t, 3, 2)
	d := h.openDelta(t, "d1", "gw")
	d.subscribe(resource.ClusterType)
	d.recv(resource.ClusterType)
	d.subscribe(resource.EndpointType, edsName(0), edsName(1), edsName(2))
	d.recv(resource.EndpointType)
	d.subscribe(resource.ListenerType)
	d.recv(resource.ListenerType)
	d.subscribe(resource.RouteType, "gw-http")
	d.recv(resource.RouteType)
	d.expectNone(quiet)

	mustPublish(t, h.pub, withoutCluster(f, 2).groups(), withoutCluster(f, 2).clas)
	var order []string
	for len(order) < 3 {
		select {
		case r, ok := <-d.resp:
			if !ok {
				t.Fatal("stream closed")
			}
			order = append(order, r.GetTypeUrl())
			switch r.GetTypeUrl() {
			case resource.RouteType:
				wantNames(t, "RDS", deltaNames(r), "gw-http")
			case resource.ClusterType:
				if !slices.Equal(r.GetRemovedResources(), []string{clusterName(2)}) || len(r.GetResources()) != 0 {
					t.Fatalf("CDS: sent %v removed %v, want %s removed", deltaNames(r), r.GetRemovedResources(), clusterName(2))
				}
			case resource.EndpointType:
				if !slices.Equal(r.GetRemovedResources(), []string{edsName(2)}) || len(r.GetResources()) != 0 {
					t.Fatalf("EDS: sent %v removed %v, want %s removed", deltaNames(r), r.GetRemovedResources(), edsName(2))
				}
			default:
				t.Fatalf("unexpected %s response", r.GetTypeUrl())
			}
			d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: r.GetTypeUrl(), ResponseNonce: r.GetNonce()})
		case <-time.After(5 * time.Second):
			t.Fatalf("responses after the removal: %v, want RDS, CDS, EDS within 5s", order)
		}
	}
	if want := []string{resource.RouteType, resource.ClusterType, resource.EndpointType}; !slices.Equal(order, want) {
		t.Fatalf("responses after removing a cluster and its route: %v, want %v", order, want)
	}
	d.expectNone(quiet)
}

// The same over state of the world: no CDS response without the removed
// cluster arrives before the RDS response that stops naming it, and one
// does arrive.
func TestSotWRemovalAfterRouteUpdate(t *testing.T) {
	h, f := published(t, 3, 2)
	a := h.open(t, "e1", "gw", "envoy")
	subscribeAll(t, a, f)
	edsNames := []string{edsName(0), edsName(1), edsName(2)}
	a.expectNone(quiet)

	g := withoutCluster(f, 2)
	mustPublish(t, h.pub, g.groups(), g.clas)
	routeUpdated, clusterGone := false, false
	deadline := time.After(5 * time.Second)
	for !clusterGone {
		select {
		case r, ok := <-a.resp:
			if !ok {
				t.Fatal("stream closed")
			}
			names := resourceNames(t, r)
			switch r.GetTypeUrl() {
			case resource.RouteType:
				routeUpdated = true
				a.ack(r, []string{"gw-http"})
			case resource.ClusterType:
				if !slices.Contains(names, clusterName(2)) {
					if !routeUpdated {
						t.Fatalf("CDS without %s (%v) sent before the route update", clusterName(2), names)
					}
					clusterGone = true
				}
				a.ack(r, nil)
			case resource.EndpointType:
				a.ack(r, edsNames)
			default:
				a.ack(r, nil)
			}
		case <-deadline:
			t.Fatalf("within 5s: route updated %v, cluster removed %v", routeUpdated, clusterGone)
		}
	}
}

// A cluster replaced by another in one publish, with the route moved to
// the new one: the new cluster first (make-before-break), then the route,
// then, once the client answered the new cluster's response, the old
// cluster's removal and its CLA's.
func TestDeltaReplaceClusterOrder(t *testing.T) {
	h, f := published(t, 3, 2)
	d := h.openDelta(t, "d1", "gw")
	d.subscribe(resource.ClusterType)
	d.recv(resource.ClusterType)
	d.subscribe(resource.EndpointType, edsName(0), edsName(1), edsName(2))
	d.recv(resource.EndpointType)
	d.subscribe(resource.ListenerType)
	d.recv(resource.ListenerType)
	d.subscribe(resource.RouteType, "gw-http")
	d.recv(resource.RouteType)
	d.expectNone(quiet)

	g := withoutCluster(f, 2)
	g.group.Clusters = append(g.group.Clusters, testCluster(clusterName(5), edsName(5)))
	g.group.EDS[edsName(5)] = "svc-5"
	g.clas[edsName(5)] = testCLA(edsName(5), 10000, 2)
	g.group.Routes = []types.Resource{testRoute("gw-http", clusterName(0), clusterName(1), clusterName(5))}
	mustPublish(t, h.pub, g.groups(), g.clas)

	r := d.recv(resource.ClusterType)
	wantNames(t, "CDS first", deltaNames(r), clusterName(5))
	if len(r.GetRemovedResources()) != 0 {
		t.Fatalf("the new cluster's response removes %v before the route moved", r.GetRemovedResources())
	}
	wantNames(t, "RDS second", deltaNames(d.recv(resource.RouteType)), "gw-http")
	r = d.recv(resource.ClusterType)
	if len(r.GetResources()) != 0 || !slices.Equal(r.GetRemovedResources(), []string{clusterName(2)}) {
		t.Fatalf("CDS third: sent %v removed %v, want %s removed", deltaNames(r), r.GetRemovedResources(), clusterName(2))
	}
	r = d.recv(resource.EndpointType)
	if len(r.GetResources()) != 0 || !slices.Equal(r.GetRemovedResources(), []string{edsName(2)}) {
		t.Fatalf("EDS last: sent %v removed %v, want %s removed", deltaNames(r), r.GetRemovedResources(), edsName(2))
	}
	d.expectNone(quiet)
}
