package explain

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// goldenDir holds the translator's golden cases; its TestGolden holds the
// translation of testdata/in/<case> equal to testdata/out/<case>, so
// translating the inputs here walks exactly the golden outputs.
var goldenDir = filepath.Join("..", "..", "xds", "translate", "testdata", "in")

// hideFS hides the registry fixture (endpoints.yaml) from the policy
// loader, as the translator's golden test does.
type hideFS struct{ fs.FS }

func (h hideFS) ReadDir(name string) ([]fs.DirEntry, error) {
	es, err := fs.ReadDir(h.FS, name)
	if name != "." {
		return es, err
	}
	out := es[:0:0]
	for _, e := range es {
		if e.Name() != "endpoints.yaml" {
			out = append(out, e)
		}
	}
	return out, err
}

func goldenCases(t *testing.T) map[string]Inputs {
	t.Helper()
	dirs, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Inputs{}
	for _, d := range dirs {
		snap := policy.Load(hideFS{os.DirFS(filepath.Join(goldenDir, d.Name()))}, nil)
		if errs := snap.Errors(); len(errs) > 0 {
			t.Fatalf("%s: %s", d.Name(), strings.Join(errs, "\n"))
		}
		groups, err := translate.Translate(snap, translate.Options{})
		if err != nil {
			t.Fatalf("%s: %v", d.Name(), err)
		}
		out[d.Name()] = Inputs{Policy: snap, Groups: groups}
	}
	if len(out) == 0 {
		t.Fatal("no golden cases")
	}
	return out
}

// TestEveryGoldenRouteIsExplained walks every route of every virtual host
// of every golden output (Envoy and proxyless groups), synthesizes a
// request from the route's matcher, and asserts that explain picks that
// route, or an earlier route of the same virtual host that shadows it. A
// shadow is confirmed by removing it from the table and explaining again,
// until the route itself is reached: so every answer is either the route
// or a route that really comes first in Envoy's order and really matches.
func TestEveryGoldenRouteIsExplained(t *testing.T) {
	routes, shadowed, deadOnGRPC := 0, 0, 0
	for name, in := range goldenCases(t) {
		for key, g := range in.Groups {
			for _, r := range g.Routes {
				rc := r.(*routev3.RouteConfiguration)
				for _, vh := range rc.GetVirtualHosts() {
					for i, rt := range vh.GetRoutes() {
						if rt.GetMatch().GetConnectMatcher() != nil {
							// A CONNECT tunnel: explain takes requests with a
							// path, which never match it (TestExplainSkipsTunnels).
							continue
						}
						routes++
						label := name + "/" + key.String() + "/" + rc.GetName() + "/" + vh.GetName() + "/" + rt.GetName()
						req, ok := synthesize(t, key, g, rc, vh, rt)
						if !ok {
							t.Errorf("%s: no listener serves route table %s", label, rc.GetName())
							continue
						}
						if key.Client == translate.ClientGRPC && hasMethodMatcher(rt) {
							// grpc-go matches metadata, which has no :method:
							// such a route never matches a proxyless call.
							deadOnGRPC++
							assertNeverMatches(t, label, in, req, rt.GetName())
							continue
						}
						n := explainUntil(t, label, in, key, rc, vh, i, req)
						if n > 0 {
							shadowed++
						}
					}
				}
			}
		}
	}
	t.Logf("%d routes explained, %d of them shadowed by an earlier route, %d proxyless routes with a method that grpc-go never matches", routes, shadowed, deadOnGRPC)
	if routes < 30 {
		t.Fatalf("only %d routes in the golden outputs: is the walk broken?", routes)
	}
}

func hasMethodMatcher(rt *routev3.Route) bool {
	for _, h := range rt.GetMatch().GetHeaders() {
		if h.GetName() == ":method" {
			return true
		}
	}
	return false
}

// assertNeverMatches checks that explain skips the route, saying that a
// proxyless call carries no method to match.
func assertNeverMatches(t *testing.T, label string, in Inputs, req Request, route string) {
	t.Helper()
	res, err := Explain(in, req)
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	for _, c := range res.Considered {
		if c.Route == route {
			if c.Matched || !strings.Contains(c.Reason, "not part of a proxyless gRPC call's metadata") {
				t.Errorf("%s: considered %+v, want skipped for its method", label, c)
			}
			return
		}
	}
	t.Errorf("%s: route %s not considered: %+v", label, route, res.Considered)
}

