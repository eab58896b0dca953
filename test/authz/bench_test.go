package authz_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/test/testutil/cpumeter"
)

// trivialOr answers requests marked "bench.trivial" with a constant OK, the
// least a Check handler can do, and passes the rest to gatehouse: both run
// on the same gRPC server, so the ratio measures gatehouse's own cost.
type trivialOr struct {
	authv3.UnimplementedAuthorizationServer
	svc *authz.Service
}

var okResponse = &authv3.CheckResponse{
	Status:       &rpcstatus.Status{},
	HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
}

func (t trivialOr) Check(ctx context.Context, r *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	if r.GetAttributes().GetContextExtensions()["bench.trivial"] == "true" {
		return okResponse, nil
	}
	return t.svc.Check(ctx, r)
}

// benchRequests returns the same Envoy request (an admin reading /people/1
// with a valid HS256 token), for the primer's JWT RBAC policy and for the
// trivial handler.
func benchRequests(b *testing.B) (rego, trivial *authv3.CheckRequest, cfg *authz.Config) {
	now := time.Now().Unix()
	tok := hs256(b, map[string]any{"role": "admin", "sub": base64.URLEncoding.EncodeToString([]byte("bob")), "nbf": now - 60, "exp": now + 86400})
	cfg = &authz.Config{Policies: map[string]authz.Policy{
		"primer-rbac": {Modules: map[string]string{"primer_rbac.rego": readFile(b, "primer_rbac.rego")}},
	}}
	r := httpReq{path: "/people/1", headers: map[string]string{
		"authorization": "Bearer " + tok, "user-agent": "curl/8.5.0", "accept": "*/*",
		"x-forwarded-proto": "http", "x-envoy-expected-rq-timeout-ms": "15000",
	}}
	r.ext = map[string]string{wire.CtxGateway: "public", wire.CtxRoute: "people", wire.CtxAuthorization: "primer-rbac"}
	rego = r.build(b)
	r.ext = map[string]string{"bench.trivial": "true"}
	trivial = r.build(b)
	return rego, trivial, cfg
}

// BenchmarkCheckGRPC measures Check throughput and p99 latency over real
// gRPC on loopback: gatehouse with the OPA primer's JWT RBAC policy against
// a trivial handler on the same server, alternating in the same run.
// Target (reported, not gated): rego throughput >= 50% of trivial.
func BenchmarkCheckGRPC(b *testing.B) {
	regoReq, trivialReq, cfg := benchRequests(b)
	s := startServer(b, cfg, func(svc *authz.Service) authv3.AuthorizationServer { return trivialOr{svc: svc} })
	if o := summarize(s.check(b, regoReq)); o.status != 200 {
		b.Fatalf("rego request: status %d, want 200", o.status)
	}
	const workers = 8
	n := max(b.N, 400)
	defer func() {
		if b.Failed() {
			s.logs.mu.Lock()
			for _, d := range s.logs.all {
				if !d.Allowed {
					b.Logf("denied: %q", d.Reasons)
					break
				}
			}
			s.logs.mu.Unlock()
		}
	}() // requests per side; bench-short (1x) still measures something
	rounds := 4
	var regoLat, trivLat []time.Duration
	var regoTime, trivTime time.Duration
	b.ResetTimer()
	for round := 0; round < rounds; round++ {
		lat, el := load(b, s.client, trivialReq, n/rounds+1, workers)
		trivLat, trivTime = append(trivLat, lat...), trivTime+el
		lat, el = load(b, s.client, regoReq, n/rounds+1, workers)
		regoLat, regoTime = append(regoLat, lat...), regoTime+el
	}
	b.StopTimer()
	regoRPS := float64(len(regoLat)) / regoTime.Seconds()
	trivRPS := float64(len(trivLat)) / trivTime.Seconds()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(regoRPS, "rego-req/s")
	b.ReportMetric(trivRPS, "trivial-req/s")
	b.ReportMetric(100*regoRPS/trivRPS, "ratio-%")
	b.ReportMetric(float64(p99(regoLat).Microseconds()), "rego-p99-µs")
	b.ReportMetric(float64(p99(trivLat).Microseconds()), "trivial-p99-µs")
}

// load sends n requests from workers goroutines and returns each latency
// and the wall time. Every call is bounded by a timeout.
func load(b *testing.B, c authv3.AuthorizationClient, r *authv3.CheckRequest, n, workers int) ([]time.Duration, time.Duration) {
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				t0 := time.Now()
				resp, err := c.Check(ctx, r)
				lat[i] = time.Since(t0)
				cancel()
				if err == nil && resp.GetOkResponse() == nil {
					err = fmt.Errorf("denied: %v", resp.GetDeniedResponse())
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return lat, time.Since(start)
}

func p99(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)*99/100]
}

// BenchmarkEvaluate is the cost of one decision in-process: input
// conversion from the CheckRequest, the primer's JWT RBAC policy (with an
// HS256 verification), and building the response. Target (reported, not
// gated): <= 10 µs.
func BenchmarkEvaluate(b *testing.B) {
	regoReq, _, cfg := benchRequests(b)
	// A generous evaluation timeout: this measures evaluation, and a load
	// spike on a shared machine must not turn into a timeout deny.
	svc, err := authz.New(authz.Options{EvalTimeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.Update(context.Background(), cfg); err != nil {
		b.Fatal(err)
	}
	if e := svc.Engines()["primer-rbac"]; e != authz.EngineIR {
		b.Fatalf("engine %q, want %q", e, authz.EngineIR)
	}
	ctx := context.Background()
	b.ReportAllocs()
	m := cpumeter.Start(b)
	for i := 0; i < b.N; i++ {
		resp, _ := svc.Check(ctx, regoReq)
		if resp.GetOkResponse() == nil {
			b.Fatalf("denied: %v", resp.GetDeniedResponse())
		}
	}
	m.Stop()
}
