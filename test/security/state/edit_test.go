package security_state

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// The admin Route is protected; the catch-all Route public would serve
// /admin without protection if admin were dropped.
const editRoutes = `kind: Gateway
name: edge
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Service
name: app
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Route
name: admin
spec:
  gateways: [edge]
  match: {path: {prefix: /admin}}
  backends: [{service: app}]
  authentication: [keys]
  authorization: admins
  rateLimit: rl
---
kind: Route
name: public
spec:
  gateways: [edge]
  backends: [{service: app}]
`

var editPolicies = map[string]string{
	"authn.yaml": "kind: Authentication\nname: keys\nspec:\n  apiKey: {header: x-api-key}\n",
	"authz.yaml": "kind: Authorization\nname: admins\nspec:\n  inline: |\n    package envoy.authz\n    default allow := false\n",
	"rl.yaml":    "kind: RateLimit\nname: rl\nspec:\n  limits: [{key: [remote_address], requests: 10, per: minute}]\n",
}

// routeJSON asks a new ADS stream of an Envoy node of Gateway edge for its
// route configurations and returns the admin Route as compact JSON, "" if
// the response has no such route, or "<none>" if no response came.
func routeJSON(t *testing.T, xdsAddr, route string) string {
	t.Helper()
	st := gatehouseproc.OpenADS(t, xdsAddr)
	resp := gatehouseproc.Responses(st, 8)
	node := &corev3.Node{Id: "sec-" + route, Cluster: "edge", UserAgentName: "envoy"}
	if err := st.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resource.RouteType}); err != nil {
		t.Fatal(err)
	}
	select {
	case r, ok := <-resp:
		if !ok {
			t.Fatal("ADS stream ended")
		}
		for _, a := range r.Resources {
			rc := &routev3.RouteConfiguration{}
			if err := a.UnmarshalTo(rc); err != nil {
				t.Fatal(err)
			}
			for _, vh := range rc.VirtualHosts {
				for _, rt := range vh.Routes {
					if rt.Name == route {
						raw, err := protojson.Marshal(rt)
						if err != nil {
							t.Fatal(err)
						}
						var b bytes.Buffer
						if err := json.Compact(&b, raw); err != nil {
							t.Fatal(err)
						}
						return b.String()
					}
				}
			}
		}
		return ""
	case <-time.After(2 * time.Second):
		return "<none>"
	}
}

func assertAdminProtected(t *testing.T, xdsAddr string) {
	t.Helper()
	got := routeJSON(t, xdsAddr, "admin")
	for _, want := range []string{`"gatehouse.authentication":"keys"`, `"gatehouse.authorization":"admins"`, `"rl#0"`} {
		if !strings.Contains(got, want) {
			t.Errorf("route config a proxy receives: admin route lacks %s: %s", want, got)
		}
	}
}

type statusDoc struct {
	Rejected []struct {
		Ref         string   `json:"ref"`
		Errors      []string `json:"errors"`
		CarriedOver bool     `json:"carried_over"`
	} `json:"rejected"`
	Held map[string][]string `json:"held"`
}

// An attacker who can get a policy edit merged (or an operator's mistake)
// deletes the policy object a protected Route names, with a catch-all Route
// present: the proxy must still receive the admin Route with its
// protection, and status must say why.
func TestPolicyEditCannotUnprotectRoute(t *testing.T) {
	for _, file := range []string{"authn.yaml", "authz.yaml", "rl.yaml"} {
		t.Run("delete "+file, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"routes.yaml": editRoutes})
			writeFiles(t, dir, editPolicies)
			p := gatehouseproc.Start(t, gatehouseBin, "--policy-dir", dir, "--debounce", "10ms")
			p.WaitReady(30 * time.Second)
			assertAdminProtected(t, p.XDSAddr)

			writeFiles(t, dir, map[string]string{file: ""})
			var st statusDoc
			for deadline := time.Now().Add(10 * time.Second); len(st.Rejected) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				p.GetJSON("/api/v1/status", &st)
			}
			if len(st.Rejected) != 1 || !st.Rejected[0].CarriedOver ||
				!strings.Contains(st.Rejected[0].Errors[0], "deleted or renamed, but still referenced by Route/admin") {
				t.Fatalf("status after deleting %s: %+v", file, st)
			}
			assertAdminProtected(t, p.XDSAddr)
			out, _ := gatehouseproc.Run(gatehouseBin, "status", "--server", p.AdminAddr)
			if !strings.Contains(out, "remove the reference first") {
				t.Errorf("gatehouse status does not say it:\n%s", out)
			}
		})
	}
}

// A fresh start with the admin Route's Authorization missing must not
// serve /admin through the catch-all: Gateway edge is held back (no
// configuration at all), and validate and status say so.
func TestFreshStartDanglingRouteNotServedByCatchAll(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"routes.yaml": editRoutes})
	writeFiles(t, dir, editPolicies)
	writeFiles(t, dir, map[string]string{"authz.yaml": ""})

	out, err := gatehouseproc.Run(gatehouseBin, "validate", dir)
	if err == nil || !strings.Contains(out, "Gateway edge would not be built") || !strings.Contains(out, `Authorization "admins" does not exist`) {
		t.Errorf("validate: err %v, output:\n%s", err, out)
	}

	p := gatehouseproc.Start(t, gatehouseBin, "--policy-dir", dir, "--debounce", "10ms")
	p.WaitReady(30 * time.Second)
	var st statusDoc
	p.GetJSON("/api/v1/status", &st)
	if len(st.Held["edge"]) != 1 {
		t.Fatalf("status: %+v", st)
	}
	if got := routeJSON(t, p.XDSAddr, "public"); got != "<none>" {
		t.Fatalf("a proxy of the held Gateway got routes: public route %s", got)
	}
	var proxies []struct {
		NodeID string `json:"node_id"`
		Note   string `json:"note"`
	}
	p.GetJSON("/api/v1/proxies", &proxies)
	if len(proxies) != 1 || !strings.Contains(proxies[0].Note, `Gateway "edge" is held back`) {
		t.Errorf("proxies: %+v", proxies)
	}
	status, _ := gatehouseproc.Run(gatehouseBin, "status", "--server", p.AdminAddr)
	if !strings.Contains(status, "Gateway edge HELD BACK") {
		t.Errorf("gatehouse status:\n%s", status)
	}

	// Fixed: served, protected.
	writeFiles(t, dir, editPolicies)
	for deadline := time.Now().Add(10 * time.Second); len(st.Held) > 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		st = statusDoc{}
		p.GetJSON("/api/v1/status", &st)
	}
	assertAdminProtected(t, p.XDSAddr)
}
