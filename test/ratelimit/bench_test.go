package ratelimit_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit/ratelimittest"
)

// trivialName is a copy of the RateLimitService on the same gRPC server as
// the memory-backed service, answering a fixed OK: the baseline that costs
// the same transport, framing and decoding and does no rate limiting.
const trivialName = "gatehouse.bench.TrivialRateLimit"

type trivial struct {
	rlsv3.UnimplementedRateLimitServiceServer
}

func (trivial) ShouldRateLimit(_ context.Context, req *rlsv3.RateLimitRequest) (*rlsv3.RateLimitResponse, error) {
	resp := &rlsv3.RateLimitResponse{OverallCode: rlsv3.RateLimitResponse_OK}
	for range req.GetDescriptors() {
		resp.Statuses = append(resp.Statuses, &rlsv3.RateLimitResponse_DescriptorStatus{Code: rlsv3.RateLimitResponse_OK})
	}
	return resp, nil
}

// target is one endpoint the benchmark drives.
type target struct {
	name   string
	conn   *grpc.ClientConn
	method string
}

// benchFixture is started once per process: benchmark functions run
// several times while the framework picks b.N.
type benchFixture struct {
	targets []target
	stop    []func()
	err     error
}

var (
	fixture     *benchFixture
	fixtureOnce sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture != nil {
		for i := len(fixture.stop) - 1; i >= 0; i-- {
			fixture.stop[i]()
		}
	}
	os.Exit(code)
}

const benchDomain = "gatehouse/bench"

func benchConfig() *ratelimit.Config {
	return &ratelimit.Config{
		Domains: map[string]*ratelimit.Domain{benchDomain: {RateLimits: []string{"per-consumer", "per-route"}}},
		Limits: map[string]ratelimit.Limit{
			// High enough that every request is allowed: all paths do the same work.
			"per-consumer#0": {Requests: 1 << 30, Unit: ratelimit.Minute, Keys: []string{"consumer"}},
			"per-route#0":    {Requests: 1 << 30, Unit: ratelimit.Hour, Keys: []string{"consumer", "route"}},
		},
	}
}

func setupBench(b *testing.B) *benchFixture {
	fixtureOnce.Do(func() {
		fixture = &benchFixture{}
		// The fixture outlives this benchmark, so it cannot use b.Cleanup;
		// a recorder TB collects the stops for TestMain.
		rec := &recorder{TB: b, f: fixture}
		redis := ratelimittest.StartRedis(rec)

		// Server A: the trivial handler and the memory-backed service.
		mem := ratelimit.NewMemoryStore(ratelimit.MemoryOptions{})
		fixture.stop = append(fixture.stop, func() { mem.Close() })
		a := serve(rec, mem, func(s *grpc.Server) {
			desc := rlsv3.RateLimitService_ServiceDesc
			desc.ServiceName = trivialName
			s.RegisterService(&desc, trivial{})
		})
		// Server B: the Redis-backed service.
		rs, err := ratelimit.NewRedisStore(ratelimit.RedisOptions{Addr: redis.Addr, KeyPrefix: "bench:", Timeout: 2 * time.Second})
		if err != nil {
			fixture.err = err
			return
		}
		fixture.stop = append(fixture.stop, func() { rs.Close() })
		bAddr := serve(rec, rs, nil)
		peer := startPeerAddr(rec, redis.Addr, peerConfig(benchDomain, benchConfig()))
		fixture.targets = []target{
			{"trivial", rec.conn(a), "/" + trivialName + "/ShouldRateLimit"},
			{"memory", rec.conn(a), rlsv3.RateLimitService_ShouldRateLimit_FullMethodName},
			{"redis", rec.conn(bAddr), rlsv3.RateLimitService_ShouldRateLimit_FullMethodName},
			{"envoy-ratelimit", rec.conn(peer), rlsv3.RateLimitService_ShouldRateLimit_FullMethodName},
		}
		// Warm up: connections, Redis scripts, caches.
		for _, tg := range fixture.targets {
			for i := 0; i < 200; i++ {
				if err := tg.conn.Invoke(context.Background(), tg.method, benchRequest(i), new(rlsv3.RateLimitResponse)); err != nil {
					fixture.err = fmt.Errorf("warm-up of %s: %w", tg.name, err)
					return
				}
			}
		}
	})
	if fixture.err != nil {
		b.Fatal(fixture.err)
	}
	return fixture
}

