// Package clisession is an operator's whole session through the gatehouse
// CLI binary against a running `gatehouse serve`, with a proxyless gRPC
// client seeing each change. The e2e tests run it once per policy store
// (test/e2e: the directory store; test/consul: Consul KV).
package clisession

import (
	"encoding/json"
	"errors"
	"fmt"
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

// Host is the host the session's Route serves.
const Host = "cli.test"

// bound is how long any change may take to reach the client.
const bound = 20 * time.Second

// Policy is what the store holds when the session starts: a Gateway
// "public", Services v1 and v2 on the two backends, and Route "cli" to v1.
func Policy(v1, v2 *gatehouseproc.Backend) map[string]string {
	return map[string]string{
		"gateway.yaml":  "kind: Gateway\nname: public\nspec:\n  listeners:\n    - {name: http, port: 8080, protocol: HTTP}\n",
		"services.yaml": service(v1, "") + "---\n" + service(v2, ""),
		"route.yaml":    route("v1"),
	}
}

func service(b *gatehouseproc.Backend, extra string) string {
	return fmt.Sprintf("kind: Service\nname: %s\nspec:\n  protocol: GRPC\n%s  discovery:\n    static:\n      - {address: 127.0.0.1, port: %d}\n", b.Name, extra, b.Port)
}

func route(svc string) string {
	return "kind: Route\nname: cli\nspec:\n  gateways: [public]\n  hosts: [" + Host + "]\n  backends: [{service: " + svc + "}]\n"
}

type session struct {
	t   *testing.T
	bin string
	g   *gatehouseproc.Proc
}

// cli runs a CLI verb against the server and returns its output and exit
// status.
func (s *session) cli(args ...string) (string, int) {
	s.t.Helper()
	out, err := gatehouseproc.Run(s.bin, append(args, "--server", s.g.AdminAddr)...)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &exit):
		return out, exit.ExitCode()
	}
	s.t.Fatalf("gatehouse %v: %v\n%s", args, err, out)
	return "", -1
}

