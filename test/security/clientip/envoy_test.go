// Package security_clientip attacks gatehouse's client IP detection the way
// a client would: it translates a policy, works out the client address
// Envoy would detect from the emitted connection manager (following
// Envoy's code, cited per function), and checks what each consumer of
// that address decides: RBAC (sourceCIDRs) from the emitted per-route
// config, and the real ext_authz service over gRPC for a Rego policy that
// reads input.attributes.source.
package security_clientip

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	rbacfv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	customheaderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/original_ip_detection/custom_header/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Addresses of the scenarios. The office is 10.0.0.0/8, which the
// admin Route allows (sourceCIDRs); the partner is the one address the
// Rego policy of the partners Route allows.
const (
	attacker = "198.51.100.7" // a client on the internet
	partner  = "203.0.113.9"  // the client the Rego policy allows
	office   = "10.5.5.5"     // a client in sourceCIDRs
	proxy1   = "10.1.1.1"     // the first trusted proxy (appends to XFF)
	proxy2   = "10.2.2.2"     // the second one, Envoy's TCP peer
	cdnEdge  = "192.0.2.50"   // a CDN node, Envoy's TCP peer
	balancer = "10.9.9.9"     // a TCP balancer speaking the PROXY protocol
)

// The office range is what proxies live in too: a detection that falls
// back to a proxy's address must not be taken for an office client, so
// the proxies' addresses are outside it where that matters (see
// TestTooFewHops).
const policyYAML = `
kind: Gateway
name: plain
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Gateway
name: hops
spec:
  listeners: [{name: http, port: 8081, protocol: HTTP}]
  clientIP: {xffTrustedHops: 2}
---
kind: Gateway
name: toomany
spec:
  listeners: [{name: http, port: 8082, protocol: HTTP}]
  clientIP: {xffTrustedHops: 3}
---
kind: Gateway
name: toofew
spec:
  listeners: [{name: http, port: 8083, protocol: HTTP}]
  clientIP: {xffTrustedHops: 1}
---
kind: Gateway
name: cdn
spec:
  listeners: [{name: http, port: 8084, protocol: HTTP}]
  clientIP: {trustedHeader: CF-Connecting-IP}
---
kind: Gateway
name: l4
spec:
  listeners: [{name: http, port: 8085, protocol: HTTP, proxyProtocol: true}]
---
kind: Service
name: web
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Authorization
name: office-only
spec:
  allow: {sourceCIDRs: [10.0.0.0/8]}
---
kind: Authorization
name: by-address
spec:
  inline: |
    package envoy.authz
    default allow := false
    allow if input.attributes.source.address.socketAddress.address == "203.0.113.9"
---
kind: Route
name: admin
spec:
  gateways: [plain, hops, toomany, toofew, cdn, l4]
  match: {path: {prefix: /admin}}
  authorization: office-only
  backends: [{service: web}]
---
kind: Route
name: partners
spec:
  gateways: [plain, hops, toomany, toofew, cdn, l4]
  match: {path: {prefix: /partners}}
  authorization: by-address
  backends: [{service: web}]
`

// conn is what Envoy knows of a connection: the TCP peer, and the source
// a PROXY protocol header named ("" for none).
type conn struct {
	peer, proxySource string
}

// gateway is one translated Gateway.
type gateway struct {
	name          string
	hcm           *hcmv3.HttpConnectionManager
	proxyProtocol bool
	mutations     []*mutationv3.HeaderMutation
	routes        map[string]*routev3.Route
}

type env struct {
	gateways map[string]*gateway
	client   authv3.AuthorizationClient
}

