// Package consulproc runs gatehouse as a real process against a real Consul
// agent, real gRPC backends and real grpc-go xDS clients (and raw ADS
// streams), and measures how fast registry changes reach them.
package consulproc

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/hashicorp/consul/api"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

var gatehouseBin string

func TestMain(m *testing.M) { gatehouseproc.Main(m, &gatehouseBin) }

// gatehouse is a running `gatehouse serve` process.
type gatehouse struct {
	*gatehouseproc.Proc
	t *testing.T
}

// launch starts `gatehouse serve` against the Consul agent at consulAddr
// without waiting for it to be ready.
func launch(t *testing.T, policyDir, consulAddr string, extra ...string) *gatehouse {
	t.Helper()
	args := append([]string{"--policy-dir", policyDir, "--consul-addr", consulAddr}, extra...)
	// The agent's address and token come from flags only, never from the
	// environment of whoever runs the tests.
	p := gatehouseproc.StartEnv(t, gatehouseBin, []string{"CONSUL_HTTP_TOKEN=", "CONSUL_HTTP_ADDR="}, args...)
	return &gatehouse{Proc: p, t: t}
}

func startGatehouse(t *testing.T, policyDir, consulAddr string, extra ...string) *gatehouse {
	t.Helper()
	g := launch(t, policyDir, consulAddr, extra...)
	g.WaitReady(30 * time.Second)
	return g
}

func (g *gatehouse) statusJSON() string {
	_, body := g.Get("/api/v1/status")
	return body
}

// consulStatus is the part of /api/v1/status the tests look at.
type consulStatus struct {
	Ready      bool   `json:"ready"`
	WaitingFor string `json:"waiting_for"`
	Consul     *struct {
		Reachable bool   `json:"reachable"`
		LastError string `json:"last_error"`
		Synced    bool   `json:"synced"`
		Services  []struct {
			Name      string `json:"name"`
			Instances int    `json:"instances"`
			State     string `json:"state"`
		} `json:"services"`
	} `json:"consul"`
}

// cpuTime is the gatehouse process's user+system CPU time so far.
func (g *gatehouse) cpuTime() time.Duration {
	g.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", g.Pid))
	if err != nil {
		g.t.Fatal(err)
	}
	// Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz
}

// connsTo counts the gatehouse process's established TCP connections to
// port (see establishedTo).
func (g *gatehouse) connsTo(port int) (int, error) { return establishedTo(g.Pid, port) }

// establishedTo counts process pid's established IPv4 TCP connections to
// 127.0.0.1:port, from /proc. Anything it cannot read is an error, never a
// count: a probe that cannot see the connections must not report none.
func establishedTo(pid, port int) (int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("listing the sockets of pid %d: %w", pid, err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the TCP table of pid %d: %w", pid, err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) == 0 || !strings.Contains(lines[0], "rem_address") {
		return 0, fmt.Errorf("/proc/%d/net/tcp: unexpected header %q", pid, lines[0])
	}
	n := 0
	want := fmt.Sprintf("0100007F:%04X", port) // 127.0.0.1, as /proc prints it on little-endian machines
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			return 0, fmt.Errorf("/proc/%d/net/tcp: short line %q", pid, line)
		}
		if f[2] == want && f[3] == "01" && inodes[f[9]] { // 01: ESTABLISHED
			n++
		}
	}
	return n, nil
}

func (g *gatehouse) cli(args ...string) string {
	g.t.Helper()
	out, _ := gatehouseproc.Run(gatehouseBin, args...)
	return out
}

func writePolicy(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		tmp := filepath.Join(dir, ".tmp-"+name)
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
	}
}

// consulPolicy is a Gateway with one Route per (host, policy Service) and
// Services discovered in Consul.
func consulPolicy(services map[string]string) string {
	var b strings.Builder
	b.WriteString("kind: Gateway\nname: public\nspec:\n  listeners:\n    - {name: http, port: 8080, protocol: HTTP}\n")
	names := make([]string, 0, len(services))
	for n := range services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "---\nkind: Service\nname: %s\nspec:\n  protocol: GRPC\n  discovery:\n    consul: {service: %s}\n", n, services[n])
		fmt.Fprintf(&b, "---\nkind: Route\nname: %s\nspec:\n  gateways: [public]\n  hosts: [%s.test]\n  backends: [{service: %s}]\n", n, n, n)
	}
	return b.String()
}

type backend = gatehouseproc.Backend

func startBackend(t *testing.T, name string) *backend { return gatehouseproc.StartBackend(t, name) }

// register registers b in Consul as an instance of service (with a TTL
// check "ttl-<name>" that starts passing, when ttl).
func register(t *testing.T, c *api.Client, service string, b *backend, ttl bool) {
	t.Helper()
	reg := &api.AgentServiceRegistration{ID: b.Name, Name: service, Address: "127.0.0.1", Port: b.Port}
	if ttl {
		reg.Check = &api.AgentServiceCheck{CheckID: "ttl-" + b.Name, TTL: "1h", Status: api.HealthPassing}
	}
	if err := c.Agent().ServiceRegister(reg); err != nil {
		t.Fatalf("registering %s: %v", b.Name, err)
	}
}

// xdsClient dials xds:///host as a proxyless grpc-go client of the public
// Gateway, with the bootstrap `gatehouse bootstrap --format grpc` prints.
func xdsClient(t *testing.T, g *gatehouse, node, host string) testpb.TestServiceClient {
	t.Helper()
	return gatehouseproc.XDSClient(t, gatehouseBin, g.XDSAddr, "public", node, host)
}

func call(c testpb.TestServiceClient) string { return gatehouseproc.Call(c) }

// waitGone calls until name has not answered for quiet consecutive calls
// and returns the time from start to its last answer (when traffic to it
// stopped), or fails past bound. Every call must succeed.
func waitGone(t *testing.T, c testpb.TestServiceClient, name string, start time.Time, bound time.Duration) time.Duration {
	t.Helper()
	const quiet = 40
	lastSeen := start
	since := 0
	for time.Since(start) < bound {
		got := call(c)
		if strings.HasPrefix(got, "error") {
			t.Fatalf("call failed while %s was being removed: %s", name, got)
		}
		if got == name {
			lastSeen, since = time.Now(), 0
		} else if since++; since >= quiet {
			return lastSeen.Sub(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("%s still answered %v after the change", name, bound)
	return 0
}

// summary is "p50 X, max Y over n" of durations.
func summary(ds []time.Duration) (p50, max time.Duration) {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2], s[len(s)-1]
}

func tail(s string, n int) string { return gatehouseproc.Tail(s, n) }

// rdsNames are the route configurations an Envoy listener response names.
func rdsNames(t *testing.T, r *discoveryv3.DiscoveryResponse) []string {
	out, err := gatehouseproc.RDSNames(r)
	if err != nil {
		t.Error(err)
	}
	sort.Strings(out)
	return out
}

func (g *gatehouse) status() consulStatus { return gatehouseproc.Status[consulStatus](g.t, g.Proc) }
