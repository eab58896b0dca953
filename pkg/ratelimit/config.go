package ratelimit

import (
	"errors"
	"fmt"
	"strings"
)

// Unit is the length of a counting window.
type Unit string

// Units known to the service. Second to day are fixed windows aligned to the
// Unix epoch (as envoyproxy/ratelimit aligns them); month is the calendar
// month in UTC.
const (
	Second Unit = "second"
	Minute Unit = "minute"
	Hour   Unit = "hour"
	Day    Unit = "day"
	Month  Unit = "month"
)

// Algorithm selects how a Limit counts.
type Algorithm string

const (
	// FixedWindow counts requests in windows aligned to the unit.
	FixedWindow Algorithm = "fixed-window"
	// SlidingWindow weighs the previous window's count by the share of it
	// that still lies within one unit of now, and adds the current window's
	// count (the approximation Cloudflare describes). It removes the 2x
	// burst a fixed window allows across its edge, at the cost of assuming
	// the previous window's requests were evenly spread.
	SlidingWindow Algorithm = "sliding-window"
)

// Config is everything the service enforces. The controller builds it from
// the policy (RateLimit, Plan, Consumer, Gateway objects) and hands it over
// with Service.Update; the service never modifies it.
type Config struct {
	// Domains maps a rate-limit domain ("gatehouse/<gateway>", see
	// wire.Domain) to the RateLimits its routes name. A request for a
	// domain not listed here is answered OK without counting.
	Domains map[string]*Domain
	// Limits maps "<ratelimit-name>#<index>" (the value of the descriptor's
	// first entry) to the limit it stands for.
	Limits map[string]Limit
	// Plans maps a Plan name to its limits and quota.
	Plans map[string]Plan
	// ConsumerPlan maps a consumer name to its Plan's name. Consumers not
	// listed (including the anonymous one) have no plan limits.
	ConsumerPlan map[string]string
}

// Domain lists which RateLimits the routes of one Gateway name.
type Domain struct {
	// RateLimits are RateLimit object names. A descriptor naming a
	// RateLimit not in this list is treated as unknown (OK, not counted).
	RateLimits []string
	// PlanMaxHits is the largest hits_addend a plan descriptor of this
	// domain may carry (the largest maxHitsAddend of its RateLimits that
	// apply Plans); 0 means 1.
	PlanMaxHits uint64
}

// Limit is one entry of a RateLimit's limits.
type Limit struct {
	Requests  uint64
	Unit      Unit
	Algorithm Algorithm // "" means FixedWindow
	// Shadow counts and reports but never rejects: like envoyproxy/ratelimit's
	// shadow_mode, the descriptor's status says OK even when over the limit.
	Shadow bool
	// MaxHits is the largest hits_addend a descriptor of this limit may
	// carry (the RateLimit's maxHitsAddend); 0 means 1. A larger one makes
	// the whole request OVER_LIMIT, nothing counted.
	MaxHits uint64
	// Keys are the entry keys the descriptor must carry after its first
	// entry, in order ("consumer", "route", "header:x-tenant", ...). A
	// descriptor whose entries do not match is treated as unknown.
	Keys []string
}

// Plan is a Consumer Plan: its rate limits and an optional quota.
type Plan struct {
	Limits []Rate
	// Quota, if set, counts only requests that were allowed.
	Quota *Rate
}

// Rate is a number of requests per unit.
type Rate struct {
	Requests uint64
	Unit     Unit
}

// Validate reports every problem of a Config at once. Update refuses an
// invalid Config and keeps the previous one in force.
func (c *Config) Validate() error {
	var errs []string
	for id, l := range c.Limits {
		name, _, ok := strings.Cut(id, "#")
		if !ok || name == "" {
			errs = append(errs, fmt.Sprintf("limit %q: id must be <ratelimit-name>#<index>", id))
		}
		if err := checkRate(Rate{l.Requests, l.Unit}); err != nil {
			errs = append(errs, fmt.Sprintf("limit %q: %v", id, err))
		}
		switch l.Algorithm {
		case "", FixedWindow, SlidingWindow:
		default:
			errs = append(errs, fmt.Sprintf("limit %q: unknown algorithm %q (fixed-window or sliding-window)", id, l.Algorithm))
		}
	}
	for name, p := range c.Plans {
		for i, r := range p.Limits {
			if err := checkRate(r); err != nil {
				errs = append(errs, fmt.Sprintf("plan %q limit %d: %v", name, i, err))
			}
		}
		if p.Quota != nil {
			if err := checkRate(*p.Quota); err != nil {
				errs = append(errs, fmt.Sprintf("plan %q quota: %v", name, err))
			}
		}
	}
	for consumer, plan := range c.ConsumerPlan {
		if _, ok := c.Plans[plan]; !ok {
			errs = append(errs, fmt.Sprintf("consumer %q: unknown plan %q", consumer, plan))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid rate-limit config: %s", strings.Join(errs, "; "))
	}
	return nil
}

func checkRate(r Rate) error {
	var errs []string
	if r.Requests == 0 {
		errs = append(errs, "requests must be positive")
	}
	switch r.Unit {
	case Second, Minute, Hour, Day, Month:
	default:
		errs = append(errs, fmt.Sprintf("unknown unit %q (second, minute, hour, day or month)", r.Unit))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, ", "))
	}
	return nil
}
