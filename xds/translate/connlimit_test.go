package translate

import (
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	connlimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/connection_limit/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// connectionLimitOf decodes a filter chain's connection limit (first).
func connectionLimitOf(t *testing.T, fc *listenerv3.FilterChain) *connlimitv3.ConnectionLimit {
	t.Helper()
	fs := fc.GetFilters()
	if len(fs) != 2 || fs[0].GetName() != filterConnectionLimit || fs[1].GetName() != filterHCM {
		t.Fatalf("filter chain %s: filters %v, want [connection_limit, http_connection_manager]", fc.GetName(), fs)
	}
	cl := &connlimitv3.ConnectionLimit{}
	if err := fs[0].GetTypedConfig().UnmarshalTo(cl); err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestConnectionLimitPerListener: every filter chain (one per Gateway
// listener) of every golden case starts with its own connection limit,
// the Gateway's or the default, with a stat prefix naming the listener.
func TestConnectionLimitPerListener(t *testing.T) {
	chains := 0
	for _, c := range []string{"ddos", "https", "basic", "redirects"} {
		for key, g := range translateCase(t, c, Options{}) {
			if key.Client != ClientEnvoy {
				continue
			}
			want := uint64(defaultMaxConnectionsPerListener)
			if c == "ddos" && key.Gateway == "edge" {
				want = 1000
			}
			for _, r := range g.Listeners {
				for _, fc := range r.(*listenerv3.Listener).GetFilterChains() {
					chains++
					cl := connectionLimitOf(t, fc)
					if cl.GetMaxConnections().GetValue() != want {
						t.Errorf("%s %s chain %s: max_connections %d, want %d", c, key.Gateway, fc.GetName(), cl.GetMaxConnections().GetValue(), want)
					}
					if cl.GetStatPrefix() != key.Gateway+"."+fc.GetName() {
						t.Errorf("%s %s chain %s: stat_prefix %q", c, key.Gateway, fc.GetName(), cl.GetStatPrefix())
					}
					if cl.GetDelay() != nil {
						t.Errorf("%s: a delayed close keeps the refused socket open", fc.GetName())
					}
				}
			}
		}
	}
	if chains < 5 {
		t.Errorf("only %d filter chains looked at", chains)
	}
}

// TestCheckConnectionLimitRules: Check refuses a chain without its limit,
// with two, with the limit after the (terminal) connection manager, and a
// limit Envoy's validation rejects.
func TestCheckConnectionLimitRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(fc *listenerv3.FilterChain)
		want string
	}{
		{"no limit", func(fc *listenerv3.FilterChain) { fc.Filters = fc.Filters[1:] }, "0 connection_limit filters, want exactly 1"},
		{"two limits", func(fc *listenerv3.FilterChain) {
			fc.Filters = append([]*listenerv3.Filter{fc.Filters[0]}, fc.Filters...)
		}, "2 connection_limit filters"},
		{"limit after the connection manager", func(fc *listenerv3.FilterChain) {
			fc.Filters[0], fc.Filters[1] = fc.Filters[1], fc.Filters[0]
		}, "the connection manager is a terminal filter and must be the last"},
		{"no connection manager", func(fc *listenerv3.FilterChain) { fc.Filters = fc.Filters[:1] }, "no connection manager ends the chain"},
		{"two connection managers", func(fc *listenerv3.FilterChain) { fc.Filters = append(fc.Filters, fc.Filters[1]) }, "2 connection managers in one chain"},
		{"zero connections", func(fc *listenerv3.FilterChain) {
			fc.Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&connlimitv3.ConnectionLimit{StatPrefix: "x", MaxConnections: wrapperspb.UInt64(0)})}
		}, "MaxConnections"},
		{"no stat prefix", func(fc *listenerv3.FilterChain) {
			fc.Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&connlimitv3.ConnectionLimit{MaxConnections: wrapperspb.UInt64(5)})}
		}, "StatPrefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := cloneGroup(translateCase(t, "ddos", Options{})[GroupKey{"edge", ClientEnvoy}])
			if err := Check(g, nil); err != nil {
				t.Fatalf("valid group: %v", err)
			}
			tc.edit(g.Listeners[0].(*listenerv3.Listener).FilterChains[0])
			if err := Check(g, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}
