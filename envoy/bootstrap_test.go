package envoy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	downstreamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/downstream_connections/v3"
	fixedheapv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/fixed_heap/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

// parseEnvoy turns rendered YAML into a validated Bootstrap, the way Envoy
// itself reads YAML (YAML -> JSON -> proto), rejecting unknown fields.
func parseEnvoy(t *testing.T, out []byte) *bootstrapv3.Bootstrap {
	t.Helper()
	var tree any
	if err := yaml.Unmarshal(out, &tree); err != nil {
		t.Fatalf("rendered bootstrap is not YAML: %v\n%s", err, out)
	}
	js, err := json.Marshal(tree)
	if err != nil {
		t.Fatalf("YAML to JSON: %v", err)
	}
	var b bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(js, &b); err != nil {
		t.Fatalf("not an envoy.config.bootstrap.v3.Bootstrap: %v\n%s", err, out)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("Bootstrap.ValidateAll: %v", err)
	}
	return &b
}

func TestEnvoyBootstrapDefaults(t *testing.T) {
	out, err := EnvoyBootstrap(DefaultOptions("public"))
	if err != nil {
		t.Fatal(err)
	}
	b := parseEnvoy(t, out)

	if got := b.GetNode().GetCluster(); got != "public" {
		t.Errorf("node.cluster = %q, want public", got)
	}
	if got := b.GetNode().GetId(); got != "public-envoy" {
		t.Errorf("node.id = %q, want public-envoy", got)
	}

	ads := b.GetDynamicResources().GetAdsConfig()
	if ads.GetApiType() != corev3.ApiConfigSource_DELTA_GRPC || ads.GetTransportApiVersion() != corev3.ApiVersion_V3 {
		t.Errorf("ads_config = %v, want DELTA_GRPC over V3", ads)
	}
	if !ads.GetSetNodeOnFirstMessageOnly() {
		t.Error("ads_config.set_node_on_first_message_only is not set")
	}
	if len(ads.GetGrpcServices()) != 1 || ads.GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName() != "gatehouse_xds" {
		t.Errorf("ads grpc_services = %v, want envoy_grpc gatehouse_xds", ads.GetGrpcServices())
	}
	for name, src := range map[string]*corev3.ConfigSource{
		"lds": b.GetDynamicResources().GetLdsConfig(),
		"cds": b.GetDynamicResources().GetCdsConfig(),
	} {
		if src.GetAds() == nil || src.GetResourceApiVersion() != corev3.ApiVersion_V3 {
			t.Errorf("%s_config = %v, want ads with resource_api_version V3", name, src)
		}
	}

	clusters := b.GetStaticResources().GetClusters()
	if len(clusters) != 2 || clusters[0].GetName() != "gatehouse_xds" || clusters[1].GetName() != "gatehouse-stats" {
		t.Fatalf("static clusters = %v, want gatehouse_xds and gatehouse-stats", clusters)
	}
	c := clusters[0]
	if c.GetType() != clusterv3.Cluster_STATIC {
		t.Errorf("xds cluster type = %v, want STATIC for an IP address", c.GetType())
	}
	sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	if sa.GetAddress() != "127.0.0.1" || sa.GetPortValue() != 18000 {
		t.Errorf("xds endpoint = %v, want 127.0.0.1:18000", sa)
	}
	var hpo httpv3.HttpProtocolOptions
	if err := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].UnmarshalTo(&hpo); err != nil {
		t.Fatalf("HttpProtocolOptions: %v", err)
	}
	h2 := hpo.GetExplicitHttpConfig().GetHttp2ProtocolOptions()
	if h2 == nil || h2.GetConnectionKeepalive().GetInterval().AsDuration() <= 0 {
		t.Errorf("xds cluster must use HTTP/2 with keepalive, got %v", &hpo)
	}

	admin := b.GetAdmin().GetAddress().GetSocketAddress()
	if admin.GetAddress() != "127.0.0.1" || admin.GetPortValue() != DefaultAdminPort {
		t.Errorf("admin = %v, want 127.0.0.1:%d", admin, DefaultAdminPort)
	}

	om := b.GetOverloadManager()
	monitors := map[string]bool{}
	for _, m := range om.GetResourceMonitors() {
		monitors[m.GetName()] = true
		switch m.GetName() {
		case "envoy.resource_monitors.fixed_heap":
			var cfg fixedheapv3.FixedHeapConfig
			if err := m.GetTypedConfig().UnmarshalTo(&cfg); err != nil {
				t.Fatal(err)
			}
			if cfg.GetMaxHeapSizeBytes() != DefaultMaxHeapBytes {
				t.Errorf("max_heap_size_bytes = %d, want %d", cfg.GetMaxHeapSizeBytes(), DefaultMaxHeapBytes)
			}
		case "envoy.resource_monitors.global_downstream_max_connections":
			var cfg downstreamv3.DownstreamConnectionsConfig
			if err := m.GetTypedConfig().UnmarshalTo(&cfg); err != nil {
				t.Fatal(err)
			}
			if cfg.GetMaxActiveDownstreamConnections() != DefaultMaxConnections {
				t.Errorf("max_active_downstream_connections = %d", cfg.GetMaxActiveDownstreamConnections())
			}
		}
	}
	if !monitors["envoy.resource_monitors.fixed_heap"] || !monitors["envoy.resource_monitors.global_downstream_max_connections"] {
		t.Errorf("resource monitors = %v, want fixed_heap and global_downstream_max_connections", monitors)
	}
	thresholds := map[string]float64{}
	for _, a := range om.GetActions() {
		thresholds[a.GetName()] = a.GetTriggers()[0].GetThreshold().GetValue()
	}
	if thresholds["envoy.overload_actions.shrink_heap"] != 0.95 || thresholds["envoy.overload_actions.stop_accepting_requests"] != 0.98 {
		t.Errorf("overload actions = %v", thresholds)
	}

	static := b.GetLayeredRuntime().GetLayers()[0].GetStaticLayer().AsMap()
	if static["envoy.restart_features.use_eds_cache_for_ads"] != true {
		t.Errorf("static runtime layer = %v, want use_eds_cache_for_ads true", static)
	}
}

