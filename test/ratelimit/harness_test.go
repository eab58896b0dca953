// Package ratelimit_test runs gatehouse's rate-limit service as Envoy sees
// it: over real gRPC on loopback, against a real redis-server, and side by
// side with envoyproxy/ratelimit (built by `make envoy-ratelimit`).
package ratelimit_test

import (
	"context"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit/ratelimittest"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// peerVersion must match ENVOY_RATELIMIT_VERSION in the Makefile.
const peerVersion = "v1.4.1-0.20260122083618-3fb702589d36"

// gatehouse is one rate-limit service on its own gRPC server.
type gatehouse struct {
	svc    *ratelimit.Service
	reg    *prometheus.Registry
	client rlsv3.RateLimitServiceClient
	addr   string
}

// startGatehouse serves a Service with store on a free loopback port.
// A zero timeout means the service default (100ms); tests that are not
// about timeouts pass a generous one so that a loaded machine cannot fail them.
func startGatehouse(t testing.TB, store ratelimit.Store, clock func() time.Time, timeout time.Duration, cfg *ratelimit.Config) *gatehouse {
	t.Helper()
	reg := prometheus.NewRegistry()
	svc, err := ratelimit.New(ratelimit.Options{Store: store, Clock: clock, Timeout: timeout, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Update(cfg); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	svc.Register(srv)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return &gatehouse{svc: svc, reg: reg, client: dial(t, lis.Addr().String()), addr: lis.Addr().String()}
}

func dial(t testing.TB, addr string) rlsv3.RateLimitServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return rlsv3.NewRateLimitServiceClient(conn)
}

func newRedisStore(t testing.TB, addr, prefix string) *ratelimit.RedisStore {
	t.Helper()
	s, err := ratelimit.NewRedisStore(ratelimit.RedisOptions{Addr: addr, KeyPrefix: prefix, Timeout: relaxed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func newMemoryStore(t testing.TB) *ratelimit.MemoryStore {
	s := ratelimit.NewMemoryStore(ratelimit.MemoryOptions{})
	t.Cleanup(func() { s.Close() })
	return s
}

// relaxed is the store timeout of tests that are not about timeouts: about
// a second, so a hung Redis fails a call fast enough for the test's own
// waits to retry. callBound bounds each gRPC call from a test; it is longer
// than relaxed, so a store timeout comes back as the service's Unavailable,
// not as the client's deadline.
const (
	relaxed   = time.Second
	callBound = relaxed + 500*time.Millisecond
)

// midWindow returns a fixed clock 10 seconds into the current minute, so
// that no fixed window up to a day ends during a test that uses it.
func midWindow() func() time.Time {
	now := time.Now().Truncate(time.Minute).Add(10 * time.Second)
	return func() time.Time { return now }
}

func desc(kv ...string) *rlcommon.RateLimitDescriptor {
	d := &rlcommon.RateLimitDescriptor{}
	for i := 0; i < len(kv); i += 2 {
		d.Entries = append(d.Entries, &rlcommon.RateLimitDescriptor_Entry{Key: kv[i], Value: kv[i+1]})
	}
	return d
}

func call(t testing.TB, c rlsv3.RateLimitServiceClient, domain string, hits uint32, ds ...*rlcommon.RateLimitDescriptor) *rlsv3.RateLimitResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callBound)
	defer cancel()
	resp, err := c.ShouldRateLimit(ctx, &rlsv3.RateLimitRequest{Domain: domain, Descriptors: ds, HitsAddend: hits})
	if err != nil {
		t.Fatalf("ShouldRateLimit: %v", err)
	}
	return resp
}

// peerBinary finds envoyproxy/ratelimit: $GATEHOUSE_ENVOY_RATELIMIT, or
// where `make envoy-ratelimit` caches it. Outside CI a missing binary skips.
func peerBinary(t testing.TB) string {
	t.Helper()
	return gatehouseproc.CachedTool(t, "GATEHOUSE_ENVOY_RATELIMIT", "envoy-ratelimit-"+peerVersion, "ratelimit", "envoy-ratelimit")
}

// startPeer runs envoyproxy/ratelimit on Redis with one YAML config file
// and returns a client for its gRPC port.
func startPeer(t testing.TB, redisAddr, configYAML string) rlsv3.RateLimitServiceClient {
	t.Helper()
	return dial(t, startPeerAddr(t, redisAddr, configYAML))
}

// startPeerAddr is startPeer returning the gRPC address.
func startPeerAddr(t testing.TB, redisAddr, configYAML string) string {
	t.Helper()
	bin := peerBinary(t)
	root := t.TempDir()
	dir := filepath.Join(root, "ratelimit", "config")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gatehouse.yaml"), []byte(configYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	grpcPort, httpPort, debugPort := ratelimittest.FreePort(t), ratelimittest.FreePort(t), ratelimittest.FreePort(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"HOST=127.0.0.1", "PORT="+strconv.Itoa(httpPort),
		"GRPC_HOST=127.0.0.1", "GRPC_PORT="+strconv.Itoa(grpcPort),
		"DEBUG_HOST=127.0.0.1", "DEBUG_PORT="+strconv.Itoa(debugPort),
		"USE_STATSD=false", "LOG_LEVEL=error",
		"BACKEND_TYPE=redis", "REDIS_SOCKET_TYPE=tcp", "REDIS_URL="+redisAddr,
		"RUNTIME_ROOT="+root, "RUNTIME_SUBDIRECTORY=ratelimit", "RUNTIME_WATCH_ROOT=false",
		"EXPIRATION_JITTER_MAX_SECONDS=0",
	)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start envoyproxy/ratelimit: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	health := fmt.Sprintf("http://127.0.0.1:%d/healthcheck", httpPort)
	deadline := time.Now().Add(15 * time.Second)
	hc := &http.Client{Timeout: time.Second} // a hung peer must not hang the wait
	for {
		resp, err := hc.Get(health)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("envoyproxy/ratelimit not healthy within 15s: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(grpcPort))
}

// peerConfig writes cfg's RateLimit limits as an envoyproxy/ratelimit
// config for one domain: descriptor (ratelimit, <id>) with one nested level
// per key, the innermost carrying the limit.
func peerConfig(domain string, cfg *ratelimit.Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "domain: %q\ndescriptors:\n", domain)
	for id, l := range cfg.Limits {
		fmt.Fprintf(&b, "  - key: ratelimit\n    value: %q\n", id)
		indent := "    "
		for _, k := range l.Keys {
			fmt.Fprintf(&b, "%sdescriptors:\n%s  - key: %q\n", indent, indent, wire.DescriptorKey(k))
			indent += "    "
		}
		fmt.Fprintf(&b, "%srate_limit:\n%s  unit: %s\n%s  requests_per_unit: %d\n", indent, indent, l.Unit, indent, l.Requests)
		if l.Shadow {
			fmt.Fprintf(&b, "%sshadow_mode: true\n", indent)
		}
	}
	return b.String()
}
