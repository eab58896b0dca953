package server

import (
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	oauth2v3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/oauth2/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/anypb"
)

// nameSet is a set of resource names.
type nameSet map[string]struct{}

func (s nameSet) add(name string) {
	if name != "" {
		s[name] = struct{}{}
	}
}

// listenerRefs are the names the listeners of a group ask for by name.
type listenerRefs struct {
	routes   nameSet // route configurations (RDS), from filter chains and api_listeners
	clusters nameSet // clusters named by inline route configurations
	secrets  nameSet // SDS secrets of downstream TLS contexts
}

// clusterRefs are the names the clusters of a group ask for by name.
type clusterRefs struct {
	endpoints nameSet // EDS service names
	secrets   nameSet // SDS secrets of upstream TLS contexts
}

// collectListenerRefs reads RDS names and secrets from every filter chain
// and api_listener. go-control-plane's Consistent() reads filter chains
// only, which is why gatehouse has its own check (api_listeners are how
// proxyless gRPC clients get their routes).
func collectListenerRefs(ls []types.Resource) (listenerRefs, error) {
	out := listenerRefs{routes: nameSet{}, clusters: nameSet{}, secrets: nameSet{}}
	for _, r := range ls {
		l, ok := r.(*listenerv3.Listener)
		if !ok {
			return out, fmt.Errorf("listeners: got %T", r)
		}
		chains := l.GetFilterChains()
		if dc := l.GetDefaultFilterChain(); dc != nil {
			chains = append(chains[:len(chains):len(chains)], dc)
		}
		for _, fc := range chains {
			if err := addTLSSecrets(fc.GetTransportSocket(), out.secrets); err != nil {
				return out, fmt.Errorf("listener %q: %w", l.GetName(), err)
			}
			for _, f := range fc.GetFilters() {
				if err := addHCMRefs(f.GetTypedConfig(), &out); err != nil {
					return out, fmt.Errorf("listener %q filter %q: %w", l.GetName(), f.GetName(), err)
				}
			}
		}
		if api := l.GetApiListener().GetApiListener(); api != nil {
			if err := addHCMRefs(api, &out); err != nil {
				return out, fmt.Errorf("listener %q api_listener: %w", l.GetName(), err)
			}
		}
	}
	return out, nil
}

func addHCMRefs(cfg *anypb.Any, out *listenerRefs) error {
	if cfg == nil || !cfg.MessageIs(&hcmv3.HttpConnectionManager{}) {
		return nil
	}
	hcm := &hcmv3.HttpConnectionManager{}
	if err := cfg.UnmarshalTo(hcm); err != nil {
		return fmt.Errorf("decode HttpConnectionManager: %w", err)
	}
	out.routes.add(hcm.GetRds().GetRouteConfigName())
	for _, f := range hcm.GetHttpFilters() {
		if err := addOAuth2Secrets(f.GetTypedConfig(), out.secrets); err != nil {
			return err
		}
	}
	if rc := hcm.GetRouteConfig(); rc != nil {
		addRouteClusters(rc, out.clusters)
	}
	return nil
}

// addTLSSecrets adds the SDS secret names of a transport socket holding a
// DownstreamTlsContext or an UpstreamTlsContext.
func addTLSSecrets(ts *corev3.TransportSocket, out nameSet) error {
	cfg := ts.GetTypedConfig()
	if cfg == nil {
		return nil
	}
	var common *tlsv3.CommonTlsContext
	switch {
	case cfg.MessageIs(&tlsv3.DownstreamTlsContext{}):
		m := &tlsv3.DownstreamTlsContext{}
		if err := cfg.UnmarshalTo(m); err != nil {
			return fmt.Errorf("decode DownstreamTlsContext: %w", err)
		}
		common = m.GetCommonTlsContext()
	case cfg.MessageIs(&tlsv3.UpstreamTlsContext{}):
		m := &tlsv3.UpstreamTlsContext{}
		if err := cfg.UnmarshalTo(m); err != nil {
			return fmt.Errorf("decode UpstreamTlsContext: %w", err)
		}
		common = m.GetCommonTlsContext()
	default:
		return nil
	}
	for _, s := range common.GetTlsCertificateSdsSecretConfigs() {
		out.add(s.GetName())
	}
	out.add(common.GetValidationContextSdsSecretConfig().GetName())
	out.add(common.GetCombinedValidationContext().GetValidationContextSdsSecretConfig().GetName())
	return nil
}

