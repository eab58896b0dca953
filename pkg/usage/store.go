package usage

import (
	"cmp"
	"slices"
	"time"
)

// key is one row of the usage store.
type key struct {
	Gateway, Route, Service, Consumer, Plan string
}

// counts are a row's figures over one bucket.
type counts struct {
	requests, errors4xx, errors5xx uint64
	durationSum, durationMax       time.Duration
	durations                      uint64 // entries that carried a duration
}

func (c *counts) add(r record) {
	c.requests++
	switch r.class {
	case "4xx":
		c.errors4xx++
	case "5xx":
		c.errors5xx++
	}
	if r.hasDuration {
		c.durations++
		c.durationSum += r.duration
		c.durationMax = max(c.durationMax, r.duration)
	}
}

func (c *counts) merge(o *counts) {
	c.requests += o.requests
	c.errors4xx += o.errors4xx
	c.errors5xx += o.errors5xx
	c.durations += o.durations
	c.durationSum += o.durationSum
	c.durationMax = max(c.durationMax, o.durationMax)
}

type bucket struct {
	start time.Time // zero: unused
	rows  map[key]*counts
}

// store keeps usage for a sliding window in a ring of fixed-width buckets
// (by arrival time), each with at most maxRows rows; entries past that go
// to one overflow row of the bucket. Its size is therefore bounded by
// len(ring) × (maxRows+1) rows whatever the traffic. Callers hold the
// Service's lock.
type store struct {
	width   time.Duration
	maxRows int
	ring    []bucket
}

func newStore(window, width time.Duration, maxRows int) *store {
	n := int((window + width - 1) / width)
	return &store{width: width, maxRows: maxRows, ring: make([]bucket, n)}
}

var overflowKey = key{Gateway: Other, Route: Other, Service: Other, Consumer: Other, Plan: Other}

// add counts r at time now under k; it reports whether k overflowed.
func (s *store) add(now time.Time, k key, r record) (overflow bool) {
	start := now.Truncate(s.width)
	b := &s.ring[int(start.UnixNano()/int64(s.width))%len(s.ring)]
	if !b.start.Equal(start) {
		*b = bucket{start: start, rows: map[key]*counts{}}
	}
	c := b.rows[k]
	if c == nil {
		if len(b.rows) >= s.maxRows {
			k, overflow = overflowKey, true
			c = b.rows[k]
		}
		if c == nil {
			c = &counts{}
			b.rows[k] = c
		}
	}
	c.add(r)
	return overflow
}

// rows returns the number of rows held, for tests and the size bound.
func (s *store) rows() int {
	n := 0
	for _, b := range s.ring {
		n += len(b.rows)
	}
	return n
}

// Row is one line of a usage report.
type Row struct {
	Gateway  string `json:"gateway"`
	Route    string `json:"route"`
	Service  string `json:"service"`
	Consumer string `json:"consumer"`
	Plan     string `json:"plan"`
	Requests uint64 `json:"requests"`
	// Errors4xx and Errors5xx count responses by class.
	Errors4xx uint64 `json:"errors_4xx"`
	Errors5xx uint64 `json:"errors_5xx"`
	// LatencyAvgMs and LatencyMaxMs cover the entries that carried a duration.
	LatencyAvgMs float64 `json:"latency_avg_ms"`
	LatencyMaxMs float64 `json:"latency_max_ms"`
}

// query sums the buckets that started at or after from (and are not older
// than the window at now), keeping rows whose consumer is consumer (any
// when empty). Rows are sorted by requests, most first.
func (s *store) query(now, from time.Time, consumer string) []Row {
	oldest := now.Truncate(s.width).Add(-time.Duration(len(s.ring)-1) * s.width)
	sum := map[key]*counts{}
	for _, b := range s.ring {
		if b.start.IsZero() || b.start.Before(oldest) || b.start.Add(s.width).Before(from) || b.start.After(now) {
			continue
		}
		for k, c := range b.rows {
			if consumer != "" && k.Consumer != consumer {
				continue
			}
			t := sum[k]
			if t == nil {
				t = &counts{}
				sum[k] = t
			}
			t.merge(c)
		}
	}
	out := make([]Row, 0, len(sum))
	for k, c := range sum {
		r := Row{Gateway: k.Gateway, Route: k.Route, Service: k.Service, Consumer: k.Consumer, Plan: k.Plan,
			Requests: c.requests, Errors4xx: c.errors4xx, Errors5xx: c.errors5xx, LatencyMaxMs: ms(c.durationMax)}
		if c.durations > 0 {
			r.LatencyAvgMs = ms(c.durationSum / time.Duration(c.durations))
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Row) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Gateway, b.Gateway), cmp.Compare(a.Route, b.Route),
			cmp.Compare(a.Consumer, b.Consumer), cmp.Compare(a.Service, b.Service), cmp.Compare(a.Plan, b.Plan))
	})
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
