package eureka

import (
	"net/netip"
	"strings"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// target is what one policy Service reads.
type target struct {
	app    string // upper-cased, as Eureka stores application names
	vip    string
	secure bool // the Service has spec.tls: use the instances' securePort
}

// counts is what endpointsOf saw, for status.
type counts struct {
	Instances int            // of the application
	OtherVIP  int            // left out: vip set and not among the instance's VIPs
	NotUp     map[string]int // left out: status -> count
	NoPort    int            // left out: the port gatehouse needs is not enabled
	Skipped   int            // left out: ipAddr not an IP address
}

// endpointsOf picks the served endpoints of t from the mirror:
//
//   - only instances with status UP (Eureka's own status, which already
//     includes an override such as OUT_OF_SERVICE);
//   - with a vip, only instances whose vipAddress (secureVipAddress for a
//     TLS Service) lists it;
//   - the port: a Service with spec.tls takes the instance's securePort,
//     one without takes the plain port, each only if "@enabled". Whether
//     gatehouse speaks TLS to an upstream is policy (spec.tls), never what
//     an instance registered: anyone who can register could otherwise turn
//     TLS off for a Service;
//   - the address is ipAddr, which must be an IP address (EDS takes IPs);
//   - the locality zone is metadata.zone, else, for instances on AWS
//     (dataCenterInfo name "Amazon"), its availability-zone.
func endpointsOf(m mirror, t target) ([]registry.Endpoint, counts) {
	c := counts{NotUp: map[string]int{}}
	insts := m[t.app]
	eps := make([]registry.Endpoint, 0, len(insts))
	seen := map[netip.AddrPort]bool{}
	for _, in := range insts {
		c.Instances++
		if t.vip != "" && !hasVIP(in, t) {
			c.OtherVIP++
			continue
		}
		if st := normStatus(in.Status); st != "UP" {
			c.NotUp[st]++
			continue
		}
		port := in.Port
		def := true
		if t.secure {
			port, def = in.SecurePort, false
		}
		n := port.number()
		if !port.enabled(def) || n == 0 {
			c.NoPort++
			continue
		}
		addr, err := netip.ParseAddr(in.IPAddr)
		if err != nil || addr.Zone() != "" {
			c.Skipped++
			continue
		}
		addr = addr.Unmap()
		ap := netip.AddrPortFrom(addr, uint16(n))
		if seen[ap] {
			continue // two registrations of one address:port are one endpoint
		}
		seen[ap] = true
		eps = append(eps, registry.Endpoint{Address: addr.String(), Port: n, Weight: 1, Zone: zoneOf(in)})
	}
	registry.Sort(eps)
	return eps, c
}

func hasVIP(in *instanceDoc, t target) bool {
	list := in.VIPAddress
	if t.secure {
		list = in.SecureVIPAddress
	}
	for _, v := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(v), t.vip) {
			return true
		}
	}
	return false
}

// zoneOf: metadata.zone (what Spring Cloud and most Eureka clients set),
// else the AWS availability zone from the data-center info.
func zoneOf(in *instanceDoc) string {
	if z := in.Metadata["zone"]; z != "" {
		return z
	}
	if strings.EqualFold(in.DataCenterInfo.Name, "Amazon") {
		return in.DataCenterInfo.Metadata["availability-zone"]
	}
	return ""
}
