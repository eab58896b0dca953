package security_envoy

import (
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// A client that sends X-User-Id, X-Role, X-Tenant, X-Is-Admin,
// x-gatehouse-consumer or x-envoy-auth-failure-mode-allowed itself must
// never reach an upstream with them, through any listener of any Gateway,
// whether or not that Gateway's Routes use the Authentication that sets
// the header (jwt-unused is used by none). header_mutation must run
// first, before any filter that could act on the spoofed value.
func TestSpoofedIdentityHeadersStrippedOnEveryGatewayAndListener(t *testing.T) {
	want := append([]string{wire.ConsumerHeader, "x-envoy-auth-failure-mode-allowed"}, claimHeaders...)
	forEachPolicy(t, func(t *testing.T, snap *policy.Snapshot, groups map[translate.GroupKey]*translate.Group) {
		for k, g := range groups {
			if k.Client != translate.ClientEnvoy {
				continue
			}
			for where, h := range hcms(t, g) {
				fs := h.GetHttpFilters()
				if len(fs) == 0 || fs[0].GetName() != wire.FilterHeaderMutation {
					t.Fatalf("%s %s: header_mutation is not the first filter", k, where)
				}
				hm := &headermutationv3.HeaderMutation{}
				if err := fs[0].GetTypedConfig().UnmarshalTo(hm); err != nil {
					t.Fatal(err)
				}
				removed := map[string]bool{}
				for _, m := range hm.GetMutations().GetRequestMutations() {
					n := m.GetRemove()
					if n != strings.ToLower(n) {
						t.Errorf("%s %s: removes %q, not lower case", k, where, n)
					}
					removed[n] = true
				}
				for _, h := range want {
					if !removed[h] {
						t.Errorf("%s %s: a client-sent %s reaches the upstream", k, where, h)
					}
				}
			}
		}
	})
}

func perRouteAuthz(t *testing.T, r *routev3.Route, inst string) (present, enabled bool) {
	t.Helper()
	a := r.GetTypedPerFilterConfig()[inst]
	if a == nil {
		return false, false
	}
	pr := &extauthzv3.ExtAuthzPerRoute{}
	if err := a.UnmarshalTo(pr); err != nil {
		t.Fatal(err)
	}
	return true, pr.GetCheckSettings() != nil
}

// An authz timeout or overload must never let a request without a valid
// credential through: no Route that requires a credential (its own list
// or the Gateway default) may enable the failure_mode_allow instance, and
// where an ext_authz instance is in the chain every Route says whether it
// runs (a Route without a per-route config would run it unconfigured).
func TestFailOpenNeverCoversARouteThatRequiresACredential(t *testing.T) {
	forEachPolicy(t, func(t *testing.T, snap *policy.Snapshot, groups map[translate.GroupKey]*translate.Group) {
		for k, g := range groups {
			if k.Client != translate.ClientEnvoy {
				continue
			}
			gw := snap.Gateways[k.Gateway]
			inChain := map[string]*extauthzv3.ExtAuthz{}
			for _, h := range hcms(t, g) {
				for _, f := range h.GetHttpFilters() {
					if f.GetName() == wire.FilterExtAuthzClosed || f.GetName() == wire.FilterExtAuthzOpen {
						cfg := &extauthzv3.ExtAuthz{}
						if err := f.GetTypedConfig().UnmarshalTo(cfg); err != nil {
							t.Fatal(err)
						}
						inChain[f.GetName()] = cfg
					}
				}
			}
			if c := inChain[wire.FilterExtAuthzClosed]; c != nil && c.GetFailureModeAllow() {
				t.Fatalf("%s: the fail-closed instance allows on failure", k)
			}
			routes(g, func(rc string, _ []string, r *routev3.Route) {
				pr := snap.Routes[r.GetName()]
				for inst := range inChain {
					if present, _ := perRouteAuthz(t, r, inst); !present {
						t.Errorf("%s %s route %s: no per-route config for %s", k, rc, r.GetName(), inst)
					}
				}
				_, open := perRouteAuthz(t, r, wire.FilterExtAuthzOpen)
				_, closed := perRouteAuthz(t, r, wire.FilterExtAuthzClosed)
				if len(pr.EffectiveAuthentication(gw)) == 0 {
					return
				}
				if open {
					t.Errorf("%s %s route %s requires a credential but enables the fail-open ext_authz instance", k, rc, r.GetName())
				}
				if !closed {
					t.Errorf("%s %s route %s requires a credential but no fail-closed ext_authz call checks it", k, rc, r.GetName())
				}
			})
		}
	})
}

// A proxyless gRPC client runs none of Envoy's filters: it must never be
// routed to a protected Route unless the Route or Gateway opted in, and a
// withheld Route must stay in its table as a non-forwarding route, so a
// call for its paths fails instead of falling through to a less specific
// Route. No HTTP filter but the router is sent to such clients.
func TestProxylessNeverServesAProtectedRouteWithoutOptIn(t *testing.T) {
	withheldSeen := 0
	forEachPolicy(t, func(t *testing.T, snap *policy.Snapshot, groups map[translate.GroupKey]*translate.Group) {
		for k, g := range groups {
			if k.Client != translate.ClientGRPC {
				continue
			}
			gw := snap.Gateways[k.Gateway]
			for where, h := range hcms(t, g) {
				if fs := h.GetHttpFilters(); len(fs) != 1 || fs[0].GetName() != wire.FilterRouter {
					t.Errorf("%s %s: filters %v", k, where, fs)
				}
			}
			nonForwarding := map[string]bool{}
			routes(g, func(rc string, domains []string, r *routev3.Route) {
				pr := snap.Routes[r.GetName()]
				switch {
				case r.GetRoute() != nil:
					if pr.ProxylessWithheld(gw, snap.Services) {
						t.Errorf("%s %s: protected route %s (%v) served without opt-in", k, rc, r.GetName(), pr.Protections(gw, snap.Services))
					}
				case r.GetNonForwardingAction() != nil:
					nonForwarding[domains[0]+" "+r.GetName()] = true
				default:
					t.Errorf("%s %s route %s: unexpected action %v", k, rc, r.GetName(), r.GetAction())
				}
			})
			for _, pr := range snap.Routes {
				if !onGateway(pr, k.Gateway) || !pr.ProxylessWithheld(gw, snap.Services) || !hasHost(pr, "api.example.com") {
					continue
				}
				withheldSeen++
				if !nonForwarding["api.example.com "+pr.Name] {
					t.Errorf("%s: withheld route %s is missing from api.example.com: its calls would fall through", k, pr.Name)
				}
			}
		}
	})
	if withheldSeen == 0 {
		t.Fatal("the generated policies never withheld a route")
	}
}

// forwardToken: false must not hide the token from ext_authz: jwt_authn
// forwards every token and the route removes Authorization for the
// upstream (the router applies it after ext_authz). Nothing in front of
// ext_authz removes Authorization.
func TestForwardTokenFalseKeepsAuthorizationForExtAuthz(t *testing.T) {
	forEachPolicy(t, func(t *testing.T, snap *policy.Snapshot, groups map[translate.GroupKey]*translate.Group) {
		for k, g := range groups {
			if k.Client != translate.ClientEnvoy {
				continue
			}
			gw := snap.Gateways[k.Gateway]
			for where, h := range hcms(t, g) {
				for _, f := range h.GetHttpFilters() {
					switch f.GetName() {
					case wire.FilterHeaderMutation:
						if strings.Contains(anyText(f.GetTypedConfig()), "authorization") {
							t.Errorf("%s %s: header_mutation removes authorization before ext_authz", k, where)
						}
					case wire.FilterJWT:
						cfg := &jwtv3.JwtAuthentication{}
						if err := f.GetTypedConfig().UnmarshalTo(cfg); err != nil {
							t.Fatal(err)
						}
						for n, p := range cfg.GetProviders() {
							if !p.GetForward() {
								t.Errorf("%s %s: provider %s removes the token before ext_authz", k, where, n)
							}
						}
					}
				}
			}
			routes(g, func(rc string, _ []string, r *routev3.Route) {
				pr := snap.Routes[r.GetName()]
				strip := false
				for _, n := range pr.EffectiveAuthentication(gw) {
					if j := snap.Authentications[n].Spec.JWT; j != nil && !j.ForwardToken {
						strip = true
					}
				}
				removes := false
				for _, h := range r.GetRequestHeadersToRemove() {
					removes = removes || strings.EqualFold(h, "authorization")
				}
				if removes != strip {
					t.Errorf("%s %s route %s: removes Authorization for the upstream = %v, want %v", k, rc, r.GetName(), removes, strip)
				}
			})
		}
	})
}

func anyText(a *anypb.Any) string { return strings.ToLower(string(a.GetValue())) }

func onGateway(r *policy.Route, gw string) bool {
	for _, g := range r.Spec.Gateways {
		if g == gw {
			return true
		}
	}
	return false
}

func hasHost(r *policy.Route, h string) bool {
	for _, x := range r.Spec.Hosts {
		if x == h {
			return true
		}
	}
	return false
}
