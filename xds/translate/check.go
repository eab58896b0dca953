package translate

import (
	"errors"
	"fmt"
	connlimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/connection_limit/v3"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// maxCheckErrors bounds how many problems one Check reports.
const maxCheckErrors = 20

// checker collects the problems of one group.
type checker struct {
	g    *Group
	errs []error
	// rdsFilters maps a route config name to the HTTP filters (name to
	// config type) of every connection manager that uses it: per-route
	// configs must name one, with a type that filter reads.
	rdsFilters map[string][]map[string]protoreflect.FullName
	// rdsJWTReqs holds, per route config and connection manager, the
	// jwt_authn requirement names by filter name: per-route
	// requirement_name must be one (Envoy rejects the route table else).
	rdsJWTReqs map[string][]map[string]map[string]bool
	// rdsNoStore holds, per route config, whether each connection
	// manager using it makes its local replies no-store (cdn.go).
	rdsNoStore map[string][]bool
	clusters   map[string]bool
	// validRoutes holds routes already validated: listeners of one group
	// share Route messages, and validating each once halves the cost.
	validRoutes map[*routev3.Route]bool
	// failures counts every fail, past maxCheckErrors too: a resource
	// passed its rules when it did not move.
	failures int
	// types caches type URL lookups in the global registry.
	types   map[string]protoreflect.MessageType
	secrets map[string]bool
	routes  map[string]bool
	// filterRefs caches, by serialized filter config, what an HTTP
	// filter's config names: listeners of a group share them.
	filterRefs map[string]*filterInfo
	// jwtRouteReqs caches per-route jwt_authn requirement names by
	// serialized config: Routes share a few.
	jwtRouteReqs map[string]string
	// envoy is set for groups served to Envoy: only they are held to
	// what Envoy ships (envoyapi.go).
	envoy bool
	// at and path locate the element being walked by shipped;
	// anysWalked holds the typed configs already walked, by type URL
	// and value.
	at         string
	atRoute    [3]string // route config, virtual host, route: when at is ""
	path       []string
	anysWalked map[string]map[string]struct{}
	// tracing (tests only) makes both walks record in trace each field
	// worth looking at that they find set, with its path.
	tracing bool
	trace   []string
	// walkMapValue walks one map value (typed_per_filter_config).
	walkMapValue func(protoreflect.MapKey, protoreflect.Value) bool
	// listenerAddrs maps each bound address to its listener; regexes
	// holds each regex checked (true: accepted); localRLDone the local
	// rate limit configs checked, by serialized value.
	listenerAddrs map[string]string
	regexes       map[string]bool
	localRLDone   map[string]bool
	// transcoderDone: the per-route transcoder configs checked, by
	// serialized value (a descriptor set is linked once).
	transcoderDone map[string]bool
	// procFilters are gatehouse's ext_proc filters (the WAF, request
	// validation, transformation) by filter name, each with the per-route
	// configs it checked (checkextproc.go).
	procFilters map[string]*processorFilter
	// secretsByName indexes the group's secrets; cookieOwner maps each
	// login cookie name to its HMAC secret; oauth2Done holds the OAuth2
	// configs checked, by serialized value (checkoauth2.go).
	secretsByName map[string]*tlsv3.Secret
	cookieOwner   map[string]string
	oauth2Done    map[string]bool
	// routeAtFn and walkAtFn are routeAt and walkAt, bound once per Check.
	routeAtFn, walkAtFn func() string
	// passedOwn lists the Routes and Clusters whose own rules ran in this
	// Check, for the memo (recorded only if the group passes).
	passedOwn []any
}

// routeAt names the route being checked (see atRoute).
func (c *checker) routeAt() string {
	return "route config " + c.atRoute[0] + " virtual host " + c.atRoute[1] + " route " + c.atRoute[2]
}

// filterInfo is what Check needs from an HTTP filter's config.
type filterInfo struct {
	clusters     []string        // clusters it sends to
	requirements map[string]bool // jwt_authn requirement_map names
}

func (c *checker) fail(format string, args ...any) {
	c.failures++
	if len(c.errs) < maxCheckErrors {
		c.errs = append(c.errs, fmt.Errorf(format, args...))
	}
}

// Check runs the pre-publish checks on one group and, when clas is not nil,
// its endpoints: every resource passes ValidateAll; every Any is a registered
// type allowed at its extension point; an Envoy group sets nothing Envoy
// does not ship (envoyapi.go); the router is the one and last HTTP
// filter; per-route filter configs name a filter of their connection
// manager; every cluster, route config, secret and EDS name referenced
// exists; names are unique per type; and the load-time rules of
// checkrules.go and checkfilters.go hold. Errors name the group (when Key
// is set), the resource and the problem.
//
// Where Envoy is laxer, Check is stricter on purpose: Envoy resolves a
// per-route config by its type, so a name no filter of the chain has is
// silently unused (source/common/router/per_filter_config.cc); an unknown
// per-route jwt requirement_name is a 403 on every request, not a load
// error (source/extensions/filters/http/jwt_authn/filter_config.cc); RDS
// route tables do not validate clusters by default (config_impl.cc
// validate_clusters), so a route to a missing cluster answers 503; and an
// ext_authz or rate-limit cluster that is missing fails each call, which a
// failure_mode_allow instance lets through. Duplicate names are Envoy
// errors: "duplicate cluster/listener {} found" (source/common/upstream/
// cds_api_helper.cc, source/common/listener_manager/lds_api.cc).
func Check(g *Group, clas map[string]*endpointv3.ClusterLoadAssignment) error {
	c := &checker{g: g, rdsFilters: map[string][]map[string]protoreflect.FullName{}, rdsJWTReqs: map[string][]map[string]map[string]bool{}, rdsNoStore: map[string][]bool{}, validRoutes: map[*routev3.Route]bool{}, types: map[string]protoreflect.MessageType{}}
	if g.checked {
		for _, r := range g.Clusters {
			c.clusterEDS(r.(*clusterv3.Cluster), clas)
		}
		return c.result()
	}
	c.envoy = g.Key.Client != ClientGRPC
	c.listenerAddrs = map[string]string{}
	c.routeAtFn = c.routeAt
	c.routes = c.names("route config", g.Routes)
	c.clusters = c.names("cluster", g.Clusters)
	c.secrets = c.names("secret", g.Secrets)
	c.names("listener", g.Listeners)
	for _, r := range g.Secrets {
		s, ok := r.(*tlsv3.Secret)
		if !ok {
			c.fail("secret: unexpected type %T", r)
			continue
		}
		c.validate("secret", s.GetName(), s)
		c.shipped("secret "+s.GetName(), s)
	}
	for _, r := range g.Listeners {
		l, ok := r.(*listenerv3.Listener)
		if !ok {
			c.fail("listener: unexpected type %T", r)
			continue
		}
		c.listener(l)
	}
	for _, r := range g.Routes {
		rc, ok := r.(*routev3.RouteConfiguration)
		if !ok {
			c.fail("route config: unexpected type %T", r)
			continue
		}
		c.routeConfig(rc)
	}
	for _, r := range g.Clusters {
		cl, ok := r.(*clusterv3.Cluster)
		if !ok {
			c.fail("cluster: unexpected type %T", r)
			continue
		}
		if !c.ownRulesPassed(cl) {
			c.cluster(cl)
			c.passedOwn = append(c.passedOwn, cl)
		}
		c.clusterEDS(cl, clas)
	}
	if c.failures == 0 {
		// Recorded only when the whole group passed: the checker's caches
		// (walked typed configs, regexes) skip what they saw before, so a
		// resource checked after a failing one that shares its config
		// would otherwise be recorded as passing.
		c.g.memo.passedAll(c.passedOwn, c.envoy)
	}
	return c.result()
}

// ownRulesPassed reports whether res (a Route or Cluster of the group)
// already passed its own rules for this client kind: checked by
// Translate before the group was built (Group.pre), or in an earlier
// Check (Group.memo).
func (c *checker) ownRulesPassed(res any) bool {
	return c.g.pre.has(res, c.envoy) || c.g.memo.wasChecked(res, c.envoy)
}

func (c *checker) result() error {
	g := c.g
	if len(c.errs) == 0 {
		return nil
	}
	err := errors.Join(c.errs...)
	if g.Key != (GroupKey{}) {
		err = fmt.Errorf("gateway %s (%s): %w", g.Key.Gateway, g.Key.Client, err)
	}
	return checkError{err}
}

// errCheck matches (errors.Is) every error of Check: the translator built
// something Envoy would refuse, a bug, where other errors of Translate are
// about its input. The fuzz test tells them apart with it.
var errCheck = errors.New("translator output fails Check")

type checkError struct{ error }

func (e checkError) Unwrap() error        { return e.error }
func (e checkError) Is(target error) bool { return target == errCheck }

func (c *checker) names(kind string, rs []types.Resource) map[string]bool {
	set := make(map[string]bool, len(rs))
	for _, r := range rs {
		n, ok := r.(named)
		if !ok {
			continue
		}
		name := n.GetName()
		if name == "" {
			c.fail("%s: empty name", kind)
		}
		if set[name] {
			c.fail("%s %s: duplicate name", kind, name)
		}
		set[name] = true
	}
	return set
}

type validator interface{ ValidateAll() error }

func (c *checker) validate(kind, name string, m validator) {
	if err := m.ValidateAll(); err != nil {
		c.fail("%s %s: invalid: %w", kind, name, err)
	}
}

// anyOf resolves a typed config against the global registry and the
// extension point's allow-list, returning the resolved message type.
func (c *checker) anyOf(where string, a *anypb.Any, point extensionPoint) protoreflect.MessageType {
	return c.anyAt(where, "", a, point)
}

// anyAt is anyOf with the location in two parts, joined only on failure
// (it runs for every cluster).
func (c *checker) anyAt(where, detail string, a *anypb.Any, point extensionPoint) protoreflect.MessageType {
	if a == nil || a.GetTypeUrl() == "" || !c.knownType(a.GetTypeUrl(), point) {
		return c.anySlow(where+detail, a, point)
	}
	return c.types[a.GetTypeUrl()]
}

// knownType reports whether a type URL already resolved to an allowed type
// at this point during this Check.
func (c *checker) knownType(url string, point extensionPoint) bool {
	mt, ok := c.types[url]
	return ok && allowed[point][mt.Descriptor().FullName()]
}

func (c *checker) anySlow(where string, a *anypb.Any, point extensionPoint) protoreflect.MessageType {
	if a == nil {
		c.fail("%s: missing typed_config", where)
		return nil
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(a.GetTypeUrl())
	if err != nil {
		c.fail("%s: type %q is not a registered Envoy message: %w", where, a.GetTypeUrl(), err)
		return nil
	}
	if !allowed[point][mt.Descriptor().FullName()] {
		c.fail("%s: type %s is not allowed at %s", where, mt.Descriptor().FullName(), point)
		return nil
	}
	c.types[a.GetTypeUrl()] = mt
	return mt
}

// unmarshal decodes a typed config already checked by anyOf.
func (c *checker) unmarshal(where string, a *anypb.Any, m proto.Message) bool {
	if err := a.UnmarshalTo(m); err != nil {
		c.fail("%s: %w", where, err)
		return false
	}
	return true
}

func (c *checker) listener(l *listenerv3.Listener) {
	name := l.GetName()
	where := "listener " + name
	c.validate("listener", name, l)
	c.shipped(where, l)
	c.listenerAddress(l, c.listenerAddrs)
	c.filterChainMatches(l)
	for _, lf := range l.GetListenerFilters() {
		c.anyOf(where+" listener filter "+lf.GetName(), lf.GetTypedConfig(), pointListenerFilter)
	}
	c.listenerFilterOrder(where, l.GetListenerFilters())
	c.accessLogs(where, l.GetAccessLog())
	if al := l.GetApiListener(); al != nil {
		w := where + " api_listener"
		if c.anyOf(w, al.GetApiListener(), pointNetworkFilter) != nil {
			h := &hcmv3.HttpConnectionManager{}
			if c.unmarshal(w, al.GetApiListener(), h) {
				c.hcm(w, h)
			}
		}
	}
	chains := l.GetFilterChains()
	if dc := l.GetDefaultFilterChain(); dc != nil {
		chains = append(chains[:len(chains):len(chains)], dc)
	}
	for _, fc := range chains {
		w := where + " filter chain " + fc.GetName()
		if ts := fc.GetTransportSocket(); ts != nil {
			if c.anyOf(w+" transport socket", ts.GetTypedConfig(), pointDownstreamTransport) != nil {
				d := &tlsv3.DownstreamTlsContext{}
				if c.unmarshal(w, ts.GetTypedConfig(), d) {
					c.tlsValidation(w+" transport socket", d.GetCommonTlsContext())
					c.clientCertRequirement(w+" transport socket", d)
					for _, sds := range d.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs() {
						if !c.secrets[sds.GetName()] {
							c.fail("%s: secret %q does not exist", w, sds.GetName())
						}
					}
				}
			}
		}
		c.networkFilterRules(w, fc.GetFilters())
		for _, f := range fc.GetFilters() {
			fw := w + " filter " + f.GetName()
			mt := c.anyOf(fw, f.GetTypedConfig(), pointNetworkFilter)
			if mt == nil {
				continue
			}
			if mt.Descriptor().FullName() == connectionLimitType {
				// ValidateAll of the listener does not reach inside the
				// Any; Envoy validates it when it builds the filter
				// (source/extensions/filters/network/common/factory_base.h,
				// createFilterFactoryFromProto: downcastAndValidate).
				if cl := (&connlimitv3.ConnectionLimit{}); c.unmarshal(fw, f.GetTypedConfig(), cl) {
					c.validate("connection limit", fw, cl)
				}
				continue
			}
			h := &hcmv3.HttpConnectionManager{}
			if c.unmarshal(fw, f.GetTypedConfig(), h) {
				c.hcm(fw, h)
				c.hcmRules(fw, h, l.GetUdpListenerConfig().GetQuicOptions() != nil)
			}
		}
	}
}

func (c *checker) accessLogs(where string, als []*accesslogv3.AccessLog) {
	for _, al := range als {
		w := where + " access log " + al.GetName()
		if mt := c.anyOf(w, al.GetTypedConfig(), pointAccessLogger); mt != nil {
			c.accessLogRules(w, mt.Descriptor().FullName(), al.GetTypedConfig())
		}
	}
}

func (c *checker) hcm(where string, h *hcmv3.HttpConnectionManager) {
	c.accessLogs(where, h.GetAccessLog())
	c.tracer(where, h.GetTracing())
	filters := h.GetHttpFilters()
	names := make(map[string]protoreflect.FullName, len(filters))
	var jwtReqs map[string]map[string]bool
	routers := 0
	for i, f := range filters {
		fw := fmt.Sprintf("%s http filter %q", where, f.GetName())
		if _, dup := names[f.GetName()]; dup {
			c.fail("%s: duplicate filter name", fw)
		}
		names[f.GetName()] = ""
		mt := c.anyOf(fw, f.GetTypedConfig(), pointHTTPFilter)
		if mt != nil {
			names[f.GetName()] = mt.Descriptor().FullName()
			if fi := c.filterInfo(fw, mt.Descriptor().FullName(), f.GetTypedConfig()); fi != nil {
				for _, cl := range fi.clusters {
					if !c.clusters[cl] {
						c.fail("%s: cluster %q does not exist", fw, cl)
					}
				}
				if fi.requirements != nil {
					if jwtReqs == nil {
						jwtReqs = map[string]map[string]bool{}
					}
					jwtReqs[f.GetName()] = fi.requirements
				}
			}
		}
		if mt != nil && mt.Descriptor().FullName() == localRateLimitType {
			c.localRateLimit(fw, f.GetTypedConfig())
		}
		if mt != nil && mt.Descriptor().FullName() == transcoderType {
			c.transcoderFilter(fw, f.GetTypedConfig())
		}
		if p := c.processorFilters()[f.GetName()]; p != nil {
			c.processorFilter(p, fw, mt, f.GetTypedConfig())
		}
		if mt != nil && mt.Descriptor().FullName() == cacheType {
			c.cacheFilter(fw, f.GetTypedConfig())
		}
		if mt != nil && mt.Descriptor().FullName() == oauth2Type {
			c.oauth2Filter(fw, f.GetTypedConfig())
		}
		if mt != nil && mt.Descriptor().FullName() == compressorType {
			c.compressorFilter(fw, f)
		}
		if mt != nil && mt.Descriptor().FullName() == routerType {
			routers++
			if i != len(filters)-1 {
				c.fail("%s: router must be the last HTTP filter", fw)
			}
		}
	}
	if routers != 1 {
		c.fail("%s: want exactly one router HTTP filter (last), have %d", where, routers)
	}
	c.corsOrder(where, filters)
	c.faultOrder(where, filters)
	c.wafOrder(where, filters)
	c.rbacRules(where, filters)
	c.metadataFromRBAC(where, filters)
	c.transformOrder(where, filters)
	c.openAPIOrder(where, filters)
	c.cacheOrder(where, filters)
	c.compressionOrder(where, filters)
	c.transcoderOrder(where, filters)
	c.loginOrder(where, filters)
	rds := h.GetRds()
	if rds == nil {
		c.fail("%s: no RDS route config", where)
		return
	}
	if rds.GetConfigSource().GetAds() == nil {
		c.fail("%s: RDS config source is not ADS", where)
	}
	rn := rds.GetRouteConfigName()
	if !c.routes[rn] {
		c.fail("%s: route config %q does not exist", where, rn)
	}
	c.rdsFilters[rn] = append(c.rdsFilters[rn], names)
	c.rdsJWTReqs[rn] = append(c.rdsJWTReqs[rn], jwtReqs)
	c.rdsNoStore[rn] = append(c.rdsNoStore[rn], proto.Equal(h.GetLocalReplyConfig(), localReplyNoStore))
}

// filterInfo returns the clusters an HTTP filter's config names (gRPC
// services, remote JWKS) and its jwt_authn requirement names, or nil for
// filters that name neither. The publisher checks only the clusters
// routes name; these would otherwise fail at request time in Envoy.
func (c *checker) filterInfo(where string, t protoreflect.FullName, a *anypb.Any) *filterInfo {
	var m proto.Message
	switch t {
	case extAuthzType:
		m = &extauthzv3.ExtAuthz{}
	case rateLimitType:
		m = &ratelimitv3.RateLimit{}
	case jwtAuthnType:
		m = &jwtv3.JwtAuthentication{}
	case extProcType:
		m = &extprocv3.ExternalProcessor{}
	default:
		return nil
	}
	if fi, ok := c.filterRefs[string(a.GetValue())]; ok {
		return fi
	}
	if !c.unmarshal(where, a, m) {
		return nil
	}
	fi := &filterInfo{}
	switch m := m.(type) {
	case *extauthzv3.ExtAuthz:
		fi.clusters = grpcCluster(where, m.GetGrpcService(), c)
		if m.GetHttpService() != nil {
			c.fail("%s: ext_authz must use a gRPC service", where)
		}
	case *ratelimitv3.RateLimit:
		fi.clusters = grpcCluster(where, m.GetRateLimitService().GetGrpcService(), c)
	case *extprocv3.ExternalProcessor:
		c.extProcRules(where, m)
		if m.GetGrpcService() != nil {
			fi.clusters = grpcCluster(where, m.GetGrpcService(), c)
		}
	case *jwtv3.JwtAuthentication:
		for _, n := range sortedKeys(m.GetProviders()) {
			if u := m.GetProviders()[n].GetRemoteJwks().GetHttpUri(); u != nil {
				fi.clusters = append(fi.clusters, u.GetCluster())
			}
		}
		c.jwtProviders(where, m)
		fi.requirements = make(map[string]bool, len(m.GetRequirementMap()))
		for n := range m.GetRequirementMap() {
			fi.requirements[n] = true
		}
	}
	if c.filterRefs == nil {
		c.filterRefs = map[string]*filterInfo{}
	}
	c.filterRefs[string(a.GetValue())] = fi
	return fi
}

func grpcCluster(where string, g *corev3.GrpcService, c *checker) []string {
	eg := g.GetEnvoyGrpc()
	if eg == nil {
		c.fail("%s: gRPC service must name a cluster (envoy_grpc)", where)
		return nil
	}
	return []string{eg.GetClusterName()}
}

// perFilter checks per-filter configs; up: they are an upgrade route's
// (upgradeinspect.go), whose processors are asked for headers only.
func (c *checker) perFilter(where, rc string, cfg map[string]*anypb.Any, up bool) {
	if len(cfg) == 0 {
		return
	}
	for _, k := range sortedKeys(cfg) {
		mt := c.anyOf(where+" typed_per_filter_config "+k, cfg[k], pointPerRoute)
		if mt != nil && mt.Descriptor().FullName() == localRateLimitType {
			c.localRateLimit(where+" typed_per_filter_config "+k, cfg[k])
		}
		if mt != nil && mt.Descriptor().FullName() == transcoderType {
			c.transcoderRoute(where+" typed_per_filter_config "+k, cfg[k])
		}
		if mt != nil && mt.Descriptor().FullName() == oauth2PerRouteType {
			c.oauth2PerRoute(where+" typed_per_filter_config "+k, cfg, cfg[k])
		}
		users := c.rdsFilters[rc]
		if len(users) == 0 {
			c.fail("%s: typed_per_filter_config %q: no connection manager uses this route config", where, k)
		}
		for i, names := range users {
			ft, ok := names[k]
			if !ok {
				c.fail("%s: typed_per_filter_config %q names no HTTP filter of its connection manager", where, k)
				break
			}
			if mt == nil || ft == "" {
				continue
			}
			pt := mt.Descriptor().FullName()
			if pt != filterConfigType && !perRouteOf[ft][pt] {
				c.fail("%s: typed_per_filter_config %q: %s is not a per-route config of %s", where, k, pt, ft)
				break
			}
			if pt == jwtPerRouteType {
				c.jwtRequirement(where, k, cfg[k], c.rdsJWTReqs[rc][i])
			}
			if p := c.processorFilters()[k]; p != nil && pt == extProcPerRouteType {
				c.processorPerRoute(p, where+" typed_per_filter_config "+k, cfg[k], up)
			}
		}
	}
}

// jwtRequirement checks that a per-route jwt_authn requirement_name is in
// the filter's requirement_map.
func (c *checker) jwtRequirement(where, filter string, a *anypb.Any, reqs map[string]map[string]bool) {
	name, ok := c.jwtRouteReqs[string(a.GetValue())]
	if !ok {
		pr := &jwtv3.PerRouteConfig{}
		if !c.unmarshal(where, a, pr) {
			return
		}
		name = pr.GetRequirementName()
		if c.jwtRouteReqs == nil {
			c.jwtRouteReqs = map[string]string{}
		}
		c.jwtRouteReqs[string(a.GetValue())] = name
	}
	if name != "" && !reqs[filter][name] {
		c.fail("%s: typed_per_filter_config %q: requirement %q is not in the filter's requirement_map", where, filter, name)
	}
}

func (c *checker) routeConfig(rc *routev3.RouteConfiguration) {
	name := rc.GetName()
	c.validateRouteConfig(rc)
	c.virtualHostDomains(rc)
	if err := checkDirectBodies(rc); err != nil {
		c.fail("route config %s: %v", name, err)
	}
	if !c.envoy {
		checkGRPCForwards(c, rc)
	}
	c.headerOps(func() string { return "route config " + name }, rc.GetRequestHeadersToAdd(), rc.GetRequestHeadersToRemove())
	c.headerOps(func() string { return "route config " + name }, rc.GetResponseHeadersToAdd(), rc.GetResponseHeadersToRemove())
	for _, vh := range rc.GetVirtualHosts() {
		at := func() string { return "route config " + name + " virtual host " + vh.GetName() }
		c.headerOps(at, vh.GetRequestHeadersToAdd(), vh.GetRequestHeadersToRemove())
		c.headerOps(at, vh.GetResponseHeadersToAdd(), vh.GetResponseHeadersToRemove())
	}
	if len(rc.GetTypedPerFilterConfig()) > 0 {
		c.perFilter("route config "+name, name, rc.GetTypedPerFilterConfig(), false)
	}
	// Locations are only spelled out on failure: this loop runs for every
	// route of every table.
	for _, vh := range rc.GetVirtualHosts() {
		if len(vh.GetTypedPerFilterConfig()) > 0 {
			c.perFilter("route config "+name+" virtual host "+vh.GetName(), name, vh.GetTypedPerFilterConfig(), false)
		}
		for _, r := range vh.GetRoutes() {
			at := func() string {
				return "route config " + name + " virtual host " + vh.GetName() + " route " + r.GetName()
			}
			up := upgradesHTTP(r) && upgradeMatchOnly(r.GetMatch())
			if len(r.GetTypedPerFilterConfig()) > 0 {
				c.perFilter(at(), name, r.GetTypedPerFilterConfig(), up)
			}
			c.cachedRoute(at, name, r)
			c.compressedRoute(at, name, r)
			c.cacheHeadersRoute(at, name, r)
			c.upgradeInspectRules(at, name, r)
			c.authzBodyRules(at, name, r)
			c.sharedCacheRoute(at, r)
			ra := r.GetRoute()
			if ra == nil {
				continue
			}
			if cl := ra.GetCluster(); cl != "" && !c.clusters[cl] {
				c.fail("%s: cluster %q does not exist", at(), cl)
			}
			for _, mp := range ra.GetRequestMirrorPolicies() {
				// A missing mirror cluster is not a load error (validate_
				// clusters is off) but silently drops every copy.
				if !c.clusters[mp.GetCluster()] {
					c.fail("%s: mirror cluster %q does not exist", at(), mp.GetCluster())
				}
			}
			for _, wc := range ra.GetWeightedClusters().GetClusters() {
				if !c.clusters[wc.GetName()] {
					c.fail("%s: weighted cluster %q does not exist", at(), wc.GetName())
				}
				if len(wc.GetTypedPerFilterConfig()) > 0 {
					c.perFilter(at()+" weighted cluster "+wc.GetName(), name, wc.GetTypedPerFilterConfig(), up)
				}
			}
		}
	}
}

func (c *checker) cluster(cl *clusterv3.Cluster) { c.clusterOwn(cl, nil, false) }

// clusterOwn is cluster; with encoded, the walk for unshipped elements
// reads enc, cl's deterministic encoding (walkEncoded: prechecks only).
func (c *checker) clusterOwn(cl *clusterv3.Cluster, enc []byte, encoded bool) {
	name := cl.GetName()
	c.validate("cluster", name, cl)
	if encoded {
		c.shippedEncoded("cluster "+name, cl, enc)
	} else {
		c.shipped("cluster "+name, cl)
	}
	c.clusterRules(cl)
	if ts := cl.GetTransportSocket(); ts != nil {
		if c.anyAt("cluster "+name, " transport socket", ts.GetTypedConfig(), pointUpstreamTransport) != nil {
			u := &tlsv3.UpstreamTlsContext{}
			if c.unmarshal("cluster "+name, ts.GetTypedConfig(), u) {
				c.tlsValidation("cluster "+name+" transport socket", u.GetCommonTlsContext())
			}
		}
	}
	for k, a := range cl.GetTypedExtensionProtocolOptions() {
		mt := c.anyAt("cluster "+name, " protocol options "+k, a, pointProtocolOptions)
		if mt != nil && string(mt.Descriptor().FullName()) != k {
			c.fail("cluster %s: protocol options key %q holds %s", name, k, mt.Descriptor().FullName())
		}
	}
	for _, p := range cl.GetLoadBalancingPolicy().GetPolicies() {
		c.anyAt("cluster "+name, " load balancing policy "+p.GetTypedExtensionConfig().GetName(), p.GetTypedExtensionConfig().GetTypedConfig(), pointLBPolicy)
	}
	for _, hc := range cl.GetHealthChecks() {
		if hc.GetTransportSocketMatchCriteria() != nil {
			c.fail("cluster %s: health check transport socket match is not supported", name)
		}
	}
}

func (c *checker) clusterEDS(cl *clusterv3.Cluster, clas map[string]*endpointv3.ClusterLoadAssignment) {
	if cl.GetType() != clusterv3.Cluster_EDS {
		return
	}
	name := cl.GetName()
	eds := cl.GetEdsClusterConfig()
	if eds.GetEdsConfig().GetAds() == nil {
		c.fail("cluster %s: EDS config source is not ADS", name)
	}
	sn := eds.GetServiceName()
	if sn == "" {
		c.fail("cluster %s: no EDS service name", name)
		return
	}
	if _, ok := c.g.EDS[sn]; !ok {
		c.fail("cluster %s: EDS name %q is not in the group's EDS map", name, sn)
	}
	if clas == nil {
		return
	}
	cla, ok := clas[sn]
	if !ok || cla == nil {
		c.fail("cluster %s: no ClusterLoadAssignment for EDS name %q", name, sn)
		return
	}
	if cla.GetClusterName() != sn {
		c.fail("cluster %s: ClusterLoadAssignment for %q is named %q", name, sn, cla.GetClusterName())
	}
	if err := checkCLA(cla); err != nil {
		c.fail("cluster %s: ClusterLoadAssignment %q: %w", name, sn, err)
	}
}

// checkCLA checks what Envoy's validation and grpc-go's EDS parsing require
// of the fields Endpoints sets, without ValidateAll's cost: it runs over
// every endpoint of every cluster on each endpoint change. Tests check that
// Endpoints' output also passes ValidateAll.
func checkCLA(cla *endpointv3.ClusterLoadAssignment) error {
	if cla.GetClusterName() == "" {
		return errors.New("empty cluster_name")
	}
	// Priorities must run from 0 without a gap (see Endpoints): Envoy
	// would leave the missing level empty, grpc-go NACKs the assignment.
	var prios uint64 // bit p set: priority p is used (Endpoints uses 0 and 1)
	for i, l := range cla.GetEndpoints() {
		p := l.GetPriority()
		if p >= 64 {
			return fmt.Errorf("locality %q: priority %d (at most 63)", l.GetLocality().GetZone(), p)
		}
		prios |= 1 << p
		if l.GetLocality() == nil {
			return fmt.Errorf("locality %d: no locality (grpc-go rejects it)", i)
		}
		if l.GetLoadBalancingWeight().GetValue() < 1 {
			return fmt.Errorf("locality %q: load_balancing_weight must be >= 1", l.GetLocality().GetZone())
		}
		for _, e := range l.GetLbEndpoints() {
			sa := e.GetEndpoint().GetAddress().GetSocketAddress()
			if sa.GetAddress() == "" {
				return fmt.Errorf("locality %q: endpoint without an address", l.GetLocality().GetZone())
			}
			// Envoy resolves EDS endpoints with its IP resolver, which
			// refuses a host name ("malformed IP address"; Envoy:
			// source/common/network/resolver_impl.cc): a DNS name needs a
			// STRICT_DNS cluster, not EDS.
			if !envoyIP(sa.GetAddress()) {
				return fmt.Errorf("locality %q: endpoint %q is not an IP address (Envoy's EDS takes IPs only)", l.GetLocality().GetZone(), sa.GetAddress())
			}
			if p := sa.GetPortValue(); p < 1 || p > 65535 {
				return fmt.Errorf("locality %q: endpoint %s: port %d out of range", l.GetLocality().GetZone(), sa.GetAddress(), p)
			}
			if w := e.GetLoadBalancingWeight(); w != nil && w.GetValue() < 1 {
				return fmt.Errorf("locality %q: endpoint %s:%d: load_balancing_weight must be >= 1", l.GetLocality().GetZone(), sa.GetAddress(), sa.GetPortValue())
			}
		}
	}
	if prios&(prios+1) != 0 { // not of the form 0...01...1
		return fmt.Errorf("priorities %b (bit p: priority p used) skip a level; they must run from 0 without a gap", prios)
	}
	return nil
}

// validateRouteConfig is rc.ValidateAll() with each shared Route validated
// once: the table and its virtual hosts are validated as shells holding
// every field but their routes, then each distinct Route on its own. That
// covers exactly what ValidateAll covers: a virtual host validates its
// routes one by one with no rule across them.
func (c *checker) validateRouteConfig(rc *routev3.RouteConfiguration) {
	shell := &routev3.RouteConfiguration{}
	copyExcept(rc.ProtoReflect(), shell.ProtoReflect(), "virtual_hosts")
	shell.VirtualHosts = make([]*routev3.VirtualHost, len(rc.GetVirtualHosts()))
	for i, vh := range rc.GetVirtualHosts() {
		vs := &routev3.VirtualHost{}
		copyExcept(vh.ProtoReflect(), vs.ProtoReflect(), "routes")
		shell.VirtualHosts[i] = vs
	}
	c.validate("route config", rc.GetName(), shell)
	c.shipped("route config "+rc.GetName(), shell)
	for _, vh := range rc.GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			if c.validRoutes[r] {
				continue
			}
			c.validRoutes[r] = true
			if c.ownRulesPassed(r) {
				continue
			}
			c.routeOwnRules(rc.GetName(), vh.GetName(), r)
			c.passedOwn = append(c.passedOwn, r)
		}
	}
}

