package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/xds/server"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

func loadPolicy(t *testing.T, files map[string]string) *policy.Snapshot {
	t.Helper()
	tr := &store.Tree{Files: map[string][]byte{}}
	for p, s := range files {
		tr.Files[p] = []byte(s)
	}
	return store.Load(tr, policy.Options{})
}

func proxy(gw, client, typ string, ts server.TypeStatus) server.ProxyStatus {
	return server.ProxyStatus{NodeID: "node-" + client, Gateway: gw, Client: client, Types: map[string]server.TypeStatus{typ: ts}}
}

func nack(resources ...string) server.TypeStatus {
	return server.TypeStatus{Sent: "v2", Acked: "v1", NACK: &server.NACK{Error: "bad thing", Version: "v2", At: time.Now(), Resources: resources}}
}

func TestObjectStatuses(t *testing.T) {
	files := basePolicy()
	files["extra.yaml"] = "kind: Service\nname: unused\nspec:\n  discovery:\n    static: [{address: 127.0.0.1, port: 9009}]\n---\nkind: Consumer\nname: acme\nspec: {groups: [a]}\n"
	snap := loadPolicy(t, files)
	ready := controller.Status{Ready: true}
	refs := []store.Ref{{Kind: "Gateway", Name: "public"}, {Kind: "Route", Name: "user-info"}, {Kind: "Service", Name: "users"}, {Kind: "Service", Name: "unused"}, {Kind: "Consumer", Name: "acme"}}
	// sotwNames is what the group of a state-of-the-world NACK is served.
	sotwNames := func(k translate.GroupKey, typ string) []string {
		if k != (translate.GroupKey{Gateway: "public", Client: "envoy"}) || typ != server.TypeRoutes {
			t.Errorf("names asked for %v %s", k, typ)
		}
		return []string{"routes/public/http"}
	}
	cases := []struct {
		name string
		in   statusInput
		want []string // per ref: "accepted programmed" as t/f plus a reason fragment of Programmed
	}{
		{
			name: "all served, one proxy in sync",
			in:   statusInput{build: ready, proxies: []server.ProxyStatus{proxy("public", "envoy", "clusters", server.TypeStatus{Sent: "v1", Acked: "v1"})}},
			want: []string{"t t 1 of 1", "t t 1 of 1", "t t 1 of 1", "t f no Route", "t t authz"},
		},
		{
			name: "delta NACK names a cluster: only its Service",
			in:   statusInput{build: ready, proxies: []server.ProxyStatus{proxy("public", "envoy", "clusters", nack("svc/users"))}},
			want: []string{"t t 0 of 1", "t t 0 of 1", "t f NACKed clusters: bad thing", "t f no Route", "t t authz"},
		},
		{
			name: "delta NACK of an EDS name and a proxyless listener",
			in: statusInput{build: ready, proxies: []server.ProxyStatus{
				proxy("public", "grpc", "listeners", nack("api.example.com")),
				proxy("public", "envoy", "endpoints", nack("svc/users/abc123", "+3 more")),
			}},
			want: []string{"t f node-grpc (public, grpc) NACKed listeners", "t f NACKed listeners", "t f node-envoy (public, envoy) NACKed endpoints", "t f no Route", "t t authz"},
		},
		{
			name: "state-of-the-world NACK of routes: the Gateway and its Routes",
			in:   statusInput{build: ready, proxies: []server.ProxyStatus{proxy("public", "envoy", "routes", nack())}, names: sotwNames},
			want: []string{"t f NACKed routes", "t f NACKed routes", "t t 0 of 1", "t f no Route", "t t authz"},
		},
		{
			name: "a NACK superseded by an accepted version counts no more",
			in:   statusInput{build: ready, proxies: []server.ProxyStatus{proxy("public", "envoy", "clusters", server.TypeStatus{Sent: "v3", Acked: "v3", NACK: &server.NACK{Error: "old", Version: "v2", Resources: []string{"svc/users"}}})}},
			want: []string{"t t 1 of 1", "t t 1 of 1", "t t 1 of 1", "t f no Route", "t t authz"},
		},
		{
			name: "rejected by the controller, last good version carried over",
			in:   statusInput{build: controller.Status{Ready: true, Rejected: []policy.Rejected{{Ref: "Route/user-info", Errors: []string{"x.yaml:3: Route/user-info: spec.timeout: bad"}, CarriedOver: true}}}},
			want: []string{"t t 0 of 0", "f t 0 of 0", "t t 0 of 0", "t f no Route", "t t authz"},
		},
		{
			name: "the controller has not read the newest revision yet",
			in:   statusInput{build: ready, storeRev: "r2", servedRev: "r1"},
			want: []string{"t f store is at revision r2, the control plane last read r1", "t f not built yet", "t f not built yet", "t f not built yet", "t f not built yet"},
		},
		{
			name: "a rejection by an older build does not count once the store moved on",
			in:   statusInput{storeRev: "r2", servedRev: "r1", build: controller.Status{Ready: true, Rejected: []policy.Rejected{{Ref: "Route/user-info", Errors: []string{"old"}}}}},
			want: []string{"t f not built yet", "t f not built yet", "t f not built yet", "t f not built yet", "t f not built yet"},
		},
		{
			name: "last build failed",
			in:   statusInput{build: controller.Status{Ready: true, LastError: "translate: boom"}},
			want: []string{"t f boom", "t f boom", "t f boom", "t f boom", "t f boom"},
		},
		{
			name: "held Gateway",
			in:   statusInput{build: controller.Status{Ready: true, Held: map[string][]string{"public": {"Route/x cannot be served"}}}},
			want: []string{"t f held back", "t f held back", "t f held back", "t f no Route", "t t authz"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.snap = snap
			got := objectStatuses(refs, tc.in)
			for i, st := range got {
				acc, prog := st.Conditions[0], st.Conditions[1]
				if acc.Type != api.Accepted || prog.Type != api.Programmed {
					t.Fatalf("conditions %+v", st.Conditions)
				}
				f := strings.Fields(tc.want[i])
				line := tf(acc.Status) + " " + tf(prog.Status) + " " + prog.Reason
				if f[0] != tf(acc.Status) || f[1] != tf(prog.Status) || !strings.Contains(prog.Reason, strings.Join(f[2:], " ")) {
					t.Errorf("%s: %q, want %q", refs[i], line, tc.want[i])
				}
			}
		})
	}
	if gw := objectStatuses(refs, statusInput{snap: snap, build: ready})[2].Gateways; len(gw) != 1 || gw[0] != "public" {
		t.Errorf("Service/users reaches %v, want [public]", gw)
	}
}

func tf(b bool) string {
	if b {
		return "t"
	}
	return "f"
}
