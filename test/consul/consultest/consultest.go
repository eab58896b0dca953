// Package consultest starts real Consul agents (`consul agent -dev`) on free
// loopback ports for tests, and stops them by pid.
//
// The binary comes from `make consul` (cached under
// ${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/consul-v1.14.4/consul) or from
// $GATEHOUSE_CONSUL. When it is missing a test fails with a message saying
// how to build it (or is skipped with GATEHOUSE_SKIP_MISSING=1).
package consultest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

// Version is the Consul release the tests run.
const Version = "v1.14.4"

// Binary returns the path of the Consul agent ($GATEHOUSE_CONSUL, or where
// `make consul` caches it), or fails t (skips it with GATEHOUSE_SKIP_MISSING=1).
func Binary(t testing.TB) string {
	t.Helper()
	return gatehouseproc.CachedTool(t, "GATEHOUSE_CONSUL", "consul-"+Version, "consul", "consul")
}

// Ports are the agent's loopback ports.
type Ports struct{ HTTP, DNS, Server, SerfLAN, SerfWAN, GRPC int }

// Agent is a running (or stopped) dev-mode Consul agent.
type Agent struct {
	t     testing.TB
	bin   string
	dir   string
	Ports Ports
	Addr  string // HTTP API, host:port
	extra string
	token string // management token when ACLs are on

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *gatehouseproc.LockedBuffer
}

// Option adjusts an agent.
type Option func(*Agent)

// WithHCL adds agent configuration (for example an acl block).
func WithHCL(hcl string) Option { return func(a *Agent) { a.extra += "\n" + hcl } }

// WithACL turns ACLs on (default deny) with token as the management token
// (also the agent's own token).
func WithACL(token string) Option {
	return func(a *Agent) {
		a.token = token
		a.extra += fmt.Sprintf(`
acl {
  enabled = true
  default_policy = "deny"
  enable_token_persistence = false
  tokens {
    initial_management = %q
    agent = %q
  }
}`, token, token)
	}
}

// WithHTTPConnLimit sets limits.http_max_conns_per_client (200 by default).
func WithHTTPConnLimit(n int) Option {
	return func(a *Agent) { a.extra += fmt.Sprintf("\nlimits {\n  http_max_conns_per_client = %d\n}", n) }
}

// Start starts an agent on free loopback ports, waits until it has a leader
// and has registered itself, and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Agent {
	t.Helper()
	a := &Agent{t: t, bin: Binary(t), dir: t.TempDir(), log: &gatehouseproc.LockedBuffer{}}
	for _, o := range opts {
		o(a)
	}
	p := testenv.FreePorts(t, 6) // below the ephemeral range: Restart reuses them
	a.Ports = Ports{HTTP: p[0], DNS: p[1], Server: p[2], SerfLAN: p[3], SerfWAN: p[4], GRPC: p[5]}
	a.Addr = fmt.Sprintf("127.0.0.1:%d", a.Ports.HTTP)
	cfg := fmt.Sprintf(`node_name = "gatehouse-test-%d"
disable_update_check = true
log_level = "warn"
ports {
  http = %d
  dns = %d
  server = %d
  serf_lan = %d
  serf_wan = %d
  grpc = %d
  grpc_tls = -1
  https = -1
}
%s
`, a.Ports.HTTP, a.Ports.HTTP, a.Ports.DNS, a.Ports.Server, a.Ports.SerfLAN, a.Ports.SerfWAN, a.Ports.GRPC, a.extra)
	if err := os.WriteFile(filepath.Join(a.dir, "agent.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Kill()
		if t.Failed() {
			t.Logf("consul agent log (last 4 KiB):\n%s", gatehouseproc.Tail(a.log.String(), 4096))
		}
	})
	a.Restart()
	return a
}

// Restart starts the agent again on the same ports (after Kill). A dev agent
// keeps nothing: registrations are gone.
func (a *Agent) Restart() {
	a.t.Helper()
	a.mu.Lock()
	if a.cmd != nil {
		a.mu.Unlock()
		a.t.Fatal("consultest: Restart while the agent runs")
	}
	cmd := exec.Command(a.bin, "agent", "-dev", "-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-config-file", filepath.Join(a.dir, "agent.hcl"))
	cmd.Stdout, cmd.Stderr = a.log, a.log
	if err := cmd.Start(); err != nil {
		a.mu.Unlock()
		a.t.Fatalf("starting consul: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	a.cmd, a.done = cmd, done
	a.mu.Unlock()
	a.waitUp(30 * time.Second)
}

// Kill stops the agent with SIGKILL (by pid) and waits for it to exit.
func (a *Agent) Kill() {
	a.mu.Lock()
	cmd, done := a.cmd, a.done
	a.cmd = nil
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		a.t.Errorf("consul pid %d did not exit within 10s of SIGKILL", cmd.Process.Pid)
	}
}

// Pid is the running agent's process id (0 when stopped).
func (a *Agent) Pid() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil {
		return 0
	}
	return a.cmd.Process.Pid
}

// Client is an API client for the agent (with the management token when
// ACLs are on). Its transport is pooled but bounded to 8 connections, so
// tests that register thousands of instances stay under the agent's limit.
func (a *Agent) Client() *api.Client {
	a.t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address, cfg.Scheme, cfg.Token = a.Addr, "http", a.token
	cfg.Transport.MaxConnsPerHost, cfg.Transport.MaxIdleConnsPerHost = 8, 8
	c, err := api.NewClient(cfg)
	if err != nil {
		a.t.Fatal(err)
	}
	return c
}

// Log is what the agent printed so far.
func (a *Agent) Log() string { return a.log.String() }

// waitUp waits for a leader and for the agent's own node in the catalog
// (dev agents accept registrations only after that).
func (a *Agent) waitUp(bound time.Duration) {
	a.t.Helper()
	deadline := time.Now().Add(bound)
	c := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		a.mu.Lock()
		done := a.done
		a.mu.Unlock()
		select {
		case <-done:
			a.t.Fatalf("consul exited during start:\n%s", gatehouseproc.Tail(a.log.String(), 4096))
		default:
		}
		if ok := get(c, "http://"+a.Addr+"/v1/status/leader", a.token, func(b string) bool { return len(b) > 2 }) &&
			get(c, "http://"+a.Addr+"/v1/catalog/nodes", a.token, func(b string) bool { return strings.Contains(b, `"Node"`) }); ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.t.Fatalf("consul not up within %v:\n%s", bound, gatehouseproc.Tail(a.log.String(), 4096))
}

func get(c *http.Client, url, token string, ok func(string) bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if token != "" {
		req.Header.Set("X-Consul-Token", token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode == 200 && ok(b.String())
}
