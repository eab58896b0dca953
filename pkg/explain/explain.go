package explain

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Inputs are what an explanation reads: the policy snapshot, the groups
// Translate built from it and, optionally, the endpoints of the Services.
type Inputs struct {
	Policy    *policy.Snapshot
	Groups    map[translate.GroupKey]*translate.Group
	Endpoints registry.Snapshot // may be nil: endpoint counts are then left out
}

// Result is an explanation. Route is nil when no route matched; NoMatch
// then says why and what would have to change.
type Result struct {
	Request Request `json:"request"` // with defaults applied
	// Listener and FilterChain: where the request arrives (for gRPC, the
	// api_listener named by the host); RouteConfig: the route table read.
	Listener    string `json:"listener,omitempty"`
	FilterChain string `json:"filter_chain,omitempty"`
	RouteConfig string `json:"route_config,omitempty"`
	// Authority and Path are the host and path as the route table sees
	// them, after the connection manager's normalization.
	Authority string `json:"authority,omitempty"`
	Path      string `json:"path,omitempty"`
	// Notes are things the reader should know that are not a route
	// decision (a normalized path, a redirect, other listeners tried).
	Notes             []string `json:"notes,omitempty"`
	VirtualHost       string   `json:"virtual_host,omitempty"`
	VirtualHostReason string   `json:"virtual_host_reason,omitempty"`
	// Considered lists, in the order Envoy tries them, the routes before
	// the one that matched with why each was skipped, then the match.
	Considered []Considered `json:"considered,omitempty"`
	Route      *RouteInfo   `json:"route,omitempty"`
	NoMatch    string       `json:"no_match,omitempty"`
}

// Considered is one route Envoy tried.
type Considered struct {
	Route   string `json:"route"`
	Matched bool   `json:"matched"`
	// PathMatched: the route's path matched; another condition did not.
	PathMatched bool   `json:"path_matched,omitempty"`
	Reason      string `json:"reason"`
}

// RouteInfo is the route a request takes and what happens on it.
type RouteInfo struct {
	Name string `json:"name"` // the Envoy route name: the policy Route's name
	// Policy is the Route object it was translated from ("Route/x",
	// file:line), or "" if the snapshot has no such Route.
	Policy     string   `json:"policy,omitempty"`
	Source     string   `json:"source,omitempty"`
	Conditions []string `json:"conditions"` // the match conditions that held
	// Action: "forward", or what the route does instead ("withheld: ...").
	Action   string    `json:"action"`
	Backends []Backend `json:"backends,omitempty"`
	Timeout  string    `json:"timeout,omitempty"`
	Retries  string    `json:"retries,omitempty"`
	Rewrite  string    `json:"rewrite,omitempty"`
	// Filters is the HTTP filter chain, in order, with what each does on
	// this route.
	Filters         []FilterStep     `json:"filters,omitempty"`
	Authentication  *Authentication  `json:"authentication,omitempty"`
	Authorization   *Authorization   `json:"authorization,omitempty"`
	RateLimits      []RateLimitCall  `json:"rate_limits,omitempty"`
	LocalRateLimits []LocalRateLimit `json:"local_rate_limits,omitempty"`
	// Transcoding: the gRPC method a REST request maps to (transcoder.go).
	Transcoding *Transcoding `json:"transcoding,omitempty"`
	// Firewall, Validation and Transformation: what gatehouse's external
	// processing services do on this route (extproc.go); nil where the
	// route does not run them.
	Firewall       *FirewallInfo       `json:"firewall,omitempty"`
	Validation     *ValidationInfo     `json:"validation,omitempty"`
	Transformation *TransformationInfo `json:"transformation,omitempty"`
}

// Backend is one cluster a route sends to.
type Backend struct {
	Cluster string `json:"cluster"`
	Service string `json:"service,omitempty"`
	Weight  uint32 `json:"weight"`
	// Share is the fraction of requests, in percent, of the route's total
	// weight.
	Share     float64 `json:"share"`
	Endpoints *int    `json:"endpoints,omitempty"`
}

// FilterStep is one HTTP filter and what it does for this request.
type FilterStep struct {
	Filter string `json:"filter"`
	Effect string `json:"effect"`
}

