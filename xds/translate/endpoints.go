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
// locality per zone, in first-seen order.
func Endpoints(edsName string, eps []registry.Endpoint) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: edsName}
	if len(eps) == 0 {
		return cla
	}
	idx := make(map[string]int, 4)
	// grpc-go NACKs a duplicate address; keep the first.
	seen := make(map[hostPort]struct{}, len(eps))
	lbes := make([]endpointv3.LbEndpoint, len(eps))
	for i := range eps {
		ep := &eps[i]
		if _, dup := seen[hostPort{ep.Address, ep.Port}]; dup {
			continue
		}
		seen[hostPort{ep.Address, ep.Port}] = struct{}{}
		w := ep.Weight
		if w < 1 {
			w = 1
		}
		li, ok := idx[ep.Zone]
		if !ok {
			li = len(cla.Endpoints)
			idx[ep.Zone] = li
			// grpc-go NACKs a locality without an ID, so even the
			// zone-less locality gets an (empty) one.
			l := &endpointv3.LocalityLbEndpoints{LoadBalancingWeight: wrapperspb.UInt32(0), Locality: &corev3.Locality{Zone: ep.Zone}}
			cla.Endpoints = append(cla.Endpoints, l)
		}
		l := cla.Endpoints[li]
		l.LoadBalancingWeight.Value += uint32(w)
		lbe := &lbes[i]
		lbe.LoadBalancingWeight = wrapperspb.UInt32(uint32(w))
		lbe.HostIdentifier = &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address:       ep.Address,
				PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(ep.Port)},
			}}},
		}}
		l.LbEndpoints = append(l.LbEndpoints, lbe)
	}
	return cla
}

type hostPort struct {
	addr string
	port int
}
