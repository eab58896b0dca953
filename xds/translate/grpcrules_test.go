package translate

import (
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	ringhashv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/ring_hash/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// grpcRules mirrors what grpc-go v1.85 (internal/xds/xdsclient/xdsresource,
// xdslbregistry) rejects, for the fields this translator sets. grpc-go's
// validators are internal, so the end-to-end tests with a real proxyless
// client are the final word; this catches regressions early.
func grpcRules(t *testing.T, g *Group) {
	t.Helper()
	grpcStatus := map[string]bool{"cancelled": true, "deadline-exceeded": true, "internal": true, "resource-exhausted": true, "unavailable": true}
	for _, r := range g.Listeners {
		l := r.(*listenerv3.Listener)
		if l.GetApiListener() == nil || len(l.GetFilterChains()) > 0 || len(l.GetListenerFilters()) > 0 {
			t.Errorf("listener %s: want an api_listener only", l.Name)
			continue
		}
		h := &hcmv3.HttpConnectionManager{}
		if err := l.GetApiListener().GetApiListener().UnmarshalTo(h); err != nil {
			t.Fatal(err)
		}
		if h.GetXffNumTrustedHops() != 0 || len(h.GetOriginalIpDetectionExtensions()) > 0 {
			t.Errorf("listener %s: xff_num_trusted_hops / original_ip_detection_extensions must be unset", l.Name)
		}
		if h.GetRds().GetConfigSource().GetAds() == nil || h.GetRds().GetRouteConfigName() == "" {
			t.Errorf("listener %s: RDS must be over ADS with a name", l.Name)
		}
		fs := h.GetHttpFilters()
		if len(fs) == 0 || fs[len(fs)-1].GetTypedConfig().GetTypeUrl() != "type.googleapis.com/"+string(routerType) {
			t.Errorf("listener %s: router must be the last filter", l.Name)
		}
		for _, f := range fs[:len(fs)-1] {
			// grpc-go implements the fault filter (gRFC A33;
			// TestProxylessFaultInjection), and no other.
			if !f.GetIsOptional() && f.GetTypedConfig().GetTypeUrl() != "type.googleapis.com/"+string(faultType) {
				t.Errorf("listener %s: filter %s is not one grpc-go implements", l.Name, f.Name)
			}
		}
	}
	for _, r := range g.Routes {
		rc := r.(*routev3.RouteConfiguration)
		for _, vh := range rc.GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				where := rc.Name + " " + rt.Name
				if len(rt.GetMatch().GetQueryParameters()) > 0 {
					t.Errorf("%s: query matchers (grpc-go skips the route)", where)
				}
				if rt.GetMatch().GetPathSpecifier() == nil {
					t.Errorf("%s: no path specifier", where)
				}
				for k, a := range rt.GetTypedPerFilterConfig() {
					// Only the fault filter's, and never with header matchers,
					// which grpc-go's fault filter ignores.
					hf := &faultv3.HTTPFault{}
					if k != filterFault || a.UnmarshalTo(hf) != nil || len(hf.GetHeaders()) > 0 {
						t.Errorf("%s: typed_per_filter_config %s", where, k)
					}
				}
				ra := rt.GetRoute()
				if ra.GetTimeout() != nil {
					t.Errorf("%s: RouteAction.timeout (grpc-go reads max_stream_duration)", where)
				}
				if rp := ra.GetRetryPolicy(); rp != nil {
					if n := rp.GetNumRetries(); n != nil && n.GetValue() < 1 {
						t.Errorf("%s: num_retries %d", where, n.GetValue())
					}
					// generateRetryConfig: base_interval and max_interval > 0.
					if bo := rp.GetRetryBackOff(); bo != nil && (bo.GetBaseInterval().AsDuration() <= 0 || (bo.GetMaxInterval() != nil && bo.GetMaxInterval().AsDuration() <= 0)) {
						t.Errorf("%s: retry back-off %v", where, bo)
					}
					for _, c := range strings.Split(rp.GetRetryOn(), ",") {
						if !grpcStatus[c] {
							t.Errorf("%s: retry_on %q is not a gRPC status", where, c)
						}
					}
				}
				for _, hp := range ra.GetHashPolicy() {
					if hp.GetHeader() == nil && hp.GetFilterState().GetKey() != grpcChannelIDKey {
						t.Errorf("%s: hash policy %v is ignored by grpc-go", where, hp)
					}
				}
			}
		}
	}
	for _, r := range g.Clusters {
		c := r.(*clusterv3.Cluster)
		switch c.GetLbPolicy() {
		case clusterv3.Cluster_ROUND_ROBIN, clusterv3.Cluster_LEAST_REQUEST:
		case clusterv3.Cluster_RING_HASH:
			if c.GetRingHashLbConfig().GetHashFunction() != clusterv3.Cluster_RingHashLbConfig_XX_HASH {
				t.Errorf("cluster %s: ring hash function must be XX_HASH", c.Name)
			}
		default:
			t.Errorf("cluster %s: lb_policy %v is NACKed by grpc-go", c.Name, c.GetLbPolicy())
		}
		for _, p := range c.GetLoadBalancingPolicy().GetPolicies() {
			tc := p.GetTypedExtensionConfig().GetTypedConfig()
			switch tc.GetTypeUrl() {
			case "type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin":
			case "type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash":
				rh := &ringhashv3.RingHash{}
				if err := tc.UnmarshalTo(rh); err != nil || rh.GetHashFunction() != ringhashv3.RingHash_XX_HASH {
					t.Errorf("cluster %s: RingHash must use XX_HASH", c.Name)
				}
			default:
				t.Errorf("cluster %s: load_balancing_policy %s unknown to grpc-go", c.Name, tc.GetTypeUrl())
			}
		}
		if c.GetType() != clusterv3.Cluster_EDS || c.GetEdsClusterConfig().GetEdsConfig().GetAds() == nil || c.GetEdsClusterConfig().GetServiceName() == "" {
			t.Errorf("cluster %s: want EDS over ADS with a service name", c.Name)
		}
		if len(c.GetTransportSocketMatches()) > 0 {
			t.Errorf("cluster %s: transport_socket_matches", c.Name)
		}
		if ts := c.GetTransportSocket(); ts != nil {
			u := &tlsv3.UpstreamTlsContext{}
			if ts.GetName() != transportSocketTLS || ts.GetTypedConfig().UnmarshalTo(u) != nil {
				t.Errorf("cluster %s: transport socket must be %s with an UpstreamTlsContext", c.Name, transportSocketTLS)
				continue
			}
			ctc := u.GetCommonTlsContext()
			if ctc == nil || ctc.GetTlsParams() != nil || ctc.GetCustomHandshaker() != nil {
				t.Errorf("cluster %s: common_tls_context missing or has tls_params/custom_handshaker", c.Name)
				continue
			}
			if ctc.GetValidationContext().GetCaCertificateProviderInstance().GetInstanceName() == "" {
				t.Errorf("cluster %s: grpc-go needs ca_certificate_provider_instance", c.Name)
			}
		}
		if od := c.GetOutlierDetection(); od != nil && od.GetMaxEjectionPercent().GetValue() > 100 {
			t.Errorf("cluster %s: max_ejection_percent > 100", c.Name)
		}
	}
}

func TestGRPCGroupsFollowGRPCGoRules(t *testing.T) {
	groups, err := Translate(bigSnapshot(t, 50, 200, 10), Options{})
	if err != nil {
		t.Fatal(err)
	}
	grpcRules(t, groups[GroupKey{"public", ClientGRPC}])
	cases, err := os.ReadDir(filepath.Join("testdata", "in"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		snap, _ := loadCase(t, filepath.Join("testdata", "in", c.Name()))
		groups, err := Translate(snap, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for k, g := range groups {
			if k.Client == ClientGRPC {
				grpcRules(t, g)
			}
		}
	}
}
