package translate

import (
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// connectOutcome is what Envoy does with a CONNECT request for authority
// (HTTP/1.1 or HTTP/2, no :path) on one route table, following
// upgrades.go's citations: the virtual host by host without port
// (strip_any_host_port), the first route that matches a request without a
// path (connect_matcher; a path route only through a regex matching the
// empty path), then 403 unless that route enables CONNECT. It returns the
// tunnel's cluster, or the status Envoy answers.
func connectOutcome(rc *routev3.RouteConfiguration, authority string, headers map[string]string) (cluster string, status int) {
	host, _, _ := strings.Cut(authority, ":")
	var vh, star *routev3.VirtualHost
	for _, v := range rc.GetVirtualHosts() {
		for _, d := range v.GetDomains() {
			switch {
			case strings.EqualFold(d, host):
				vh = v
			case d == "*":
				star = v
			case strings.HasPrefix(d, "*.") && strings.HasSuffix(host, d[1:]) && vh == nil:
				vh = v
			}
		}
	}
	if vh == nil {
		vh = star
	}
	if vh == nil {
		return "", 404
	}
	for _, r := range vh.GetRoutes() {
		m := r.GetMatch()
		switch {
		case m.GetConnectMatcher() != nil:
		case m.GetSafeRegex() != nil:
			if m.GetSafeRegex().GetRegex() != ".*" {
				continue
			}
		default:
			continue // prefix, path, path_separated_prefix: need a path
		}
		ok := true
		for _, h := range m.GetHeaders() {
			v, present := headers[h.GetName()]
			if h.GetName() == ":method" {
				v, present = "CONNECT", true
			}
			if !present || (!h.GetPresentMatch() && h.GetStringMatch().GetExact() != "" && v != h.GetStringMatch().GetExact()) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		for _, u := range r.GetRoute().GetUpgradeConfigs() {
			if strings.EqualFold(u.GetUpgradeType(), "CONNECT") && u.GetEnabled().GetValue() && u.GetConnectConfig() != nil {
				return r.GetRoute().GetCluster(), 200
			}
		}
		return "", 403
	}
	return "", 404
}

// TestConnectOnlyReachesItsService attacks the upgrades golden case with
// CONNECT requests: to the tunnel's host it reaches the ssh Service and
// nothing else whatever port is asked for; without the header its match
// needs, or to any other host (the catch-all host serves HTTP Routes
// only), it is refused. No route but the tunnel enables CONNECT.
func TestConnectOnlyReachesItsService(t *testing.T) {
	g := translateCase(t, "upgrades", Options{})[GroupKey{"edge", ClientEnvoy}]
	if err := Check(g, nil); err != nil {
		t.Fatal(err)
	}
	rc := g.Routes[0].(*routev3.RouteConfiguration)
	auth := map[string]string{"proxy-authorization": "k"}
	for _, tc := range []struct {
		authority string
		headers   map[string]string
		cluster   string
		status    int
	}{
		{"bastion.example.com:22", auth, "svc/ssh", 200},
		{"bastion.example.com:443", auth, "svc/ssh", 200}, // the port asked for is ignored
		{"BASTION.example.com:22", auth, "svc/ssh", 200},
		{"bastion.example.com:22", nil, "", 404},
		{"evil.example.net:443", auth, "", 404},
		{"127.0.0.1:22", auth, "", 404},
		{"169.254.169.254:80", auth, "", 404},
		{"localhost:9901", auth, "", 404},
	} {
		cl, st := connectOutcome(rc, tc.authority, tc.headers)
		if cl != tc.cluster || st != tc.status {
			t.Errorf("CONNECT %s (headers %v): cluster %q status %d, want %q %d", tc.authority, tc.headers, cl, st, tc.cluster, tc.status)
		}
	}
	tunnels := 0
	for _, vh := range rc.GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			for _, u := range r.GetRoute().GetUpgradeConfigs() {
				if strings.EqualFold(u.GetUpgradeType(), "CONNECT") {
					tunnels++
					if r.GetName() != "tunnel" {
						t.Errorf("route %s enables CONNECT", r.GetName())
					}
				}
			}
		}
	}
	if tunnels != 1 {
		t.Errorf("%d routes enable CONNECT, want 1", tunnels)
	}
}

// TestCheckUpgradeRules: Check refuses the configurations that would
// make the gateway an open proxy or a dead route.
func TestCheckUpgradeRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(r *routev3.Route)
		want string
	}{
		{"forwarded CONNECT", func(r *routev3.Route) { r.GetRoute().UpgradeConfigs[0].ConnectConfig = nil }, "without a connect_config"},
		{"allow_post", func(r *routev3.Route) {
			r.GetRoute().UpgradeConfigs[0].ConnectConfig.AllowPost = true
		}, "allow_post"},
		{"cluster from a header", func(r *routev3.Route) {
			r.GetRoute().ClusterSpecifier = &routev3.RouteAction_ClusterHeader{ClusterHeader: "x-target"}
		}, "must name its cluster"},
		{"CONNECT on a path route", func(r *routev3.Route) {
			r.Match.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: "/"}
		}, "not a connect_matcher route"},
		{"connect_matcher without CONNECT", func(r *routev3.Route) {
			r.GetRoute().UpgradeConfigs[0].Enabled = wrapperspb.Bool(false)
		}, "only answers 403"},
		{"rewrite", func(r *routev3.Route) { r.GetRoute().PrefixRewrite = "/x" }, "no path to rewrite"},
		{"connect_config on websocket", func(r *routev3.Route) {
			r.GetRoute().UpgradeConfigs[0].UpgradeType = "websocket"
		}, "has a connect_config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := cloneGroup(translateCase(t, "upgrades", Options{})[GroupKey{"edge", ClientEnvoy}])
			var tunnel *routev3.Route
			for _, vh := range g.Routes[0].(*routev3.RouteConfiguration).GetVirtualHosts() {
				for _, r := range vh.GetRoutes() {
					if r.GetName() == "tunnel" {
						tunnel = r
					}
				}
			}
			if tunnel == nil {
				t.Fatal("no tunnel route")
			}
			tc.edit(tunnel)
			if err := Check(g, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}