// routeOwnRules runs the rules of one Route that depend on nothing but
// the Route and the client kind: ValidateAll, the walk for unshipped
// fields and the load-time rules. rc and vh name its place in errors.
func (c *checker) routeOwnRules(rc, vh string, r *routev3.Route) {
	c.routeOwn(rc, vh, r, nil, false)
}

// routeOwn is routeOwnRules; with encoded, the walk for unshipped elements
// reads enc, r's deterministic encoding (walkEncoded: prechecks only).
func (c *checker) routeOwn(rc, vh string, r *routev3.Route, enc []byte, encoded bool) {
	if err := r.ValidateAll(); err != nil {
		c.fail("route config %s virtual host %s route %s: invalid: %w", rc, vh, r.GetName(), err)
	}
	if encoded {
		c.shippedRouteEncoded(rc, vh, r, r.GetName(), enc)
	} else {
		c.shippedRoute(rc, vh, r)
	}
	c.atRoute = [3]string{rc, vh, r.GetName()}
	c.routeRules(c.routeAtFn, r)
}

// copyExcept sets every populated field of src but one on dst, sharing
// values (dst is a read-only view used for validation).
func copyExcept(src, dst protoreflect.Message, skip protoreflect.Name) {
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Name() != skip {
			dst.Set(fd, v)
		}
		return true
	})
}
