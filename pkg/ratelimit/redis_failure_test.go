package ratelimit_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit/ratelimittest"
)

// The Redis failure tests use real Redis errors: a server out of memory,
// a server frozen (SIGSTOP) or killed with a pipeline in flight, error
// replies in the middle of a pipeline.

// callBound is how long any one call may take when Redis fails: the
// service's timeout (200ms here) plus generous slack for a loaded machine.
const callBound = time.Second

// quotaConfig has a Plan with only a quota, so that the first store call
// of a plan descriptor only reads (GET, which Redis serves out of memory)
// and the quota increment is the only write.
func quotaConfig() *ratelimit.Config {
	return &ratelimit.Config{
		Domains: map[string]*ratelimit.Domain{"gatehouse/gw": {RateLimits: []string{"a"}}},
		Limits:  map[string]ratelimit.Limit{"a#0": {Requests: 100, Unit: ratelimit.Minute, Keys: []string{"consumer"}}},
		Plans: map[string]ratelimit.Plan{
			"metered": {Quota: &ratelimit.Rate{Requests: 1000, Unit: ratelimit.Month}},
		},
		ConsumerPlan: map[string]string{"acme": "metered"},
	}
}

func newRedisService(t *testing.T, store ratelimit.Store) *ratelimit.Service {
	t.Helper()
	svc, err := ratelimit.New(ratelimit.Options{Store: store, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Update(quotaConfig()); err != nil {
		t.Fatal(err)
	}
	return svc
}

func ask(svc *ratelimit.Service, ds ...*rlcommon.RateLimitDescriptor) (*rlsv3.RateLimitResponse, time.Duration, error) {
	start := time.Now()
	r, err := svc.ShouldRateLimit(context.Background(), &rlsv3.RateLimitRequest{Domain: "gatehouse/gw", Descriptors: ds})
	return r, time.Since(start), err
}

func rawClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

// A Redis out of memory with maxmemory-policy noeviction still answers
// GET but refuses INCRBY ("OOM command not allowed ..."): the quota is
// read, then its increment fails. The call must fail (Unavailable), not
// answer OK, or the quota would never run out.
func TestRedisOutOfMemoryFailsQuotaRecording(t *testing.T) {
	t.Parallel()
	r := ratelimittest.StartRedis(t)
	raw := rawClient(t, r.Addr)
	ctx := context.Background()
	svc := newRedisService(t, newRedisStore(t, r.Addr, nil))
	if _, _, err := ask(svc, entries("plan", "acme")); err != nil {
		t.Fatalf("before the memory limit: %v", err)
	}
	for _, kv := range [][2]string{{"maxmemory-policy", "noeviction"}, {"maxmemory", "1"}} {
		if err := raw.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatalf("CONFIG SET %s %s: %v", kv[0], kv[1], err)
		}
	}
	if err := raw.IncrBy(ctx, "probe", 1).Err(); err == nil || !strings.HasPrefix(err.Error(), "OOM") {
		t.Fatalf("the server does not refuse writes (INCRBY: %v)", err)
	}
	for _, d := range []*rlcommon.RateLimitDescriptor{
		entries("plan", "acme"),                         // read works, the quota increment fails
		entries("ratelimit", "a#0", "consumer", "acme"), // the first call's INCRBY fails
	} {
		resp, took, err := ask(svc, d)
		if status.Code(err) != codes.Unavailable || resp != nil {
			t.Fatalf("%v out of memory: %v, %v; want Unavailable", d, resp, err)
		}
		if !strings.Contains(err.Error(), "OOM") {
			t.Fatalf("error %q does not carry Redis's OOM reply", err)
		}
		if took > callBound {
			t.Fatalf("the failing call took %v", took)
		}
	}
	// Memory back: the quota counts again, from where it was (1: the call
	// that failed was not recorded).
	if err := raw.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	resp, _, err := ask(svc, entries("plan", "acme"))
	if err != nil || resp.OverallCode != rlsv3.RateLimitResponse_OK {
		t.Fatalf("after memory returned: %v, %v", resp, err)
	}
	if got := resp.Statuses[0].LimitRemaining; got != 1000-2 {
		t.Fatalf("quota remaining %d, want %d (two recorded requests)", got, 1000-2)
	}
}

// pauseAfterFirst pauses Redis as soon as the first Apply of each request
// has returned, so that the quota increment meets a frozen server.
type pauseAfterFirst struct {
	ratelimit.Store
	r     *ratelimittest.Redis
	calls atomic.Int64
}

func (p *pauseAfterFirst) Apply(ctx context.Context, ops []ratelimit.Op, counts []uint64) error {
	err := p.Store.Apply(ctx, ops, counts)
	if p.calls.Add(1) == 1 {
		p.r.Pause()
	}
	return err
}

// A Redis frozen (SIGSTOP) between the read and the quota increment: the
// increment times out and the call fails within the service's timeout.
func TestRedisPausedBeforeQuotaRecordingFailsTheCall(t *testing.T) {
	t.Parallel()
	r := ratelimittest.StartRedis(t)
	store := &pauseAfterFirst{Store: newRedisStore(t, r.Addr, nil), r: r}
	svc := newRedisService(t, store)
	resp, took, err := ask(svc, entries("plan", "acme"))
	r.Resume()
	if status.Code(err) != codes.Unavailable || resp != nil {
		t.Fatalf("quota increment against a frozen Redis: %v, %v; want Unavailable", resp, err)
	}
	if !strings.Contains(err.Error(), "recording quota") {
		t.Fatalf("error %q does not say the quota increment failed", err)
	}
	if took > callBound {
		t.Fatalf("the call took %v with a 200ms timeout", took)
	}
	if n := store.calls.Load(); n != 2 {
		t.Fatalf("%d store calls, want 2", n)
	}
}

// Redis killed while a pipeline is in flight (sent, not answered): the
// call fails at once on the broken connection, not at the timeout; once
// Redis is back (empty) the store counts from zero and gives the key an
// expiry again.
func TestRedisKilledMidPipeline(t *testing.T) {
	t.Parallel()
	r := ratelimittest.StartRedis(t)
	var writes atomic.Int64
	s := newRedisStoreTimeout(t, r.Addr, &writes, 2*time.Second)
	raw := rawClient(t, r.Addr)
	ctx := context.Background()
	ops := []ratelimit.Op{{Key: "k", Addend: 1, TTL: time.Minute}, {Key: "j", Addend: 3, TTL: time.Minute}}
	if err := s.Apply(ctx, ops, make([]uint64, 2)); err != nil {
		t.Fatal(err)
	}
	r.Pause()
	before := writes.Load()
	done := make(chan error, 1)
	go func() { done <- s.Apply(ctx, ops, make([]uint64, 2)) }()
	waitFor(t, "the pipeline to be sent", func() bool { return writes.Load() > before })
	killedAt := time.Now()
	r.Kill()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Apply succeeded although Redis was killed before answering")
		}
		if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout") {
			t.Fatalf("Apply waited for its timeout instead of seeing the broken connection: %v", err)
		}
		if d := time.Since(killedAt); d > callBound {
			t.Fatalf("Apply failed %v after the kill", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Apply did not return within 5s of Redis being killed")
	}
	r.Start()
	counts := make([]uint64, 2)
	waitFor(t, "the store to recover", func() bool { return s.Apply(ctx, ops, counts) == nil })
	if counts[0] != 1 || counts[1] != 3 {
		t.Fatalf("counts after the restart %v, want [1 3]: the killed pipeline was never run", counts)
	}
	for _, k := range []string{"k", "j"} {
		if d, err := raw.PTTL(ctx, "t:"+t.Name()+":"+k).Result(); err != nil || d <= 0 || d > time.Minute {
			t.Fatalf("PTTL %s after the restart = %v, %v: the key would never expire", k, d, err)
		}
	}
}