// explainUntil explains req and, while the answer is an earlier route,
// checks that it is earlier, removes it from a copy of the table and asks
// again. It returns the number of shadowing routes removed.
func explainUntil(t *testing.T, label string, in Inputs, key translate.GroupKey, rc *routev3.RouteConfiguration, vh *routev3.VirtualHost, target int, req Request) int {
	t.Helper()
	want := vh.GetRoutes()[target].GetName()
	removed := 0
	for {
		res, err := Explain(in, req)
		if err != nil {
			t.Errorf("%s: Explain(%+v): %v", label, req, err)
			return removed
		}
		if res.Route == nil {
			t.Errorf("%s: request %+v matched nothing: %s; considered %+v", label, req, res.NoMatch, res.Considered)
			return removed
		}
		if res.VirtualHost != vh.GetName() {
			t.Errorf("%s: request %+v chose virtual host %s (%s)", label, req, res.VirtualHost, res.VirtualHostReason)
			return removed
		}
		if res.Route.Name == want {
			return removed
		}
		// An earlier route: find it and drop it from a copy of the table.
		at := -1
		for j, rt := range vh.GetRoutes()[:target] {
			if rt.GetName() == res.Route.Name {
				at = j
			}
		}
		if at < 0 {
			t.Errorf("%s: request %+v explained as %s, which is not before the route in its virtual host", label, req, res.Route.Name)
			return removed
		}
		// Confirm the shadow independently of explain's matching: the
		// policy Route it came from accepts the request too.
		if r := in.Policy.Routes[res.Route.Name]; r == nil || !policyAccepts(t, r, req, key.Client) {
			t.Errorf("%s: request %+v explained as %s, whose policy match does not accept it", label, req, res.Route.Name)
			return removed
		}
		vh = proto.Clone(vh).(*routev3.VirtualHost)
		vh.Routes = append(vh.Routes[:at], vh.Routes[at+1:]...)
		target--
		rc = withVirtualHost(rc, vh)
		in = withRouteConfig(in, key, rc)
		removed++
		t.Logf("%s: shadowed by %s", label, res.Route.Name)
	}
}

// policyAccepts evaluates a policy Route's match on req from
// POLICY-MODEL.md's meaning of each field, without Envoy resources: the
// test's independent oracle for shadowing. Proxyless groups drop query
// conditions from withheld routes, so they are not checked for gRPC.
func policyAccepts(t *testing.T, r *policy.Route, req Request, kind translate.ClientKind) bool {
	m := r.Spec.Match
	full := req.fullPath()
	path := withoutQuery(full)
	re := func(p, s string) bool { return regexp.MustCompile("^(?:" + p + ")$").MatchString(s) }
	switch pm := m.Path; {
	case pm.Exact != "":
		if path != pm.Exact {
			return false
		}
	case pm.Regex != "":
		if !re(pm.Regex, path) {
			return false
		}
	case pm.Prefix == "" || pm.Prefix == "/":
	case pm.Segments:
		if path != pm.Prefix && !strings.HasPrefix(path, pm.Prefix+"/") {
			return false
		}
	default:
		if !strings.HasPrefix(path, pm.Prefix) {
			return false
		}
	}
	method := req.Method
	if method == "" {
		method = "GET"
	}
	if len(m.Methods) > 0 && !slices.Contains(m.Methods, method) {
		return false
	}
	cond := func(c policy.HeaderMatch, v string, ok bool) bool {
		switch {
		case c.Present:
			return ok
		case !ok:
			return false
		case c.Prefix != "":
			return strings.HasPrefix(v, c.Prefix)
		case c.Regex != "":
			return re(c.Regex, v)
		}
		return v == c.Exact
	}
	for _, h := range m.Headers {
		var vs []string
		for _, kv := range req.Headers {
			if strings.EqualFold(kv.Name, h.Name) {
				vs = append(vs, kv.Value)
			}
		}
		if !cond(h, strings.Join(vs, ","), len(vs) > 0) {
			return false
		}
	}
	if kind == translate.ClientGRPC {
		return true
	}
	for _, q := range m.Query {
		v, ok := parseQuery(full)[q.Name]
		if !cond(q, v, ok) {
			return false
		}
	}
	return true
}

func withVirtualHost(rc *routev3.RouteConfiguration, vh *routev3.VirtualHost) *routev3.RouteConfiguration {
	c := proto.Clone(rc).(*routev3.RouteConfiguration)
	for i, v := range c.VirtualHosts {
		if v.GetName() == vh.GetName() {
			c.VirtualHosts[i] = vh
		}
	}
	return c
}

func withRouteConfig(in Inputs, key translate.GroupKey, rc *routev3.RouteConfiguration) Inputs {
	g := *in.Groups[key]
	g.Routes = append(g.Routes[:0:0], g.Routes...)
	for i, r := range g.Routes {
		if r.(*routev3.RouteConfiguration).GetName() == rc.GetName() {
			g.Routes[i] = rc
		}
	}
	groups := make(map[translate.GroupKey]*translate.Group, len(in.Groups))
	for k, v := range in.Groups {
		groups[k] = v
	}
	groups[key] = &g
	in.Groups = groups
	return in
}

