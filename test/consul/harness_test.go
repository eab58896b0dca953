// Package consulproc runs gatehouse as a real process against a real Consul
// agent, real gRPC backends and real grpc-go xDS clients (and raw ADS
// streams), and measures how fast registry changes reach them.
package consulproc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/xds"
)

var gatehouseBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-consul-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gatehouseBin = filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", gatehouseBin, "../../cmd/gatehouse")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gatehouse:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// gatehouse is a running `gatehouse serve` process.
type gatehouse struct {
	t         *testing.T
	xdsAddr   string
	adminAddr string
	pid       int
	log       *lockedBuffer
}

// launch starts `gatehouse serve` against the Consul agent at consulAddr
// without waiting for it to be ready.
func launch(t *testing.T, policyDir, consulAddr string, extra ...string) *gatehouse {
	t.Helper()
	g := &gatehouse{t: t, xdsAddr: freeAddr(t), adminAddr: freeAddr(t), log: &lockedBuffer{}}
	args := append([]string{"serve", "--policy-dir", policyDir, "--xds-addr", g.xdsAddr, "--admin-addr", g.adminAddr,
		"--consul-addr", consulAddr}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, gatehouseBin, args...)
	cmd.Env = append(os.Environ(), "CONSUL_HTTP_TOKEN=", "CONSUL_HTTP_ADDR=")
	cmd.Stdout, cmd.Stderr = g.log, g.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.pid = cmd.Process.Pid
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("gatehouse log (tail):\n%s", tail(g.log.String(), 6000))
		}
	})
	return g
}

func startGatehouse(t *testing.T, policyDir, consulAddr string, extra ...string) *gatehouse {
	t.Helper()
	g := launch(t, policyDir, consulAddr, extra...)
	g.waitReady(30 * time.Second)
	return g
}

// waitHealthy waits until the process serves its admin API (it listens on
// the xDS address before that).
func (g *gatehouse) waitHealthy(bound time.Duration) {
	g.t.Helper()
	for start := time.Now(); time.Since(start) < bound; time.Sleep(20 * time.Millisecond) {
		if code, _ := g.get("/healthz"); code == 200 {
			return
		}
	}
	g.t.Fatalf("gatehouse /healthz not 200 within %v", bound)
}

func (g *gatehouse) readyz() int {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + g.adminAddr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (g *gatehouse) waitReady(bound time.Duration) time.Duration {
	g.t.Helper()
	start := time.Now()
	for time.Since(start) < bound {
		if g.readyz() == 200 {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.t.Fatalf("gatehouse not ready after %v; status %s", bound, g.statusJSON())
	return 0
}

func (g *gatehouse) get(path string) (int, string) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + g.adminAddr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (g *gatehouse) statusJSON() string {
	_, body := g.get("/api/v1/status")
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

func (g *gatehouse) status() consulStatus {
	g.t.Helper()
	var st consulStatus
	if err := json.Unmarshal([]byte(g.statusJSON()), &st); err != nil {
		g.t.Fatalf("/api/v1/status: %v", err)
	}
	return st
}

// metric returns the value of one sample of /metrics ("name{labels}"), or
// -1 when absent.
func (g *gatehouse) metric(sample string) float64 {
	_, body := g.get("/metrics")
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, sample+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(line[len(sample):]), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// cpuTime is the gatehouse process's user+system CPU time so far.
func (g *gatehouse) cpuTime() time.Duration {
	g.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", g.pid))
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

// connsTo counts the gatehouse process's established TCP connections to port.
func (g *gatehouse) connsTo(port int) int {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", g.pid))
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", g.pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", g.pid))
	if err != nil {
		return -1
	}
	n := 0
	want := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && strings.HasSuffix(f[2], want) && f[3] == "01" && inodes[f[9]] {
			n++
		}
	}
	return n
}

func (g *gatehouse) cli(args ...string) string {
	g.t.Helper()
	out, _ := exec.Command(gatehouseBin, args...).CombinedOutput()
	return string(out)
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

// backend is a real gRPC server that answers UnaryCall with its name.
type backend struct {
	testpb.UnimplementedTestServiceServer
	name string
	port int
}

func (b *backend) UnaryCall(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{ServerId: b.name}, nil
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, port: l.Addr().(*net.TCPAddr).Port}
	s := grpc.NewServer()
	testpb.RegisterTestServiceServer(s, b)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return b
}

// register registers b in Consul as an instance of service (with a TTL
// check "ttl-<name>" that starts passing, when ttl).
func register(t *testing.T, c *api.Client, service string, b *backend, ttl bool) {
	t.Helper()
	reg := &api.AgentServiceRegistration{ID: b.name, Name: service, Address: "127.0.0.1", Port: b.port}
	if ttl {
		reg.Check = &api.AgentServiceCheck{CheckID: "ttl-" + b.name, TTL: "1h", Status: api.HealthPassing}
	}
	if err := c.Agent().ServiceRegister(reg); err != nil {
		t.Fatalf("registering %s: %v", b.name, err)
	}
}

// xdsClient dials xds:///host as a proxyless grpc-go client of the public
// Gateway, with the bootstrap `gatehouse bootstrap --format grpc` prints.
func xdsClient(t *testing.T, g *gatehouse, node, host string) testpb.TestServiceClient {
	t.Helper()
	bootstrap := g.cli("bootstrap", "--format", "grpc", "--gateway", "public", "--node-id", node, "--xds-addr", g.xdsAddr)
	rb, err := xds.NewXDSResolverWithConfigForTesting([]byte(bootstrap))
	if err != nil {
		t.Fatalf("xDS resolver from bootstrap: %v\n%s", err, bootstrap)
	}
	cc, err := grpc.NewClient("xds:///"+host, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithResolvers(rb))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testpb.NewTestServiceClient(cc)
}

func call(c testpb.TestServiceClient) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
	if err != nil {
		return "error: " + err.Error()
	}
	return resp.ServerId
}

// waitAnswer calls until want answers and returns how long that took, or
// fails past bound.
func waitAnswer(t *testing.T, c testpb.TestServiceClient, want string, bound time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	last := ""
	for time.Since(start) < bound {
		if last = call(c); last == want {
			return time.Since(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("%q did not answer within %v; last answer %q", want, bound, last)
	return 0
}

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

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// rdsNames are the route configurations an Envoy listener response names.
func rdsNames(t *testing.T, r *discoveryv3.DiscoveryResponse) []string {
	var out []string
	for _, a := range r.Resources {
		l := &listenerv3.Listener{}
		if err := a.UnmarshalTo(l); err != nil {
			t.Error(err)
			continue
		}
		for _, fc := range l.FilterChains {
			for _, f := range fc.Filters {
				h := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig().UnmarshalTo(h) == nil && h.GetRds() != nil {
					out = append(out, h.GetRds().RouteConfigName)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
