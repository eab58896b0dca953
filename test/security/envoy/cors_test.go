package security_envoy

import (
	"fmt"
	"testing"
	"testing/fstest"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// A CORS policy must open nothing but the preflight. Envoy's CORS filter
// answers a request itself only when it is OPTIONS with a non-empty Origin
// AND a non-empty Access-Control-Request-Method, from an allowed origin;
// everything else, an OPTIONS without Access-Control-Request-Method
// included, continues down the chain (Envoy: source/extensions/filters/
// http/cors/cors_filter.cc, decodeHeaders; forward_not_matching_preflights
// defaults to true). So, for every generated policy, giving every Gateway
// a CORS default (with credentials and a match-all-subdomains regex) must:
// put the CORS filter before every filter that can refuse a request, and
// change nothing else: the same filters in the same order, and on every
// route the same authentication, authorization and rate-limit configs.
// Any request the CORS filter does not answer then meets exactly the
// checks it met without CORS; proxyless gRPC groups do not change at all.
func TestCORSOpensOnlyThePreflight(t *testing.T) {
	for seed := int64(1); seed <= seeds; seed++ {
		src := genPolicy(seed)
		plain, with := translateCORS(t, src, false), translateCORS(t, src, true)
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			for k, g := range plain {
				w := with[k]
				if w == nil {
					t.Fatalf("%s: group gone with CORS", k)
				}
				if k.Client != translate.ClientEnvoy {
					for i := range g.Listeners {
						if !proto.Equal(g.Listeners[i], w.Listeners[i]) {
							t.Errorf("%s: proxyless listener changed by CORS", k)
						}
					}
					for i := range g.Routes {
						if !proto.Equal(g.Routes[i], w.Routes[i]) {
							t.Errorf("%s: proxyless routes changed by CORS", k)
						}
					}
					continue
				}
				n := 0
				routes(w, func(string, []string, *routev3.Route) { n++ })
				hw := hcms(t, w)
				for where, h := range hcms(t, g) {
					if n == 0 { // a Gateway without Routes needs no CORS filter
						if !proto.Equal(h, hw[where]) {
							t.Errorf("%s %s: a Gateway without Routes changed by CORS", k, where)
						}
						continue
					}
					sameChainPlusCORS(t, fmt.Sprint(k, " ", where), h, hw[where])
				}
				before := map[string]*routev3.Route{}
				routes(g, func(rc string, _ []string, r *routev3.Route) { before[rc+"/"+r.GetName()] = r })
				routes(w, func(rc string, _ []string, r *routev3.Route) {
					b := before[rc+"/"+r.GetName()]
					if b == nil {
						t.Fatalf("%s: route %s/%s appears with CORS", k, rc, r.GetName())
					}
					if r.GetTypedPerFilterConfig()[wire.FilterCORS] == nil {
						t.Errorf("%s: route %s/%s has no CORS policy", k, rc, r.GetName())
					}
					r = proto.Clone(r).(*routev3.Route)
					delete(r.TypedPerFilterConfig, wire.FilterCORS)
					if len(r.TypedPerFilterConfig) == 0 {
						r.TypedPerFilterConfig = nil
					}
					if !proto.Equal(b, r) {
						t.Errorf("%s: route %s/%s changed beyond its CORS policy:\nwithout: %v\nwith:    %v", k, rc, r.GetName(), b, r)
					}
				})
			}
		})
	}
}

// sameChainPlusCORS: with is plain with the CORS filter inserted right
// after header_mutation, before every filter that can refuse a request.
func sameChainPlusCORS(t *testing.T, where string, plain, with *hcmv3.HttpConnectionManager) {
	t.Helper()
	pf, wf := plain.GetHttpFilters(), with.GetHttpFilters()
	if len(wf) != len(pf)+1 || wf[1].GetName() != wire.FilterCORS {
		t.Fatalf("%s: want CORS second, right after header_mutation; got %v", where, names(wf))
	}
	for i, f := range pf {
		j := i
		if i >= 1 {
			j = i + 1
		}
		if !proto.Equal(f, wf[j]) {
			t.Errorf("%s: filter %s changed by CORS", where, f.GetName())
		}
	}
}

func names(fs []*hcmv3.HttpFilter) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.GetName()
	}
	return out
}

// translateCORS loads src and, if cors, gives every Gateway a CORS default.
func translateCORS(t *testing.T, src string, cors bool) map[translate.GroupKey]*translate.Group {
	t.Helper()
	snap := policy.Load(fstest.MapFS{"p.yaml": {Data: []byte(src)}}, nil)
	if len(snap.Rejected) > 0 {
		t.Fatalf("generated policy rejected: %+v\n%s", snap.Rejected, src)
	}
	if cors {
		for _, g := range snap.Gateways {
			if g.Spec.Defaults == nil {
				g.Spec.Defaults = &policy.GatewayDefaults{}
			}
			g.Spec.Defaults.CORS = &policy.CORS{
				Origins:     []policy.CORSOrigin{{Exact: "https://app.example.com"}, {Regex: `https://[a-z0-9-]+\.example\.com`}},
				Methods:     []string{"GET", "POST", "DELETE"},
				Headers:     []string{"Authorization", "X-Api-Key"},
				Credentials: true,
			}
		}
	}
	groups, err := translate.Translate(snap, translate.Options{})
	if err != nil {
		t.Fatalf("Translate: %v\n%s", err, src)
	}
	for k, g := range groups {
		clas := map[string]*endpointv3.ClusterLoadAssignment{}
		for eds := range g.EDS {
			clas[eds] = translate.Endpoints(eds, "", nil)
		}
		if err := translate.Check(g, clas); err != nil {
			t.Fatalf("%s: Check (cors %v): %v", k, cors, err)
		}
	}
	return groups
}