func TestEnvoyBootstrapFlags(t *testing.T) {
	o := Options{
		Gateway:        "edge-1",
		NodeID:         `node "with" quotes: and # hash`,
		XDSAddrs:       []string{"gatehouse:18001"},
		AdminPort:      19000,
		MaxHeapBytes:   512 << 20,
		MaxConnections: 1000,
	}
	out, err := EnvoyBootstrap(o)
	if err != nil {
		t.Fatal(err)
	}
	b := parseEnvoy(t, out)
	if b.GetNode().GetId() != o.NodeID || b.GetNode().GetCluster() != "edge-1" {
		t.Errorf("node = %v", b.GetNode())
	}
	c := b.GetStaticResources().GetClusters()[0]
	if c.GetType() != clusterv3.Cluster_STRICT_DNS {
		t.Errorf("xds cluster type = %v, want STRICT_DNS for a host name", c.GetType())
	}
	sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	if sa.GetAddress() != "gatehouse" || sa.GetPortValue() != 18001 {
		t.Errorf("xds endpoint = %v", sa)
	}
	if got := b.GetAdmin().GetAddress().GetSocketAddress().GetPortValue(); got != 19000 {
		t.Errorf("admin port = %d", got)
	}

	// IPv6 literal: STATIC, brackets removed.
	o.XDSAddrs = []string{"[::1]:18000"}
	out, err = EnvoyBootstrap(o)
	if err != nil {
		t.Fatal(err)
	}
	c = parseEnvoy(t, out).GetStaticResources().GetClusters()[0]
	if c.GetType() != clusterv3.Cluster_STATIC ||
		c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetAddress() != "::1" {
		t.Errorf("IPv6 xds cluster = %v", c)
	}
}