// recorder is a testing.TB whose Cleanup defers to TestMain.
type recorder struct {
	testing.TB
	f *benchFixture
}

func (r *recorder) Cleanup(f func()) { r.f.stop = append(r.f.stop, f) }

func (r *recorder) conn(addr string) *grpc.ClientConn {
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		r.Fatal(err)
	}
	r.Cleanup(func() { c.Close() })
	return c
}

func serve(t testing.TB, store ratelimit.Store, extra func(*grpc.Server)) string {
	svc, err := ratelimit.New(ratelimit.Options{Store: store, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Update(benchConfig()); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	svc.Register(s)
	if extra != nil {
		extra(s)
	}
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// BenchmarkShouldRateLimit sends b.N requests (two descriptors each, 64
// concurrent callers over one connection) to each target in turn and reports requests per second and p99 latency per
// target, and the ratios the issue sets targets for: memory/trivial
// (target >= 0.9) and redis/envoy-ratelimit (target >= 2). ns/op covers one
// request to every target.
func BenchmarkShouldRateLimit(b *testing.B) {
	f := setupBench(b)
	// Targets take turns in rounds, so that a noisy neighbour on a shared
	// machine slows them alike rather than whichever ran at that moment.
	rounds := min(b.N, 8)
	elapsed := map[string]time.Duration{}
	lat := map[string][]time.Duration{}
	b.ResetTimer()
	for r := 0; r < rounds; r++ {
		n := b.N / rounds
		if r < b.N%rounds {
			n++
		}
		for _, tg := range f.targets {
			d, l, err := drive(tg, n, r*b.N)
			if err != nil {
				b.Fatalf("%s: %v", tg.name, err)
			}
			elapsed[tg.name] += d
			lat[tg.name] = append(lat[tg.name], l...)
		}
	}
	rps := map[string]float64{}
	for _, tg := range f.targets {
		l := lat[tg.name]
		slices.Sort(l)
		rps[tg.name] = float64(len(l)) / elapsed[tg.name].Seconds()
		b.ReportMetric(rps[tg.name], tg.name+"-req/s")
		b.ReportMetric(float64(l[(len(l)*99)/100].Microseconds()), tg.name+"-p99-µs")
	}
	b.ReportMetric(rps["memory"]/rps["trivial"], "memory/trivial")
	b.ReportMetric(rps["redis"]/rps["envoy-ratelimit"], "redis/envoy-ratelimit")
}

// drive sends n requests to tg from benchWorkers concurrent callers over
// one connection (as an Envoy worker would multiplex them).
func drive(tg target, n, seed int) (time.Duration, []time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < benchWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				req := benchRequest(seed + i)
				resp := new(rlsv3.RateLimitResponse)
				t0 := time.Now()
				err := tg.conn.Invoke(context.Background(), tg.method, req, resp)
				lat[i] = time.Since(t0)
				if err == nil && resp.OverallCode != rlsv3.RateLimitResponse_OK {
					err = fmt.Errorf("overall %v", resp.OverallCode)
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		return d, nil, err
	}
	return d, lat, nil
}

const benchWorkers = 64

// benchRequest is what Envoy sends for a route with a per-consumer and a
// per-route limit, for one of 100 consumers.
func benchRequest(i int) *rlsv3.RateLimitRequest {
	c := fmt.Sprint("c", i%100)
	return &rlsv3.RateLimitRequest{Domain: benchDomain, Descriptors: []*rlcommon.RateLimitDescriptor{
		desc("ratelimit", "per-consumer#0", "consumer", c),
		desc("ratelimit", "per-route#0", "consumer", c, "route", "r1"),
	}}
}
