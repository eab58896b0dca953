package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Protections lists what r asks Envoy to enforce on Gateway g, in a fixed
// order: "authentication", "authorization", "rate limiting",
// "web application firewall", "transformation", "request validation".
// Gateway defaults count: a Route that inherits an Authentication is
// protected; so do its Services' validation (services may be nil for a
// Route that answers itself and has no backends).
func (r *Route) Protections(g *Gateway, services map[string]*Service) []string {
	var what []string
	if len(r.EffectiveAuthentication(g)) > 0 {
		what = append(what, "authentication")
	}
	if r.Spec.Authorization != "" {
		what = append(what, "authorization")
	}
	if r.EffectiveRateLimit(g) != "" {
		what = append(what, "rate limiting")
	}
	// grpc-go has no external processing filter: a proxyless client
	// cannot send its calls through the WAF.
	if r.EffectiveFirewall(g) != "" {
		what = append(what, "web application firewall")
	}
	// Nor through the transformation service: a proxyless client would
	// send and receive the shapes the transformation exists to change.
	if r.EffectiveTransformation(g) != "" {
		what = append(what, "transformation")
	}
	// Request validation is an external processing filter too, whether
	// the Route carries it or inherits it; backends that disagree (a
	// hand-built Snapshot) count as validated: withheld, not open.
	if v, _, err := r.EffectiveValidation(services); v != nil || err != nil {
		what = append(what, "request validation")
	}
	return what
}

// ServesUnprotected reports whether r opted in, itself or through g, to
// being served to proxyless gRPC clients without its protections. The
// Route's own proxyless block wins over the Gateway's.
func (r *Route) ServesUnprotected(g *Gateway) bool {
	if p := r.Spec.Proxyless; p != nil {
		return p.ServeUnprotected
	}
	return g != nil && g.Spec.Proxyless != nil && g.Spec.Proxyless.ServeUnprotected
}

// ProxylessWithheld reports whether proxyless gRPC clients of g must not
// be routed by r: it is protected and nobody opted in.
func (r *Route) ProxylessWithheld(g *Gateway, services map[string]*Service) bool {
	return len(r.Protections(g, services)) > 0 && !r.ServesUnprotected(g)
}

// ProxylessNotes says, for every Gateway and every protected Route a
// proxyless gRPC client could dial (a Route with an exact host), whether
// the Route is withheld from those clients or served to them without its
// protections, and why. `gatehouse validate` and `gatehouse status` print
// these; the translator acts on the same rule (Route.ProxylessWithheld).
func (s *Snapshot) ProxylessNotes() []string {
	var out []string
	for _, gn := range sortedKeys(s.Gateways) {
		g := s.Gateways[gn]
		for _, rn := range sortedKeys(s.Routes) {
			r := s.Routes[rn]
			if !r.onGateway(gn) || !r.proxylessHost() {
				continue
			}
			if r.Answers() {
				out = append(out, fmt.Sprintf("%s: %s is withheld from proxyless gRPC clients (their calls to it fail with UNAVAILABLE): grpc-go cannot redirect or answer directly",
					g.Meta.Ref(), r.Meta.Ref()))
				continue
			}
			if len(r.Spec.Mirror) > 0 {
				out = append(out, fmt.Sprintf("%s: %s's mirror is not applied to proxyless gRPC clients: grpc-go does not mirror", g.Meta.Ref(), r.Meta.Ref()))
			}
			if f := r.Spec.Fault; f != nil && f.WhenHeader != nil {
				out = append(out, fmt.Sprintf("%s: %s's fault is not applied to proxyless gRPC clients: grpc-go's fault filter ignores whenHeader and would hit every call", g.Meta.Ref(), r.Meta.Ref()))
			}
			prot := r.Protections(g, s.Services)
			if len(prot) == 0 {
				continue
			}
			what := strings.Join(prot, ", ")
			if r.ServesUnprotected(g) {
				by := r.Meta.Ref()
				if r.Spec.Proxyless == nil {
					by = g.Meta.Ref()
				}
				out = append(out, fmt.Sprintf("%s: %s is served to proxyless gRPC clients WITHOUT its %s (proxyless.serveUnprotected on %s)",
					g.Meta.Ref(), r.Meta.Ref(), what, by))
				continue
			}
			out = append(out, fmt.Sprintf("%s: %s is withheld from proxyless gRPC clients (their calls to it fail with UNAVAILABLE): they cannot enforce its %s; set proxyless: {serveUnprotected: true} on the Route or Gateway to serve it unprotected",
				g.Meta.Ref(), r.Meta.Ref(), what))
		}
	}
	return out
}

func (r *Route) onGateway(g string) bool { return slices.Contains(r.Spec.Gateways, g) }

// ProxylessHost reports whether a proxyless gRPC client can dial host:
// xds:///NAME needs an exact name, so "*" and wildcard hosts are
// Envoy-only. The translator and the status notes both decide by it.
func ProxylessHost(h string) bool { return h != "*" && !strings.HasPrefix(h, "*.") }

// proxylessHost: a Route with only "*" or wildcard hosts (or none, meaning
// "*") never reaches proxyless clients.
func (r *Route) proxylessHost() bool { return slices.ContainsFunc(r.Spec.Hosts, ProxylessHost) }

// validateProxyless: a proxyless block must say serveUnprotected, so that
// serving protected Routes without their protections is never implied.
func validateProxyless(o *objErrs, p string) {
	if o.has(p) && !o.has(p+".serveUnprotected") {
		o.add(p, "set serveUnprotected: true (serve protected Routes to proxyless gRPC clients without their protections) or false, or omit proxyless")
	}
}
