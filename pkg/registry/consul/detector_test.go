package consul

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

type detectCall struct {
	waitIndex uint64
	at        time.Time
}

// runDetect drives the detect loop with scripted results and records the
// WaitIndex of every query and when it was made.
func runDetect(t *testing.T, cfg Config, script []func() (uint64, map[string]bool, error)) []detectCall {
	t.Helper()
	cfg.Address = "127.0.0.1:1"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var calls []detectCall
	done := make(chan struct{})
	fn := func(q *api.QueryOptions, first bool) (uint64, map[string]bool, error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, detectCall{q.WaitIndex, time.Now()})
		if len(calls) > len(script) {
			select {
			case <-done:
			default:
				close(done)
			}
			<-q.Context().Done()
			return 0, nil, q.Context().Err()
		}
		return script[len(calls)-1]()
	}
	d := &detector{cancel: cancel, loops: map[string]*loopState{}}
	go s.detect(ctx, d, "", "test", s.cfg.MinInterval, fn)
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("detect loop did not run the script within 10s")
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	return calls
}

func ok(idx uint64) func() (uint64, map[string]bool, error) {
	return func() (uint64, map[string]bool, error) { return idx, nil, nil }
}

func TestDetectIndexHandling(t *testing.T) {
	calls := runDetect(t, Config{MinInterval: time.Millisecond, IdleInterval: time.Millisecond}, []func() (uint64, map[string]bool, error){
		ok(10), ok(12), ok(5), ok(7), ok(0),
	})
	want := []uint64{0, 10, 12, 0, 7, 1}
	if len(calls) != len(want) {
		t.Fatalf("%d calls, want %d", len(calls), len(want))
	}
	for i, w := range want {
		if calls[i].waitIndex != w {
			t.Fatalf("call %d: WaitIndex %d, want %d (all: %+v)", i, calls[i].waitIndex, w, calls)
		}
	}
}

// An index that does not move is not re-queried faster than IdleInterval;
// a moving one not faster than MinInterval.
func TestDetectRateLimit(t *testing.T) {
	calls := runDetect(t, Config{MinInterval: 5 * time.Millisecond, IdleInterval: 80 * time.Millisecond}, []func() (uint64, map[string]bool, error){
		ok(10), ok(10), ok(10), ok(11), ok(12),
	})
	for i := 1; i < len(calls); i++ {
		gap := calls[i].at.Sub(calls[i-1].at)
		// The loop spaces reads from the start of one to the start of the
		// next; this test sees each read a little after it started (more so
		// on a loaded machine), so allow some slack below the interval. An
		// unlimited loop would show gaps near zero.
		min := 2 * time.Millisecond
		if i == 2 || i == 3 { // after two answers with the same index
			min = 60 * time.Millisecond
		}
		if gap < min {
			t.Fatalf("call %d came %v after the previous one, want >= %v", i, gap, min)
		}
	}
}

// Errors back off exponentially (with jitter) and reset the index.
func TestDetectBackoffAndRecovery(t *testing.T) {
	boom := func() (uint64, map[string]bool, error) { return 0, nil, errors.New("connection refused") }
	calls := runDetect(t, Config{MinInterval: time.Millisecond, IdleInterval: time.Millisecond, BackoffBase: 40 * time.Millisecond, BackoffMax: 160 * time.Millisecond},
		[]func() (uint64, map[string]bool, error){ok(3), boom, boom, boom, ok(4)})
	// Gaps after errors 1..3: [20,40], [40,80], [80,160] ms.
	for i, min := range []time.Duration{20, 40, 80} {
		gap := calls[i+2].at.Sub(calls[i+1].at)
		if gap < min*time.Millisecond {
			t.Fatalf("retry %d after %v, want >= %v", i+1, gap, min*time.Millisecond)
		}
	}
	// After an error the next read is a plain one (WaitIndex 0): an agent
	// that restarted empty has a lower index, and blocking on the old one
	// would wait out WaitTime.
	if calls[1].waitIndex != 3 || calls[2].waitIndex != 0 || calls[4].waitIndex != 0 || calls[5].waitIndex != 4 {
		t.Fatalf("WaitIndex sequence around errors: %+v", calls)
	}
}

// After recovering from errors the detector re-reads every watch of its
// datacenter (changes may have been missed).
func TestDetectMarksAllAfterErrors(t *testing.T) {
	s, err := New(Config{Address: "127.0.0.1:1", MinInterval: time.Millisecond, IdleInterval: time.Millisecond, BackoffBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.SetServices(map[string]policy.ConsulDiscovery{"a": {Service: "a"}, "b": {Service: "b"}, "c": {Service: "c", Datacenter: "other"}})
	drain := func() map[string]bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		out := map[string]bool{}
		for _, k := range s.queue {
			out[k.service] = true
		}
		s.queue, s.queued = nil, map[key]bool{}
		return out
	}
	drain() // SetServices queued all three
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	step := make(chan func() (uint64, map[string]bool, error))
	fn := func(q *api.QueryOptions, first bool) (uint64, map[string]bool, error) {
		select {
		case f := <-step:
			return f()
		case <-q.Context().Done():
			return 0, nil, q.Context().Err()
		}
	}
	go s.detect(ctx, &detector{loops: map[string]*loopState{}}, "", "health", s.cfg.MinInterval, fn)
	feed := func(f func() (uint64, map[string]bool, error)) {
		select {
		case step <- f:
		case <-time.After(5 * time.Second):
			t.Fatal("detect loop stuck")
		}
		time.Sleep(20 * time.Millisecond)
	}
	feed(ok(5)) // first read: all of dc ""
	if got := drain(); !got["a"] || !got["b"] || got["c"] {
		t.Fatalf("first read queued %v, want a and b", got)
	}
	feed(func() (uint64, map[string]bool, error) { return 6, map[string]bool{"b": true}, nil })
	if got := drain(); len(got) != 1 || !got["b"] {
		t.Fatalf("a change of b queued %v", got)
	}
	feed(func() (uint64, map[string]bool, error) { return 0, nil, errors.New("down") })
	feed(ok(6))
	if got := drain(); !got["a"] || !got["b"] {
		t.Fatalf("recovery queued %v, want every watch of the datacenter", got)
	}
}
