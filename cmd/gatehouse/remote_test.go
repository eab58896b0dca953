package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/pkg/admin"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/memory"
)

const (
	cliGateway = "kind: Gateway\nname: public\nspec:\n  listeners: [{name: http, port: 8080, protocol: HTTP}]\n"
	cliService = "kind: Service\nname: users\nlabels: {team: users}\nspec:\n  discovery:\n    static: [{address: 127.0.0.1, port: 9001}]\n"
	cliRoute   = "kind: Route\nname: user-info\nspec:\n  gateways: [public]\n  hosts: [api.example.com]\n  match: {path: {prefix: /user}}\n  backends: [{service: users}]\n"
)

// startAPI serves the real admin API over an in-memory store and points
// the CLI at it through GATEHOUSE_ADDR.
func startAPI(t *testing.T) store.Store {
	t.Helper()
	st := memory.New(nil)
	srv := httptest.NewServer(admin.Handler(admin.Config{Gatherer: prometheus.NewRegistry(), Ready: func() bool { return true }, Store: st}))
	t.Cleanup(srv.Close)
	t.Setenv("GATEHOUSE_ADDR", srv.URL)
	return st
}

func storedFiles(t *testing.T, st store.Store) map[string]string {
	t.Helper()
	tr, err := st.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for p, b := range tr.Files {
		out[p] = string(b)
	}
	return out
}

func TestCLISession(t *testing.T) {
	st := startAPI(t)
	dir := writeFiles(t, map[string]string{"gw.yaml": cliGateway, "app.yaml": cliService + "---\n" + cliRoute, ".hidden.yaml": "not: policy"})

	code, out, errOut := gatehouse(t, "apply", "-f", dir, "-m", "first")
	if code != 0 || !strings.Contains(out, "Route/user-info created\n") || !strings.Contains(out, "revision ") {
		t.Fatalf("apply: %d\n%s%s", code, out, errOut)
	}
	first, _ := st.Read(t.Context())
	code, out, _ = gatehouse(t, "get", "routes")
	if code != 0 || !strings.Contains(out, "KIND   NAME       SUMMARY                                LABELS  FILE\n") ||
		!strings.Contains(out, "Route  user-info  api.example.com prefix /user -> users  -       routes/user-info.yaml:1\n") {
		t.Errorf("get routes: %d\n%s", code, out)
	}
	// -o yaml gives back what apply takes: re-applying it changes nothing.
	if code, out, _ := gatehouse(t, "get", "all", "-l", "team=users"); code != 0 || !strings.Contains(out, "Service  users  1 static endpoint  team=users") {
		t.Errorf("get all -l team=users: %d\n%s", code, out)
	}
	code, yamlOut, _ := gatehouse(t, "get", "all", "-o", "yaml")
	if code != 0 || strings.Count(yamlOut, "\n---\n") != 2 {
		t.Fatalf("get -o yaml: %d\n%s", code, yamlOut)
	}
	back := writeFiles(t, map[string]string{"all.yaml": yamlOut})
	if code, out, _ := gatehouse(t, "diff", "-f", back); code != 0 || !strings.Contains(out, "no changes") {
		t.Errorf("diff of get -o yaml: %d\n%s", code, out)
	}
	changed := writeFiles(t, map[string]string{"r.yaml": strings.Replace(cliRoute, "/user}", "/users}", 1)})
	code, out, _ = gatehouse(t, "diff", "-f", changed)
	if code != 0 || !strings.Contains(out, "--- Route/user-info (revision "+first.Revision+")\n+++ Route/user-info (configured)\n") || !strings.Contains(out, "-      prefix: /user\n+      prefix: /users\n") {
		t.Errorf("diff: %d\n%s", code, out)
	}
	if storedFiles(t, st)["routes/user-info.yaml"] != cliRoute {
		t.Error("diff changed the store")
	}
	// One invalid object among valid ones: exit 1, named field, nothing stored.
	bad := writeFiles(t, map[string]string{"a.yaml": strings.Replace(cliService, "name: users", "name: users2", 1), "b.yaml": strings.Replace(cliRoute, "backends: [{service: users}]", "backends: [{service: users, weight: -1}]", 1)})
	before := storedFiles(t, st)
	code, _, errOut = gatehouse(t, "apply", "-f", bad)
	if code != exitRejected || !strings.Contains(errOut, "Route/user-info") || !strings.Contains(errOut, "spec.backends[0].weight") {
		t.Errorf("invalid apply: %d\n%s", code, errOut)
	}
	if len(storedFiles(t, st)) != len(before) {
		t.Error("an invalid apply stored something")
	}
	// A stale base revision: exit 4.
	if code, _, errOut := gatehouse(t, "apply", "-f", changed, "--base-revision", "0123456789abcdef"); code != exitConflict || !strings.Contains(errOut, "based on revision 0123456789abcdef") {
		t.Errorf("stale apply: %d %s", code, errOut)
	}
	if code, _, errOut := gatehouse(t, "delete", "service", "users"); code != exitRejected || !strings.Contains(errOut, "Route/user-info") {
		t.Errorf("delete of a used Service: %d %s", code, errOut)
	}
	if code, out, _ := gatehouse(t, "delete", "route", "user-info"); code != 0 || !strings.Contains(out, "Route/user-info deleted") {
		t.Errorf("delete: %d %s", code, out)
	}
	code, out, _ = gatehouse(t, "history")
	if code != 0 || !strings.Contains(out, "REVISION") || !strings.Contains(out, "first") {
		t.Errorf("history: %d\n%s", code, out)
	}
	if code, out, _ := gatehouse(t, "rollback", first.Revision); code != 0 || !strings.Contains(out, "Route/user-info created") {
		t.Errorf("rollback: %d %s", code, out)
	}
	if storedFiles(t, st)["routes/user-info.yaml"] != cliRoute {
		t.Error("rollback did not restore the Route")
	}
	for _, line := range strings.Split(out, "\n") {
		if len(line) > tableWidth {
			t.Errorf("line wider than %d: %q", tableWidth, line)
		}
	}
}

