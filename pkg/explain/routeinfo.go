package explain

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// routeInfo describes the matched route: where it came from, where it
// sends the request and how.
func (e *explainer) routeInfo(res *Result, rt *routev3.Route, held []string, hr *httpRequest) (*RouteInfo, error) {
	info := &RouteInfo{Name: rt.GetName(), Conditions: held}
	res.Route = info
	// The translator names every Envoy route after its policy Route.
	if r := e.in.Policy.Routes[rt.GetName()]; r != nil {
		info.Policy = r.Meta.Ref()
		if r.Meta.File != "" {
			info.Source = fmt.Sprintf("%s:%d", r.Meta.File, r.Meta.Line)
		}
	}
	switch a := rt.GetAction().(type) {
	case *routev3.Route_Route:
		info.Action = "forward"
		e.target(info, a.Route)
		info.Timeout = timeoutOf(a.Route, e.req.Client)
		info.Retries = retriesOf(a.Route.GetRetryPolicy())
		rw, err := rewriteOf(rt, a.Route, hr, e.re)
		if err != nil {
			return nil, err
		}
		info.Rewrite = rw
	case *routev3.Route_NonForwardingAction:
		info.Action = "withheld: the route is kept so that its calls do not fall through to another route, " +
			"but it forwards nothing (grpc-go fails the call with UNAVAILABLE); it needs protections proxyless " +
			"clients cannot enforce (proxyless.serveUnprotected opts in)"
	case *routev3.Route_Redirect:
		info.Action = "redirect"
	case *routev3.Route_DirectResponse:
		info.Action = fmt.Sprintf("direct response %d", a.DirectResponse.GetStatus())
	default:
		info.Action = fmt.Sprintf("%T (not modelled)", a)
	}
	return info, nil
}

// target lists the clusters of a route action with their weights, and the
// Service each carries (a Service cluster asks EDS for a name the group
// maps to its Service).
func (e *explainer) target(info *RouteInfo, ra *routev3.RouteAction) {
	var ws []*routev3.WeightedCluster_ClusterWeight
	switch c := ra.GetClusterSpecifier().(type) {
	case *routev3.RouteAction_Cluster:
		ws = []*routev3.WeightedCluster_ClusterWeight{{Name: c.Cluster}}
	case *routev3.RouteAction_WeightedClusters:
		ws = c.WeightedClusters.GetClusters()
	}
	total := uint32(0)
	for _, w := range ws {
		total += w.GetWeight().GetValue()
	}
	for _, w := range ws {
		b := Backend{Cluster: w.GetName(), Weight: w.GetWeight().GetValue(), Share: 100}
		if len(ws) > 1 {
			b.Share = 0
			if total > 0 {
				b.Share = float64(b.Weight) * 100 / float64(total)
			}
		}
		if len(ws) == 1 {
			b.Weight = 1
		}
		b.Service = e.serviceOf(w.GetName())
		if eps, ok := e.in.Endpoints[b.Service]; ok && b.Service != "" {
			n := len(eps)
			b.Endpoints = &n
		}
		info.Backends = append(info.Backends, b)
	}
}

func (e *explainer) serviceOf(cluster string) string {
	for _, r := range e.group.Clusters {
		c := r.(*clusterv3.Cluster)
		if c.GetName() == cluster {
			return e.group.EDS[c.GetEdsClusterConfig().GetServiceName()]
		}
	}
	return ""
}

// timeoutOf says how long the proxy waits for the upstream. Envoy: an
// unset route timeout is 15s, 0 is none; max_stream_duration's
// grpc_timeout_header_max lets the client's grpc-timeout decide (0: as
// sent) (Envoy: source/common/router/router.cc, FilterUtility::finalTimeout).
// grpc-go reads max_stream_duration only.
func timeoutOf(ra *routev3.RouteAction, kind translate.ClientKind) string {
	msd := ra.GetMaxStreamDuration()
	if kind == translate.ClientGRPC {
		if d := msd.GetMaxStreamDuration(); d != nil {
			return "max stream duration " + dur(d)
		}
		return "none (the caller's deadline)"
	}
	var s string
	switch t := ra.GetTimeout(); {
	case t == nil:
		s = "15s (Envoy's default)"
	case t.AsDuration() == 0:
		s = "none"
	default:
		s = dur(t)
	}
	if h := msd.GetGrpcTimeoutHeaderMax(); h != nil {
		if h.AsDuration() == 0 {
			s += "; a grpc-timeout header is honoured as sent"
		} else {
			s += "; a grpc-timeout header is honoured up to " + dur(h)
		}
	}
	return s
}

func dur(d *durationpb.Duration) string { return d.AsDuration().Round(time.Millisecond).String() }

func retriesOf(rp *routev3.RetryPolicy) string {
	if rp == nil {
		return ""
	}
	n := uint32(1) // Envoy's default num_retries
	if rp.GetNumRetries() != nil {
		n = rp.GetNumRetries().GetValue()
	}
	s := fmt.Sprintf("up to %d on %s", n, rp.GetRetryOn())
	if rp.GetPerTryTimeout() != nil {
		s += ", " + dur(rp.GetPerTryTimeout()) + " per try"
	}
	return s
}

// rewriteOf says what the upstream receives as path and host (Envoy:
// source/common/router/config_impl.cc,
// currentUrlPathAfterRewriteWithMatchedPath: a prefix rewrite replaces the
// matched prefix, a regex rewrite the whole path before the query).
func rewriteOf(rt *routev3.Route, ra *routev3.RouteAction, hr *httpRequest, re regexes) (string, error) {
	var parts []string
	path := hr.path()
	just := withoutQuery(path)
	rest := path[len(just):]
	switch {
	case ra.GetPrefixRewrite() != "":
		matched := rt.GetMatch().GetPrefix()
		if matched == "" {
			matched = rt.GetMatch().GetPathSeparatedPrefix()
		}
		if matched == "" { // exact path or regex: the whole path
			matched = just
		}
		parts = append(parts, fmt.Sprintf("path %s -> %s", path, ra.GetPrefixRewrite()+just[len(matched):]+rest))
	case ra.GetRegexRewrite() != nil:
		rr := ra.GetRegexRewrite()
		if _, err := re.full(rr.GetPattern().GetRegex(), ""); err != nil {
			return "", err
		}
		p, err := regexp.Compile(rr.GetPattern().GetRegex())
		if err != nil {
			return "", fmt.Errorf("regex rewrite %q: %w", rr.GetPattern().GetRegex(), err)
		}
		parts = append(parts, fmt.Sprintf("path %s -> %s", path, p.ReplaceAllString(just, re2Substitution(rr.GetSubstitution()))+rest))
	}
	if h := ra.GetHostRewriteLiteral(); h != "" {
		parts = append(parts, "host -> "+h)
	}
	return strings.Join(parts, "; "), nil
}

// re2Substitution turns RE2's \N group references (RE2::GlobalReplace,
// which Envoy's regex_rewrite uses) into Go's ${N}; "\\" is a backslash.
func re2Substitution(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if c := s[i+1]; c >= '0' && c <= '9' {
				b.WriteString("${" + string(c) + "}")
				i++
				continue
			} else if c == '\\' {
				b.WriteByte('\\')
				i++
				continue
			}
		}
		if s[i] == '$' {
			b.WriteString("$$")
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