// The xDS protocol selects ads_config.api_type; nothing else changes.
func TestEnvoyBootstrapProtocol(t *testing.T) {
	for proto, want := range map[string]corev3.ApiConfigSource_ApiType{
		"":            corev3.ApiConfigSource_DELTA_GRPC,
		ProtocolDelta: corev3.ApiConfigSource_DELTA_GRPC,
		ProtocolSotW:  corev3.ApiConfigSource_GRPC,
	} {
		o := DefaultOptions("public")
		o.XDSProtocol = proto
		out, err := EnvoyBootstrap(o)
		if err != nil {
			t.Fatal(err)
		}
		if got := parseEnvoy(t, out).GetDynamicResources().GetAdsConfig().GetApiType(); got != want {
			t.Errorf("XDSProtocol %q: api_type %v, want %v", proto, got, want)
		}
	}
}

func TestBootstrapRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"empty gateway", func(o *Options) { o.Gateway = "" }, "must be a Gateway name"},
		{"upper-case gateway", func(o *Options) { o.Gateway = "Public" }, "must be a Gateway name"},
		{"no port", func(o *Options) { o.XDSAddrs = []string{"127.0.0.1"} }, "xds address"},
		{"port out of range", func(o *Options) { o.XDSAddrs = []string{"127.0.0.1:70000"} }, "port must be 1-65535"},
		{"empty host", func(o *Options) { o.XDSAddrs = []string{":18000"} }, "host is empty"},
		{"no address", func(o *Options) { o.XDSAddrs = nil }, "at least one host:port"},
		{"address twice", func(o *Options) { o.XDSAddrs = []string{"a:1", "b:1", "a:1"} }, `"a:1": listed twice`},
		{"bad second address", func(o *Options) { o.XDSAddrs = []string{"a:1", "b"} }, `xds address "b"`},
		{"admin port", func(o *Options) { o.AdminPort = 0 }, "admin port"},
		{"heap", func(o *Options) { o.MaxHeapBytes = 0 }, "max heap"},
		{"connections", func(o *Options) { o.MaxConnections = -1 }, "max connections"},
		{"xds protocol", func(o *Options) { o.XDSProtocol = "rest" }, `xds protocol "rest": want delta or sotw`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions("public")
			tc.mutate(&o)
			for format, render := range map[string]func(Options) ([]byte, error){"envoy": EnvoyBootstrap, "grpc": GRPCBootstrap} {
				_, err := render(o)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: err = %v, want it to mention %q", format, err, tc.want)
				}
			}
		})
	}
}

// Every replica listed becomes an endpoint of the ADS cluster, in order, and
// the ADS stream reconnects with a short back-off, so that losing the
// replica a stream is on moves it to another one within seconds.
func TestEnvoyBootstrapReplicas(t *testing.T) {
	for _, tc := range []struct {
		addrs []string
		kind  clusterv3.Cluster_DiscoveryType
	}{
		{[]string{"10.0.0.1:18000", "10.0.0.2:18000", "[::1]:18001"}, clusterv3.Cluster_STATIC},
		{[]string{"10.0.0.1:18000", "gatehouse-2:18000"}, clusterv3.Cluster_STRICT_DNS},
	} {
		o := DefaultOptions("public")
		o.XDSAddrs = tc.addrs
		out, err := EnvoyBootstrap(o)
		if err != nil {
			t.Fatal(err)
		}
		b := parseEnvoy(t, out)
		c := b.GetStaticResources().GetClusters()[0]
		if c.GetType() != tc.kind {
			t.Errorf("%v: cluster type %v, want %v", tc.addrs, c.GetType(), tc.kind)
		}
		var got []string
		for _, le := range c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints() {
			sa := le.GetEndpoint().GetAddress().GetSocketAddress()
			host := sa.GetAddress()
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			got = append(got, fmt.Sprintf("%s:%d", host, sa.GetPortValue()))
		}
		if strings.Join(got, ",") != strings.Join(tc.addrs, ",") {
			t.Errorf("ADS cluster endpoints %v, want %v", got, tc.addrs)
		}
		rb := b.GetDynamicResources().GetAdsConfig().GetGrpcServices()[0].GetEnvoyGrpc().GetRetryPolicy().GetRetryBackOff()
		if rb.GetBaseInterval().AsDuration() != 250*time.Millisecond || rb.GetMaxInterval().AsDuration() != 2*time.Second {
			t.Errorf("ADS retry back-off %v, want 0.25s growing to 2s", rb)
		}
	}
}

