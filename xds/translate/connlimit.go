package translate

import (
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	connlimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/connection_limit/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Per-listener connection limit (limits.maxConnectionsPerListener): the
// connection_limit network filter, first in every filter chain, before
// the connection manager.
//
// Why this filter and not the listener's runtime key
// envoy.resource_limits.listener.<name>.connection_limit: the key lives
// in Envoy's runtime, which gatehouse writes only in the bootstrap (a
// static layer rendered once, before the Gateway's listeners are known,
// and changed only by restarting Envoy) or would have to serve over RTDS
// (a runtime layer every bootstrap must name). The filter is an ordinary
// LDS resource: it changes with the policy, Check sees it, and it is
// stable (source/extensions/extensions_metadata.yaml,
// envoy.filters.network.connection_limit).
//
// What it counts (Envoy: source/extensions/filters/network/
// connection_limit/config.cc, one Config, with its atomic counter, per
// filter factory, i.e. per filter chain; connection_limit.cc,
// onNewConnection): the open connections of one filter chain, which is
// one Gateway listener (several HTTPS listeners sharing a port by SNI
// are one Envoy listener with a chain each, and each keeps its own
// count). A connection over the limit is closed as soon as it is
// accepted (NoFlush, no delay: a delayed close would keep the socket and
// its file descriptor for the delay), before the connection manager
// reads a byte; stats connection_limit.<listener>.limited_connections
// and active_connections. A policy change that rebuilds the chain starts
// a new count while the old chain's connections drain.
//
// The default keeps one flooded listener from taking every connection
// the bootstrap's overload manager allows (--max-connections, default
// 50,000): half of them, so the Gateway's other listeners (and the
// other Gateways of the same Envoys) keep the rest.
const defaultMaxConnectionsPerListener = 25000

const (
	filterConnectionLimit = "envoy.filters.network.connection_limit"
	connectionLimitType   = "envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit"
)

// maxConnectionsPerListener is gw's per-listener limit.
func maxConnectionsPerListener(gw *policy.Gateway) int {
	if lim := gw.Spec.Limits; lim != nil && lim.MaxConnectionsPerListener > 0 {
		return lim.MaxConnectionsPerListener
	}
	return defaultMaxConnectionsPerListener
}

// connectionLimitFilter is the network filter limiting listener l of gw.
func connectionLimitFilter(gw *policy.Gateway, l *policy.Listener) *listenerv3.Filter {
	return &listenerv3.Filter{Name: filterConnectionLimit, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&connlimitv3.ConnectionLimit{
		StatPrefix:     gw.Name + "." + l.Name,
		MaxConnections: wrapperspb.UInt64(uint64(maxConnectionsPerListener(gw))),
	})}}
}

// networkFilterRules: what Envoy refuses in a filter chain's network
// filters, and what gatehouse requires of them. Envoy: source/common/
// config/utility.h, validateTerminalFilters ("terminal filter named {}
// of type {} must be the last filter in a {} filter chain", "non-terminal
// filter named {} of type {} is the last filter"): the connection
// manager is terminal, so it comes last, once. Gatehouse: every chain
// has exactly one connection limit, before the connection manager (after
// it, it would never run), so no listener is without its limit.
func (c *checker) networkFilterRules(where string, fs []*listenerv3.Filter) {
	limits, hcms := 0, 0
	for i, f := range fs {
		switch f.GetTypedConfig().GetTypeUrl() {
		case "type.googleapis.com/" + connectionLimitType:
			limits++
			if hcms > 0 {
				c.fail("%s network filter %s (#%d): comes after the connection manager, which is terminal", where, f.GetName(), i+1)
			}
		case "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager":
			hcms++
			if i != len(fs)-1 {
				c.fail("%s network filter %s (#%d): the connection manager is a terminal filter and must be the last of the chain's %d", where, f.GetName(), i+1, len(fs))
			}
		}
	}
	if len(fs) > 0 && hcms == 0 {
		c.fail("%s: no connection manager ends the chain (Envoy refuses a chain whose last filter is not terminal)", where)
	}
	if hcms > 1 {
		c.fail("%s: %d connection managers in one chain", where, hcms)
	}
	if limits != 1 {
		c.fail("%s: %d connection_limit filters, want exactly 1 (the listener's connection limit)", where, limits)
	}
}
