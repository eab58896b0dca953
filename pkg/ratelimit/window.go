package ratelimit

import (
	"time"

	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
)

// window is one counting window: [start, end).
type window struct {
	start, end time.Time
}

// windowAt returns the window of unit u that holds now. Second to day are
// aligned to the Unix epoch, as envoyproxy/ratelimit aligns them, so every
// replica (and that implementation) agrees on the edges; a month is the
// calendar month in UTC.
func windowAt(u Unit, now time.Time) window {
	if u == Month {
		t := now.UTC()
		start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return window{start, start.AddDate(0, 1, 0)}
	}
	d := unitSeconds(u)
	s := now.Unix()
	s -= s % d
	if s > now.Unix() { // negative Unix times: % rounds toward zero
		s -= d
	}
	start := time.Unix(s, 0)
	return window{start, start.Add(time.Duration(d) * time.Second)}
}

// previous returns the window just before w.
func (w window) previous(u Unit) window {
	return windowAt(u, w.start.Add(-time.Nanosecond))
}

// unitSeconds is the length of a fixed unit; a month counts as 31 days,
// which is only used to bound how long its counters are kept.
func unitSeconds(u Unit) int64 {
	switch u {
	case Second:
		return 1
	case Minute:
		return 60
	case Hour:
		return 3600
	case Day:
		return 86400
	default:
		return 31 * 86400
	}
}

// keep is how long a counter of unit u must survive after it is created:
// one window, or two when the next window still reads it (sliding).
func keep(u Unit, sliding bool) time.Duration {
	d := time.Duration(unitSeconds(u)) * time.Second
	if sliding {
		d *= 2
	}
	// A second of slack covers clock skew between replicas sharing Redis.
	return d + time.Second
}

func protoUnit(u Unit) rlsv3.RateLimitResponse_RateLimit_Unit {
	switch u {
	case Second:
		return rlsv3.RateLimitResponse_RateLimit_SECOND
	case Minute:
		return rlsv3.RateLimitResponse_RateLimit_MINUTE
	case Hour:
		return rlsv3.RateLimitResponse_RateLimit_HOUR
	case Day:
		return rlsv3.RateLimitResponse_RateLimit_DAY
	case Month:
		return rlsv3.RateLimitResponse_RateLimit_MONTH
	}
	return rlsv3.RateLimitResponse_RateLimit_UNKNOWN
}
