package security_ratelimit

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

const floodPolicy = policyYAML + `
---
kind: Plan
name: gold
spec:
  rateLimits:
    - {requests: 5, per: day}
  quota: {requests: 1000, per: month}
---
kind: Consumer
name: acme
spec:
  apiKeys:
    - {id: k1, sha256: "0000000000000000000000000000000000000000000000000000000000000001"}
  plan: gold
---
kind: Authentication
name: keys
spec:
  apiKey:
    header: x-api-key
---
kind: RateLimit
name: by-ip-and-plan
spec:
  limits:
    - {key: [remote_address], requests: 1000000, per: minute}
  plan: true
---
kind: Route
name: flood
spec:
  gateways: [edge]
  match: {path: {prefix: /flood}}
  backends: [{service: web}]
  authentication: [keys]
  rateLimit: by-ip-and-plan
`

var consumerMeta = wire.ConsumerMetadataNamespace + "/" + wire.ConsumerMetadataKey

// call sends descriptors as they are, with hits_addend, over gRPC.
func call(t *testing.T, g *gateway, hits uint32, ds []*rlcommon.RateLimitDescriptor) *rlsv3.RateLimitResponse {
	t.Helper()
	resp, err := g.client.ShouldRateLimit(context.Background(), &rlsv3.RateLimitRequest{Domain: wire.Domain(g.name), Descriptors: ds, HitsAddend: hits})
	if err != nil {
		t.Fatalf("ShouldRateLimit: %v", err)
	}
	return resp
}

// A caller of the rate-limit port (with mTLS, a proxy of the Gateway) can
// send any hits_addend; where the RateLimit allows any (maxHitsAddend
// 2^32), no value, request-wide or per descriptor, wraps a counter back
// under its limit.
func TestHugeHitsAddendCannotWrapACounter(t *testing.T) {
	g := start(t, policyYAML, "edge", nil)
	base := g.descriptors(t, g.route(t, "tenant"), request{path: "/t", headers: map[string]string{"x-tenant": "victim"}, remote: "192.0.2.1"})
	if len(base) != 1 {
		t.Fatalf("%d descriptors, want 1", len(base))
	}
	if r := call(t, g, math.MaxUint32, base); r.GetOverallCode() != rlsv3.RateLimitResponse_OVER_LIMIT {
		t.Fatalf("hits_addend MaxUint32 on a limit of 3: %v", r)
	}
	// The first value brings a uint64 counter at MaxUint32 exactly to 2^64.
	for _, h := range []uint64{math.MaxUint64 - math.MaxUint32 + 1, math.MaxUint64, math.MaxInt64, 1 << 63, 1, 0} {
		d := &rlcommon.RateLimitDescriptor{Entries: base[0].GetEntries(), HitsAddend: wrapperspb.UInt64(h)}
		if r := call(t, g, 0, []*rlcommon.RateLimitDescriptor{d}); r.GetOverallCode() != rlsv3.RateLimitResponse_OVER_LIMIT {
			t.Fatalf("per-descriptor hits_addend %d: counter back under the limit: %v", h, r)
		}
	}
	if r := call(t, g, 1, base); r.GetOverallCode() != rlsv3.RateLimitResponse_OVER_LIMIT {
		t.Fatalf("a plain request after the huge ones is allowed: %v", r)
	}
}

// Oversized descriptor lists and entries are answered quickly, without an
// error (which would trigger Envoy's failure mode) and without counting
// beyond the first MaxDescriptors descriptors.
func TestOversizedDescriptorListsAndEntries(t *testing.T) {
	g := start(t, policyYAML, "edge", nil)
	real := g.descriptors(t, g.route(t, "tenant"), request{path: "/t", headers: map[string]string{"x-tenant": "t1"}, remote: "192.0.2.1"})[0]
	big := strings.Repeat("v", 64<<10)
	cases := map[string][]*rlcommon.RateLimitDescriptor{}
	many := make([]*rlcommon.RateLimitDescriptor, 20_000)
	for i := range many {
		many[i] = real
	}
	cases["20000 copies of one descriptor"] = many
	long := &rlcommon.RateLimitDescriptor{}
	for i := 0; i < 5000; i++ {
		long.Entries = append(long.Entries, &rlcommon.RateLimitDescriptor_Entry{Key: fmt.Sprint("k", i), Value: "v"})
	}
	cases["one descriptor of 5000 entries"] = []*rlcommon.RateLimitDescriptor{long}
	huge := &rlcommon.RateLimitDescriptor{Entries: []*rlcommon.RateLimitDescriptor_Entry{real.GetEntries()[0], {Key: real.GetEntries()[1].GetKey(), Value: big}}}
	cases["a 64 KiB value"] = []*rlcommon.RateLimitDescriptor{huge, huge, huge}
	empty := []*rlcommon.RateLimitDescriptor{{}, {Entries: []*rlcommon.RateLimitDescriptor_Entry{{}}}, nil}
	cases["empty and nil descriptors"] = empty
	for name, ds := range cases {
		start := time.Now()
		r := call(t, g, 1, ds)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s: answered in %v", name, took)
		}
		if len(r.GetStatuses()) != len(ds) {
			t.Errorf("%s: %d statuses for %d descriptors", name, len(r.GetStatuses()), len(ds))
		}
	}
	// Policy validation refuses RateLimits that would need more
	// descriptors than the service reads: the two bounds are one.
	if ratelimit.DefaultMaxDescriptors != policy.MaxServiceDescriptors || ratelimit.DefaultMaxEntries != policy.MaxServiceEntries {
		t.Fatalf("service reads %d descriptors of %d entries, policy validation allows %d of %d", ratelimit.DefaultMaxDescriptors, ratelimit.DefaultMaxEntries, policy.MaxServiceDescriptors, policy.MaxServiceEntries)
	}
}