func (s *session) file(name, body string) string {
	s.t.Helper()
	p := filepath.Join(s.t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// latest is the newest revision in the server's history.
func (s *session) latest() string {
	s.t.Helper()
	out, code := s.cli("history", "--limit", "1", "-o", "json")
	var h struct {
		Revisions []struct{ ID string } `json:"revisions"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &h) != nil || len(h.Revisions) != 1 {
		s.t.Fatalf("history: exit %d\n%s", code, out)
	}
	return h.Revisions[0].ID
}

// Run is the session, against g serving Policy(v1, v2) from its store:
// diff, apply, get, two concurrent applies with one refused as stale (exit
// 4), an apply with one invalid object storing nothing (exit 1), status,
// config-dump, delete and rollback. The proxyless client must see each
// change within a generous bound; how long each took is logged.
func Run(t *testing.T, bin string, g *gatehouseproc.Proc, v1, v2 *gatehouseproc.Backend) {
	s := &session{t: t, bin: bin, g: g}
	c := gatehouseproc.XDSClient(t, bin, g.XDSAddr, "public", "cli-client", Host)
	t.Logf("the client reached v1 %v after it started", waitFor(t, c, "v1"))

	toV2 := s.file("route.yaml", route("v2"))
	out, code := s.cli("diff", "-f", toV2)
	if code != 0 || !strings.Contains(out, "-    - service: v1") || !strings.Contains(out, "+    - service: v2") {
		t.Fatalf("diff: exit %d\n%s", code, out)
	}
	// The plan: the Envoy resources the change would alter, per Gateway.
	if !strings.Contains(out, "Envoy resources per Gateway (") || !strings.Contains(out, "public/") || !strings.Contains(out, "svc/v2") {
		t.Fatalf("diff shows no Envoy resource change for moving the Route to v2:\n%s", out)
	}
	if got := gatehouseproc.Call(c); got != "v1" {
		t.Fatalf("after diff the client reached %q: a diff changed the policy", got)
	}

	if out, code := s.cli("apply", "-f", toV2, "-m", "to v2"); code != 0 || !strings.Contains(out, "Route/cli configured") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	t.Logf("the client reached v2 %v after the apply", waitFor(t, c, "v2"))
	if out, code := s.cli("get", "route", "cli", "-o", "yaml"); code != 0 || !strings.Contains(out, "service: v2") {
		t.Errorf("get: exit %d\n%s", code, out)
	}
	// explain asks the server: the call the client makes takes Route cli
	// to v2 on what the proxies are served now; a host no Route serves
	// matches nothing (exit 1).
	out, code = s.cli("explain", "--gateway", "public", "--client", "grpc", "--host", Host, "--path", "/grpc.testing.TestService/UnaryCall", "-o", "json")
	var ex struct {
		Route *struct {
			Policy   string `json:"policy"`
			Backends []struct {
				Service string `json:"service"`
			} `json:"backends"`
		} `json:"route"`
	}
	if err := json.Unmarshal([]byte(out), &ex); code != 0 || err != nil || ex.Route == nil || !strings.Contains(ex.Route.Policy, "cli") ||
		len(ex.Route.Backends) != 1 || ex.Route.Backends[0].Service != "v2" {
		t.Errorf("explain against the server: exit %d, %v\n%s", code, err, out)
	}
	if out, code := s.cli("explain", "--gateway", "public", "--client", "grpc", "--host", "nothing.test", "--path", "/x.Y/Z"); code != 1 {
		t.Errorf("explain of a host no Route serves: exit %d, want 1\n%s", code, out)
	}

	// Two applies based on the same revision: one is stored, the other is
	// refused as stale (exit 4).
	base := s.latest()
	var wg sync.WaitGroup
	codes, outs := make([]int, 2), make([]string, 2)
	for i, b := range []*gatehouseproc.Backend{v1, v2} {
		f := s.file("svc.yaml", service(b, "  connectTimeout: 2s\n"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], codes[i] = s.cli("apply", "-f", f, "--base-revision", base)
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
	before := s.latest()
	broken := strings.Replace(strings.Replace(route("v1"), "name: cli", "name: broken", 1), "spec:\n", "spec:\n  bogus: 1\n", 1)
	mixed := s.file("mixed.yaml", strings.Replace(route("v1"), "name: cli", "name: extra", 1)+"---\n"+broken)
	if out, code := s.cli("apply", "-f", mixed); code != 1 || !strings.Contains(out, "Route/broken: spec.bogus") {
		t.Errorf("invalid apply: exit %d\n%s", code, out)
	}
	if out, _ := s.cli("get", "routes"); strings.Contains(out, "extra") || s.latest() != before {
		t.Errorf("an apply with an invalid object stored something:\n%s", out)
	}

	// The concurrent apply that won is programmed once the control plane
	// has read it.
	for start := time.Now(); time.Since(start) < bound; time.Sleep(50 * time.Millisecond) {
		if out, code = s.cli("status", "--kind", "route"); code == 0 && strings.Contains(out, "Route  cli   public    yes       yes") {
			t.Logf("status says Route/cli is programmed %v after asking", time.Since(start))
			break
		}
	}
	if !strings.Contains(out, "Route  cli   public    yes       yes") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	if out, code := s.cli("config-dump", "--gateway", "public", "--client", "grpc"); code != 0 || !strings.Contains(out, `"`+Host+`"`) {
		t.Errorf("config-dump: exit %d\n%s", code, out)
	}

	// Delete the Route: the client's calls fail; roll back: they reach v2.
	withRoute := s.latest()
	if out, code := s.cli("delete", "route", "cli"); code != 0 {
		t.Fatalf("delete: exit %d\n%s", code, out)
	}
	t.Logf("calls failed %v after the delete", waitForError(t, c))
	if out, code := s.cli("rollback", withRoute); code != 0 || !strings.Contains(out, "Route/cli created") {
		t.Fatalf("rollback: exit %d\n%s", code, out)
	}
	t.Logf("the client reached v2 %v after the rollback", waitFor(t, c, "v2"))
	if out, _ := s.cli("history", "-o", "json"); !strings.Contains(out, `"message": "rollback to revision `+withRoute+`"`) || !strings.Contains(out, `"message": "to v2"`) {
		t.Errorf("history:\n%s", out)
	}
}

// waitFor calls until want answers (or the bound passes).
func waitFor(t *testing.T, c testpb.TestServiceClient, want string) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < bound {
		if last = gatehouseproc.Call(c); last == want {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no answer from %q within %v; last answer %q", want, bound, last)
	return 0
}

// waitForError calls until a call fails (or the bound passes).
func waitForError(t *testing.T, c testpb.TestServiceClient) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < bound {
		if last = gatehouseproc.Call(c); strings.HasPrefix(last, "error: ") {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("calls still answered within %v; last answer %q", bound, last)
	return 0
}