// The stats listener serves Envoy's Prometheus stats and nothing else of
// the admin interface: one route, exact path, GET only, to a cluster that
// is the loopback admin port; every stat carries the Gateway's tag. Port 0
// leaves it out; clashing with the admin port or a bad address is refused.
func TestEnvoyBootstrapStatsListener(t *testing.T) {
	o := DefaultOptions("public")
	out, err := EnvoyBootstrap(o)
	if err != nil {
		t.Fatal(err)
	}
	b := parseEnvoy(t, out)
	ls := b.GetStaticResources().GetListeners()
	if len(ls) != 1 || ls[0].GetName() != "gatehouse-stats" || !ls[0].GetBypassOverloadManager() {
		t.Fatalf("static listeners = %v, want gatehouse-stats bypassing the overload manager", ls)
	}
	sa := ls[0].GetAddress().GetSocketAddress()
	if sa.GetAddress() != DefaultStatsAddr || sa.GetPortValue() != DefaultStatsPort {
		t.Errorf("stats listener on %s:%d", sa.GetAddress(), sa.GetPortValue())
	}
	var hcm hcmv3.HttpConnectionManager
	if err := ls[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	vhs := hcm.GetRouteConfig().GetVirtualHosts()
	if len(vhs) != 1 || len(vhs[0].GetRoutes()) != 1 {
		t.Fatalf("stats route table: %v", vhs)
	}
	r := vhs[0].GetRoutes()[0]
	if r.GetMatch().GetPath() != "/stats/prometheus" || len(r.GetMatch().GetHeaders()) != 1 ||
		r.GetMatch().GetHeaders()[0].GetName() != ":method" || r.GetMatch().GetHeaders()[0].GetStringMatch().GetExact() != "GET" ||
		r.GetRoute().GetCluster() != "gatehouse-stats" {
		t.Errorf("stats route = %v, want exactly GET /stats/prometheus to gatehouse-stats", r)
	}
	admin := b.GetStaticResources().GetClusters()[1].GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	if admin.GetAddress() != "127.0.0.1" || admin.GetPortValue() != DefaultAdminPort {
		t.Errorf("stats cluster points at %s:%d, want the admin port on loopback", admin.GetAddress(), admin.GetPortValue())
	}
	tags := b.GetStatsConfig().GetStatsTags()
	if len(tags) != 3 || tags[0].GetTagName() != "gateway" || tags[0].GetFixedValue() != "public" ||
		tags[1].GetTagName() != "route" || tags[2].GetTagName() != "virtual_host" {
		t.Errorf("stats tags = %v, want gateway=public, route, virtual_host", tags)
	}

	o.StatsPort = 0
	out, err = EnvoyBootstrap(o)
	if err != nil {
		t.Fatal(err)
	}
	b = parseEnvoy(t, out)
	if len(b.GetStaticResources().GetListeners()) != 0 || len(b.GetStaticResources().GetClusters()) != 1 || b.GetStatsConfig() != nil {
		t.Errorf("--stats-port 0 still renders the stats listener:\n%s", out)
	}

	for _, tc := range []struct {
		mutate func(*Options)
		want   string
	}{
		{func(o *Options) { o.StatsPort = o.AdminPort }, "is the admin port"},
		{func(o *Options) { o.StatsPort = 70000 }, "must be 1-65535"},
		{func(o *Options) { o.StatsAddr = "stats.local" }, "must be an IP address"},
	} {
		o := DefaultOptions("public")
		tc.mutate(&o)
		if _, err := EnvoyBootstrap(o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}
