package eureka

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

func inst(id, ip, status string, port int, mod func(*instanceDoc)) *instanceDoc {
	in := &instanceDoc{InstanceID: id, IPAddr: ip, Status: status, VIPAddress: "cart", SecureVIPAddress: "cart-secure",
		Port: portDoc{Port: flexString(strconv.Itoa(port)), Enabled: "true"}, SecurePort: portDoc{Port: "8443", Enabled: "false"}}
	if mod != nil {
		mod(in)
	}
	return in
}

// TestEndpointsOf: only UP instances, the plain or the secure port as the
// Service's TLS says (each only if enabled), the VIP filter, IP addresses
// only, the zone from metadata.zone or the AWS availability zone, one
// endpoint per address:port.
func TestEndpointsOf(t *testing.T) {
	m := mirror{}
	for _, in := range []*instanceDoc{
		inst("a", "10.0.0.1", "UP", 8080, func(i *instanceDoc) { i.Metadata = map[string]string{"zone": "z1"} }),
		inst("b", "10.0.0.2", "UP", 8080, func(i *instanceDoc) {
			i.DataCenterInfo = dataCenterDoc{Name: "Amazon", Metadata: map[string]string{"availability-zone": "us-east-1a"}}
			i.SecurePort = portDoc{Port: "8443", Enabled: "true"}
		}),
		inst("c", "10.0.0.3", "DOWN", 8080, nil),
		inst("d", "10.0.0.4", "OUT_OF_SERVICE", 8080, nil),
		inst("e", "10.0.0.5", "STARTING", 8080, nil),
		inst("f", "cart-f.internal", "UP", 8080, nil), // a host name: EDS takes IPs
		inst("g", "10.0.0.7", "UP", 8080, func(i *instanceDoc) { i.Port.Enabled = "false" }),
		inst("h", "10.0.0.1", "UP", 8080, func(i *instanceDoc) { i.Metadata = map[string]string{"zone": "z1"} }), // same address:port as a
		inst("i", "10.0.0.9", "UP", 8080, func(i *instanceDoc) { i.VIPAddress = "other, cart2" }),
		inst("j", "fe80::1%eth0", "UP", 8080, nil),
		inst("k", "10.0.0.11", "UP", 0, nil),
	} {
		m.put("CART", in)
	}
	m.put("ORDERS", inst("o", "10.0.1.1", "UP", 9000, nil))

	eps, c := endpointsOf(m, target{app: "CART"})
	want := []registry.Endpoint{
		{Address: "10.0.0.9", Port: 8080, Weight: 1},
		{Address: "10.0.0.2", Port: 8080, Weight: 1, Zone: "us-east-1a"},
		{Address: "10.0.0.1", Port: 8080, Weight: 1, Zone: "z1"},
	}
	if !reflect.DeepEqual(eps, want) {
		t.Errorf("plain: %+v\nwant %+v", eps, want)
	}
	if c.Instances != 11 || c.NoPort != 2 || c.Skipped != 2 || !reflect.DeepEqual(c.NotUp, map[string]int{"DOWN": 1, "OUT_OF_SERVICE": 1, "STARTING": 1}) {
		t.Errorf("counts %+v", c)
	}

	eps, c = endpointsOf(m, target{app: "CART", vip: "cart"})
	if len(eps) != 2 || c.OtherVIP != 1 {
		t.Errorf("vip cart: %+v %+v", eps, c)
	}
	eps, _ = endpointsOf(m, target{app: "CART", vip: "CART2"})
	if len(eps) != 1 || eps[0].Address != "10.0.0.9" {
		t.Errorf("vip cart2 (from a list, any case): %+v", eps)
	}

	// TLS: only b enabled its securePort; the secure VIP is matched.
	eps, _ = endpointsOf(m, target{app: "CART", secure: true})
	if len(eps) != 1 || eps[0].Address != "10.0.0.2" || eps[0].Port != 8443 {
		t.Errorf("secure: %+v", eps)
	}
	if eps, _ := endpointsOf(m, target{app: "CART", vip: "cart", secure: true}); len(eps) != 0 {
		t.Errorf("secure with the plain VIP: %+v", eps)
	}
	if eps, c := endpointsOf(m, target{app: "NOPE"}); len(eps) != 0 || c.Instances != 0 {
		t.Errorf("unknown app: %+v %+v", eps, c)
	}
}