// synthesize builds a request that route rt's matcher accepts, arriving
// where the route table rc is served: a host of virtual host vh, the port
// of the listener whose connection manager names rc.
func synthesize(t *testing.T, key translate.GroupKey, g *translate.Group, rc *routev3.RouteConfiguration, vh *routev3.VirtualHost, rt *routev3.Route) (Request, bool) {
	t.Helper()
	req := Request{Gateway: key.Gateway, Client: key.Client}
	host := vh.GetDomains()[0]
	switch {
	case host == "*":
		host = "unlisted.explain.invalid"
	case strings.HasPrefix(host, "*"):
		host = "x" + host[1:]
	case strings.HasSuffix(host, "*"):
		host += "x"
	}
	found := false
	for _, r := range g.Listeners {
		l := r.(*listenerv3.Listener)
		if key.Client == translate.ClientGRPC {
			if l.GetName() == vh.GetName() {
				req.Host, found = l.GetName(), true
			}
			continue
		}
		for _, fc := range l.GetFilterChains() {
			h, err := connectionManager(fc)
			if err != nil {
				t.Fatal(err)
			}
			if h.GetRds().GetRouteConfigName() == rc.GetName() && !found {
				found = true
				req.Host = host + ":" + itoa(int(l.GetAddress().GetSocketAddress().GetPortValue()))
			}
		}
	}
	m := rt.GetMatch()
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		req.Path = ps.Prefix
		if !strings.HasSuffix(ps.Prefix, "/") {
			req.Path += "/x"
		} else {
			req.Path += "x"
		}
	case *routev3.RouteMatch_Path:
		req.Path = ps.Path
	case *routev3.RouteMatch_PathSeparatedPrefix:
		req.Path = ps.PathSeparatedPrefix + "/x"
	case *routev3.RouteMatch_SafeRegex:
		req.Path = sample(t, ps.SafeRegex.GetRegex())
	}
	for _, h := range m.GetHeaders() {
		v, present := headerSample(t, h)
		switch {
		case !present:
		case h.GetName() == ":method":
			req.Method = v
		default:
			req.Headers = append(req.Headers, KV{Name: h.GetName(), Value: v})
		}
	}
	for _, q := range m.GetQueryParameters() {
		switch s := q.GetQueryParameterMatchSpecifier().(type) {
		case *routev3.QueryParameterMatcher_PresentMatch:
			if s.PresentMatch {
				req.Query = append(req.Query, KV{Name: q.GetName(), Value: "1"})
			}
		case *routev3.QueryParameterMatcher_StringMatch:
			req.Query = append(req.Query, KV{Name: q.GetName(), Value: stringSample(t, s.StringMatch)})
		}
	}
	return req, found
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// headerSample is a value the header matcher accepts, or present false
// when it wants the header absent.
func headerSample(t *testing.T, h *routev3.HeaderMatcher) (string, bool) {
	var v string
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_PresentMatch:
		if s.PresentMatch == h.GetInvertMatch() {
			return "", false
		}
		return "1", true
	case *routev3.HeaderMatcher_StringMatch:
		v = stringSample(t, s.StringMatch)
	default:
		t.Fatalf("header matcher %v: teach synthesize", h)
	}
	if h.GetInvertMatch() {
		return v + "-not-" + v, true
	}
	return v, true
}

func stringSample(t *testing.T, m *matcherv3.StringMatcher) string {
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return p.Exact
	case *matcherv3.StringMatcher_Prefix:
		return p.Prefix + "x"
	case *matcherv3.StringMatcher_Suffix:
		return "x" + p.Suffix
	case *matcherv3.StringMatcher_Contains:
		return "x" + p.Contains + "x"
	case *matcherv3.StringMatcher_SafeRegex:
		return sample(t, p.SafeRegex.GetRegex())
	}
	t.Fatalf("string matcher %v: teach synthesize", m)
	return ""
}

// sample returns a string the RE2 pattern fully matches: the first branch
// of each alternation, the low end of each class, the minimum repetition.
func sample(t *testing.T, pattern string) string {
	t.Helper()
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		t.Fatalf("regex %q: %v", pattern, err)
	}
	var b strings.Builder
	var walk func(r *syntax.Regexp)
	walk = func(r *syntax.Regexp) {
		switch r.Op {
		case syntax.OpLiteral:
			b.WriteString(string(r.Rune))
		case syntax.OpCharClass:
			b.WriteRune(r.Rune[0])
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			b.WriteByte('a')
		case syntax.OpCapture, syntax.OpPlus:
			walk(r.Sub[0])
		case syntax.OpRepeat:
			for i := 0; i < r.Min; i++ {
				walk(r.Sub[0])
			}
		case syntax.OpConcat:
			for _, s := range r.Sub {
				walk(s)
			}
		case syntax.OpAlternate:
			walk(r.Sub[0])
		case syntax.OpStar, syntax.OpQuest, syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
			syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		default:
			t.Fatalf("regex %q: op %v: teach sample", pattern, r.Op)
		}
	}
	walk(re)
	return b.String()
}