func start(t *testing.T) *env {
	t.Helper()
	snap := policy.Load(fstest.MapFS{"policy.yaml": {Data: []byte(policyYAML)}}, nil)
	if errs := snap.Errors(); len(errs) > 0 {
		t.Fatalf("policy: %s", strings.Join(errs, "\n"))
	}
	groups, err := translate.Translate(snap, translate.Options{})
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	e := &env{gateways: map[string]*gateway{}}
	for name := range snap.Gateways {
		grp := groups[translate.GroupKey{Gateway: name, Client: translate.ClientEnvoy}]
		if grp == nil {
			t.Fatalf("no Envoy group for %s", name)
		}
		g := &gateway{name: name, routes: map[string]*routev3.Route{}}
		l := grp.Listeners[0].(*listenerv3.Listener)
		for _, lf := range l.GetListenerFilters() {
			g.proxyProtocol = g.proxyProtocol || lf.GetName() == "envoy.filters.listener.proxy_protocol"
		}
		g.hcm = &hcmv3.HttpConnectionManager{}
		fs := l.GetFilterChains()[0].GetFilters()
		if err := fs[len(fs)-1].GetTypedConfig().UnmarshalTo(g.hcm); err != nil { // after the connection limit
			t.Fatal(err)
		}
		hm := &headermutationv3.HeaderMutation{}
		if err := g.hcm.GetHttpFilters()[0].GetTypedConfig().UnmarshalTo(hm); err != nil {
			t.Fatal(err)
		}
		g.mutations = hm.GetMutations().GetRequestMutations()
		for _, r := range grp.Routes {
			for _, vh := range r.(*routev3.RouteConfiguration).GetVirtualHosts() {
				for _, rt := range vh.GetRoutes() {
					g.routes[rt.GetName()] = rt
				}
			}
		}
		e.gateways[name] = g
	}

	cfg, err := controller.AuthzRules(snap, 8192)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := authz.New(authz.Options{EvalTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Update(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(authz.ServerOption())
	svc.Register(srv)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	e.client = authv3.NewAuthorizationClient(cc)
	return e
}

// remote is the connection's remote address: the PROXY protocol's source
// when the listener reads one (Envoy: source/extensions/filters/listener/
// proxy_protocol/proxy_protocol.cc sets it on the socket), else the peer.
// A listener that requires the PROXY protocol closes a connection without
// it (allow_requests_without_proxy_protocol false): ok is false.
func (g *gateway) remote(c conn) (string, bool) {
	switch {
	case g.proxyProtocol && c.proxySource == "":
		return "", false
	case g.proxyProtocol:
		return c.proxySource, true
	}
	return c.peer, true
}

// detect is the connection manager's client address for a request
// (Envoy: source/common/http/conn_manager_utility.cc, mutateRequestHeaders):
// with use_remote_address, the xff_num_trusted_hops-th entry from the right
// of X-Forwarded-For as received, else the connection's remote address;
// without it, the first detection extension that finds an address, else
// the connection's remote address.
func (g *gateway) detect(t *testing.T, remote string, headers map[string][]string) netip.Addr {
	t.Helper()
	fallback := netip.MustParseAddr(remote)
	if g.hcm.GetUseRemoteAddress().GetValue() {
		if n := g.hcm.GetXffNumTrustedHops(); n > 0 {
			if a, ok := lastAddressFromXFF(strings.Join(headers["x-forwarded-for"], ","), int(n)-1); ok {
				return a
			}
		}
		return fallback
	}
	for _, e := range g.hcm.GetOriginalIpDetectionExtensions() {
		ch := &customheaderv3.CustomHeaderConfig{}
		if err := e.GetTypedConfig().UnmarshalTo(ch); err != nil {
			t.Fatalf("detection extension %s: this simulator knows custom_header only: %v", e.GetName(), err)
		}
		// custom_header.cc, detect: the header's first value, parsed as
		// an IP address; absent or unparsable finds nothing (no
		// reject_with_status is configured).
		if vs := headers[ch.GetHeaderName()]; len(vs) > 0 {
			if a, ok := parseIP(vs[0]); ok {
				return a
			}
		}
	}
	return fallback
}

// lastAddressFromXFF follows Envoy's Utility::getLastAddressFromXFF
// (source/common/http/utility.cc): drop skip entries from the right (fail
// if there are not that many commas), take the text after the last
// remaining comma, trim whitespace and parse it as an IP address without a
// port. Envoy's header map joins repeated X-Forwarded-For lines with ','.
func lastAddressFromXFF(xff string, skip int) (netip.Addr, bool) {
	if xff == "" {
		return netip.Addr{}, false
	}
	for i := 0; i < skip; i++ {
		j := strings.LastIndex(xff, ",")
		if j < 0 {
			return netip.Addr{}, false
		}
		xff = xff[:j]
	}
	if j := strings.LastIndex(xff, ","); j >= 0 && j+1 < len(xff) {
		xff = xff[j+1:]
	}
	return parseIP(strings.TrimSpace(xff))
}

// parseIP is Network::Utility::parseInternetAddressNoThrow without a port:
// inet_pton, which takes no zone, brackets or port.
func parseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// outcome of one request on one Route.
type outcome struct {
	closed   bool       // the connection was refused (PROXY protocol missing)
	detected netip.Addr // the connection manager's client address
	rbac     bool       // RBAC (sourceCIDRs) allowed it; true where the Route has none
	authz    int        // ext_authz status; 0 where the Route calls none
}

// send runs a request through the Gateway's Route: detection, the
// header_mutation filter, RBAC, then ext_authz over gRPC.
func (e *env) send(t *testing.T, gw, route string, c conn, headers map[string][]string) outcome {
	t.Helper()
	g := e.gateways[gw]
	remote, ok := g.remote(c)
	if !ok {
		return outcome{closed: true}
	}
	lower := map[string][]string{}
	for k, v := range headers {
		lower[strings.ToLower(k)] = v
	}
	o := outcome{detected: g.detect(t, remote, lower), rbac: true}
	g.mutate(t, lower, o.detected)
	rt := g.routes[route]
	if rt == nil {
		t.Fatalf("%s: no route %s", gw, route)
	}
	o.rbac = rbacAllows(t, rt, o.detected)
	if !o.rbac {
		return o
	}
	o.authz = e.extAuthz(t, rt, remote, lower)
	return o
}

// mutate applies the header_mutation filter (Envoy: source/common/http/
// header_mutation.cc): remove, or append with a substitution format.
func (g *gateway) mutate(t *testing.T, headers map[string][]string, detected netip.Addr) {
	t.Helper()
	for _, m := range g.mutations {
		if r := m.GetRemove(); r != "" {
			delete(headers, r)
			continue
		}
		hv := m.GetAppend().GetHeader()
		switch hv.GetValue() {
		case "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%":
			// The stream's remote address, which the connection manager
			// set to the detected one (conn_manager_impl.cc,
			// setDownstreamRemoteAddress; stream_info_formatter.cc).
			headers[hv.GetKey()] = []string{detected.String()}
		default:
			t.Fatalf("header value %q: unknown to this simulator", hv.GetValue())
		}
	}
}

// rbacAllows evaluates the Route's per-route RBAC (ALLOW with remote_ip
// principals; Envoy: source/extensions/filters/common/rbac/matchers.cc,
// IPMatcher DownstreamRemote reads the stream's remote address).
func rbacAllows(t *testing.T, rt *routev3.Route, client netip.Addr) bool {
	t.Helper()
	a := rt.GetTypedPerFilterConfig()[wire.FilterRBAC]
	if a == nil {
		return true
	}
	pr := &rbacfv3.RBACPerRoute{}
	if err := a.UnmarshalTo(pr); err != nil {
		t.Fatal(err)
	}
	for _, p := range pr.GetRbac().GetRules().GetPolicies() {
		for _, pc := range p.GetPrincipals() {
			ip := pc.GetRemoteIp()
			if ip == nil {
				t.Fatalf("route %s: principal %v is not remote_ip; teach this simulator", rt.GetName(), pc)
			}
			pfx := netip.PrefixFrom(netip.MustParseAddr(ip.GetAddressPrefix()), int(ip.GetPrefixLen().GetValue()))
			if pfx.Contains(client) {
				return true
			}
		}
	}
	return false
}

// extAuthz sends the CheckRequest Envoy builds (source/extensions/filters/
// common/ext_authz/check_request_utils.cc: source is the connection's
// remote address, headers are the request's after the filters before it)
// to the real service, with the Route's context extensions.
func (e *env) extAuthz(t *testing.T, rt *routev3.Route, remote string, headers map[string][]string) int {
	t.Helper()
	var ext map[string]string
	for name, a := range rt.GetTypedPerFilterConfig() {
		if !strings.HasPrefix(name, "envoy.filters.http.ext_authz") {
			continue
		}
		pr := &extauthzv3.ExtAuthzPerRoute{}
		if err := a.UnmarshalTo(pr); err != nil {
			t.Fatal(err)
		}
		if !pr.GetDisabled() {
			ext = pr.GetCheckSettings().GetContextExtensions()
		}
	}
	if ext == nil {
		return 0
	}
	h := map[string]string{":authority": "api.example.com", ":method": "GET", ":path": "/partners"}
	for k, v := range headers {
		h[k] = strings.Join(v, ",") // check_request_utils.cc merges duplicates with ','
	}
	b, err := json.Marshal(map[string]any{"attributes": map[string]any{
		"source":            map[string]any{"address": map[string]any{"socketAddress": map[string]any{"address": remote, "portValue": 40000}}},
		"request":           map[string]any{"http": map[string]any{"id": "1", "method": "GET", "path": "/partners", "host": "api.example.com", "scheme": "http", "protocol": "HTTP/1.1", "headers": h}},
		"contextExtensions": ext,
	}})
	if err != nil {
		t.Fatal(err)
	}
	cr := &authv3.CheckRequest{}
	if err := protojson.Unmarshal(b, cr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := e.client.Check(ctx, cr)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if resp.GetOkResponse() != nil && resp.GetStatus().GetCode() == 0 {
		return 200
	}
	return int(resp.GetDeniedResponse().GetStatus().GetCode())
}
