package admin

import (
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

// gatewaysOf says which Gateways each object reaches: a Gateway itself; a
// Route the Gateways it names; a Service, Authentication, Authorization or
// RateLimit the Gateways of the Routes that use it (directly or through a
// Gateway default). Consumers and Plans reach no proxy: gatehouse's own
// authz and rate-limit services hold them.
func gatewaysOf(snap *policy.Snapshot) map[store.Ref][]string {
	out := map[store.Ref][]string{}
	add := func(kind, name, gw string) {
		r := store.Ref{Kind: kind, Name: name}
		if name != "" && !slices.Contains(out[r], gw) {
			out[r] = append(out[r], gw)
		}
	}
	for name := range snap.Gateways {
		add(policy.KindGateway, name, name)
	}
	for _, rt := range snap.Routes {
		for _, gw := range rt.Spec.Gateways {
			g := snap.Gateways[gw]
			if g == nil {
				continue
			}
			add(policy.KindRoute, rt.Name, gw)
			for _, b := range rt.Spec.Backends {
				add(policy.KindService, b.Service, gw)
			}
			for _, a := range rt.EffectiveAuthentication(g) {
				add(policy.KindAuthentication, a, gw)
			}
			add(policy.KindAuthorization, rt.Spec.Authorization, gw)
			add(policy.KindRateLimit, rt.EffectiveRateLimit(g), gw)
			add(policy.KindFirewall, rt.EffectiveFirewall(g), gw)
			add(policy.KindTransformation, rt.EffectiveTransformation(g), gw)
		}
	}
	for r := range out {
		slices.Sort(out[r])
	}
	return out
}

// resourceObjects names the objects that produced one resource of a
// Gateway's configuration, from its name (ENVOY-MAPPING.md "Snapshots and
// names"): listener/<gw>/<port> and tls/<gw>/<listener> come from the
// Gateway; routes/<gw>/<listener> from the Gateway and its Routes;
// grpc/<gw>/<host> (and the proxyless api_listener named <host>) from the
// Gateway and its Routes of that host; svc/<service> (and its EDS names
// svc/<service>/<hash>) from the Service; jwks/<host>... from the JWT
// Authentications fetching keys there. gatehouse/authz and
// gatehouse/ratelimit are gatehouse's own: no object.
func resourceObjects(snap *policy.Snapshot, gw, name string) []store.Ref {
	gateway := store.Ref{Kind: policy.KindGateway, Name: gw}
	routesOf := func(host string) []store.Ref {
		out := []store.Ref{gateway}
		for _, rt := range snap.Routes {
			if slices.Contains(rt.Spec.Gateways, gw) && (host == "" || slices.Contains(rt.Spec.Hosts, host)) {
				out = append(out, store.Ref{Kind: policy.KindRoute, Name: rt.Name})
			}
		}
		return out
	}
	prefix, rest, _ := strings.Cut(name, "/")
	switch prefix {
	case "listener", "tls":
		return []store.Ref{gateway}
	case "routes":
		return routesOf("")
	case "grpc":
		_, host, _ := strings.Cut(rest, "/")
		return routesOf(host)
	case "svc":
		svc, _, _ := strings.Cut(rest, "/")
		return []store.Ref{{Kind: policy.KindService, Name: svc}}
	case "jwks":
		var out []store.Ref
		for _, a := range snap.Authentications {
			if a.Spec.JWT == nil {
				continue
			}
			uri := a.Spec.JWT.JWKS.URI
			if a.Spec.JWT.UseDiscovery {
				// The discovered jwks_uri is not in the policy; it is
				// on the issuer's host far more often than not.
				uri = a.Spec.JWT.Issuer
			}
			if uri == "" {
				continue
			}
			u, err := url.Parse(uri)
			if err != nil {
				continue
			}
			h := strings.TrimPrefix(rest, "http/")
			if h == u.Hostname() || strings.HasPrefix(h, u.Hostname()+":") {
				out = append(out, store.Ref{Kind: policy.KindAuthentication, Name: a.Name})
			}
		}
		return out
	case "gatehouse":
		return nil
	}
	if !strings.Contains(name, "/") { // a proxyless api_listener, named after its host
		return routesOf(name)
	}
	return nil
}