// A flood of one million distinct keys (an IPv4 sweep under a limit keyed
// by remote_address) must neither evict a consumer's plan counter nor push
// decisions towards the filter's timeout. It reports the p99 decision
// time; the bound asserted is generous (a shared machine), far under the
// 100 ms timeout.
func TestKeyFloodKeepsPlansAndDecisionTime(t *testing.T) {
	if testing.Short() {
		t.Skip("floods one million keys")
	}
	store := ratelimit.NewMemoryStore(ratelimit.MemoryOptions{MaxEntries: 200_000})
	defer store.Close()
	g := start(t, floodPolicy, "edge", store)
	rt := g.route(t, "flood")
	acme := request{path: "/flood", remote: "192.0.2.1", meta: map[string]string{consumerMeta: "acme"}}
	for i := 0; i < 5; i++ {
		if !g.send(t, "flood", acme) {
			t.Fatalf("plan request %d refused", i+1)
		}
	}
	// A day's window: the flood takes tens of seconds on a loaded
	// machine, and a minute's window could roll over meanwhile.
	day := time.Now().UTC().YearDay()
	if g.send(t, "flood", acme) {
		t.Fatal("6th plan request in a day allowed")
	}
	const flood = 1_000_000
	lat := make([]time.Duration, flood)
	ctx := context.Background()
	for i := range lat {
		req := request{path: "/flood", remote: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), meta: map[string]string{consumerMeta: "anonymous"}}
		if i >= 1<<24 {
			t.Fatal("flood larger than 10/8")
		}
		rr := &rlsv3.RateLimitRequest{Domain: wire.Domain(g.name), Descriptors: g.descriptors(t, rt, req)}
		start := time.Now()
		if _, err := g.svc.ShouldRateLimit(ctx, rr); err != nil {
			t.Fatalf("flood request %d: %v", i, err)
		}
		lat[i] = time.Since(start)
	}
	slices.Sort(lat)
	p50, p99, p999 := lat[flood/2], lat[flood*99/100], lat[flood*999/1000]
	over := len(lat) - sort.Search(len(lat), func(i int) bool { return lat[i] > 10*time.Millisecond })
	t.Logf("%d distinct keys into a store of 200k: decision p50 %v, p99 %v, p99.9 %v, max %v, %d over 10ms (store holds %d)", flood, p50, p99, p999, lat[flood-1], over, store.Len())
	if p99 > 5*time.Millisecond {
		t.Errorf("p99 decision time %v under a key flood, want under 5ms (the filter's timeout is 100ms)", p99)
	}
	if time.Now().UTC().YearDay() != day {
		t.Logf("the plan's daily window rolled over during the flood: eviction not checked this time")
		return
	}
	if g.send(t, "flood", acme) {
		t.Fatal("after the flood the consumer's plan allows again: its counter was evicted")
	}
}

// Where the RateLimit does not say otherwise, a request counts as one: a
// larger hits_addend, request-wide or per descriptor, up to 2^64-1, is
// refused (OVER_LIMIT, which no failure mode turns into a pass) and counts
// nothing, so it cannot spend another caller's counter faster than one per
// request either.
func TestHitsAddendAboveOneRefusedUnlessTheRateLimitAllows(t *testing.T) {
	g := start(t, policyYAML, "edge", nil)
	base := g.descriptors(t, g.route(t, "tenant-client"), request{path: "/tc", headers: map[string]string{"x-tenant": "victim", "x-client": "c", ":method": "GET"}, remote: "192.0.2.1"})
	if len(base) != 1 {
		t.Fatalf("%d descriptors, want 1", len(base))
	}
	for _, h := range []uint32{2, 1 << 16, math.MaxUint32} {
		if r := call(t, g, h, base); r.GetOverallCode() != rlsv3.RateLimitResponse_OVER_LIMIT {
			t.Fatalf("hits_addend %d: %v, want OVER_LIMIT", h, r)
		}
	}
	for _, h := range []uint64{2, 1 << 32, math.MaxUint64} {
		d := &rlcommon.RateLimitDescriptor{Entries: base[0].GetEntries(), HitsAddend: wrapperspb.UInt64(h)}
		if r := call(t, g, 0, []*rlcommon.RateLimitDescriptor{d}); r.GetOverallCode() != rlsv3.RateLimitResponse_OVER_LIMIT {
			t.Fatalf("per-descriptor hits_addend %d: %v, want OVER_LIMIT", h, r)
		}
	}
	// Nothing was counted: the victim still has its 3.
	for i := 1; i <= 3; i++ {
		if r := call(t, g, 1, base); r.GetOverallCode() != rlsv3.RateLimitResponse_OK {
			t.Fatalf("request %d of 3 after the refusals: %v", i, r)
		}
	}
	if r := call(t, g, 1, base); r.GetOverallCode() != rlsv3.RateLimitResponse_OVER_LIMIT {
		t.Fatalf("request 4 of 3: %v", r)
	}
}
