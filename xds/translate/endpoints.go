package translate

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// Endpoints builds the ClusterLoadAssignment for one EDS name. Each zone is
// a locality weighted by the sum of its endpoints' weights; the weight is
// always set and >= 1 because grpc-go drops unweighted localities. The
// registry hands endpoints sorted by (Zone, Address, Port), so localities
// come out sorted; unsorted input still gives one locality per zone, in
// first-seen order. A repeated address:port is kept once (grpc-go NACKs
// duplicates); a weight below 1 counts as 1.
//
// localZone is the zone of the proxies the assignment is for (Group.LocalZone;
// "" for none). When some endpoints are in it and some are not, those in it
// get priority 0 and all others (other zones, no zone) priority 1, so Envoy
// and grpc-go send everything to the local zone and fail over to the rest
// only as local endpoints go unhealthy or away. Otherwise every endpoint is
// at priority 0: priorities must run from 0 without a gap (Envoy:
// api/envoy/config/endpoint/v3/endpoint_components.proto, priority: "should
// range from 0 (highest) to N (lowest) without skipping"; grpc-go NACKs a
// gap: xds/internal/xdsclient/xdsresource/unmarshal_eds.go, "priority %v
// missing"), so a zone with no endpoints of its own must not leave
// priority 0 empty. The overprovisioning factor is Envoy's default (1.4):
// traffic starts to spill over once fewer than about 71% of the local
// endpoints are healthy (Envoy:
// source/extensions/load_balancing_policies/common/load_balancer_impl.cc,
// recalculatePerPriorityState).
//
// It runs for every endpoint change, so all messages are allocated in a
// few slabs (two passes: count per zone, then fill) rather than one by one.
func Endpoints(edsName, localZone string, eps []registry.Endpoint) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: edsName}
	n := len(eps)
	if n == 0 {
		return cla
	}
	// Pass 1: zone of each endpoint (index into zones), -1 for duplicates.
	var seen map[hostPort]struct{}
	if n > smallEndpointSet {
		seen = make(map[hostPort]struct{}, n)
	}
	zoneOf := make([]int, n)
	zones := make([]string, 0, 4)
	counts := make([]int, 0, 4)
	last := -1
	for i := range eps {
		ep := &eps[i]
		if isDuplicate(eps[:i], zoneOf[:i], ep, seen) {
			zoneOf[i] = -1
			continue
		}
		if last < 0 || zones[last] != ep.Zone {
			last = -1
			for z := range zones {
				if zones[z] == ep.Zone {
					last = z
					break
				}
			}
			if last < 0 {
				zones = append(zones, ep.Zone)
				counts = append(counts, 0)
				last = len(zones) - 1
			}
		}
		zoneOf[i] = last
		counts[last]++
	}
	// Pass 2: fill slabs.
	var (
		k        = len(zones)
		locs     = make([]endpointv3.LocalityLbEndpoints, k)
		localits = make([]corev3.Locality, k)
		locW     = make([]wrapperspb.UInt32Value, k)
		ptrs     = make([]*endpointv3.LbEndpoint, n)
		lbes     = make([]endpointv3.LbEndpoint, n)
		ends     = make([]endpointv3.Endpoint, n)
		hosts    = make([]endpointv3.LbEndpoint_Endpoint, n)
		addrs    = make([]corev3.Address, n)
		addrSAs  = make([]corev3.Address_SocketAddress, n)
		sas      = make([]corev3.SocketAddress, n)
		ports    = make([]corev3.SocketAddress_PortValue, n)
		weights  = make([]wrapperspb.UInt32Value, n)
	)
	cla.Endpoints = make([]*endpointv3.LocalityLbEndpoints, k)
	off := 0
	for z := range zones {
		// grpc-go NACKs a locality without an ID, so even the zone-less
		// locality gets an (empty) one.
		localits[z].Zone = zones[z]
		locs[z].Locality = &localits[z]
		locs[z].LoadBalancingWeight = &locW[z]
		locs[z].LbEndpoints = ptrs[off : off : off+counts[z]]
		off += counts[z]
		cla.Endpoints[z] = &locs[z]
	}
	for i := range eps {
		z := zoneOf[i]
		if z < 0 {
			continue
		}
		ep := &eps[i]
		w := ep.Weight
		if w < 1 {
			w = 1
		}
		locW[z].Value += uint32(w)
		ports[i].PortValue = uint32(ep.Port)
		sas[i].Address = ep.Address
		sas[i].PortSpecifier = &ports[i]
		addrSAs[i].SocketAddress = &sas[i]
		addrs[i].Address = &addrSAs[i]
		ends[i].Address = &addrs[i]
		hosts[i].Endpoint = &ends[i]
		weights[i].Value = uint32(w)
		lbes[i].HostIdentifier = &hosts[i]
		lbes[i].LoadBalancingWeight = &weights[i]
		if ep.Draining {
			// Envoy excludes a DRAINING host from load balancing but keeps
			// it (and its connections) in the host set, so in-flight
			// requests finish (source/common/upstream/upstream_impl.cc,
			// HostImplBase::setEdsHealthFlag).
			lbes[i].HealthStatus = corev3.HealthStatus_DRAINING
		}
		locs[z].LbEndpoints = append(locs[z].LbEndpoints, &lbes[i])
	}
	setPriorities(locs, localZone)
	return cla
}

// setPriorities puts the localities outside localZone at priority 1 when
// localZone has a locality of its own and is not the only one.
func setPriorities(locs []endpointv3.LocalityLbEndpoints, localZone string) {
	if localZone == "" || len(locs) < 2 {
		return
	}
	local := false
	for i := range locs {
		if locs[i].Locality.Zone == localZone {
			local = true
			break
		}
	}
	if !local {
		return
	}
	for i := range locs {
		if locs[i].Locality.Zone != localZone {
			locs[i].Priority = 1
		}
	}
}

// smallEndpointSet is the size up to which duplicates are found by a scan
// instead of a map.
const smallEndpointSet = 16

type hostPort struct {
	addr string
	port int
}

// isDuplicate reports whether ep repeats an earlier kept endpoint.
func isDuplicate(before []registry.Endpoint, zoneOf []int, ep *registry.Endpoint, seen map[hostPort]struct{}) bool {
	if seen != nil {
		k := hostPort{ep.Address, ep.Port}
		if _, dup := seen[k]; dup {
			return true
		}
		seen[k] = struct{}{}
		return false
	}
	for i := range before {
		if zoneOf[i] >= 0 && before[i].Port == ep.Port && before[i].Address == ep.Address {
			return true
		}
	}
	return false
}
