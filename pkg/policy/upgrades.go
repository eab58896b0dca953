package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Protocol upgrades a Route accepts (issue 14 item 4).
//
// UpgradeWebSocket is the HTTP/1.1 Upgrade: websocket handshake, the one
// upgrade accepted by default (Routes that can be HTTP/1.1 only).
// UpgradeCONNECT is the CONNECT method: Envoy ends the CONNECT request and
// carries the bytes that follow over TCP to the Route's Service, whatever
// host:port the client asked for, so the gateway is never an open proxy.
// It is off unless a Route asks for it, is never a Gateway default, and a
// CONNECT Route matches CONNECT requests only (they carry no path), by
// host and headers. Any other HTTP/1.1 Upgrade token (a custom protocol)
// is passed to the Service as Envoy does for websocket.
const (
	UpgradeWebSocket = "websocket"
	UpgradeCONNECT   = "CONNECT"
)

const maxUpgradeLen = 64

// refusedUpgrades are tokens Envoy cannot carry through a Route.
var refusedUpgrades = map[string]string{
	"h2c":         "the HTTP/2 cleartext upgrade is between the client and Envoy, which speaks HTTP/2 on the listener itself; it is not forwarded",
	"connect-udp": "CONNECT-UDP (MASQUE) needs HTTP/3 to the client, which gatehouse's listeners do not serve",
}

// validateUpgrades checks a list of upgrades at p; defaults says it is a
// Gateway's default list.
func validateUpgrades(o *objErrs, p string, list *[]string, defaults bool) {
	if list == nil {
		return
	}
	seen := map[string]bool{}
	for i, u := range *list {
		ip := fmt.Sprintf("%s[%d]", p, i)
		lower := strings.ToLower(u)
		switch {
		case u == "":
			o.add(ip, "empty; name an upgrade such as %s or %s", UpgradeWebSocket, UpgradeCONNECT)
		case len(u) > maxUpgradeLen || !httpToken(u):
			o.add(ip, "%q is not an HTTP upgrade token (letters, digits and !#$%%&'*+-.^_`|~, at most %d)", u, maxUpgradeLen)
		case refusedUpgrades[lower] != "":
			o.add(ip, "%q cannot be accepted: %s", u, refusedUpgrades[lower])
		case lower == "connect" && u != UpgradeCONNECT:
			o.add(ip, "%q: spell the method CONNECT", u)
		case defaults && u == UpgradeCONNECT:
			o.add(ip, "CONNECT cannot be a Gateway default: it turns a Route into a TCP tunnel; list it on the Routes that tunnel")
		case seen[lower]:
			o.add(ip, "duplicate upgrade %q (upgrade types are case-insensitive)", u)
		}
		seen[lower] = true
	}
}

// validateRouteUpgrades checks what a Route can get wrong about upgrades
// on its own.
func validateRouteUpgrades(o *objErrs, r *Route) {
	sp := &r.Spec
	validateUpgrades(o, "spec.upgrades", sp.Upgrades, false)
	if sp.Upgrades != nil && sp.WebSocket != nil {
		o.add("spec.upgrades", "set one of websocket and upgrades (websocket: true is upgrades: [websocket])")
	}
	if !r.Tunnels() {
		return
	}
	// A CONNECT request has no path, so nothing that reads or changes the
	// path applies; what it carries after the 200 is a byte stream, not a
	// request body anything could inspect or transform.
	if len(*sp.Upgrades) > 1 {
		o.add("spec.upgrades", "CONNECT must be the Route's only upgrade: a CONNECT Route matches CONNECT requests only; put the other upgrades on another Route")
	}
	for _, f := range []string{"match.path", "match.methods", "match.query", "rewrite", "retries", "mirror", "validation", "transformation", "streaming", "redirect", "directResponse", "timeout", "version"} {
		if f == "validation" && sp.Validation.Off() {
			continue // turns a Service's validation off: what a tunnel needs
		}
		if f == "transformation" && sp.Transformation == TransformationNone {
			continue // turns a Gateway default off
		}
		if o.has("spec." + f) {
			o.add("spec."+f, "does not apply to a CONNECT Route: CONNECT requests carry no path, and the tunnel carries bytes, not HTTP requests; remove it or put CONNECT on a Route of its own")
		}
	}
	if sp.Firewall != "" && sp.Firewall != FirewallNone {
		o.add("spec.firewall", "a CONNECT tunnel carries bytes the WAF cannot inspect as HTTP; remove firewall (or set it to none over a Gateway default)")
	}
}