// Explain works out what gateway req.Gateway's proxies (of kind req.Client)
// do with req, from the translated groups. It returns an error for a
// request no client could send or a Gateway that has no such group; a
// request that matches no route is a Result with NoMatch set.
func Explain(in Inputs, req Request) (*Result, error) {
	req, err := checkRequest(req)
	if err != nil {
		return nil, err
	}
	g := in.Groups[translate.GroupKey{Gateway: req.Gateway, Client: req.Client}]
	if g == nil {
		var names []string
		for k := range in.Groups {
			if k.Client == translate.ClientEnvoy {
				names = append(names, k.Gateway)
			}
		}
		sort.Strings(names)
		return nil, fmt.Errorf("gateway %q: no such Gateway was translated (Gateways: %s)", req.Gateway, strings.Join(names, ", "))
	}
	e := &explainer{in: in, req: req, group: g, re: regexes{}}
	explain := e.envoy
	if req.Client == translate.ClientGRPC {
		explain = e.grpc
	}
	res, err := explain()
	if err == nil && req.Consumer != "" && in.Policy.Consumers[req.Consumer] == nil {
		res.Notes = append(res.Notes, fmt.Sprintf("Consumer %s is not in the policy: the authz service would not identify it; its name is used as given", req.Consumer))
	}
	return res, err
}

type explainer struct {
	in    Inputs
	req   Request
	group *translate.Group
	re    regexes
}

func (e *explainer) routeConfig(name string) *routev3.RouteConfiguration {
	for _, r := range e.group.Routes {
		if rc := r.(*routev3.RouteConfiguration); rc.GetName() == name {
			return rc
		}
	}
	return nil
}

// envoyListener is one listener of an Envoy group with its port.
type envoyListener struct {
	l    *listenerv3.Listener
	port int
}

func (e *explainer) envoy() (*Result, error) {
	var ls []envoyListener
	for _, r := range e.group.Listeners {
		l := r.(*listenerv3.Listener)
		ls = append(ls, envoyListener{l, int(l.GetAddress().GetSocketAddress().GetPortValue())})
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].port < ls[j].port })
	_, port := hostPort(e.req.Host)
	if port != 0 {
		for _, l := range ls {
			if l.port == port {
				return e.onListener(l)
			}
		}
		return &Result{Request: e.req, NoMatch: fmt.Sprintf("Gateway %s has no listener on port %d (its ports: %s): use one of them in --host, or add a listener",
			e.req.Gateway, port, ports(ls))}, nil
	}
	// No port in the Host header: try each listener, in port order, and
	// take the first where a route matches.
	var first *Result
	for _, l := range ls {
		res, err := e.onListener(l)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = res
		}
		if res.Route != nil {
			if len(ls) > 1 {
				res.Notes = append(res.Notes, fmt.Sprintf("the host names no port: listeners tried in port order (%s); add :PORT to --host to choose", ports(ls)))
			}
			return res, nil
		}
	}
	if first == nil {
		return &Result{Request: e.req, NoMatch: fmt.Sprintf("Gateway %s has no listeners", e.req.Gateway)}, nil
	}
	if len(ls) > 1 {
		first.Notes = append(first.Notes, fmt.Sprintf("no listener's routes match (ports tried: %s); shown: the first", ports(ls)))
	}
	return first, nil
}

func ports(ls []envoyListener) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = strconv.Itoa(l.port)
	}
	return strings.Join(s, ", ")
}

