package translate

import (
	"fmt"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	localrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// describe names each action of a descriptor variant by what it reads.
func describe(actions []*routev3.RateLimit_Action) []string {
	var out []string
	for _, a := range actions {
		switch {
		case a.GetGenericKey() != nil:
			out = append(out, "generic:"+a.GetGenericKey().GetDescriptorKey())
		case a.GetRequestHeaders() != nil:
			out = append(out, "header:"+a.GetRequestHeaders().GetHeaderName())
		case a.GetHeaderValueMatch() != nil:
			h := a.GetHeaderValueMatch()
			out = append(out, fmt.Sprintf("absent:%s=%s(expect %v, present %v)", h.GetDescriptorKey(), h.GetDescriptorValue(), h.GetExpectMatch().GetValue(), h.GetHeaders()[0].GetPresentMatch()))
		case a.GetMaskedRemoteAddress() != nil:
			m := a.GetMaskedRemoteAddress()
			out = append(out, fmt.Sprintf("masked:%d/%d", m.GetV4PrefixMaskLen().GetValue(), m.GetV6PrefixMaskLen().GetValue()))
		default:
			out = append(out, fmt.Sprintf("%T", a.GetActionSpecifier()))
		}
	}
	return out
}

func TestKeyActions(t *testing.T) {
	cases := []struct {
		key  []string
		want []string // one line per variant
	}{
		{[]string{policy.KeyPath}, []string{"[generic:ratelimit header:" + wire.RateLimitPathHeader + "]"}},
		{[]string{policy.KeyRemoteAddress}, []string{"[generic:ratelimit masked:32/64]"}},
		{[]string{"remote_address:v6=48"}, []string{"[generic:ratelimit masked:32/48]"}},
		{[]string{"remote_address:v4=24,v6=56"}, []string{"[generic:ratelimit masked:24/56]"}},
		{[]string{"header:X-A"}, []string{
			"[generic:ratelimit header:x-a]",
			"[generic:ratelimit absent:header:X-A=missing(expect false, present true)]",
		}},
		{[]string{"header:a", policy.KeyMethod, "header:b"}, []string{
			"[generic:ratelimit header:a header::method header:b]",
			"[generic:ratelimit absent:header:a=missing(expect false, present true) header::method header:b]",
			"[generic:ratelimit header:a header::method absent:header:b=missing(expect false, present true)]",
			"[generic:ratelimit absent:header:a=missing(expect false, present true) header::method absent:header:b=missing(expect false, present true)]",
		}},
	}
	for _, tc := range cases {
		l := &policy.Limit{Key: tc.key, Requests: 1, Per: policy.UnitMinute}
		got := keyActions("rl", 0, l, "r", "")
		if len(got) != len(tc.want) {
			t.Fatalf("%v: %d variants, want %d", tc.key, len(got), len(tc.want))
		}
		for i, v := range got {
			if s := fmt.Sprint(describe(v)); s != tc.want[i] {
				t.Errorf("%v variant %d:\n got %s\nwant %s", tc.key, i, s, tc.want[i])
			}
		}
	}
}

// A local limit keyed by a header gets the absent variant too, whose
// entry key matches the local descriptor's (valueless) entry.
func TestLocalLimitCountsAbsentHeaders(t *testing.T) {
	rl := &policy.RateLimit{Meta: policy.Meta{Kind: policy.KindRateLimit, Name: "loc"}, Spec: policy.RateLimitSpec{Limits: []policy.Limit{
		{Key: []string{"header:x-t", policy.KeyRemoteAddress}, Requests: 5, Per: policy.UnitSecond, Local: true},
	}}}
	f := &gwFilters{localCfg: map[string]*anyT{}}
	cfg := localRateLimitOf(t, f.localConfig(&routePolicy{rlName: "loc", rl: rl}))
	if n := len(cfg.GetRateLimits()); n != 2 {
		t.Fatalf("%d rate_limits, want 2 (header present, header absent)", n)
	}
	keys := map[string]bool{}
	for _, e := range cfg.GetDescriptors()[0].GetEntries() {
		keys[e.GetKey()] = true
	}
	if !keys["header:x-t"] || !keys[wire.DescMaskedRemoteAddress] {
		t.Fatalf("local descriptor entries %v, want header:x-t and %s", keys, wire.DescMaskedRemoteAddress)
	}
}

func localRateLimitOf(t *testing.T, a *anyT) *localrlv3.LocalRateLimit {
	t.Helper()
	cfg := &localrlv3.LocalRateLimit{}
	if err := a.UnmarshalTo(cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestRouteKeyedLimitPerRoute: a limit keyed by the route counts each
// Route apart, so its descriptors are built per Route, never shared
// between the Routes of one RateLimit (which would spend one Route's
// requests on another's counter).
func TestRouteKeyedLimitPerRoute(t *testing.T) {
	src := withDefaults("") + `---
kind: RateLimit
name: per-route
spec:
  limits:
    - {key: [route], requests: 10, per: second}
---
kind: Route
name: a
spec:
  gateways: [gw]
  match: {path: {prefix: /a}}
  backends: [{service: web}]
  rateLimit: per-route
---
kind: Route
name: b
spec:
  gateways: [gw]
  match: {path: {prefix: /b}}
  backends: [{service: web}]
  rateLimit: per-route
`
	g := translateYAML(t, src)[GroupKey{"gw", ClientEnvoy}]
	for _, name := range []string{"a", "b"} {
		var routes []string
		for _, rl := range routeNamed(t, g, name).GetRoute().GetRateLimits() {
			for _, a := range rl.GetActions() {
				if gk := a.GetGenericKey(); gk.GetDescriptorKey() == policy.KeyRoute {
					routes = append(routes, gk.GetDescriptorValue())
				}
			}
		}
		if len(routes) != 1 || routes[0] != name {
			t.Errorf("route %s: route descriptor entries %v, want [%s]", name, routes, name)
		}
	}
}
