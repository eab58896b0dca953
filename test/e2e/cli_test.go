package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// cli runs a CLI verb against g's admin API and returns its output and
// exit status.
func cli(t *testing.T, g *gatehouse, args ...string) (string, int) {
	t.Helper()
	out, err := gatehouseproc.Run(gatehouseBin, append(args, "--server", g.AdminAddr)...)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &exit):
		return out, exit.ExitCode()
	}
	t.Fatalf("gatehouse %v: %v\n%s", args, err, out)
	return "", -1
}

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func cliRoute(service string) string {
	return "kind: Route\nname: cli\nspec:\n  gateways: [public]\n  hosts: [cli.test]\n  backends: [{service: " + service + "}]\n"
}

// latestRevision is the newest revision in the server's history.
func latestRevision(t *testing.T, g *gatehouse) string {
	t.Helper()
	out, code := cli(t, g, "history", "--limit", "1", "-o", "json")
	var h struct {
		Revisions []struct{ ID string } `json:"revisions"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &h) != nil || len(h.Revisions) != 1 {
		t.Fatalf("history: exit %d\n%s", code, out)
	}
	return h.Revisions[0].ID
}

// A whole session through the CLI binary against `gatehouse serve`: diff,
// apply, get, a stale apply refused, an invalid apply storing nothing,
// delete and rollback, with a proxyless gRPC client seeing each change.
func TestCLISessionAgainstServe(t *testing.T) {
	t.Parallel()
	v1, v2 := startBackend(t, "v1"), startBackend(t, "v2")
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{
		"gateway.yaml":  gatewayYAML,
		"services.yaml": staticService("v1", v1) + "---\n" + staticService("v2", v2),
		"route.yaml":    cliRoute("v1"),
	})
	g := startGatehouse(t, dir)
	c := xdsClient(t, g, "public", "cli-client", "cli.test")
	waitFor(t, 20*time.Second, c, "v1")

	toV2 := writeTemp(t, "route.yaml", cliRoute("v2"))
	out, code := cli(t, g, "diff", "-f", toV2)
	if code != 0 || !strings.Contains(out, "-  backends: [{service: v1}]") && !strings.Contains(out, "-    - service: v1") || !strings.Contains(out, "+    - service: v2") {
		t.Fatalf("diff: exit %d\n%s", code, out)
	}
	if got := call(c); got != "v1" {
		t.Fatalf("after diff the client reached %q: a diff changed the policy", got)
	}

	if out, code := cli(t, g, "apply", "-f", toV2, "-m", "to v2"); code != 0 || !strings.Contains(out, "Route/cli configured") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	t.Logf("the client reached v2 %v after the apply", waitFor(t, 20*time.Second, c, "v2"))
	if out, code := cli(t, g, "get", "route", "cli", "-o", "yaml"); code != 0 || !strings.Contains(out, "service: v2") {
		t.Errorf("get: exit %d\n%s", code, out)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "route.yaml")); !strings.Contains(string(data), "service: v2") {
		t.Errorf("the Route was not replaced in the file that defines it:\n%s", data)
	}

	// Two applies based on the same revision: one is stored, the other is
	// refused as stale (exit 4).
	base := latestRevision(t, g)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	outs := make([]string, 2)
	for i, b := range []*backend{v1, v2} {
		f := writeTemp(t, "svc.yaml", strings.Replace(staticService(b.Name, b), "protocol: GRPC", "protocol: GRPC\n  connectTimeout: 2s", 1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], codes[i] = cli(t, g, "apply", "-f", f, "--base-revision", base)
		}()
	}
	wg.Wait()
	if !(codes[0] == 0 && codes[1] == 4 || codes[0] == 4 && codes[1] == 0) {
		t.Errorf("concurrent applies exited %v, want one 0 and one 4:\n%s\n%s", codes, outs[0], outs[1])
	}
	stale := outs[1]
	if codes[0] == 4 {
		stale = outs[0]
	}
	if !strings.Contains(stale, "changed since") {
		t.Errorf("the stale apply's message does not say why:\n%s", stale)
	}

	// One invalid object among valid ones stores nothing (exit 1).
	before := latestRevision(t, g)
	mixed := writeTemp(t, "mixed.yaml", strings.Replace(cliRoute("v1"), "name: cli", "name: extra", 1)+"---\n"+
		strings.Replace(strings.Replace(cliRoute("v1"), "name: cli", "name: broken", 1), "spec:\n", "spec:\n  bogus: 1\n", 1))
	if out, code := cli(t, g, "apply", "-f", mixed); code != 1 || !strings.Contains(out, "Route/broken: spec.bogus") {
		t.Errorf("invalid apply: exit %d\n%s", code, out)
	}
	if out, _ := cli(t, g, "get", "routes"); strings.Contains(out, "extra") || latestRevision(t, g) != before {
		t.Errorf("an apply with an invalid object stored something:\n%s", out)
	}

	if out, code := cli(t, g, "status", "--kind", "route"); code != 0 || !strings.Contains(out, "Route  cli   public    yes       yes") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	if out, code := cli(t, g, "config-dump", "--gateway", "public", "--client", "grpc"); code != 0 || !strings.Contains(out, `"cli.test"`) {
		t.Errorf("config-dump: exit %d\n%s", code, out)
	}

	// Delete the Route: the client's calls fail; roll back: they reach v2.
	withRoute := latestRevision(t, g)
	if out, code := cli(t, g, "delete", "route", "cli"); code != 0 {
		t.Fatalf("delete: exit %d\n%s", code, out)
	}
	waitForError(t, 20*time.Second, c)
	if out, code := cli(t, g, "rollback", withRoute); code != 0 || !strings.Contains(out, "Route/cli created") {
		t.Fatalf("rollback: exit %d\n%s", code, out)
	}
	t.Logf("the client reached v2 %v after the rollback", waitFor(t, 20*time.Second, c, "v2"))
	if out, _ := cli(t, g, "history", "-o", "json"); !strings.Contains(out, `"message": "rollback to revision `+withRoute+`"`) || !strings.Contains(out, `"message": "to v2"`) {
		t.Errorf("history:\n%s", out)
	}
}

// waitForError calls until a call fails (or bound passes).
func waitForError(t *testing.T, bound time.Duration, c testpb.TestServiceClient) {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < bound {
		if last = call(c); strings.HasPrefix(last, "error: ") {
			t.Logf("calls failed %v after the delete: %s", time.Since(start), last)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("calls still answered within %v of the delete; last answer %q", bound, last)
}