// onListener explains the request arriving on one listener.
func (e *explainer) onListener(l envoyListener) (*Result, error) {
	res := &Result{Request: e.req, Listener: l.l.GetName()}
	name, _ := hostPort(e.req.Host)
	fc := selectFilterChain(l.l, strings.TrimSuffix(strings.ToLower(name), "."))
	if fc == nil {
		res.NoMatch = fmt.Sprintf("no filter chain of %s accepts server name %q: Envoy closes the connection (the listener's TLS hostnames must cover the host)", l.l.GetName(), name)
		return res, nil
	}
	res.FilterChain = fc.GetName()
	hcm, err := connectionManager(fc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.l.GetName(), err)
	}
	rc := e.routeConfig(hcm.GetRds().GetRouteConfigName())
	if rc == nil {
		return nil, fmt.Errorf("%s: route configuration %q is not in the group", l.l.GetName(), hcm.GetRds().GetRouteConfigName())
	}
	res.RouteConfig = rc.GetName()
	res.Authority = normalizeHost(e.req.Host, l.port, hcm)
	path, redirect, reject := normalizePath(e.req.fullPath(), hcm)
	if reject {
		res.NoMatch = "Envoy rejects the path with 400 (escaped slashes are refused on this listener)"
		return res, nil
	}
	res.Path = path
	if redirect {
		res.Notes = append(res.Notes, fmt.Sprintf("Envoy first redirects the client to %s (escaped slashes decoded); explained as the request that follows", withoutQuery(path)))
	} else if path != e.req.fullPath() {
		res.Notes = append(res.Notes, "Envoy normalizes the path before routing: "+withoutQuery(path))
	}
	hr := &httpRequest{headers: map[string][]string{
		":authority": {res.Authority},
		":path":      {path},
		":method":    {e.req.Method},
	}}
	addHeaders(hr, e.req.Headers)
	rt, vh, held, err := e.matchTable(res, rc, hr)
	if err != nil || rt == nil {
		return res, err
	}
	info, err := e.routeInfo(res, rt, held, hr)
	if err != nil {
		return nil, err
	}
	if err := e.filters(info, hcm, rc, vh, rt, hr); err != nil {
		return nil, fmt.Errorf("route %s: %w", rt.GetName(), err)
	}
	return res, nil
}

func addHeaders(hr *httpRequest, hs []KV) {
	for _, h := range hs {
		n := strings.ToLower(h.Name)
		hr.headers[n] = append(hr.headers[n], h.Value)
	}
}

// selectFilterChain picks the filter chain a connection for server name sni
// takes, as Envoy's filter chain manager does for the matches the
// translator emits (server_names only; Envoy: source/common/listener_manager/
// filter_chain_manager_impl.cc, findFilterChainForServerName): an exact
// server name, then the longest "*.suffix" one, then a chain without
// server names. A plain-HTTP client sends no SNI; with no TLS the
// listener has one chain without a match.
func selectFilterChain(l *listenerv3.Listener, sni string) *listenerv3.FilterChain {
	var best, fallback *listenerv3.FilterChain
	bestLen := -1
	for _, fc := range l.GetFilterChains() {
		names := fc.GetFilterChainMatch().GetServerNames()
		if len(names) == 0 {
			if fallback == nil {
				fallback = fc
			}
			continue
		}
		for _, n := range names {
			n = strings.ToLower(n)
			switch {
			case n == sni:
				return fc
			case strings.HasPrefix(n, "*.") && strings.HasSuffix(sni, n[1:]) && len(n) > bestLen:
				best, bestLen = fc, len(n)
			}
		}
	}
	if best != nil {
		return best
	}
	if fallback == nil {
		fallback = l.GetDefaultFilterChain()
	}
	return fallback
}

// connectionManager unpacks a filter chain's HTTP connection manager.
func connectionManager(fc *listenerv3.FilterChain) (*hcmv3.HttpConnectionManager, error) {
	for _, f := range fc.GetFilters() {
		if f.GetName() != "envoy.filters.network.http_connection_manager" {
			continue
		}
		h := &hcmv3.HttpConnectionManager{}
		if err := f.GetTypedConfig().UnmarshalTo(h); err != nil {
			return nil, fmt.Errorf("filter chain %s: connection manager: %w", fc.GetName(), err)
		}
		return h, nil
	}
	return nil, fmt.Errorf("filter chain %s has no HTTP connection manager", fc.GetName())
}

// matchTable picks the virtual host and walks its routes in order: Envoy
// takes the first route whose match holds (Envoy: source/common/router/
// config_impl.cc, VirtualHostImpl::getRouteFromRoutes). It returns the
// route taken, its virtual host and the conditions that held.
func (e *explainer) matchTable(res *Result, rc *routev3.RouteConfiguration, hr *httpRequest) (*routev3.Route, *routev3.VirtualHost, []string, error) {
	host, _ := hr.header(":authority")
	if e.req.Client == translate.ClientGRPC {
		host = e.req.Host
	}
	choice := selectVirtualHost(rc, host)
	if choice.vh == nil {
		var ds []string
		for _, vh := range rc.GetVirtualHosts() {
			ds = append(ds, vh.GetDomains()...)
		}
		res.NoMatch = fmt.Sprintf("%s: Envoy answers 404. Route hosts served here: %s; add %q to a Route's hosts (or use one of these)",
			choice.why, strings.Join(ds, ", "), host)
		if e.req.Client == translate.ClientGRPC {
			res.NoMatch = fmt.Sprintf("%s: grpc-go fails the call. Hosts: %s", choice.why, strings.Join(ds, ", "))
		}
		return nil, nil, nil, nil
	}
	res.VirtualHost, res.VirtualHostReason = choice.vh.GetName(), choice.why
	for _, rt := range choice.vh.GetRoutes() {
		held, fail, err := routeMatch(rt.GetMatch(), hr, e.re)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("virtual host %s, route %s: %w", choice.vh.GetName(), rt.GetName(), err)
		}
		if fail != "" {
			res.Considered = append(res.Considered, Considered{Route: rt.GetName(), PathMatched: len(held) > 0, Reason: fail})
			continue
		}
		res.Considered = append(res.Considered, Considered{Route: rt.GetName(), Matched: true, Reason: strings.Join(held, "; ")})
		return rt, choice.vh, held, nil
	}
	res.NoMatch = e.noMatch(res, choice.vh)
	return nil, nil, nil, nil
}

