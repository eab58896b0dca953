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
// It runs for every endpoint change and, on a cold build, once per Service,
// so its messages are allocated together (two passes: count per zone, then
// fill): one allocation for the localities' messages, one for the
// endpoints' (localityMsgs, endpointMsgs), one per pointer list.
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
	var zoneBuf [smallEndpointSet]int
	zoneOf := zoneBuf[:0]
	if n > len(zoneBuf) {
		zoneOf = make([]int, 0, n)
	}
	zoneOf = zoneOf[:n]
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
	// Pass 2: fill the slabs: one allocation for the localities' messages,
	// one for the endpoints', one per pointer list.
	k := len(zones)
	locSlab := make([]localityMsgs, k)
	epSlab := make([]endpointMsgs, n)
	ptrs := make([]*endpointv3.LbEndpoint, n)
	cla.Endpoints = make([]*endpointv3.LocalityLbEndpoints, k)
	off := 0
	for z := range zones {
		l := &locSlab[z]
		// grpc-go NACKs a locality without an ID, so even the zone-less
		// locality gets an (empty) one.
		l.locality.Zone = zones[z]
		l.lle.Locality = &l.locality
		l.lle.LoadBalancingWeight = &l.weight
		l.lle.LbEndpoints = ptrs[off : off : off+counts[z]]
		off += counts[z]
		cla.Endpoints[z] = &l.lle
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
		l, e := &locSlab[z], &epSlab[i]
		l.weight.Value += uint32(w)
		e.port.PortValue = uint32(ep.Port)
		e.sa.Address = ep.Address
		e.sa.PortSpecifier = &e.port
		e.addrSA.SocketAddress = &e.sa
		e.addr.Address = &e.addrSA
		e.end.Address = &e.addr
		e.host.Endpoint = &e.end
		e.weight.Value = uint32(w)
		e.lbe.HostIdentifier = &e.host
		e.lbe.LoadBalancingWeight = &e.weight
		if ep.Draining {
			// Envoy excludes a DRAINING host from load balancing but keeps
			// it (and its connections) in the host set, so in-flight
			// requests finish (source/common/upstream/upstream_impl.cc,
			// HostImplBase::setEdsHealthFlag).
			e.lbe.HealthStatus = corev3.HealthStatus_DRAINING
		}
		l.lle.LbEndpoints = append(l.lle.LbEndpoints, &e.lbe)
	}
	setPriorities(cla.Endpoints, localZone)
	return cla
}

// localityMsgs are the messages of one locality of a
// ClusterLoadAssignment, allocated together (Endpoints).
type localityMsgs struct {
	lle      endpointv3.LocalityLbEndpoints
	locality corev3.Locality
	weight   wrapperspb.UInt32Value
}

// endpointMsgs are the messages of one endpoint, allocated together.
type endpointMsgs struct {
	lbe    endpointv3.LbEndpoint
	end    endpointv3.Endpoint
	host   endpointv3.LbEndpoint_Endpoint
	addr   corev3.Address
	addrSA corev3.Address_SocketAddress
	sa     corev3.SocketAddress
	port   corev3.SocketAddress_PortValue
	weight wrapperspb.UInt32Value
}

// setPriorities puts the localities outside localZone at priority 1 when
// localZone has a locality of its own and is not the only one.
func setPriorities(locs []*endpointv3.LocalityLbEndpoints, localZone string) {
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
