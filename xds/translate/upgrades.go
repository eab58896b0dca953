package translate

import (
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Upgrades other than WebSocket (issue 14 item 4).
//
// CONNECT. Envoy treats a CONNECT request as an upgrade named "CONNECT"
// (source/common/http/filter_manager.cc, createFilterChain: "Treat CONNECT
// requests as a special upgrade case"): unless the matched route's
// upgrade_configs (or the connection manager's, which gatehouse never
// sets) enable it, the connection manager answers 403 (upgrade_failed,
// source/common/http/conn_manager_impl.cc). A CONNECT request has no
// :path, so it never matches a prefix, exact or segment route (each needs
// a path starting with '/', source/common/router/config_impl.cc); only a
// connect_matcher route (ConnectRouteEntryImpl::matches: "isConnect") or a
// regex that matches the empty path can match it, and the latter has no
// CONNECT upgrade, so it answers 403. A CONNECT Route's route has a
// connect_config: Envoy answers the CONNECT itself (200) and carries the
// bytes that follow over TCP to the route's cluster, the Route's Service,
// whatever host:port the client named (source/common/router/upstream_
// request.cc and the generic conn pool's TCP upstream). Without
// connect_config Envoy would forward the CONNECT to the Service, which, if
// it were a forward proxy, would open the gateway to any destination; so
// Check requires it, and refuses a CONNECT route whose cluster comes from
// a header (cluster_header would let the client pick the destination).
//
// HTTP/2: Envoy's codec normalizes an extended CONNECT (RFC 8441, with
// :protocol) into an HTTP/1.1 style upgrade only when the listener's
// http2_protocol_options.allow_connect is set; gatehouse leaves it unset,
// so WebSocket and other upgrades are HTTP/1.1 only. A plain HTTP/2
// CONNECT has no :path either and is handled as above.

// connectMatch turns a Route's match into a connect_matcher (CONNECT
// requests only), keeping its header matchers; the path specifier goes
// (policy refuses a path, methods and query on a CONNECT Route).
func connectMatch(m *routev3.RouteMatch) *routev3.RouteMatch {
	return &routev3.RouteMatch{
		PathSpecifier: &routev3.RouteMatch_ConnectMatcher_{ConnectMatcher: &routev3.RouteMatch_ConnectMatcher{}},
		Headers:       m.GetHeaders(),
	}
}

// upgradeConfigs enables each upgrade; CONNECT with a connect_config, so
// Envoy terminates it and tunnels to the route's cluster.
func upgradeConfigs(upgrades []string) []*routev3.RouteAction_UpgradeConfig {
	out := make([]*routev3.RouteAction_UpgradeConfig, 0, len(upgrades))
	for _, u := range upgrades {
		uc := &routev3.RouteAction_UpgradeConfig{UpgradeType: u, Enabled: wrapperspb.Bool(true)}
		if u == policy.UpgradeCONNECT {
			uc.ConnectConfig = &routev3.RouteAction_UpgradeConfig_ConnectConfig{}
		}
		out = append(out, uc)
	}
	return out
}

// bodylessUpgrade: r accepts an upgrade after which the request never
// ends (a tunnel, or a protocol other than WebSocket). ext_authz skips
// body buffering for WebSocket upgrades only (source/extensions/filters/
// http/ext_authz/ext_authz.cc, decodeHeaders: buffer_data_ is false for
// isWebSocketUpgradeRequest and isH2UpgradeRequest); on any other upgrade,
// and on CONNECT, it would wait for a body that is the tunnel's first
// bytes, which a client waiting for the 200 or 101 never sends.
func bodylessUpgrade(r *policy.Route, services map[string]*policy.Service) bool {
	for _, u := range r.Upgrades(services) {
		if !strings.EqualFold(u, policy.UpgradeWebSocket) {
			return true
		}
	}
	return false
}

// upgradeRules: Check's rules for upgrades on a route, beyond Envoy's
// load-time ones (checkrules.go): CONNECT is accepted only by a
// connect_matcher route with a connect_config and a fixed cluster (never
// an open proxy), a connect_matcher route is useless without it, and no
// CONNECT route has a path rewrite.
func (c *checker) upgradeRules(at func() string, r *routev3.Route) {
	ra := r.GetRoute()
	connectRoute := r.GetMatch().GetConnectMatcher() != nil
	connect := false
	for _, u := range ra.GetUpgradeConfigs() {
		if !strings.EqualFold(u.GetUpgradeType(), policy.UpgradeCONNECT) || (u.GetEnabled() != nil && !u.GetEnabled().GetValue()) {
			continue
		}
		connect = true
		if u.GetConnectConfig() == nil {
			c.fail("%s: CONNECT is enabled without a connect_config: Envoy would forward the CONNECT to the upstream, which may be a proxy to anywhere", at())
		}
		if u.GetConnectConfig().GetAllowPost() {
			c.fail("%s: CONNECT's allow_post would turn POST requests into tunnels", at())
		}
		if !connectRoute {
			c.fail("%s: CONNECT is enabled on a route that is not a connect_matcher route", at())
		}
	}
	if connectRoute && !connect {
		c.fail("%s: a connect_matcher route without CONNECT enabled only answers 403", at())
	}
	if connect {
		switch ra.GetClusterSpecifier().(type) {
		case *routev3.RouteAction_Cluster, *routev3.RouteAction_WeightedClusters:
		default:
			c.fail("%s: a CONNECT route must name its cluster (a cluster from the request would let the client choose where the tunnel goes)", at())
		}
		if ra.GetPrefixRewrite() != "" || ra.GetRegexRewrite() != nil || ra.GetPathRewritePolicy() != nil {
			c.fail("%s: a CONNECT route has no path to rewrite", at())
		}
	}
}