// Error replies in the middle of a pipeline (a counter key holding a
// non-number or another type): the call they belong to fails, naming the
// reply; calls in flight at the same time on sound keys get exact counts.
func TestRedisErrorRepliesMidPipeline(t *testing.T) {
	t.Parallel()
	r := ratelimittest.StartRedis(t)
	var writes atomic.Int64
	s := newRedisStoreTimeout(t, r.Addr, &writes, time.Second)
	raw := rawClient(t, r.Addr)
	ctx := context.Background()
	prefix := "t:" + t.Name() + ":"
	if err := raw.Set(ctx, prefix+"text", "not-a-number", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.LPush(ctx, prefix+"list", "x").Err(); err != nil {
		t.Fatal(err)
	}
	op := func(k string, add uint64) ratelimit.Op { return ratelimit.Op{Key: k, Addend: add, TTL: time.Minute} }
	cases := []struct {
		name string
		ops  []ratelimit.Op
		want string
	}{
		{"INCRBY on text", []ratelimit.Op{op("good-1", 1), op("text", 1), op("good-2", 1)}, "not an integer"},
		{"GET of text", []ratelimit.Op{op("good-1", 1), op("text", 0)}, "invalid syntax"},
		{"INCRBY on a list", []ratelimit.Op{op("list", 1), op("good-2", 1)}, "WRONGTYPE"},
		{"GET of a list", []ratelimit.Op{op("list", 0)}, "WRONGTYPE"},
	}
	sound := []ratelimit.Op{op("sound", 2)}
	for i, c := range cases {
		// Freeze Redis so that both calls are sent before either is
		// answered: whether they share a pipeline or not, their answers
		// must be their own.
		r.Pause()
		before := writes.Load()
		var bad error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); bad = s.Apply(ctx, c.ops, make([]uint64, len(c.ops))) }()
		counts := make([]uint64, 1)
		var good error
		wg.Add(1)
		go func() { defer wg.Done(); good = s.Apply(ctx, sound, counts) }()
		waitFor(t, "both calls to be sent", func() bool { return writes.Load() > before })
		r.Resume()
		wg.Wait()
		if bad == nil || !strings.Contains(bad.Error(), c.want) {
			t.Fatalf("%s: err %v, want one naming %q", c.name, bad, c.want)
		}
		if good != nil || counts[0] != uint64(2*(i+1)) {
			t.Fatalf("%s: the sound call beside it got %v, count %d; want count %d", c.name, good, counts[0], 2*(i+1))
		}
	}
	// Through the service: a corrupted counter fails the request
	// (Unavailable), it is not answered OK.
	svc := newRedisService(t, s)
	if _, _, err := ask(svc, entries("ratelimit", "a#0", "consumer", "acme")); err != nil {
		t.Fatal(err)
	}
	keys, err := raw.Keys(ctx, prefix+"r:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("rate-limit counter keys %v, %v; want one", keys, err)
	}
	if err := raw.Set(ctx, keys[0], "garbage", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ask(svc, entries("ratelimit", "a#0", "consumer", "acme")); status.Code(err) != codes.Unavailable {
		t.Fatalf("corrupted counter: %v, want Unavailable", err)
	}
}

