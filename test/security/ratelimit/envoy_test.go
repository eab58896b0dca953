// Package security_ratelimit attacks gatehouse's rate limiting the way a
// client would: it translates a policy, builds the descriptors Envoy would
// send from the emitted config (following Envoy's code, cited per
// function), and sends them to the real rate-limit service over gRPC.
package security_ratelimit

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"

	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// request is what a client controls, plus what Envoy knows of it.
type request struct {
	path    string            // :path as sent, query included
	headers map[string]string // lower-case names
	remote  string            // peer address
	meta    map[string]string // dynamic metadata "namespace/key" → string value
}

// gateway is one translated Gateway with the real service behind it.
type gateway struct {
	name      string
	mutations []*mutationv3.HeaderMutation // the header_mutation filter's request mutations
	routes    map[string]*routev3.Route    // by Route name
	removed   []string                     // route table request_headers_to_remove
	accessLog string                       // the access-log config, as text
	client    rlsv3.RateLimitServiceClient
	svc       *ratelimit.Service
}

// start loads policyYAML, translates it and runs the rate-limit service
// with the controller's rules for it, on a loopback gRPC server.
func start(t *testing.T, policyYAML, gw string, store ratelimit.Store) *gateway {
	t.Helper()
	snap := policy.Load(fstest.MapFS{"policy.yaml": {Data: []byte(policyYAML)}}, nil)
	if errs := snap.Errors(); len(errs) > 0 {
		t.Fatalf("policy: %s", strings.Join(errs, "\n"))
	}
	groups, err := translate.Translate(snap, translate.Options{})
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	g := &gateway{name: gw, routes: map[string]*routev3.Route{}}
	grp := groups[translate.GroupKey{Gateway: gw, Client: translate.ClientEnvoy}]
	if grp == nil {
		t.Fatalf("no Envoy group for %s", gw)
	}
	for _, r := range grp.Listeners {
		for _, fc := range r.(*listenerv3.Listener).GetFilterChains() {
			h := &hcmv3.HttpConnectionManager{}
			if err := fc.GetFilters()[len(fc.GetFilters())-1].GetTypedConfig().UnmarshalTo(h); err != nil { // after the connection limit
				t.Fatal(err)
			}
			g.accessLog += h.GetAccessLog()[0].GetTypedConfig().String()
			for _, f := range h.GetHttpFilters() {
				if f.GetName() == wire.FilterHeaderMutation {
					hm := &headermutationv3.HeaderMutation{}
					if err := f.GetTypedConfig().UnmarshalTo(hm); err != nil {
						t.Fatal(err)
					}
					g.mutations = hm.GetMutations().GetRequestMutations()
				}
			}
		}
	}
	for _, r := range grp.Routes {
		rc := r.(*routev3.RouteConfiguration)
		g.removed = rc.GetRequestHeadersToRemove()
		for _, vh := range rc.GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				g.routes[rt.GetName()] = rt
			}
		}
	}

	if store == nil {
		mem := ratelimit.NewMemoryStore(ratelimit.MemoryOptions{})
		t.Cleanup(func() { mem.Close() })
		store = mem
	}
	svc, err := ratelimit.New(ratelimit.Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Update(controller.RateLimitRules(snap)); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	svc.Register(srv)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	g.client, g.svc = rlsv3.NewRateLimitServiceClient(conn), svc
	return g
}

// route returns the emitted Route named name (Envoy route names are the
// policy Route names).
func (g *gateway) route(t *testing.T, name string) *routev3.Route {
	t.Helper()
	for n, r := range g.routes {
		if n == name || strings.HasSuffix(n, "/"+name) {
			return r
		}
	}
	t.Fatalf("no route %q among %d", name, len(g.routes))
	return nil
}

// send makes the call Envoy's ratelimit filter makes for req on route, and
// reports whether the request is allowed. A request for which Envoy builds
// no descriptor makes no call and is allowed.
func (g *gateway) send(t *testing.T, route string, req request) bool {
	t.Helper()
	descs := g.descriptors(t, g.route(t, route), req)
	if len(descs) == 0 {
		return true
	}
	resp, err := g.client.ShouldRateLimit(context.Background(), &rlsv3.RateLimitRequest{Domain: wire.Domain(g.name), Descriptors: descs})
	if err != nil {
		t.Fatalf("ShouldRateLimit: %v", err)
	}
	return resp.GetOverallCode() == rlsv3.RateLimitResponse_OK
}

// descriptors are what Envoy sends for req: the header_mutation filter
// runs first, then the ratelimit filter reads the route's rate_limits.
// Stages are not told apart: gatehouse puts a Route's entries in one stage.
func (g *gateway) descriptors(t *testing.T, rt *routev3.Route, req request) []*rlcommon.RateLimitDescriptor {
	t.Helper()
	headers := map[string]string{":path": req.path, ":method": "GET"}
	for k, v := range req.headers {
		headers[k] = v
	}
	g.mutate(t, headers)
	var out []*rlcommon.RateLimitDescriptor
	for _, rl := range rt.GetRoute().GetRateLimits() {
		if d := populate(t, rl.GetActions(), headers, req); d != nil {
			out = append(out, d)
		}
	}
	return out
}

