package consul

import (
	"net/netip"

	"github.com/hashicorp/consul/api"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// endpointsOf converts passing health entries into sorted endpoints. It
// returns how many entries were skipped for an unusable address or port.
// Two entries with the same zone, address and port (one process registered
// twice) become one endpoint with their weights added.
func endpointsOf(entries []*api.ServiceEntry) (eps []registry.Endpoint, skipped int) {
	type key struct {
		zone, addr string
		port       int
	}
	seen := make(map[key]int, len(entries))
	eps = make([]registry.Endpoint, 0, len(entries))
	for _, e := range entries {
		if e == nil || e.Service == nil {
			skipped++
			continue
		}
		addr := e.Service.Address
		if addr == "" && e.Node != nil {
			addr = e.Node.Address
		}
		// EDS takes IP addresses only, and Envoy refuses an IPv6 zone
		// (Check would then hold the whole Gateway back): skip such an
		// instance rather than publish nothing.
		ip, err := netip.ParseAddr(addr)
		if err != nil || ip.Zone() != "" || e.Service.Port <= 0 || e.Service.Port > 65535 {
			skipped++
			continue
		}
		addr = ip.String()
		zone := zoneOf(e)
		w := e.Service.Weights.Passing
		if w <= 0 {
			w = 1
		}
		k := key{zone, addr, e.Service.Port}
		if i, ok := seen[k]; ok {
			eps[i].Weight += w
			continue
		}
		seen[k] = len(eps)
		eps = append(eps, registry.Endpoint{Address: addr, Port: e.Service.Port, Weight: w, Zone: zone})
	}
	registry.Sort(eps)
	return eps, skipped
}

// zoneOf is an instance's zone: the service meta `zone` (what operators
// set today), else the service's Consul locality (Consul 1.17+ registers a
// Locality with a service), else the node meta `zone`, else the node's
// locality. The instance's own word comes before its node's.
func zoneOf(e *api.ServiceEntry) string {
	if z := e.Service.Meta["zone"]; z != "" {
		return z
	}
	if l := e.Service.Locality; l != nil && l.Zone != "" {
		return l.Zone
	}
	if e.Node == nil {
		return ""
	}
	if z := e.Node.Meta["zone"]; z != "" {
		return z
	}
	if l := e.Node.Locality; l != nil {
		return l.Zone
	}
	return ""
}
