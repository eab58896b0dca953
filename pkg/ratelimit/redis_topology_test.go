package ratelimit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit/ratelimittest"
)

// Tests of the Redis Cluster and Sentinel topologies, against real
// redis-server processes on loopback.

func newTopologyStore(t *testing.T, url string, timeout time.Duration) *ratelimit.RedisStore {
	t.Helper()
	o, err := ratelimit.ParseRedisURL(url)
	if err != nil {
		t.Fatal(err)
	}
	o.Timeout = timeout
	o.KeyPrefix = "t:" + strings.ReplaceAll(t.Name(), "/", ":") + ":"
	s, err := ratelimit.NewRedisStore(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func clusterURL(c *ratelimittest.Cluster) string {
	return "redis+cluster://" + strings.Join(c.Addrs(), ",")
}

func sentinelURL(s *ratelimittest.Sentinel) string {
	return "redis+sentinel://" + strings.Join(s.SentinelAddrs(), ",") + "/" + s.Name
}

func TestRedisClusterStoreBehaviour(t *testing.T) {
	t.Parallel()
	c := ratelimittest.StartCluster(t, 3, false)
	ratelimit.StoreSuite(t, func(t *testing.T) ratelimit.Store { return newTopologyStore(t, clusterURL(c), time.Second) })
}

func TestRedisSentinelStoreBehaviour(t *testing.T) {
	t.Parallel()
	s := ratelimittest.StartSentinel(t, "gh")
	ratelimit.StoreSuite(t, func(t *testing.T) ratelimit.Store { return newTopologyStore(t, sentinelURL(s), time.Second) })
}

// exactConfig allows each consumer 10 requests a minute.
func exactConfig() *ratelimit.Config {
	return &ratelimit.Config{
		Domains: map[string]*ratelimit.Domain{"gatehouse/gw": {RateLimits: []string{"a"}}},
		Limits:  map[string]ratelimit.Limit{"a#0": {Requests: 10, Unit: ratelimit.Minute, Keys: []string{"consumer"}}},
	}
}

// allowedPerConsumer sends per requests for each of consumers, all at
// once, and counts the OK answers per consumer.
func allowedPerConsumer(t *testing.T, store ratelimit.Store, consumers, per int) []int {
	t.Helper()
	svc, err := ratelimit.New(ratelimit.Options{Store: store, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Update(exactConfig()); err != nil {
		t.Fatal(err)
	}
	allowed := make([]int, consumers)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, consumers*per)
	for c := range consumers {
		for range per {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := &rlsv3.RateLimitRequest{Domain: "gatehouse/gw", Descriptors: []*rlcommon.RateLimitDescriptor{
					entries("ratelimit", "a#0", "consumer", fmt.Sprintf("c%d", c)),
				}}
				resp, err := svc.ShouldRateLimit(context.Background(), req)
				if err != nil {
					errs <- err
					return
				}
				if resp.OverallCode == rlsv3.RateLimitResponse_OK {
					mu.Lock()
					allowed[c]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("ShouldRateLimit: %v", err)
	}
	return allowed
}

// Under concurrency a cluster-backed service allows exactly what the
// memory backend allows: the limit per consumer, whichever master holds
// the consumer's counter.
func TestRedisClusterDecisionsExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	c := ratelimittest.StartCluster(t, 3, false)
	const consumers, per = 24, 30
	// A generous timeout: this test is about counts, not speed.
	cluster := allowedPerConsumer(t, newTopologyStore(t, clusterURL(c), 2*time.Second), consumers, per)
	mem := ratelimit.NewMemoryStore(ratelimit.MemoryOptions{})
	t.Cleanup(func() { mem.Close() })
	memory := allowedPerConsumer(t, mem, consumers, per)
	for i := range consumers {
		if cluster[i] != 10 || memory[i] != 10 {
			t.Errorf("consumer c%d: cluster allowed %d, memory allowed %d of %d, want exactly 10 each", i, cluster[i], memory[i], per)
		}
	}
	// The counters really spread over the masters (24 keys on 3 masters:
	// all on one would mean the test proved nothing about slots).
	for _, m := range c.Masters {
		out, err := m.CLI("dbsize")
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(out) == "0" {
			t.Errorf("master %s holds no counter", m.Addr)
		}
	}
}

// failoverRun sends one request's worth of counters (spread over every
// slot range) in a loop from the moment kill runs, checks that each call
// answers (OK or the documented Unavailable) within callBound, and returns
// how long after kill the calls succeeded again for good.
func failoverRun(t *testing.T, store ratelimit.Store, kill func(), bound time.Duration) time.Duration {
	t.Helper()
	svc, err := ratelimit.New(ratelimit.Options{Store: store, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Update(exactConfig()); err != nil {
		t.Fatal(err)
	}
	req := &rlsv3.RateLimitRequest{Domain: "gatehouse/gw"}
	for i := range 12 {
		req.Descriptors = append(req.Descriptors, entries("ratelimit", "a#0", "consumer", fmt.Sprintf("f%d", i)))
	}
	// Warm up (slot map or master address, connections) within a bound:
	// the first call on a loaded machine may take longer than the timeout.
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, err := svc.ShouldRateLimit(context.Background(), req)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("before the failover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	kill()
	start := time.Now()
	lastErr := start // the kill counts as the first failure
	failures, calls := 0, 0
	for time.Since(lastErr) < 2*time.Second { // two quiet seconds: recovered
		if time.Since(start) > bound {
			t.Fatalf("calls still failing %v after the failover started (%d of %d failed)", bound, failures, calls)
		}
		callStart := time.Now()
		_, err := svc.ShouldRateLimit(context.Background(), req)
		took := time.Since(callStart)
		calls++
		if took > callBound {
			t.Fatalf("a call took %v during the failover, over the bound of %v", took, callBound)
		}
		if err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("a call during the failover failed with %v, want Unavailable (Envoy's failure mode applies)", err)
			}
			failures++
			lastErr = time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Counting resumed on the new master: over two quiet seconds far more
	// than 10 calls per consumer were counted, so every consumer is over.
	resp, err := svc.ShouldRateLimit(context.Background(), req)
	if err != nil {
		t.Fatalf("after the failover: %v", err)
	}
	if resp.OverallCode != rlsv3.RateLimitResponse_OVER_LIMIT {
		t.Fatalf("after the failover the limit of 10 is not reached (%v): the calls were not counted", resp.OverallCode)
	}
	recovered := lastErr.Sub(start)
	t.Logf("failover: %d of %d calls failed (Unavailable, each within %v); calls succeed again %v after the kill", failures, calls, callBound, recovered.Round(time.Millisecond))
	return recovered
}

// A master killed: its replica takes over after the cluster node timeout,
// calls meanwhile fail fast with Unavailable, and succeed again after.
func TestRedisClusterMasterKilledFailsOver(t *testing.T) {
	t.Parallel()
	c := ratelimittest.StartCluster(t, 3, true)
	store := newTopologyStore(t, clusterURL(c), 200*time.Millisecond)
	failoverRun(t, store, c.Masters[0].Kill, 30*time.Second)
}

// A manual failover (CLUSTER FAILOVER on a replica, as for maintenance)
// hands the slots over without losing writes: calls follow the MOVED
// replies and the counts stay exact.
func TestRedisClusterManualFailoverKeepsCounting(t *testing.T) {
	t.Parallel()
	c := ratelimittest.StartCluster(t, 3, true)
	// A generous timeout: a slow call on a loaded machine is not what
	// this test is about.
	store := newTopologyStore(t, clusterURL(c), 2*time.Second)
	ops := make([]ratelimit.Op, 12)
	for i := range ops {
		ops[i] = ratelimit.Op{Key: fmt.Sprintf("m%d", i), Addend: 1, TTL: time.Minute}
	}
	counts := make([]uint64, len(ops))
	apply := func() error { return store.Apply(context.Background(), ops, counts) }
	if err := apply(); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Replicas[0].CLI("cluster", "failover"); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("CLUSTER FAILOVER: %v %s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		role, err := c.Replicas[0].CLI("role")
		if err == nil && strings.HasPrefix(role, "master") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s not promoted within 20s: %v %s", c.Replicas[0].Addr, err, role)
		}
		time.Sleep(50 * time.Millisecond)
	}
	applied, failed := 1, 0
	for range 20 {
		if err := apply(); err != nil {
			failed++
			continue
		}
		applied++
	}
	if failed > 0 {
		t.Fatalf("%d of 20 calls after a manual failover failed, want none (MOVED is followed)", failed)
	}
	for i, n := range counts {
		if n != uint64(applied) {
			t.Errorf("counter %s = %d after %d applies, want %d", ops[i].Key, n, applied, applied)
		}
	}
}

// The master killed: the sentinels promote the replica, calls meanwhile
// fail fast with Unavailable, and counting resumes from the replicated
// counts.
func TestRedisSentinelMasterKilledFailsOver(t *testing.T) {
	t.Parallel()
	s := ratelimittest.StartSentinel(t, "gh")
	store := newTopologyStore(t, sentinelURL(s), 200*time.Millisecond)
	failoverRun(t, store, s.Master.Kill, 30*time.Second)
	out, err := s.Replica.CLI("role")
	if err != nil || !strings.HasPrefix(out, "master") {
		t.Fatalf("the replica was not promoted: %v %s", err, out)
	}
}
