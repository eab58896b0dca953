package ratelimit

import (
	"context"
	"math"
	"testing"

	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// checkingStore wraps a Store and fails the test when a counter goes down
// or wraps, or when an addend passes the cap.
type checkingStore struct {
	Store
	t    *testing.T
	last map[string]uint64
}

func (c *checkingStore) Apply(ctx context.Context, ops []Op, counts []uint64) error {
	if err := c.Store.Apply(ctx, ops, counts); err != nil {
		return err
	}
	for i, op := range ops {
		if op.Addend > MaxHitsAddend {
			c.t.Errorf("op %q adds %d, above the cap %d", op.Key, op.Addend, uint64(MaxHitsAddend))
		}
		if counts[i] < c.last[op.Key] {
			c.t.Errorf("counter %q went down from %d to %d", op.Key, c.last[op.Key], counts[i])
		}
		if counts[i] < op.Addend {
			c.t.Errorf("counter %q is %d after adding %d: it wrapped", op.Key, counts[i], op.Addend)
		}
		c.last[op.Key] = counts[i]
	}
	return nil
}

// FuzzShouldRateLimit sends arbitrary requests (any domain, descriptors,
// entries and hits_addend, decoded from the wire format) to a service with
// the test config, twice each: it must not panic or fail, must answer one
// status per descriptor, and no counter may go down or wrap (the clock
// stands still, so no window ends).
func FuzzShouldRateLimit(f *testing.F) {
	seeds := []*rlsv3.RateLimitRequest{
		{Domain: "gatehouse/public", Descriptors: descs(desc("ratelimit", "per-consumer#0", "consumer", "alice"))},
		{Domain: "gatehouse/public", HitsAddend: math.MaxUint32, Descriptors: descs(desc("ratelimit", "per-consumer#1", "consumer", "a", "route", "r"), desc("plan", "acme"))},
		{Domain: "gatehouse/public", Descriptors: descs(desc("ratelimit", "sliding#0", "consumer", "x"), desc("ratelimit", "shadowed#0", "masked_remote_address", "2001:db8::/64"))},
		{Domain: "gatehouse/internal", Descriptors: descs(desc("plan", "tiny"), desc("ratelimit", "nope#0"), desc())},
	}
	withHits := desc("ratelimit", "per-consumer#0", "consumer", "mallory")
	withHits.HitsAddend = wrapperspb.UInt64(math.MaxUint64 - math.MaxUint32 + 1)
	seeds = append(seeds, &rlsv3.RateLimitRequest{Domain: "gatehouse/public", HitsAddend: math.MaxUint32, Descriptors: descs(withHits, withHits)})
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req := &rlsv3.RateLimitRequest{}
		if proto.Unmarshal(raw, req) != nil {
			return
		}
		clock := newFakeClock(t0)
		mem := NewMemoryStore(MemoryOptions{Clock: clock.Now, MaxEntries: 64, Shards: 2, JanitorInterval: -1})
		defer mem.Close()
		svc, err := New(Options{Store: &checkingStore{Store: mem, t: t, last: map[string]uint64{}}, Clock: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Update(basicConfig()); err != nil {
			t.Fatal(err)
		}
		for round := 0; round < 2; round++ {
			resp, err := svc.ShouldRateLimit(context.Background(), req)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if len(resp.GetStatuses()) != len(req.GetDescriptors()) {
				t.Fatalf("%d statuses for %d descriptors", len(resp.GetStatuses()), len(req.GetDescriptors()))
			}
		}
	})
}
