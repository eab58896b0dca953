package consul

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/hashicorp/consul/api"
)

// detector runs the two change-detecting blocking queries of one datacenter.
type detector struct {
	cancel context.CancelFunc
	// Guarded by Source.mu.
	loops map[string]*loopState // "catalog", "health"
}

type loopState struct {
	ok      bool
	lastErr string
	at      time.Time
}

// reconcileDetectorsLocked runs one detector per datacenter in use.
func (s *Source) reconcileDetectorsLocked() {
	if s.ctx == nil || s.closed {
		return // started by Run
	}
	need := map[string]bool{}
	for k := range s.watches {
		need[k.dc] = true
	}
	for dc, d := range s.dcs {
		if !need[dc] {
			d.cancel()
			delete(s.dcs, dc)
		}
	}
	for dc := range need {
		if _, ok := s.dcs[dc]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(s.ctx)
		d := &detector{cancel: cancel, loops: map[string]*loopState{}}
		s.dcs[dc] = d
		go s.detect(ctx, d, dc, "catalog", s.cfg.CatalogMinInterval, s.catalogChanges(dc))
		go s.detect(ctx, d, dc, "health", s.cfg.MinInterval, s.healthChanges(dc))
	}
}

// changeFn does one (blocking) read and returns the new index and the Consul
// service names whose watches must be re-read (nil: all of them).
type changeFn func(q *api.QueryOptions, first bool) (uint64, map[string]bool, error)

// catalogChanges: the services index moves on every registration and
// deregistration but does not say which service changed.
func (s *Source) catalogChanges(dc string) changeFn {
	return func(q *api.QueryOptions, _ bool) (uint64, map[string]bool, error) {
		_, meta, err := s.client.Catalog().Services(q)
		if err != nil {
			return 0, nil, err
		}
		return meta.LastIndex, nil, nil
	}
}

// checkRev is what the health detector remembers of one check.
type checkRev struct {
	service string
	modify  uint64
}

// healthChanges finds the services whose passing instances may have changed
// between two reads of the check index (D0 = the previous index, D1 = the
// new one), reading only the checks that are not passing (small, however
// many healthy instances there are). A service is re-read when:
//   - one of its checks is not passing and changed after D0 (entered the
//     set or flipped again, e.g. critical -> passing -> warning);
//   - one of its checks left the set (is passing again, or was removed);
//   - its watch was read after D0, or is being read: that read may have seen
//     a state that has since been reverted (passing -> critical -> passing
//     leaves no trace in the set).
//
// A node check (no service) affects every service on its node: all are re-read.
func (s *Source) healthChanges(dc string) changeFn {
	prev := map[string]checkRev{} // node + check ID -> service, ModifyIndex
	return func(q *api.QueryOptions, first bool) (uint64, map[string]bool, error) {
		d0 := q.WaitIndex
		q.Filter = `Status != "passing"`
		checks, meta, err := s.client.Health().State(api.HealthAny, q)
		if err != nil {
			return 0, nil, err
		}
		cur := make(map[string]checkRev, len(checks))
		for _, c := range checks {
			cur[c.Node+"\x00"+c.CheckID] = checkRev{c.ServiceName, c.ModifyIndex}
		}
		changed := map[string]bool{}
		all := first
		note := func(svc string) {
			if svc == "" {
				all = true
			}
			changed[svc] = true
		}
		for id, c := range cur {
			if p, ok := prev[id]; !ok || p != c || c.modify > d0 {
				note(c.service)
			}
		}
		for id, p := range prev {
			if _, ok := cur[id]; !ok {
				note(p.service)
			}
		}
		prev = cur
		if all {
			return meta.LastIndex, nil, nil
		}
		for svc := range s.readSince(dc, d0) {
			changed[svc] = true
		}
		return meta.LastIndex, changed, nil
	}
}

// readSince returns the Consul services of dc whose watches were read at an
// index after d0 or are being read now.
func (s *Source) readSince(dc string, d0 uint64) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for k, w := range s.watches {
		if k.dc == dc && (w.index > d0 || s.inflight[k]) {
			out[k.service] = true
		}
	}
	return out
}

// detect is one blocking-query loop: it re-reads the watches a change
// touches, resets a backwards index, rate-limits itself and backs off on
// errors. After an error the next read is a plain one and every watch of the
// datacenter is re-read, since changes may have been missed.
func (s *Source) detect(ctx context.Context, d *detector, dc, name string, minInterval time.Duration, fn changeFn) {
	var index uint64
	failures := 0
	first := true
	for ctx.Err() == nil {
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, s.cfg.WaitTime+s.cfg.WaitTime/16+s.cfg.ReadTimeout)
		q := (&api.QueryOptions{Datacenter: dc, WaitIndex: index, WaitTime: s.cfg.WaitTime}).WithContext(rctx)
		newIndex, names, err := fn(q, first)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// Read from scratch next time: an agent that restarted empty
			// has a lower index, and a blocking query on the old one
			// would wait out WaitTime before noticing.
			index = 0
			s.loopResult(d, name, err)
			sleep(ctx, backoff(failures, s.cfg.BackoffBase, s.cfg.BackoffMax))
			failures++
			continue
		}
		s.loopResult(d, name, nil)
		switch {
		case first || failures > 0 || newIndex < index:
			s.markAll(dc, false)
		case newIndex != index && names == nil:
			s.markAll(dc, false)
		case newIndex != index:
			s.markServices(dc, names)
		}
		first, failures = false, 0
		moved := newIndex != index
		switch {
		case newIndex == 0:
			index = 1 // Consul's rule: an index is never below 1 (0 would be a plain read)
		case newIndex < index:
			index = 0 // and one that goes backwards resets to 0 (re-read from scratch)
		default:
			index = newIndex
		}
		gap := minInterval
		if !moved {
			gap = s.cfg.IdleInterval
		}
		sleep(ctx, gap-time.Since(start))
	}
}

func (s *Source) loopResult(d *detector, name string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := d.loops[name]
	if st == nil {
		st = &loopState{}
		d.loops[name] = st
	}
	st.at = time.Now()
	st.ok = err == nil
	st.lastErr = ""
	if err != nil {
		st.lastErr = describe(err, s.addr)
	} else {
		s.lastOK = st.at
	}
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// describe turns a consul/api error into a message a user can act on.
func describe(err error, addr string) string {
	var se api.StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case 403:
			return fmt.Sprintf("consul %s: permission denied (check the ACL token): %s", addr, se.Body)
		case 401:
			return fmt.Sprintf("consul %s: unauthorized (check the ACL token): %s", addr, se.Body)
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) && !ue.Timeout() {
		return fmt.Sprintf("consul %s unreachable: %v", addr, ue.Err)
	}
	return fmt.Sprintf("consul %s: %v", addr, err)
}