// noMatch says what would have to change for a request no route of vh
// takes: the first route whose path matched and the condition that failed,
// or, when no path matched, a Route for this path.
func (e *explainer) noMatch(res *Result, vh *routev3.VirtualHost) string {
	outcome := "Envoy answers 404 (a gRPC client sees UNIMPLEMENTED)"
	if e.req.Client == translate.ClientGRPC {
		outcome = "grpc-go fails the call with UNAVAILABLE"
	}
	if len(vh.GetRoutes()) == 0 {
		return fmt.Sprintf("virtual host %s has no routes: %s", vh.GetName(), outcome)
	}
	for _, c := range res.Considered {
		if c.PathMatched {
			return fmt.Sprintf("no route of virtual host %s matches: %s. Closest: route %s, whose path matches but %s: "+
				"change the request to meet it, or add a Route for host %s and this path",
				vh.GetName(), outcome, c.Route, c.Reason, vh.GetName())
		}
	}
	return fmt.Sprintf("no route of virtual host %s matches: %s. No route's path matches %s: use a path a route serves "+
		"(each skipped route says what it wants), or add a Route for host %s and this path",
		vh.GetName(), outcome, withoutQuery(res.Path), vh.GetName())
}

// grpc explains a proxyless gRPC call: the client dials xds:///HOST, which
// names an api_listener; its route table is matched by grpc-go.
func (e *explainer) grpc() (*Result, error) {
	res := &Result{Request: e.req, Authority: e.req.Host, Path: e.req.fullPath()}
	var hosts []string
	var lis *listenerv3.Listener
	for _, r := range e.group.Listeners {
		l := r.(*listenerv3.Listener)
		hosts = append(hosts, l.GetName())
		if l.GetName() == e.req.Host {
			lis = l
		}
	}
	if lis == nil {
		res.NoMatch = fmt.Sprintf("proxyless gRPC clients of Gateway %s can dial: %s; xds:///%s resolves to nothing (a Route's exact hosts become dialable names)",
			e.req.Gateway, strings.Join(hosts, ", "), e.req.Host)
		return res, nil
	}
	res.Listener = lis.GetName()
	hcm := &hcmv3.HttpConnectionManager{}
	if err := lis.GetApiListener().GetApiListener().UnmarshalTo(hcm); err != nil {
		return nil, fmt.Errorf("api_listener %s: %w", lis.GetName(), err)
	}
	rc := e.routeConfig(hcm.GetRds().GetRouteConfigName())
	if rc == nil {
		return nil, fmt.Errorf("api_listener %s: route configuration %q is not in the group", lis.GetName(), hcm.GetRds().GetRouteConfigName())
	}
	res.RouteConfig = rc.GetName()
	hr := &httpRequest{grpc: true, headers: map[string][]string{
		":path":        {e.req.fullPath()},
		"content-type": {"application/grpc"},
	}}
	addHeaders(hr, e.req.Headers)
	rt, _, held, err := e.matchTable(res, rc, hr)
	if err != nil || rt == nil {
		return res, err
	}
	info, err := e.routeInfo(res, rt, held, hr)
	if err != nil {
		return nil, err
	}
	info.Filters = []FilterStep{{Filter: "(none)", Effect: "proxyless gRPC clients run no HTTP filters from gatehouse: no authentication, authorization or rate limits are enforced on the client"}}
	return res, nil
}
