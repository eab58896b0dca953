package admin

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/xds/server"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// objectStatus reports Accepted and Programmed for every stored object
// (kind= and name= narrow it).
func (cfg *Config) objectStatus(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kind, err := kindParam(q)
	if err != nil {
		writeError(w, err)
		return
	}
	t, err := cfg.Store.Read(r.Context())
	if err != nil {
		writeError(w, fmt.Errorf("reading the policy store: %w", err))
		return
	}
	objs, err := store.Objects(t)
	if err != nil {
		writeError(w, err)
		return
	}
	var refs []store.Ref
	for _, o := range objs {
		if (kind == "" || o.Kind == kind) && (q.Get("name") == "" || o.Name == q.Get("name")) {
			refs = append(refs, o.Ref)
		}
	}
	in := statusInput{snap: store.Load(t, cfg.Policy), names: cfg.resourceNames, storeRev: t.Revision}
	if cfg.Served != nil {
		in.servedRev = cfg.Served()
	}
	if cfg.Build != nil {
		in.build = cfg.Build()
	}
	if cfg.Proxies != nil {
		in.proxies = cfg.Proxies()
	}
	writeJSON(w, http.StatusOK, api.StatusList{Revision: t.Revision, Items: objectStatuses(refs, in)})
}

// resourceNames lists the names of one type a group is served.
func (cfg *Config) resourceNames(k translate.GroupKey, typ string) []string {
	if cfg.Snapshot == nil {
		return nil
	}
	snap, ok := cfg.Snapshot(k)
	if !ok {
		return nil
	}
	return slices.Sorted(maps.Keys(snap.GetResources(typeURLs[typ])))
}

// typeURLs maps the short type names of server.ProxyStatus to type URLs.
var typeURLs = map[string]string{
	server.TypeClusters:  resource.ClusterType,
	server.TypeEndpoints: resource.EndpointType,
	server.TypeListeners: resource.ListenerType,
	server.TypeRoutes:    resource.RouteType,
	server.TypeSecrets:   resource.SecretType,
}

type statusInput struct {
	snap    *policy.Snapshot // the store's policy, loaded on its own
	build   controller.Status
	proxies []server.ProxyStatus
	names   func(k translate.GroupKey, typ string) []string
	// storeRev is the revision statuses are for; servedRev the one the
	// controller last read ("" if not known).
	storeRev, servedRev string
}

// objectStatuses decides Accepted and Programmed per object. Accepted: the
// object validates (neither the store's policy loaded now nor the
// controller's last build rejects it). Programmed: its configuration is
// served to the proxies of the Gateways it reaches and none of them
// rejects (NACKs) a resource it produced.
func objectStatuses(refs []store.Ref, in statusInput) []api.ObjectStatus {
	rejected := map[string]policy.Rejected{}
	for _, r := range in.snap.Rejected {
		rejected[r.Ref] = r
	}
	// The controller's rejections speak for the revision it read; the
	// carried-over flag only it knows.
	if in.servedRev == "" || in.servedRev == in.storeRev {
		for _, r := range in.build.Rejected {
			if _, ok := rejected[r.Ref]; !ok || r.CarriedOver {
				rejected[r.Ref] = r
			}
		}
	}
	reach := gatewaysOf(in.snap)
	nacks := nackedObjects(in)
	out := make([]api.ObjectStatus, 0, len(refs))
	for _, ref := range refs {
		st := api.ObjectStatus{Kind: ref.Kind, Name: ref.Name, Gateways: reach[ref]}
		rej, isRejected := rejected[ref.String()]
		acc := api.Condition{Type: api.Accepted, Status: true, Reason: "valid"}
		if isRejected {
			acc = api.Condition{Type: api.Accepted, Reason: "rejected: " + strings.Join(rej.Errors, "; ")}
			if rej.CarriedOver {
				acc.Reason += "; its last good version is still served"
			}
		}
		st.Conditions = []api.Condition{acc, programmed(ref, st.Gateways, isRejected && !rej.CarriedOver, nacks[ref], in)}
		out = append(out, st)
	}
	return out
}

func programmed(ref store.Ref, gateways []string, notServed bool, nacks []string, in statusInput) api.Condition {
	no := func(format string, args ...any) api.Condition {
		return api.Condition{Type: api.Programmed, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case notServed:
		return no("not served: the object is rejected")
	case !in.build.Ready:
		return no("no configuration built yet")
	case in.servedRev != "" && in.servedRev != in.storeRev:
		return no("not built yet: the store is at revision %s, the control plane last read %s", in.storeRev, in.servedRev)
	case in.build.LastError != "":
		return no("the newest policy is not served (the last good one is): %s", in.build.LastError)
	case ref.Kind == policy.KindConsumer || ref.Kind == policy.KindPlan:
		return api.Condition{Type: api.Programmed, Status: true, Reason: "served by gatehouse's authz and rate-limit services"}
	case len(gateways) == 0:
		return no("no Route of any Gateway uses it, so no proxy gets it")
	case len(nacks) > 0:
		return no("rejected by proxies: %s", strings.Join(nacks, "; "))
	}
	for _, gw := range gateways {
		if why, held := in.build.Held[gw]; held {
			return no("Gateway %s is held back (it keeps its last good configuration): %s", gw, strings.Join(why, "; "))
		}
	}
	connected, synced := 0, 0
	for _, p := range in.proxies {
		if !slices.Contains(gateways, p.Gateway) {
			continue
		}
		connected++
		inSync := true
		for _, ts := range p.Types {
			inSync = inSync && ts.Sent == ts.Acked
		}
		if inSync {
			synced++
		}
	}
	return api.Condition{Type: api.Programmed, Status: true, Reason: fmt.Sprintf(
		"served to Gateway %s; %d of %d connected proxies acknowledged their configuration", strings.Join(gateways, ", "), synced, connected)}
}

// nackedObjects maps every current NACK (the rejected version is still the
// one sent) to the objects that produced the rejected resources: those the
// NACK names (delta xDS), else every resource of that type the proxy's
// group is served (state of the world rejects a type as a whole).
func nackedObjects(in statusInput) map[store.Ref][]string {
	out := map[store.Ref][]string{}
	for _, p := range in.proxies {
		for _, typ := range slices.Sorted(maps.Keys(p.Types)) {
			ts := p.Types[typ]
			if ts.NACK == nil || ts.Acked == ts.Sent {
				continue // none, or a later version was accepted
			}
			names := ts.NACK.Resources
			if len(names) == 0 && in.names != nil {
				names = in.names(translate.GroupKey{Gateway: p.Gateway, Client: translate.ClientKind(p.Client)}, typ)
			}
			seen := map[store.Ref]bool{}
			for _, n := range names {
				for _, ref := range resourceObjects(in.snap, p.Gateway, n) {
					if seen[ref] {
						continue
					}
					seen[ref] = true
					out[ref] = append(out[ref], fmt.Sprintf("%s (%s, %s) NACKed %s: %s", p.NodeID, p.Gateway, p.Client, typ, ts.NACK.Error))
				}
			}
		}
	}
	return out
}
