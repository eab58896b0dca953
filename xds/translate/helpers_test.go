package translate

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// bigSnapshot builds a policy of one Gateway with an HTTP and an HTTPS
// listener, nSvc Services (a mix of protocols and LB policies) and nRoutes
// Routes over nHosts hosts, the way the benchmark target describes it.
func bigSnapshot(tb testing.TB, nSvc, nRoutes, nHosts int) *policy.Snapshot {
	tb.Helper()
	p := &policy.Snapshot{
		Gateways: map[string]*policy.Gateway{},
		Services: make(map[string]*policy.Service, nSvc),
		Routes:   make(map[string]*policy.Route, nRoutes),
	}
	p.Gateways["public"] = &policy.Gateway{
		Meta: policy.Meta{Kind: policy.KindGateway, Name: "public"},
		Spec: policy.GatewaySpec{Listeners: []policy.Listener{
			{Name: "http", Port: 8080, Protocol: policy.ProtocolHTTP},
			{Name: "https", Port: 8443, Protocol: policy.ProtocolHTTPS, TLS: &policy.ListenerTLS{CertificatePEM: []byte("cert"), KeyPEM: []byte("key")}},
		}},
	}
	lbs := []string{"", policy.LBLeastRequest, policy.LBRandom, policy.LBRingHash, policy.LBMaglev}
	protos := []string{"", policy.ServiceHTTP2, policy.ServiceGRPC}
	for i := 0; i < nSvc; i++ {
		name := fmt.Sprintf("svc-%04d", i)
		s := &policy.Service{Meta: policy.Meta{Kind: policy.KindService, Name: name}, Spec: policy.ServiceSpec{
			Protocol:       protos[i%len(protos)],
			LoadBalancer:   &policy.LoadBalancer{Policy: lbs[i%len(lbs)]},
			ConnectTimeout: policy.Duration(time.Duration(1+i%5) * time.Second),
			CircuitBreaker: &policy.CircuitBreaker{MaxRequests: 1000 + i},
		}}
		if lb := s.Spec.LoadBalancer.Policy; lb == policy.LBRingHash || lb == policy.LBMaglev {
			s.Spec.LoadBalancer.HashOn = &policy.HashOn{Header: "x-user"}
		}
		if i%10 == 0 {
			s.Spec.HealthCheck = &policy.HealthCheck{HTTP: &policy.HTTPHealthCheck{Path: "/healthz"}, Interval: policy.Duration(5 * time.Second), Timeout: policy.Duration(time.Second)}
		}
		p.Services[name] = s
	}
	for i := 0; i < nRoutes; i++ {
		name := fmt.Sprintf("route-%04d", i)
		w := 90
		r := &policy.Route{Meta: policy.Meta{Kind: policy.KindRoute, Name: name}, Spec: policy.RouteSpec{
			Gateways: []string{"public"},
			Hosts:    []string{fmt.Sprintf("host-%03d.example.com", i%nHosts)},
			Match: policy.RouteMatch{
				Path:    policy.PathMatch{Prefix: fmt.Sprintf("/api/%d", i)},
				Headers: []policy.HeaderMatch{{Name: "x-version", Exact: "2"}},
			},
			Backends: []policy.Backend{{Service: fmt.Sprintf("svc-%04d", i%nSvc), Weight: &w}},
			Timeout:  policy.Duration(5 * time.Second),
			Retries:  &policy.Retries{Attempts: 2, On: []string{"5xx", "reset"}},
		}}
		if i%3 == 0 {
			r.Spec.Backends = append(r.Spec.Backends, policy.Backend{Service: fmt.Sprintf("svc-%04d", (i+1)%nSvc)})
			r.Spec.Match.Methods = []string{"GET", "POST"}
		}
		if i%7 == 0 {
			r.Spec.Match.Query = []policy.QueryMatch{{Name: "debug", Present: true}}
		}
		p.Routes[name] = r
	}
	return p
}

// bigRegistry gives every Service nEp endpoints over three zones.
func bigRegistry(p *policy.Snapshot, nEp int) registry.Snapshot {
	reg := make(registry.Snapshot, len(p.Services))
	i := 0
	for name := range p.Services {
		eps := make([]registry.Endpoint, nEp)
		for j := range eps {
			eps[j] = registry.Endpoint{
				Address: fmt.Sprintf("10.%d.%d.%d", i/256%256, i%256, j),
				Port:    8080,
				Weight:  1 + j%3,
				Zone:    []string{"a", "b", "c"}[j*3/nEp],
			}
		}
		reg[name] = eps
		i++
	}
	return reg
}