func TestCLIExitCodes(t *testing.T) {
	startAPI(t)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"apply"}, exitUsage, "-f is required"},
		{[]string{"get"}, exitUsage, "accepts between 1 and 2 arg(s)"},
		{[]string{"get", "routes", "-o", "xml"}, exitUsage, "want table, yaml or json"},
		{[]string{"delete", "route"}, exitUsage, "accepts 2 arg(s)"},
		{[]string{"get", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{[]string{"get", "routes", "--server", dead}, exitUnreachable, "cannot reach gatehouse"},
		{[]string{"get", "widgets"}, exitRejected, `kind "widgets": not a kind`},
		{[]string{"get", "route", "nope"}, exitRejected, "Route/nope: no such object"},
		{[]string{"rollback", "99"}, exitRejected, "see gatehouse history"},
		{[]string{"config-dump", "--gateway", "public"}, exitRejected, "serves no xDS"},
		{[]string{"config-dump"}, exitUsage, `required flag(s) "gateway"`},
	} {
		code, _, errOut := gatehouse(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	code, out, _ := gatehouse(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash: %d", code)
	}
	if code, out, _ := gatehouse(t, "--help"); code != 0 || !strings.Contains(out, "4  conflict") {
		t.Errorf("--help does not document the exit codes:\n%s", out)
	}
}

func TestTableFits100Columns(t *testing.T) {
	var b strings.Builder
	long := strings.Repeat("x", 63)
	printTable(&b, []string{"KIND", "NAME", "LABELS", "FILE"}, [][]string{{"Authentication", long, strings.Repeat("team=a,", 10), "authentications/" + long + ".yaml:1"}})
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if len(line) > tableWidth {
			t.Errorf("%d columns: %q", len(line), line)
		}
	}
	if !strings.Contains(b.String(), "Authentication") || !strings.Contains(b.String(), "~") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestConsumerKeysOnServer(t *testing.T) {
	st := startAPI(t)
	var out, errOut string
	var code int
	code, out, errOut = gatehouse(t, "consumer", "key", "create", "acme", "--id", "k1")
	key := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(key, "gh_") || !strings.Contains(errOut, "Consumer created") {
		t.Fatalf("key create: %d %q %q", code, out, errOut)
	}
	sum := sha256.Sum256([]byte(key))
	files := storedFiles(t, st)
	stored := files["consumers/acme.yaml"]
	if !strings.Contains(stored, hex.EncodeToString(sum[:])) || !strings.Contains(stored, "id: k1") {
		t.Errorf("stored Consumer:\n%s\nwant the key's sha256", stored)
	}
	for p, s := range files {
		if strings.Contains(s, key) {
			t.Errorf("%s holds the key itself", p)
		}
	}
	if code, _, _ := gatehouse(t, "consumer", "key", "create", "acme", "--id", "k2"); code != 0 {
		t.Fatalf("second key: %d", code)
	}
	if code, _, errOut := gatehouse(t, "consumer", "key", "create", "acme", "--id", "k2"); code != exitRejected || !strings.Contains(errOut, `already has a key with id "k2"`) {
		t.Errorf("duplicate key id: %d %s", code, errOut)
	}
	if code, out, _ := gatehouse(t, "consumer", "key", "list", "acme"); code != 0 || !strings.Contains(out, "acme      k1") || !strings.Contains(out, "acme      k2") || strings.Contains(out, key) {
		t.Errorf("key list: %d\n%s", code, out)
	}
	if code, out, _ := gatehouse(t, "consumer", "key", "revoke", "acme", "k1"); code != 0 || !strings.Contains(out, "revoked") {
		t.Errorf("revoke: %d %s", code, out)
	}
	if s := storedFiles(t, st)["consumers/acme.yaml"]; strings.Contains(s, hex.EncodeToString(sum[:])) || !strings.Contains(s, "k2") {
		t.Errorf("after revoking k1:\n%s", s)
	}
	if code, _, errOut := gatehouse(t, "consumer", "key", "revoke", "acme", "k1"); code != exitRejected || !strings.Contains(errOut, `no key with id "k1"`) {
		t.Errorf("revoking twice: %d %s", code, errOut)
	}
	if code, out, _ := gatehouse(t, "consumer", "list"); code != 0 || !strings.Contains(out, "acme  -     -       k2") {
		t.Errorf("consumer list: %d\n%s", code, out)
	}
}
