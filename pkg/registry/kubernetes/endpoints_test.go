package kubernetes

import (
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

func ptr[T any](v T) *T { return &v }

type tep struct {
	addrs                []string
	ready, serving, term *bool
	zone                 string
}

func tslice(at discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...tep) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{AddressType: at, Ports: ports}
	for _, e := range eps {
		var z *string
		if e.zone != "" {
			z = ptr(e.zone)
		}
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: e.addrs, Zone: z,
			Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Serving: e.serving, Terminating: e.term}})
	}
	return sl
}

func port(name string, n int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr(name), Port: ptr(n)}
}

func TestEndpointsOfConditions(t *testing.T) {
	sl := tslice(discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{port("grpc", 9000)},
		tep{addrs: []string{"10.0.0.1"}},                                                          // ready unset: ready
		tep{addrs: []string{"10.0.0.2"}, ready: ptr(true)},                                        // ready
		tep{addrs: []string{"10.0.0.3"}, ready: ptr(false)},                                       // not ready: out
		tep{addrs: []string{"10.0.0.4"}, ready: ptr(false), serving: ptr(true), term: ptr(true)},  // draining
		tep{addrs: []string{"10.0.0.5"}, ready: ptr(false), serving: ptr(false), term: ptr(true)}, // gone
		tep{addrs: []string{"10.0.0.6"}, ready: ptr(false), term: ptr(true)},                      // serving unset = ready (false): gone
		tep{addrs: []string{"10.0.0.7"}, ready: ptr(false), serving: ptr(true)},                   // serving but not ready, not terminating: out
	)
	eps, c := endpointsOf([]*discoveryv1.EndpointSlice{sl}, "grpc")
	want := []registry.Endpoint{
		{Address: "10.0.0.1", Port: 9000, Weight: 1},
		{Address: "10.0.0.2", Port: 9000, Weight: 1},
		{Address: "10.0.0.4", Port: 9000, Weight: 1, Draining: true},
	}
	if !registry.Equal(eps, want) {
		t.Errorf("endpoints %+v, want %+v", eps, want)
	}
	if c.NotReady != 4 || c.Draining != 1 || c.Slices != 1 {
		t.Errorf("counts %+v, want 4 not ready, 1 draining, 1 slice", c)
	}
}

// TestEndpointsOfMerge: several slices (one per address family when
// dual-stack) merge; a duplicate across slices is kept once, ready over
// draining; zones become localities; FQDN slices and bad addresses are
// skipped and counted.
func TestEndpointsOfMerge(t *testing.T) {
	ports := []discoveryv1.EndpointPort{port("http", 8080), port("grpc", 9000)}
	v4a := tslice(discoveryv1.AddressTypeIPv4, ports, tep{addrs: []string{"10.0.0.1"}, zone: "z1"},
		tep{addrs: []string{"10.0.0.2"}, ready: ptr(false), serving: ptr(true), term: ptr(true), zone: "z2"})
	v4b := tslice(discoveryv1.AddressTypeIPv4, ports, tep{addrs: []string{"10.0.0.2"}, zone: "z2"},
		tep{addrs: []string{"10.0.0.1"}, ready: ptr(false), serving: ptr(true), term: ptr(true), zone: "z1"},
		tep{addrs: []string{"not-an-ip"}}, tep{addrs: []string{"fe80::1%eth0"}}, tep{})
	v6 := tslice(discoveryv1.AddressTypeIPv6, ports, tep{addrs: []string{"fd00::0001", "fd00::2"}, zone: "z1"})
	fqdn := tslice(discoveryv1.AddressTypeFQDN, ports, tep{addrs: []string{"cart.example.com"}})
	eps, c := endpointsOf([]*discoveryv1.EndpointSlice{v4a, v4b, v6, fqdn}, "grpc")
	want := []registry.Endpoint{
		{Address: "10.0.0.1", Port: 9000, Weight: 1, Zone: "z1"},
		{Address: "fd00::1", Port: 9000, Weight: 1, Zone: "z1"},
		{Address: "10.0.0.2", Port: 9000, Weight: 1, Zone: "z2"},
	}
	if !registry.Equal(eps, want) {
		t.Errorf("endpoints %+v, want %+v", eps, want)
	}
	if c.BadAddress != 4 || c.Slices != 4 || c.Draining != 0 {
		t.Errorf("counts %+v, want 4 bad addresses (3 + 1 FQDN), 4 slices, 0 draining", c)
	}
}

func TestPickPort(t *testing.T) {
	two := []discoveryv1.EndpointPort{port("http", 8080), port("grpc", 9000)}
	one := []discoveryv1.EndpointPort{{Port: ptr(int32(7000))}}
	cases := []struct {
		ports []discoveryv1.EndpointPort
		want  string
		n     int
		ok    bool
	}{
		{two, "grpc", 9000, true},
		{two, "http", 8080, true},
		{two, "8080", 8080, true}, // a number is the endpoints' (target) port
		{two, "80", 0, false},
		{two, "admin", 0, false},
		{two, "", 0, false}, // several ports, none named: ambiguous
		{one, "", 7000, true},
		{one, "7000", 7000, true},
		{[]discoveryv1.EndpointPort{{Name: ptr("x")}}, "x", 0, false}, // no port number
		{[]discoveryv1.EndpointPort{{Name: ptr("x"), Port: ptr(int32(70000))}}, "x", 0, false},
	}
	for _, c := range cases {
		n, ok := pickPort(c.ports, c.want)
		if n != c.n || ok != c.ok {
			t.Errorf("pickPort(%q) = %d, %v; want %d, %v", c.want, n, ok, c.n, c.ok)
		}
	}
	_, c := endpointsOf([]*discoveryv1.EndpointSlice{tslice(discoveryv1.AddressTypeIPv4, two, tep{addrs: []string{"10.0.0.1"}})}, "")
	if !c.MultiPortNo || c.NoPort != 1 {
		t.Errorf("no port asked of a two-port slice: counts %+v", c)
	}
}