// validateTunnelGateways checks a CONNECT Route against its Gateways: the
// WAF of a Gateway default would buffer the tunnel's bytes as a request
// body, and every backend must be a plain TCP-reachable Service (not GRPC).
func validateTunnelGateways(o *objErrs, r *Route, gateways map[string]*Gateway, services map[string]*Service) {
	if !r.Tunnels() {
		return
	}
	for _, gn := range r.Spec.Gateways {
		if g := gateways[gn]; g != nil && r.Spec.Firewall == "" && r.EffectiveFirewall(g) != "" {
			o.add("spec.firewall", "%s's default Firewall %q would apply to this CONNECT Route, whose tunnel carries bytes the WAF cannot inspect as HTTP; set firewall: none", g.Meta.Ref(), r.EffectiveFirewall(g))
			break
		}
	}
	for i, b := range r.Spec.Backends {
		if s := services[b.Service]; s != nil && s.Spec.Protocol == ServiceGRPC {
			o.add(fmt.Sprintf("spec.backends[%d].service", i), "Service %q speaks gRPC; a CONNECT tunnel needs a Service that takes raw TCP", b.Service)
		}
	}
}

// resolveUpgrades sets the upgrades that apply to r: its own list, else
// its websocket field, else its Gateways' default (they must agree: the
// Route is built once for all of them), else websocket; none for a
// Route that cannot be HTTP/1.1 (no backend, or only GRPC Services).
func resolveUpgrades(o *objErrs, r *Route, gateways map[string]*Gateway, services map[string]*Service) {
	r.upgrades, r.resolved = nil, true
	switch {
	case r.Spec.Upgrades != nil:
		r.upgrades = slices.Clone(*r.Spec.Upgrades)
		return
	case r.Spec.WebSocket != nil:
		if *r.Spec.WebSocket {
			r.upgrades = []string{UpgradeWebSocket}
		}
		return
	case len(r.Spec.Backends) == 0 || r.allGRPC(services):
		return
	}
	var def *[]string
	from := ""
	for _, gn := range r.Spec.Gateways {
		g := gateways[gn]
		if g == nil {
			continue
		}
		var d *[]string
		if g.Spec.Defaults != nil {
			d = g.Spec.Defaults.Upgrades
		}
		if from != "" && !sameUpgrades(d, def) {
			o.add("spec.gateways", "%s and %s have different default upgrades; give the Route its own upgrades", from, g.Meta.Ref())
			return
		}
		def, from = d, g.Meta.Ref()
	}
	if def == nil {
		r.upgrades = []string{UpgradeWebSocket}
		return
	}
	r.upgrades = slices.Clone(*def)
}

func sameUpgrades(a, b *[]string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.EqualFunc(*a, *b, strings.EqualFold)
}

// Tunnels reports whether r is a CONNECT Route.
func (r *Route) Tunnels() bool {
	return r.Spec.Upgrades != nil && slices.Contains(*r.Spec.Upgrades, UpgradeCONNECT)
}

