// Package eurekaproc runs gatehouse as a real process against
// Eureka-protocol servers (test/eureka/eurekatest; no Java Eureka runs
// here), with instances registered by the official JavaScript client
// eureka-js-client (register.js, run by node), real gRPC backends and a
// real proxyless grpc-go xDS client.
package eurekaproc

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

var gatehouseBin string

func TestMain(m *testing.M) { gatehouseproc.Main(m, &gatehouseBin) }

// EurekaJSVersion is the eureka-js-client release `make eureka-js-client`
// installs.
const EurekaJSVersion = "4.5.0"

// jsClient is one instance registered by eureka-js-client until stopped.
type jsClient struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	mu    sync.Mutex
	out   strings.Builder
	done  chan struct{}
}

// register runs register.js: the instance id of app at 127.0.0.1:port in
// zone registers with every server (comma-separated URLs) and heartbeats
// until stopped (or the test ends).
func register(t *testing.T, urls, app, id string, port int, zone string) *jsClient {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node not found: the Eureka tests run eureka-js-client with node (apt-get install nodejs npm)")
	}
	pkg := gatehouseproc.CachedTool(t, "GATEHOUSE_EUREKA_JS", "eureka-js-client-"+EurekaJSVersion, "node_modules/eureka-js-client/package.json", "eureka-js-client")
	modules := filepath.Dir(filepath.Dir(pkg))
	cmd := exec.Command(node, "register.js", urls, app, id, "127.0.0.1", strconv.Itoa(port), zone)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	c := &jsClient{t: t, cmd: cmd, lines: make(chan string, 16), done: make(chan struct{})}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = writerFunc(func(p []byte) { c.mu.Lock(); c.out.Write(p); c.mu.Unlock() })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	go func() { _ = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.stdin.Close()
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill() // this process only, by its pid
			<-c.done
		}
	})
	c.expect("registered", 20*time.Second)
	return c
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// expect waits for a line from register.js, or fails past bound.
func (c *jsClient) expect(line string, bound time.Duration) {
	c.t.Helper()
	timeout := time.After(bound)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				c.mu.Lock()
				defer c.mu.Unlock()
				c.t.Fatalf("register.js ended before %q: %s", line, c.out.String())
			}
			if l == line {
				return
			}
		case <-timeout:
			c.mu.Lock()
			defer c.mu.Unlock()
			c.t.Fatalf("register.js: no %q within %v: %s", line, bound, c.out.String())
		}
	}
}

// status re-registers the instance with status s, as a Eureka client
// reports a change of its own health.
func (c *jsClient) status(s string) {
	c.t.Helper()
	fmt.Fprintf(c.stdin, "status %s\n", s)
	c.expect("status "+s, 10*time.Second)
}

// stop deregisters the instance (eureka-js-client's stop: DELETE) and
// waits for node to exit.
func (c *jsClient) stop() {
	c.t.Helper()
	c.stdin.Close()
	c.expect("deregistered", 10*time.Second)
	<-c.done
}

// override sets or removes an instance's status override through the
// server's REST API (PUT/DELETE /eureka/apps/APP/ID/status), as an
// operator takes an instance out of service.
func override(t *testing.T, url, app, id, method, value string) {
	t.Helper()
	req, _ := http.NewRequest(method, fmt.Sprintf("%s/apps/%s/%s/status?value=%s", url, app, id, value), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s status %s of %s/%s: %s", method, value, app, id, resp.Status)
	}
}

type gatehouse struct {
	*gatehouseproc.Proc
	t *testing.T
}

func launch(t *testing.T, policyDir string, extra ...string) *gatehouse {
	t.Helper()
	args := append([]string{"--policy-dir", policyDir, "--eureka-poll-interval", "200ms"}, extra...)
	return &gatehouse{Proc: gatehouseproc.StartEnv(t, gatehouseBin, []string{"GATEHOUSE_EUREKA_CREDENTIALS="}, args...), t: t}
}

// eurekaStatus is the part of /api/v1/status the tests look at.
type eurekaStatus struct {
	Ready  bool `json:"ready"`
	Eureka *struct {
		Server    string `json:"server"`
		Reachable bool   `json:"reachable"`
		LastError string `json:"last_error"`
		Synced    bool   `json:"synced"`
		HashCode  string `json:"apps_hashcode"`
		Fetches   struct {
			Full           int `json:"full_fetches"`
			Delta          int `json:"delta_fetches"`
			HashMismatches int `json:"hash_mismatches"`
			Failovers      int `json:"failovers"`
		} `json:"fetches"`
		Services []struct {
			Name      string `json:"name"`
			Endpoints int    `json:"endpoints"`
			Instances int    `json:"instances"`
			State     string `json:"state"`
		} `json:"services"`
	} `json:"eureka"`
}

// policy is a Gateway and a GRPC Service "cart" discovered from the Eureka
// application CART, with a Route for cart.test.
func policy() string {
	return "kind: Gateway\nname: public\nspec:\n  listeners:\n    - {name: http, port: 8080, protocol: HTTP}\n" +
		"---\nkind: Service\nname: cart\nspec:\n  protocol: GRPC\n  discovery:\n    eureka: {app: cart}\n" +
		"---\nkind: Route\nname: cart\nspec:\n  gateways: [public]\n  hosts: [cart.test]\n  backends: [{service: cart}]\n"
}

func policyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(policy()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type backend = gatehouseproc.Backend

func startBackend(t *testing.T, name string) *backend { return gatehouseproc.StartBackend(t, name) }

func xdsClient(t *testing.T, g *gatehouse) testpb.TestServiceClient {
	t.Helper()
	return gatehouseproc.XDSClient(t, gatehouseBin, g.XDSAddr, "public", "node-1", "cart.test")
}

func call(c testpb.TestServiceClient) string { return gatehouseproc.Call(c) }

func (g *gatehouse) status() eurekaStatus { return gatehouseproc.Status[eurekaStatus](g.t, g.Proc) }

// waitStatus polls the status until ok holds, or fails past bound.
func (g *gatehouse) waitStatus(what string, bound time.Duration, ok func(eurekaStatus) bool) time.Duration {
	g.t.Helper()
	return gatehouseproc.WaitStatus(g.t, g.Proc, what, bound, ok)
}
