package e2e

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit/ratelimittest"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Two `gatehouse serve --components ratelimit` processes sharing one Redis
// enforce one global limit: over both, no more requests are allowed in a
// window than the limit. A ratelimit-only process serves no xDS.
func TestTwoRateLimitReplicasShareOneLimit(t *testing.T) {
	t.Parallel()
	redis := ratelimittest.StartRedis(t)
	twoReplicasShareOneLimit(t, "--redis-addr", redis.Addr)
}

// The same on a three-master Redis Cluster named by --redis-url (a replica
// that ignored the flag would count in memory, and both would allow 50).
func TestTwoRateLimitReplicasShareOneLimitOnRedisCluster(t *testing.T) {
	t.Parallel()
	c := ratelimittest.StartCluster(t, 3, false)
	twoReplicasShareOneLimit(t, "--redis-url", "redis+cluster://"+strings.Join(c.Addrs(), ","))
}

// twoReplicasShareOneLimit runs two ratelimit-only replicas with
// redisArgs and checks that together they allow exactly the limit.
func twoReplicasShareOneLimit(t *testing.T, redisArgs ...string) {
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{
		"gateway.yaml": gatewayYAML,
		"app.yaml":     staticService("app", &backend{Port: 9001}),
		"limits.yaml": `kind: RateLimit
name: global
spec:
  limits:
    - {key: [route], requests: 50, per: hour}
`,
		"route.yaml": "kind: Route\nname: r\nspec:\n  gateways: [public]\n  backends: [{service: app}]\n  rateLimit: global\n",
	})
	// The window must not turn over during the test.
	if now := time.Now(); now.Add(time.Minute).Hour() != now.Hour() {
		time.Sleep(time.Until(now.Truncate(time.Hour).Add(time.Hour + time.Second)))
	}
	var clients []rlsv3.RateLimitServiceClient
	for i := 0; i < 2; i++ {
		g := startGatehouse(t, dir, append([]string{"--components", "ratelimit"}, redisArgs...)...)
		cc, err := grpc.NewClient(g.XDSAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		clients = append(clients, rlsv3.NewRateLimitServiceClient(cc))
		if i == 0 {
			// No ADS on a ratelimit-only replica.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
			if err == nil {
				_, err = st.Recv()
			}
			cancel()
			if status.Code(err) != codes.Unimplemented {
				t.Fatalf("ADS on a --components ratelimit process: %v, want Unimplemented", err)
			}
		}
	}
	req := &rlsv3.RateLimitRequest{Domain: wire.Domain("public"), Descriptors: []*rlcommon.RateLimitDescriptor{{
		Entries: []*rlcommon.RateLimitDescriptor_Entry{{Key: wire.DescRateLimit, Value: "global#0"}, {Key: "route", Value: "r"}},
	}}}
	var allowed, over, failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(c rlsv3.RateLimitServiceClient) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := c.ShouldRateLimit(ctx, req)
				cancel()
				switch {
				case err != nil:
					failed.Add(1)
				case resp.OverallCode == rlsv3.RateLimitResponse_OK:
					allowed.Add(1)
				default:
					over.Add(1)
				}
			}
		}(clients[w%2])
	}
	wg.Wait()
	t.Logf("two replicas, 160 requests: %d allowed, %d over limit, %d failed (limit 50)", allowed.Load(), over.Load(), failed.Load())
	if failed.Load() != 0 || allowed.Load() != 50 {
		t.Fatalf("allowed %d (want exactly 50 across both replicas), failed %d", allowed.Load(), failed.Load())
	}
}