// mutate applies the header_mutation filter's request mutations in order
// (Envoy: source/common/http/header_mutation.cc: remove, or append with a
// substitution-format value that is not added when it formats empty).
func (g *gateway) mutate(t *testing.T, headers map[string]string) {
	t.Helper()
	for _, m := range g.mutations {
		if r := m.GetRemove(); r != "" {
			delete(headers, r)
			continue
		}
		hv := m.GetAppend().GetHeader()
		v := format(t, hv.GetValue(), headers)
		if v == "" {
			continue
		}
		headers[hv.GetKey()] = v
	}
}

// format evaluates the substitution commands gatehouse uses in header
// values. %PATH(NQ:PATH)% is :path cut at the first '?' (Envoy:
// source/common/formatter/http_specific_formatter.cc, PathFormatter).
func format(t *testing.T, f string, headers map[string]string) string {
	t.Helper()
	switch {
	case !strings.Contains(f, "%"):
		return f
	case f == "%PATH(NQ:PATH)%":
		p, _, _ := strings.Cut(headers[":path"], "?")
		return p
	}
	t.Fatalf("format %q: unknown to this simulator; teach it from Envoy's source", f)
	return ""
}

// populate builds one descriptor from a RateLimit's actions, or nil when
// an action fails (Envoy: source/common/router/router_ratelimit.cc,
// populateDescriptor: the first failing action drops the whole descriptor;
// an entry with an empty key is left out).
func populate(t *testing.T, actions []*routev3.RateLimit_Action, headers map[string]string, req request) *rlcommon.RateLimitDescriptor {
	t.Helper()
	d := &rlcommon.RateLimitDescriptor{}
	add := func(k, v string) {
		d.Entries = append(d.Entries, &rlcommon.RateLimitDescriptor_Entry{Key: k, Value: v})
	}
	for _, a := range actions {
		switch {
		case a.GetGenericKey() != nil:
			k := a.GetGenericKey().GetDescriptorKey()
			if k == "" {
				k = "generic_key"
			}
			add(k, a.GetGenericKey().GetDescriptorValue())
		case a.GetRequestHeaders() != nil:
			// RequestHeadersAction: an absent header fails the descriptor
			// unless skip_if_absent.
			rh := a.GetRequestHeaders()
			v, ok := headers[strings.ToLower(rh.GetHeaderName())]
			if !ok {
				if rh.GetSkipIfAbsent() {
					continue
				}
				return nil
			}
			add(rh.GetDescriptorKey(), v)
		case a.GetRemoteAddress() != nil:
			add("remote_address", netip.MustParseAddr(req.remote).String())
		case a.GetMaskedRemoteAddress() != nil:
			// MaskedRemoteAddressAction: the CIDR of the masked address;
			// masks default to 32 and 128 when unset.
			m := a.GetMaskedRemoteAddress()
			addr := netip.MustParseAddr(req.remote)
			bits := 32
			if m.GetV4PrefixMaskLen() != nil {
				bits = int(m.GetV4PrefixMaskLen().GetValue())
			}
			if addr.Is6() {
				bits = 128
				if m.GetV6PrefixMaskLen() != nil {
					bits = int(m.GetV6PrefixMaskLen().GetValue())
				}
			}
			add("masked_remote_address", netip.PrefixFrom(addr, bits).Masked().String())
		case a.GetHeaderValueMatch() != nil:
			// HeaderValueMatchAction: an entry when the match result equals
			// expect_match (default true), else the descriptor fails.
			hvm := a.GetHeaderValueMatch()
			expect := hvm.GetExpectMatch() == nil || hvm.GetExpectMatch().GetValue()
			if matchHeaders(t, hvm.GetHeaders(), headers) != expect {
				return nil
			}
			k := hvm.GetDescriptorKey()
			if k == "" {
				k = "header_match"
			}
			add(k, hvm.GetDescriptorValue())
		case a.GetMetadata() != nil:
			// MetaDataAction: the string value, else default_value, else
			// the descriptor fails (unless skip_if_absent).
			m := a.GetMetadata()
			path := m.GetMetadataKey().GetKey()
			for _, s := range m.GetMetadataKey().GetPath() {
				path += "/" + s.GetKey()
			}
			v := req.meta[path]
			switch {
			case v != "":
				add(m.GetDescriptorKey(), v)
			case m.GetDefaultValue() != "":
				add(m.GetDescriptorKey(), m.GetDefaultValue())
			case m.GetSkipIfAbsent():
			default:
				return nil
			}
		default:
			t.Fatalf("action %v: unknown to this simulator; teach it from router_ratelimit.cc", a)
		}
	}
	return d
}

// matchHeaders supports the matchers gatehouse emits (Envoy:
// source/common/http/header_utility.cc, matchHeaders: every matcher must
// match; present_match is presence, inverted by invert_match).
func matchHeaders(t *testing.T, ms []*routev3.HeaderMatcher, headers map[string]string) bool {
	t.Helper()
	for _, m := range ms {
		_, present := headers[strings.ToLower(m.GetName())]
		var ok bool
		switch m.GetHeaderMatchSpecifier().(type) {
		case *routev3.HeaderMatcher_PresentMatch:
			ok = present == m.GetPresentMatch()
		default:
			t.Fatalf("header matcher %v: unknown to this simulator", m)
		}
		if ok == m.GetInvertMatch() {
			return false
		}
	}
	return true
}