// CLIENT KILL closes the store's pooled connections under it: the store
// recovers within a bound without counting any request twice (it never
// retries an increment).
func TestRedisClientKillRecovers(t *testing.T) {
	t.Parallel()
	r := ratelimittest.StartRedis(t)
	s := newRedisStoreTimeout(t, r.Addr, nil, time.Second)
	raw := rawClient(t, r.Addr)
	ctx := context.Background()
	ops := []ratelimit.Op{{Key: "k", Addend: 1, TTL: time.Minute}}
	counts := make([]uint64, 1)
	for i := 0; i < 3; i++ {
		if err := s.Apply(ctx, ops, counts); err != nil {
			t.Fatal(err)
		}
	}
	rawID, err := raw.ClientID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed, err := raw.ClientKillByFilter(ctx, "TYPE", "normal", "SKIPME", "yes").Result()
	if err != nil || killed == 0 {
		t.Fatalf("CLIENT KILL: %d killed, %v (raw client %d)", killed, err, rawID)
	}
	attempts := 0
	waitFor(t, "a successful call after CLIENT KILL", func() bool {
		attempts++
		return s.Apply(ctx, ops, counts) == nil
	})
	// Every attempt either reached Redis once or not at all.
	if counts[0] < 4 || counts[0] > uint64(3+attempts) {
		t.Fatalf("count %d after %d attempts from 3: counted twice or lost", counts[0], attempts)
	}
	t.Logf("recovered after %d attempt(s); count %d", attempts, counts[0])
}

// waitFor polls cond every 5ms until it holds, failing past 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
