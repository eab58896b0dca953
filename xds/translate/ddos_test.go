package translate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	matcherv3 "github.com/cncf/xds/go/xds/type/matcher/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	localrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	rbacfv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	metadatav3 "github.com/envoyproxy/go-control-plane/envoy/type/metadata/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// TestEdgeDefaultsEmitted: a Gateway that says nothing gets the per-client
// limit (100/s, burst 200, per IPv4 address and IPv6 /64, no header in the
// key), the header-count and HTTP/2 flood limits, and no edge RBAC.
func TestEdgeDefaultsEmitted(t *testing.T) {
	g := translateCase(t, "basic", Options{})[GroupKey{"edge", ClientEnvoy}]
	for _, h := range hcmsOf(t, g) {
		if n := filterNames(h); n[1] != wire.FilterEdgeLocalRateLimit {
			t.Fatalf("filters %v: no per-client limit second", n)
		}
		lr := &localrlv3.LocalRateLimit{}
		if err := h.GetHttpFilters()[1].GetTypedConfig().UnmarshalTo(lr); err != nil {
			t.Fatal(err)
		}
		d := lr.GetDescriptors()
		if len(d) != 1 || d[0].GetTokenBucket().GetMaxTokens() != 200 || d[0].GetTokenBucket().GetTokensPerFill().GetValue() != 100 || d[0].GetTokenBucket().GetFillInterval().AsDuration().Seconds() != 1 {
			t.Errorf("descriptors %v, want one bucket of 200 refilled by 100 a second", d)
		}
		acts := lr.GetRateLimits()[0].GetActions()
		m := acts[len(acts)-1].GetMaskedRemoteAddress()
		if m == nil || m.GetV4PrefixMaskLen().GetValue() != 32 || m.GetV6PrefixMaskLen().GetValue() != 64 {
			t.Errorf("client key %v, want masked_remote_address /32 and /64", acts)
		}
		for _, a := range acts {
			if a.GetRequestHeaders() != nil || a.GetHeaderValueMatch() != nil {
				t.Errorf("per-client key reads a header the client sends: %v", a)
			}
		}
		if lr.GetFilterEnforced().GetDefaultValue().GetNumerator() != 100 {
			t.Errorf("limit not enforced: %v", lr.GetFilterEnforced())
		}
		if h.GetCommonHttpProtocolOptions().GetMaxHeadersCount().GetValue() != 100 {
			t.Errorf("max_headers_count %v", h.GetCommonHttpProtocolOptions().GetMaxHeadersCount())
		}
		h2 := h.GetHttp2ProtocolOptions()
		if h2.GetMaxConcurrentStreams().GetValue() != 100 || h2.GetMaxOutboundFrames().GetValue() != 10000 || h2.GetMaxInboundPriorityFramesPerStream().GetValue() != 100 || h2.GetMaxConsecutiveInboundFramesWithEmptyPayload().GetValue() != 1 {
			t.Errorf("http2 options %v", h2)
		}
		if h.GetRequestHeadersTimeout().AsDuration().Seconds() != 10 {
			t.Errorf("request_headers_timeout %v", h.GetRequestHeadersTimeout())
		}
	}
}

