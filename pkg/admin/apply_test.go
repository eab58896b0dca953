package admin

import (
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

const routeV2 = "kind: Route\nname: user-v2\nspec:\n  gateways: [public]\n  hosts: [api.example.com]\n  match: {path: {prefix: /v2}}\n  backends: [{service: users}]\n"

func TestApply(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		a := newTestAPIOn(t, kind, basePolicy(), nil)
		var res api.ApplyResult
		// A dry run answers with the diff and stores nothing.
		body := strings.Replace(routeYAML, "/user", "/users", 1) + "---\n" + routeV2
		if code, e := a.do("POST", "/api/v1/apply?dryRun=true", body, &res); code != 200 {
			t.Fatalf("dry run: %d %s", code, e.Error)
		}
		if !res.DryRun || len(res.Objects) != 2 || res.Objects[0].Action != store.ActionConfigured || res.Objects[1].Action != store.ActionCreated {
			t.Fatalf("dry run result %+v", res)
		}
		if !strings.Contains(res.Objects[0].Before, "prefix: /user\n") || !strings.Contains(res.Objects[0].After, "prefix: /users\n") {
			t.Errorf("dry run diff before/after:\n%s\n%s", res.Objects[0].Before, res.Objects[0].After)
		}
		if _, ok := a.files()["routes/user-v2.yaml"]; ok {
			t.Fatal("a dry run stored its objects")
		}
		base := res.Revision
		// The real apply stores both and records who and why.
		if code, e := a.do("POST", "/api/v1/apply?message=two+routes&baseRevision="+base, body, &res); code != 200 {
			t.Fatalf("apply: %d %s", code, e.Error)
		}
		if res.Revision == base || !strings.Contains(string(a.files()["routes/user-v2.yaml"]), "name: user-v2") {
			t.Fatalf("apply result %+v, files %v", res, maps.Keys(a.files()))
		}
		var hist api.History
		a.do("GET", "/api/v1/history", "", &hist)
		if len(hist.Revisions) != 2 || hist.Revisions[0].Author != "tester" || hist.Revisions[0].Message != "two routes" {
			t.Errorf("history %+v", hist)
		}
		// The same apply again based on the old revision is stale: 409.
		code, e := a.do("POST", "/api/v1/apply?baseRevision="+base, routeV2, nil)
		if code != http.StatusConflict || !strings.Contains(e.Error, "based on revision "+base) {
			t.Errorf("stale apply: %d %q", code, e.Error)
		}
		// JSON bodies work the same; re-applying the same content changes nothing.
		json := `[{"kind":"Route","name":"user-v2","spec":{"gateways":["public"],"hosts":["api.example.com"],"match":{"path":{"prefix":"/v2"}},"backends":[{"service":"users"}]}}]`
		if code, e := a.do("POST", "/api/v1/apply", json, &res); code != 200 || res.Objects[0].Action != store.ActionUnchanged || len(res.Files) != 0 {
			t.Errorf("JSON re-apply: %d %s %+v", code, e.Error, res)
		}
	})
}

func TestApplyAllOrNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		a := newTestAPIOn(t, kind, basePolicy(), nil)
		before := a.files()
		bad := strings.Replace(routeV2, "backends: [{service: users}]", "backends: [{service: users, wieght: 3}]", 1)
		cases := []struct {
			name, body string
			code       int
			want       string // in the error or a rejection
		}{
			{"one invalid object among valid ones", gatewayYAML + "---\n" + bad, http.StatusUnprocessableEntity, "spec.backends[0].wieght"},
			{"a change that breaks another object", strings.Replace(serviceYAML, "name: users", "name: users\nspec-typo: 1", 1), http.StatusUnprocessableEntity, "Service/users"},
			{"an unknown kind", "kind: Router\nname: x\nspec: {}\n", http.StatusBadRequest, `kind: "Router" is not a kind`},
			{"no objects", "", http.StatusBadRequest, "holds no objects"},
			{"not YAML", "kind: [", http.StatusBadRequest, "not a list of policy objects"},
			{"a dangling reference", strings.Replace(routeV2, "service: users", "service: nobody", 1), http.StatusUnprocessableEntity, "Route/user-v2"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				code, e := a.do("POST", "/api/v1/apply", tc.body, nil)
				all := e.Error
				for _, r := range e.Rejected {
					all += "\n" + r.Ref + ": " + strings.Join(r.Errors, "\n")
				}
				if code != tc.code || !strings.Contains(all, tc.want) {
					t.Errorf("got %d:\n%s\nwant %d mentioning %q", code, all, tc.code, tc.want)
				}
				if !maps.EqualFunc(before, a.files(), func(x, y []byte) bool { return string(x) == string(y) }) {
					t.Errorf("a refused apply changed the store")
				}
			})
		}
	})
}

func TestBodyLimit(t *testing.T) {
	a := newTestAPI(t, nil, func(c *Config) { c.MaxBody = 1024 })
	big := "kind: Route\nname: x\n# " + strings.Repeat("x", 2048) + "\nspec: {}\n"
	if code, e := a.do("POST", "/api/v1/apply", big, nil); code != http.StatusRequestEntityTooLarge || !strings.Contains(e.Error, "larger than 1024 bytes") {
		t.Errorf("big body: %d %q", code, e.Error)
	}
}

func TestGetListDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		a := newTestAPIOn(t, kind, basePolicy(), nil)
		var list api.ObjectList
		for q, want := range map[string]string{
			"":                              "Gateway/public,Route/user-info,Service/users",
			"?kind=routes":                  "Route/user-info",
			"?label=team=users":             "Service/users",
			"?gateway=public&kind=Service":  "Service/users",
			"?gateway=other":                "",
			"?label=team=users&kind=Route":  "",
			"?kind=service&label=team=nope": "",
		} {
			if code, e := a.do("GET", "/api/v1/objects"+q, "", &list); code != 200 {
				t.Fatalf("list %s: %d %s", q, code, e.Error)
			}
			var got []string
			for _, o := range list.Items {
				got = append(got, o.Kind+"/"+o.Name)
			}
			if strings.Join(got, ",") != want {
				t.Errorf("list %s = %v, want %s", q, got, want)
			}
		}
		if code, e := a.do("GET", "/api/v1/objects?kind=widget", "", nil); code != 400 || !strings.Contains(e.Error, `kind "widget"`) {
			t.Errorf("unknown kind: %d %q", code, e.Error)
		}
		if code, _ := a.do("GET", "/api/v1/objects/route/user-info", "", &list); code != 200 || list.Items[0].File != "routes.yaml" || !strings.Contains(string(list.Items[0].Object), `"prefix": "/user"`) {
			t.Errorf("get: %d %+v", code, list)
		}
		if code, e := a.do("GET", "/api/v1/objects/Route/nope", "", nil); code != 404 || !strings.Contains(e.Error, "Route/nope") {
			t.Errorf("get missing: %d %q", code, e.Error)
		}
		// Deleting the Service would break the Route: refused.
		if code, e := a.do("DELETE", "/api/v1/objects/Service/users", "", nil); code != 422 || len(e.Rejected) != 1 || e.Rejected[0].Ref != "Route/user-info" {
			t.Errorf("breaking delete: %d %+v", code, e)
		}
		var res api.ApplyResult
		if code, e := a.do("DELETE", "/api/v1/objects/routes/user-info", "", &res); code != 200 || res.Objects[0].Action != store.ActionDeleted {
			t.Fatalf("delete: %d %s %+v", code, e.Error, res)
		}
		if _, ok := a.files()["routes.yaml"]; ok {
			t.Error("the file of the last object deleted is still there")
		}
	})
}

func TestRollback(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		a := newTestAPIOn(t, kind, basePolicy(), nil)
		var res api.ApplyResult
		a.do("POST", "/api/v1/apply", routeV2, &res)
		var hist0 api.History
		a.do("GET", "/api/v1/history", "", &hist0)
		first := hist0.Revisions[len(hist0.Revisions)-1].ID
		var rb api.ApplyResult
		if code, e := a.do("POST", "/api/v1/rollback", `{"revision": "`+first+`"}`, &rb); code != 200 {
			t.Fatalf("rollback: %d %s", code, e.Error)
		}
		if len(rb.Objects) != 1 || rb.Objects[0].Ref.Name != "user-v2" || rb.Objects[0].Action != store.ActionDeleted {
			t.Errorf("rollback diff %+v", rb.Objects)
		}
		if _, ok := a.files()["routes/user-v2.yaml"]; ok || rb.Revision == res.Revision {
			t.Errorf("rollback did not restore revision 1 as a new revision (%s)", rb.Revision)
		}
		var hist api.History
		a.do("GET", "/api/v1/history?limit=1", "", &hist)
		if len(hist.Revisions) != 1 || hist.Revisions[0].Message != "rollback to revision "+first {
			t.Errorf("history after rollback %+v", hist)
		}
		if code, e := a.do("POST", "/api/v1/rollback", `{"revision": "77"}`, nil); code != 404 || !strings.Contains(e.Error, "gatehouse history") {
			t.Errorf("unknown revision: %d %q", code, e.Error)
		}
		if code, _ := a.do("POST", "/api/v1/rollback", `{}`, nil); code != 400 {
			t.Errorf("rollback without revision: %d", code)
		}
	})
}

// Two applies based on the same revision: exactly one wins, the other
// gets 409 and stores nothing.
func TestConcurrentApplies(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		a := newTestAPIOn(t, kind, basePolicy(), nil)
		var list api.ObjectList
		a.do("GET", "/api/v1/objects", "", &list)
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i, port := range []string{"9002", "9003"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], _ = a.do("POST", "/api/v1/apply?baseRevision="+list.Revision, strings.Replace(serviceYAML, "9001", port, 1), nil)
			}()
		}
		wg.Wait()
		if !(codes[0] == 200 && codes[1] == 409 || codes[0] == 409 && codes[1] == 200) {
			t.Errorf("concurrent applies answered %v, want one 200 and one 409", codes)
		}
	})
}