// addOAuth2Secrets adds the SDS secrets an OAuth2 filter config or
// per-route config names (client secret, HMAC key).
func addOAuth2Secrets(a *anypb.Any, out nameSet) error {
	var cfg *oauth2v3.OAuth2Config
	switch {
	case a == nil:
		return nil
	case a.MessageIs(&oauth2v3.OAuth2{}):
		m := &oauth2v3.OAuth2{}
		if err := a.UnmarshalTo(m); err != nil {
			return fmt.Errorf("decode OAuth2: %w", err)
		}
		cfg = m.GetConfig()
	case a.MessageIs(&oauth2v3.OAuth2PerRoute{}):
		m := &oauth2v3.OAuth2PerRoute{}
		if err := a.UnmarshalTo(m); err != nil {
			return fmt.Errorf("decode OAuth2PerRoute: %w", err)
		}
		cfg = m.GetConfig()
	default:
		return nil
	}
	out.add(cfg.GetCredentials().GetTokenSecret().GetName())
	out.add(cfg.GetCredentials().GetHmacSecret().GetName())
	return nil
}

// collectRouteSecrets returns the secrets the per-route filter configs of
// the route configurations name (route config, virtual host and route
// level).
func collectRouteSecrets(rs []types.Resource) (nameSet, error) {
	out := nameSet{}
	add := func(cfg map[string]*anypb.Any) error {
		for _, a := range cfg {
			if err := addOAuth2Secrets(a, out); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range rs {
		rc, ok := r.(*routev3.RouteConfiguration)
		if !ok {
			return nil, fmt.Errorf("routes: got %T", r)
		}
		if err := add(rc.GetTypedPerFilterConfig()); err != nil {
			return nil, fmt.Errorf("route configuration %q: %w", rc.GetName(), err)
		}
		for _, vh := range rc.GetVirtualHosts() {
			if err := add(vh.GetTypedPerFilterConfig()); err != nil {
				return nil, fmt.Errorf("route configuration %q: %w", rc.GetName(), err)
			}
			for _, rt := range vh.GetRoutes() {
				if err := add(rt.GetTypedPerFilterConfig()); err != nil {
					return nil, fmt.Errorf("route configuration %q: %w", rc.GetName(), err)
				}
			}
		}
	}
	return out, nil
}

// collectRouteClusters returns the clusters the route configurations name;
// hint is about how many (the group's clusters), so that the set is made
// at its size rather than grown through every Route.
func collectRouteClusters(rs []types.Resource, hint int) (nameSet, error) {
	out := make(nameSet, hint)
	for _, r := range rs {
		rc, ok := r.(*routev3.RouteConfiguration)
		if !ok {
			return nil, fmt.Errorf("routes: got %T", r)
		}
		addRouteClusters(rc, out)
	}
	return out, nil
}

func addRouteClusters(rc *routev3.RouteConfiguration, out nameSet) {
	for _, vh := range rc.GetVirtualHosts() {
		for _, rt := range vh.GetRoutes() {
			a := rt.GetRoute()
			if a == nil {
				continue
			}
			out.add(a.GetCluster())
			for _, wc := range a.GetWeightedClusters().GetClusters() {
				out.add(wc.GetName())
			}
			for _, m := range a.GetRequestMirrorPolicies() {
				out.add(m.GetCluster())
			}
		}
	}
}

// collectClusterRefs returns the EDS names and secrets the clusters name.
func collectClusterRefs(cs []types.Resource) (clusterRefs, error) {
	out := clusterRefs{endpoints: nameSet{}, secrets: nameSet{}}
	for _, r := range cs {
		c, ok := r.(*clusterv3.Cluster)
		if !ok {
			return out, fmt.Errorf("clusters: got %T", r)
		}
		if c.GetType() == clusterv3.Cluster_EDS {
			if n := c.GetEdsClusterConfig().GetServiceName(); n != "" {
				out.endpoints.add(n)
			} else {
				out.endpoints.add(c.GetName())
			}
		}
		if err := addTLSSecrets(c.GetTransportSocket(), out.secrets); err != nil {
			return out, fmt.Errorf("cluster %q: %w", c.GetName(), err)
		}
		for _, m := range c.GetTransportSocketMatches() {
			if err := addTLSSecrets(m.GetTransportSocket(), out.secrets); err != nil {
				return out, fmt.Errorf("cluster %q: %w", c.GetName(), err)
			}
		}
	}
	return out, nil
}
