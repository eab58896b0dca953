package kubernetes

import (
	"net/netip"
	"strconv"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// counts describes one Service's slices, for status.
type counts struct {
	Slices      int // EndpointSlices of the Service
	NoPort      int // slices without the wanted port (or with several and none asked)
	NotReady    int // endpoints left out: not ready, or terminating and not serving
	Draining    int // terminating but serving endpoints, served as DRAINING
	BadAddress  int // FQDN slices' endpoints, unparsable or zoned addresses
	PortsSeen   []string
	MultiPortNo bool // a slice had several ports and no port was asked
}

// endpointsOf merges the slices of one Service into sorted endpoints for
// port (a name, a number, or "" for the only port).
func endpointsOf(slices []*discoveryv1.EndpointSlice, port string) ([]registry.Endpoint, counts) {
	var c counts
	type key struct {
		addr string
		port int
	}
	seen := map[key]int{}
	var eps []registry.Endpoint
	portNames := map[string]bool{}
	for _, sl := range slices {
		c.Slices++
		for _, p := range sl.Ports {
			if p.Name != nil && *p.Name != "" && !portNames[*p.Name] {
				portNames[*p.Name] = true
				c.PortsSeen = append(c.PortsSeen, *p.Name)
			}
		}
		num, ok := pickPort(sl.Ports, port)
		if !ok {
			if port == "" && len(sl.Ports) > 1 {
				c.MultiPortNo = true
			}
			c.NoPort++
			continue
		}
		if sl.AddressType != discoveryv1.AddressTypeIPv4 && sl.AddressType != discoveryv1.AddressTypeIPv6 {
			c.BadAddress += len(sl.Endpoints)
			continue
		}
		for i := range sl.Endpoints {
			e := &sl.Endpoints[i]
			serve, draining := usable(e.Conditions)
			if !serve {
				c.NotReady++
				continue
			}
			if len(e.Addresses) == 0 {
				c.BadAddress++
				continue
			}
			// EDS takes IPs only and Envoy refuses an IPv6 zone; the API
			// says to use the first address (the rest are not meaningful).
			ip, err := netip.ParseAddr(e.Addresses[0])
			if err != nil || ip.Zone() != "" {
				c.BadAddress++
				continue
			}
			zone := ""
			if e.Zone != nil {
				zone = *e.Zone
			}
			k := key{ip.String(), num}
			if j, dup := seen[k]; dup {
				// One endpoint in two slices while the controller moves it:
				// ready wins over draining.
				if eps[j].Draining && !draining {
					eps[j].Draining, eps[j].Zone = false, zone
				}
				continue
			}
			seen[k] = len(eps)
			eps = append(eps, registry.Endpoint{Address: ip.String(), Port: num, Weight: 1, Zone: zone, Draining: draining})
		}
	}
	for _, ep := range eps {
		if ep.Draining {
			c.Draining++
		}
	}
	if eps == nil {
		eps = []registry.Endpoint{}
	}
	registry.Sort(eps)
	return eps, c
}

// pickPort finds the wanted port among a slice's ports: by number (the
// endpoints' port), by name, or the only port when none is asked.
func pickPort(ports []discoveryv1.EndpointPort, want string) (int, bool) {
	num := func(p discoveryv1.EndpointPort) (int, bool) {
		if p.Port == nil || *p.Port < 1 || *p.Port > 65535 {
			return 0, false
		}
		return int(*p.Port), true
	}
	if want == "" {
		if len(ports) != 1 {
			return 0, false
		}
		return num(ports[0])
	}
	if n, err := strconv.Atoi(want); err == nil {
		for _, p := range ports {
			if p.Port != nil && int(*p.Port) == n {
				return num(p)
			}
		}
		return 0, false
	}
	for _, p := range ports {
		if p.Name != nil && *p.Name == want {
			return num(p)
		}
	}
	return 0, false
}

// usable applies the EndpointConditions rules: ready unset means ready,
// serving unset means the value of ready, terminating unset means not.
func usable(c discoveryv1.EndpointConditions) (serve, draining bool) {
	ready := c.Ready == nil || *c.Ready
	serving := ready
	if c.Serving != nil {
		serving = *c.Serving
	}
	terminating := c.Terminating != nil && *c.Terminating
	switch {
	case terminating:
		return serving, serving
	default:
		return ready, false
	}
}
