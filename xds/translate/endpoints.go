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
// come out sorted without sorting here; unsorted input still gives one
// locality per zone, in first-seen order. A repeated address:port is kept
// once (grpc-go NACKs duplicates); a weight below 1 counts as 1.
//
// It runs for every endpoint change, so the messages of all endpoints are
// allocated in a few slabs rather than one by one.
func Endpoints(edsName string, eps []registry.Endpoint) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: edsName}
	n := len(eps)
	if n == 0 {
		return cla
	}
	var (
		lbes    = make([]endpointv3.LbEndpoint, n)
		ends    = make([]endpointv3.Endpoint, n)
		hosts   = make([]endpointv3.LbEndpoint_Endpoint, n)
		addrs   = make([]corev3.Address, n)
		addrSAs = make([]corev3.Address_SocketAddress, n)
		sas     = make([]corev3.SocketAddress, n)
		ports   = make([]corev3.SocketAddress_PortValue, n)
		weights = make([]wrapperspb.UInt32Value, n)
	)
	var seen map[hostPort]struct{}
	if n > smallEndpointSet {
		seen = make(map[hostPort]struct{}, n)
	}
	var cur *endpointv3.LocalityLbEndpoints
	zones := map[string]*endpointv3.LocalityLbEndpoints(nil)
	for i := range eps {
		ep := &eps[i]
		if isDuplicate(eps[:i], ep, seen) {
			continue
		}
		w := ep.Weight
		if w < 1 {
			w = 1
		}
		if cur == nil || cur.Locality.Zone != ep.Zone {
			cur = nil
			if zones != nil {
				cur = zones[ep.Zone]
			}
			if cur == nil {
				// grpc-go NACKs a locality without an ID, so even the
				// zone-less locality gets an (empty) one.
				cur = &endpointv3.LocalityLbEndpoints{Locality: &corev3.Locality{Zone: ep.Zone}, LoadBalancingWeight: &wrapperspb.UInt32Value{}}
				if len(cla.Endpoints) == 1 {
					zones = map[string]*endpointv3.LocalityLbEndpoints{cla.Endpoints[0].Locality.Zone: cla.Endpoints[0]}
				}
				if zones != nil {
					zones[ep.Zone] = cur
				}
				cla.Endpoints = append(cla.Endpoints, cur)
			}
		}
		cur.LoadBalancingWeight.Value += uint32(w)
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
		cur.LbEndpoints = append(cur.LbEndpoints, &lbes[i])
	}
	return cla
}

// smallEndpointSet is the size up to which duplicates are found by a scan
// instead of a map.
const smallEndpointSet = 16

type hostPort struct {
	addr string
	port int
}

func isDuplicate(before []registry.Endpoint, ep *registry.Endpoint, seen map[hostPort]struct{}) bool {
	if seen != nil {
		k := hostPort{ep.Address, ep.Port}
		if _, dup := seen[k]; dup {
			return true
		}
		seen[k] = struct{}{}
		return false
	}
	for i := range before {
		if before[i].Port == ep.Port && before[i].Address == ep.Address {
			return true
		}
	}
	return false
}
