// Package e2e runs the gatehouse binary as a real process against real gRPC
// backends and real grpc-go xDS clients, and asserts on what a user sees:
// which backend answered, how fast a change arrived, what status reports.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/xds"
)

var gatehouseBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-e2e-")
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

// freeAddr returns a loopback address that was free a moment ago.
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
	policyDir string
	xdsAddr   string
	adminAddr string
	log       *lockedBuffer
}

func startGatehouse(t *testing.T, policyDir string, extraArgs ...string) *gatehouse {
	t.Helper()
	g := &gatehouse{t: t, policyDir: policyDir, xdsAddr: freeAddr(t), adminAddr: freeAddr(t), log: &lockedBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	args := append([]string{"serve", "--policy-dir", policyDir, "--xds-addr", g.xdsAddr, "--admin-addr", g.adminAddr}, extraArgs...)
	cmd := exec.CommandContext(ctx, gatehouseBin, args...)
	cmd.Stdout, cmd.Stderr = g.log, g.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("gatehouse log:\n%s", g.log.String())
		}
	})
	g.waitReady()
	return g
}

func (g *gatehouse) waitReady() {
	g.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + g.adminAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.t.Fatalf("gatehouse not ready after 20s; log:\n%s", g.log.String())
}

func (g *gatehouse) getJSON(path string, v any) {
	g.t.Helper()
	resp, err := http.Get("http://" + g.adminAddr + path)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		g.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		g.t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

// run runs a gatehouse CLI verb and returns its combined output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(gatehouseBin, args...).CombinedOutput()
	return string(out), err
}

// writePolicy writes files into dir atomically (write to a temp name, then
// rename, as editors do).
func writePolicy(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(filepath.Dir(p), ".tmp-"+filepath.Base(p))
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
	}
}

// backend is a real gRPC server that answers UnaryCall with its name.
type backend struct {
	testpb.UnimplementedTestServiceServer
	name string
	addr string
	port int
}

func (b *backend) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{ServerId: b.name}, nil
}

func (b *backend) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	grpc.SetHeader(ctx, metadata.Pairs("server-id", b.name))
	return &testpb.Empty{}, nil
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, addr: l.Addr().String(), port: l.Addr().(*net.TCPAddr).Port}
	s := grpc.NewServer()
	testpb.RegisterTestServiceServer(s, b)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return b
}

// xdsClient dials xds:///host as a proxyless grpc-go client of gateway, with
// the bootstrap that `gatehouse bootstrap --format grpc` prints.
func xdsClient(t *testing.T, g *gatehouse, gateway, node, host string) testpb.TestServiceClient {
	t.Helper()
	bootstrap, err := run(t, "bootstrap", "--format", "grpc", "--gateway", gateway, "--node-id", node, "--xds-addr", g.xdsAddr)
	if err != nil {
		t.Fatalf("gatehouse bootstrap: %v\n%s", err, bootstrap)
	}
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

// call makes one UnaryCall and returns the answering backend's name, or
// "error: ..." when it failed.
func call(c testpb.TestServiceClient, md ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if len(md) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
	}
	resp, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
	if err != nil {
		return "error: " + err.Error()
	}
	return resp.ServerId
}

// waitFor calls until want answers (or bound passes) and returns how long it took.
func waitFor(t *testing.T, bound time.Duration, c testpb.TestServiceClient, want string, md ...string) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < bound {
		if last = call(c, md...); last == want {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no answer from %q within %v; last answer %q", want, bound, last)
	return 0
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
