// Package gatehouseproc runs the gatehouse binary as a real child process
// for the process-level test suites (test/e2e, test/consul): it builds the
// binary once per test binary, starts `gatehouse serve` on free loopback
// ports with its log captured, waits for readiness within a bound, reads the
// admin API, and provides a real gRPC test backend, a proxyless grpc-go xDS
// client and raw ADS streams. It is test-only code (it imports testing) kept
// in a non-test package so that several test packages can share it.
package gatehouseproc

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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

// mainPkg is built by import path so that Build works from any package
// directory inside the module.
const mainPkg = "github.com/gatehouse-dev/gatehouse/cmd/gatehouse"

// logTail bounds how much of a process log a failing test prints.
const logTail = 32 << 10

// Build compiles the gatehouse binary into dir and returns its path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, mainPkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building gatehouse: %w", err)
	}
	return bin, nil
}

// Main is a whole TestMain: it builds gatehouse into a temporary directory,
// stores its path in *bin, runs the tests, removes the directory and exits.
func Main(m *testing.M, bin *string) {
	dir, err := os.MkdirTemp("", "gatehouse-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *bin, err = Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// FreeAddr returns a loopback address that was free a moment ago, its
// port below the ephemeral range (testenv.FreePorts): a port the kernel
// handed out for :0 can be taken by an outgoing connection before the
// process that is meant to listen on it starts.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
}

// Proc is a running `gatehouse serve` child process. It is stopped (and its
// log printed if the test failed) when the test ends.
type Proc struct {
	t         testing.TB
	bin       string
	XDSAddr   string // the ADS server, host:port
	AdminAddr string // the admin API, host:port
	Pid       int
	log       *LockedBuffer
}

// Start runs `bin serve --xds-addr A --admin-addr B args...` on free
// loopback addresses without waiting for it to be ready.
func Start(t testing.TB, bin string, args ...string) *Proc {
	t.Helper()
	return StartEnv(t, bin, nil, args...)
}

// StartEnv is Start with env appended to the inherited environment.
func StartEnv(t testing.TB, bin string, env []string, args ...string) *Proc {
	t.Helper()
	ports := testenv.FreePorts(t, 2) // distinct, unlike two FreeAddr calls
	addr := func(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
	p := &Proc{t: t, bin: bin, XDSAddr: addr(ports[0]), AdminAddr: addr(ports[1]), log: &LockedBuffer{}}
	argv := append([]string{"serve", "--xds-addr", p.XDSAddr, "--admin-addr", p.AdminAddr}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, argv...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	p.Pid = cmd.Process.Pid
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("gatehouse log (tail):\n%s", Tail(p.log.String(), logTail))
		}
	})
	return p
}

// Log is everything the process has written to stdout and stderr so far.
func (p *Proc) Log() string { return p.log.String() }

// Readyz is the status code of GET /readyz, 0 when it could not be asked.
func (p *Proc) Readyz() int {
	code, _ := p.get("/readyz", time.Second)
	return code
}

// WaitReady waits until /readyz answers 200 and returns how long that took;
// past bound it fails the test.
func (p *Proc) WaitReady(bound time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	for time.Since(start) < bound {
		if p.Readyz() == 200 {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, status := p.Get("/api/v1/status")
	p.t.Fatalf("gatehouse not ready after %v; status %s", bound, status)
	return 0
}

// WaitHealthy waits until the process serves its admin API (/healthz 200;
// it listens on the xDS address before that); past bound it fails the test.
func (p *Proc) WaitHealthy(bound time.Duration) {
	p.t.Helper()
	for start := time.Now(); time.Since(start) < bound; time.Sleep(20 * time.Millisecond) {
		if code, _ := p.get("/healthz", time.Second); code == 200 {
			return
		}
	}
	p.t.Fatalf("gatehouse /healthz not 200 within %v", bound)
}

// Get fetches an admin API path and returns the status code and body; a
// transport error is code 0 with the error as the body.
func (p *Proc) Get(path string) (int, string) { return p.get(path, 5*time.Second) }

func (p *Proc) get(path string, timeout time.Duration) (int, string) {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get("http://" + p.AdminAddr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// GetJSON fetches an admin API path that must answer 200 and decodes its
// JSON body into v, failing the test otherwise.
func (p *Proc) GetJSON(path string, v any) {
	p.t.Helper()
	code, body := p.Get(path)
	if code != 200 {
		p.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		p.t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// Run runs a gatehouse CLI verb with bin and returns its combined output.
func Run(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// LockedBuffer is an io.Writer safe for a child process's stdout and
// stderr to share while tests read it.
type LockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Tail is the last n bytes of s, marked with "..." when cut.
func Tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
