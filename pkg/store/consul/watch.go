package consul

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/consul/api"
)

// Watch calls notify when the files may have changed, until ctx ends: a
// blocking query on the keys under PREFIX/files/, following Consul's
// advice on blocking queries (docs: api-docs/features/blocking): the index
// is reset when it goes backwards (a restored snapshot, a new cluster) and
// kept above zero, reads are at least MinInterval apart, and errors are
// retried with a jittered exponential backoff. notify is also called when
// Consul stops answering and when it answers again, so the caller's Read
// reports the outage and the recovery. ready is called after the first
// answer.
func (s *Store) Watch(ctx context.Context, notify, ready func()) error {
	var index uint64
	up, failures := true, 0
	if ready == nil {
		ready = func() {}
	}
	var last time.Time
	for {
		if wait := time.Until(last.Add(s.cfg.MinInterval)); wait > 0 {
			if !sleep(ctx, wait) {
				return nil
			}
		}
		last = time.Now()
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: s.cfg.WaitTime}).WithContext(ctx)
		_, meta, err := s.kv.Keys(s.filesPrefix(), "", q)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			failures++
			// After an outage the agent may be another one (restarted,
			// restored) whose index is below ours, where a blocking query
			// would wait its full time: ask without blocking first.
			index = 0
			if up {
				up = false
				notify()
			}
			if !sleep(ctx, backoff(failures, s.cfg.BackoffBase, s.cfg.BackoffMax)) {
				return nil
			}
			continue
		}
		failures = 0
		next := meta.LastIndex
		switch {
		case ready != nil:
			ready()
			ready = nil
			if !up {
				notify() // Consul was down when the watch started
			}
		case index == 0:
			notify() // the first answer after an outage
		case next < index:
			// Went backwards (a restored snapshot, a new cluster): start
			// over from the current state.
			next = 0
			notify()
		case next != index || !up:
			notify()
		}
		up = true
		index = max(next, 1) // an index of 0 would not block
	}
}

// backoff is the delay before retry n (from 1): base doubling up to max,
// with up to 50% jitter so that replicas do not retry in step.
func backoff(n int, base, ceiling time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