// Upgrades lists the upgrades r accepts, as Load resolved them (for a
// Route that did not go through Load: its own list or websocket field,
// else websocket when it can be HTTP/1.1).
func (r *Route) Upgrades(services map[string]*Service) []string {
	if r.resolved {
		return r.upgrades
	}
	switch {
	case r.Spec.Upgrades != nil:
		return *r.Spec.Upgrades
	case r.Spec.WebSocket != nil:
		if *r.Spec.WebSocket {
			return []string{UpgradeWebSocket}
		}
		return nil
	case len(r.Spec.Backends) == 0 || r.allGRPC(services):
		return nil
	}
	return []string{UpgradeWebSocket}
}

// httpToken: RFC 9110 token characters, plus '/' for a protocol version
// (Upgrade: name/version, RFC 9110 7.8).
func httpToken(s string) bool {
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// bodyTransformUpgrades: a Route whose Transformation reshapes a request
// or response body accepts no upgrade. After a 101 the request and the
// response bodies are the upgraded protocol's bytes, which never end: a
// whole-body transformation would hold the handshake forever (Envoy's
// ext_proc in BUFFERED mode waits for the end of the body before it lets
// the headers go: source/extensions/filters/http/ext_proc/
// processor_state.cc), and one that let the bytes through untransformed
// would hand the upstream a shape it was promised it would not see. So
// the default websocket does not apply to such a Route, and a Route that
// lists an upgrade itself is refused.
func bodyTransformUpgrades(o *objErrs, r *Route, gateways map[string]*Gateway, xs map[string]*Transformation) {
	if len(r.upgrades) == 0 {
		return
	}
	// The Route's own Transformation, or the default of any of its
	// Gateways (each Gateway's chain gets the Route's upgrades).
	name, from := "", ""
	if x := r.Spec.Transformation; x != "" {
		name = x
	} else {
		for _, gn := range r.Spec.Gateways {
			if x := r.EffectiveTransformation(gateways[gn]); x != "" {
				if t := xs[x]; t != nil && (t.HasRequestBody() || t.HasResponseBody()) {
					name, from = x, " (Gateway "+gn+"'s default)"
					break
				}
			}
		}
	}
	x := xs[name]
	if x == nil || (!x.HasRequestBody() && !x.HasResponseBody()) {
		return
	}
	switch {
	case r.Spec.Upgrades != nil:
		o.add("spec.upgrades", "Transformation %q%s reshapes bodies, which an upgraded stream (%s) does not have: its bytes never end; remove the upgrades or put them on a Route without a body transformation", name, from, strings.Join(r.upgrades, ", "))
	case r.Spec.WebSocket != nil:
		o.add("spec.websocket", "Transformation %q%s reshapes bodies, which a WebSocket stream does not have: its bytes never end; remove websocket or put it on a Route without a body transformation", name, from)
	default:
		r.upgrades = nil // the Gateway's or the built-in default
	}
}

// inspectedUpgrades: a Route the WAF or request validation inspects
// accepts only the upgrades it lists itself (upgrades: or websocket:);
// the Gateway's default and the built-in websocket do not apply to it.
// Once Envoy has forwarded an upgrade request, every byte the client
// sends after its headers goes to the Service uninspected
// (source/common/http/http1/codec_impl.cc: the upgrade payload is
// stream body), whether or not the Service upgrades. A Service that does
// not speak the protocol and ignores the Upgrade header reads those bytes
// as further HTTP requests, none of which the WAF or the validator saw.
// Listing the upgrade on the Route is the operator saying the Service
// speaks it; without it an upgrade request gets 403 from Envoy.
func inspectedUpgrades(r *Route, gateways map[string]*Gateway, services map[string]*Service) {
	if len(r.upgrades) == 0 || r.Spec.Upgrades != nil || r.Spec.WebSocket != nil {
		return
	}
	inspected := r.EffectiveFirewall(nil) != ""
	for _, gn := range r.Spec.Gateways {
		if g := gateways[gn]; g != nil && r.EffectiveFirewall(g) != "" {
			inspected = true
		}
	}
	if v, _, err := r.EffectiveValidation(services); err == nil && v != nil {
		inspected = true
	}
	if inspected {
		r.upgrades = nil
	}
}