// TestEdgeIPListsFollowDetection: the IP lists and exemptions match
// remote_ip (the detected client), never direct_remote_ip (the nearest
// proxy) or a header.
func TestEdgeIPListsFollowDetection(t *testing.T) {
	g := translateCase(t, "ddos", Options{})[GroupKey{"edge", ClientEnvoy}]
	h := hcmsOf(t, g)[0]
	var r *rbacfv3.RBAC
	for _, f := range h.GetHttpFilters() {
		if f.GetName() == wire.FilterEdgeRBAC {
			r = &rbacfv3.RBAC{}
			if err := f.GetTypedConfig().UnmarshalTo(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if r == nil {
		t.Fatal("no edge RBAC")
	}
	n := 0
	var walk func(p *rbacv3.Principal)
	walk = func(p *rbacv3.Principal) {
		switch {
		case p.GetRemoteIp() != nil:
			n++
		case p.GetNotId() != nil:
			walk(p.GetNotId())
		case p.GetAndIds() != nil || p.GetOrIds() != nil:
			for _, q := range append(p.GetAndIds().GetIds(), p.GetOrIds().GetIds()...) {
				walk(q)
			}
		default:
			t.Errorf("principal %v: only remote_ip follows the client IP detection", p)
		}
	}
	for _, rules := range []*rbacv3.RBAC{r.GetRules(), r.GetShadowRules()} {
		for _, p := range rules.GetPolicies() {
			for _, pc := range p.GetPrincipals() {
				walk(pc)
			}
		}
	}
	if n != 5 {
		t.Errorf("%d remote_ip principals, want 5 (2 allow, 1 deny, 2 exempt)", n)
	}
}

// TestCheckEdgeRules: Check refuses a per-client limit whose exemption
// metadata no RBAC filter before it writes, and an RBAC filter whose rules
// Envoy would ignore for a matcher.
func TestCheckEdgeRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(h *hcmv3.HttpConnectionManager)
		want string
	}{
		{"limit before the RBAC", func(h *hcmv3.HttpConnectionManager) {
			h.HttpFilters[1], h.HttpFilters[2] = h.HttpFilters[2], h.HttpFilters[1]
		}, "reads RBAC shadow metadata [gatehouse_edge_shadow_effective_policy_id] that no RBAC filter before it writes"},
		{"RBAC removed", func(h *hcmv3.HttpConnectionManager) {
			h.HttpFilters = append(h.HttpFilters[:1], h.HttpFilters[2:]...)
		}, "that no RBAC filter before it writes"},
		{"other prefix", func(h *hcmv3.HttpConnectionManager) {
			editRBAC(t, h, func(r *rbacfv3.RBAC) { r.ShadowRulesStatPrefix = "other_" })
		}, "that no RBAC filter before it writes"},
		{"rules and matcher", func(h *hcmv3.HttpConnectionManager) {
			editRBAC(t, h, func(r *rbacfv3.RBAC) { r.Matcher = &matcherv3.Matcher{} })
		}, "has rules and a matcher; Envoy would ignore the rules"},
		{"shadow rules and shadow matcher", func(h *hcmv3.HttpConnectionManager) {
			editRBAC(t, h, func(r *rbacfv3.RBAC) { r.ShadowMatcher = &matcherv3.Matcher{} })
		}, "has shadow_rules and a shadow_matcher"},
		{"shadow rules removed", func(h *hcmv3.HttpConnectionManager) {
			editRBAC(t, h, func(r *rbacfv3.RBAC) { r.ShadowRules = nil })
		}, "that no RBAC filter before it writes"},
		// Metadata of another namespace is not the RBAC filter's to write.
		{"other namespace", func(h *hcmv3.HttpConnectionManager) {
			editLimit(t, h, func(l *localrlv3.LocalRateLimit) {
				l.RateLimits = append(l.RateLimits, &routev3.RateLimit{Actions: []*routev3.RateLimit_Action{{ActionSpecifier: &routev3.RateLimit_Action_Metadata{Metadata: &routev3.RateLimit_Action_MetaData{
					DescriptorKey: "k",
					MetadataKey:   &metadatav3.MetadataKey{Key: "envoy.filters.http.ext_authz", Path: []*metadatav3.MetadataKey_PathSegment{{Segment: &metadatav3.MetadataKey_PathSegment_Key{Key: "x"}}}},
					Source:        routev3.RateLimit_Action_MetaData_DYNAMIC,
				}}}}})
			})
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := cloneGroup(translateCase(t, "ddos", Options{})[GroupKey{"edge", ClientEnvoy}])
			if err := Check(g, nil); err != nil {
				t.Fatalf("valid group: %v", err)
			}
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), tc.edit)
			err := Check(g, nil)
			if tc.want == "" {
				if err != nil {
					t.Errorf("Check = %v, want it to pass", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}

func editRBAC(t *testing.T, h *hcmv3.HttpConnectionManager, edit func(*rbacfv3.RBAC)) {
	t.Helper()
	f := h.HttpFilters[1]
	if f.GetName() != wire.FilterEdgeRBAC {
		t.Fatalf("filter 1 is %s", f.GetName())
	}
	r := &rbacfv3.RBAC{}
	if err := f.GetTypedConfig().UnmarshalTo(r); err != nil {
		t.Fatal(err)
	}
	edit(r)
	h.HttpFilters[1] = httpFilter(f.GetName(), mustAny(r))
}

// TestEdgeFiltersHaveNoPerRouteConfig: Envoy lets a route's (or virtual
// host's) typed_per_filter_config replace a filter's config by instance
// name (local_ratelimit.cc and rbac_filter.cc resolve the most specific
// per-filter config first), so no route of any golden case may carry one
// for the edge filters: no path, host or method escapes the per-client
// limit or the IP lists.
func TestEdgeFiltersHaveNoPerRouteConfig(t *testing.T) {
	cases, err := os.ReadDir(filepath.Join("testdata", "in"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		for k, g := range translateCase(t, c.Name(), Options{}) {
			if k.Client != ClientEnvoy {
				continue
			}
			for _, res := range g.Routes {
				rc := res.(*routev3.RouteConfiguration)
				check := func(where string, m map[string]*anypb.Any) {
					for _, n := range []string{wire.FilterEdgeRBAC, wire.FilterEdgeLocalRateLimit} {
						if _, ok := m[n]; ok {
							t.Errorf("%s %s %s: per-filter config for %s", c.Name(), k, where, n)
						}
					}
				}
				check(rc.GetName(), rc.GetTypedPerFilterConfig())
				for _, vh := range rc.GetVirtualHosts() {
					check(vh.GetName(), vh.GetTypedPerFilterConfig())
					for _, r := range vh.GetRoutes() {
						check(r.GetName(), r.GetTypedPerFilterConfig())
					}
				}
			}
			for _, h := range hcmsOf(t, g) {
				for _, f := range h.GetHttpFilters() {
					if (f.GetName() == wire.FilterEdgeRBAC || f.GetName() == wire.FilterEdgeLocalRateLimit) && (f.GetDisabled() || f.GetIsOptional()) {
						t.Errorf("%s %s: %s disabled or optional", c.Name(), k, f.GetName())
					}
				}
			}
		}
	}
}

func editLimit(t *testing.T, h *hcmv3.HttpConnectionManager, edit func(*localrlv3.LocalRateLimit)) {
	t.Helper()
	f := h.HttpFilters[2]
	if f.GetName() != wire.FilterEdgeLocalRateLimit {
		t.Fatalf("filter 2 is %s", f.GetName())
	}
	l := &localrlv3.LocalRateLimit{}
	if err := f.GetTypedConfig().UnmarshalTo(l); err != nil {
		t.Fatal(err)
	}
	edit(l)
	h.HttpFilters[2] = httpFilter(f.GetName(), mustAny(l))
}

// TestEdgeUnparsableCIDRsFailClosed: a hand-built Snapshot (validation
// rejects these) whose allow list holds nothing Envoy can parse allows
// nobody, and the config still passes Check.
func TestEdgeUnparsableCIDRsFailClosed(t *testing.T) {
	snap := loadYAML(t, hardeningBase[:strings.Index(hardeningBase, "%DEFAULTS%")]+"  ipAccess: {allow: [10.0.0.0/8]}\n")
	snap.Gateways["gw"].Spec.IPAccess.Allow = []string{"not-a-cidr"}
	groups, err := Translate(snap, Options{})
	if err != nil {
		t.Fatalf("Translate: %v", err)
	}
	g := groups[GroupKey{"gw", ClientEnvoy}]
	r := &rbacfv3.RBAC{}
	if err := hcmsOf(t, g)[0].GetHttpFilters()[1].GetTypedConfig().UnmarshalTo(r); err != nil {
		t.Fatal(err)
	}
	for _, p := range r.GetRules().GetPolicies() {
		allow := p.GetPrincipals()[0].GetAndIds().GetIds()[0]
		if !allow.GetNotId().GetAny() {
			t.Errorf("allow list of unparsable CIDRs: %v, want not any (nobody)", allow)
		}
	}
}
