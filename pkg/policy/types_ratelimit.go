package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// ---- Plan ----

// Plan is a Consumer's allowance, applied on Routes whose RateLimit says
// plan: true and counted per consumer across all Routes and Gateways.
type Plan struct {
	Meta `yaml:",inline"`
	Spec PlanSpec `yaml:"spec"`
}

// PlanSpec has at least one of RateLimits or Quota.
type PlanSpec struct {
	RateLimits []Rate `yaml:"rateLimits"`
	Quota      *Rate  `yaml:"quota"` // per day or month; counts only allowed requests
}

// Rate is a number of requests per unit.
type Rate struct {
	Requests int    `yaml:"requests"` // 1..4294967295 (Envoy's requests_per_unit is a uint32)
	Per      string `yaml:"per"`      // a Unit*
}

// Units of Rate.Per, as Envoy's RateLimitUnit names them (lowercase).
const (
	UnitSecond = "second"
	UnitMinute = "minute"
	UnitHour   = "hour"
	UnitDay    = "day"
	UnitMonth  = "month" // the calendar month in UTC
)

// Units lists every unit, shortest first.
var Units = []string{UnitSecond, UnitMinute, UnitHour, UnitDay, UnitMonth}

// ---- RateLimit ----

// RateLimit is a set of limits a Route applies. Its counters are keyed by
// the RateLimit's name, the limit's index and the key values, so they are
// shared by every Route naming it (put "route" in a key to split them).
type RateLimit struct {
	Meta `yaml:",inline"`
	Spec RateLimitSpec `yaml:"spec"`
}

// Algorithms of RateLimitSpec.Algorithm.
const (
	AlgorithmFixedWindow   = "fixed-window"
	AlgorithmSlidingWindow = "sliding-window"
)

// Failure modes of RateLimitSpec.FailureMode.
const (
	FailureModeAllow = "allow"
	FailureModeDeny  = "deny"
)

type RateLimitSpec struct {
	Limits      []Limit `yaml:"limits"`      // at least one, unless Plan
	Algorithm   string  `yaml:"algorithm"`   // "" (fixed-window) | fixed-window | sliding-window
	Plan        bool    `yaml:"plan"`        // also apply the caller's Consumer Plan
	Shadow      bool    `yaml:"shadow"`      // count and report, never reject
	FailureMode string  `yaml:"failureMode"` // "" (allow) | allow | deny: when the rate-limit service is unreachable
	// MaxHitsAddend is the most one request may count as (Envoy's
	// hits_addend, e.g. a cost set by another filter): 0 means 1. The
	// rate-limit service refuses a larger hits_addend (OVER_LIMIT, nothing
	// counted) so that a caller cannot spend a counter faster than one per
	// request unless the RateLimit says so. At most MaxHitsAddend, which
	// allows any (a larger hits_addend counts as MaxHitsAddend).
	MaxHitsAddend int `yaml:"maxHitsAddend"`
}

// MaxHitsAddend bounds RateLimitSpec.MaxHitsAddend: one more than the
// largest limit (requests is at most 2^32-1), beyond which every count is
// over every limit anyway.
const MaxHitsAddend = 1 << 32

// HitsAllowed is the most one request may count as: MaxHitsAddend, 1 when
// unset.
func (s *RateLimitSpec) HitsAllowed() uint64 { return uint64(max(s.MaxHitsAddend, 1)) }

// SlidingWindow reports whether the sliding-window algorithm applies.
func (s *RateLimitSpec) SlidingWindow() bool { return s.Algorithm == AlgorithmSlidingWindow }

// FailClosed reports whether requests are denied when the rate-limit
// service cannot be reached.
func (s *RateLimitSpec) FailClosed() bool { return s.FailureMode == FailureModeDeny }

// Limit is one counter definition. Key lists key kinds (Key* constants,
// "header:NAME", "claim:NAME"), each at most once; an empty key counts all
// requests together.
type Limit struct {
	Key      []string `yaml:"key"`
	Requests int      `yaml:"requests"` // 1..4294967295
	Per      string   `yaml:"per"`      // a Unit*
	Local    bool     `yaml:"local"`    // counted inside each Envoy by local_ratelimit (see localKeyRule)
}

// Key kinds of Limit.Key. The descriptor entry key is the key kind exactly
// as written (see pkg/wire).
const (
	KeyConsumer      = "consumer"
	KeyRoute         = "route"
	KeyRemoteAddress = "remote_address" // optionally ":v4=N,v6=M" (RemoteAddressMasks)
	KeyPath          = "path"
	KeyMethod        = "method"
	KeyHeaderPrefix  = "header:" // + header name
	KeyClaimPrefix   = "claim:"  // + claim name (of the verified JWT payload)
)

// Masks of the remote_address key when it names none. An IPv4 address is
// one client; an IPv6 client is routinely given a whole /64 (RFC 4291's
// 64-bit interface identifier, SLAAC privacy addresses), so counting per
// /128 would give one client 2^64 counters. "remote_address:v4=N,v6=M"
// (either part alone too) sets other masks.
const (
	DefaultIPv4Mask = 32
	DefaultIPv6Mask = 64
)

// RemoteAddressMasks parses a remote_address key: "remote_address", or
// "remote_address:" followed by "v4=N", "v6=M" or both, comma-separated
// (N in 1..32, M in 1..128).
func RemoteAddressMasks(k string) (v4, v6 int, err error) {
	v4, v6 = DefaultIPv4Mask, DefaultIPv6Mask
	kind, arg := SplitKey(k)
	if kind != KeyRemoteAddress {
		return 0, 0, fmt.Errorf("not a %s key", KeyRemoteAddress)
	}
	if k == KeyRemoteAddress {
		return v4, v6, nil
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(arg, ",") {
		name, num, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, nerr := strconv.Atoi(num)
		limit := map[string]int{"v4": 32, "v6": 128}[name]
		switch {
		case !ok || limit == 0:
			return 0, 0, fmt.Errorf("%q is not a mask; write v4=N and/or v6=M, such as remote_address:v4=24,v6=48", part)
		case seen[name]:
			return 0, 0, fmt.Errorf("%s given twice", name)
		case nerr != nil || n < 1 || n > limit:
			return 0, 0, fmt.Errorf("%s=%s is out of range; 1..%d", name, num, limit)
		}
		seen[name] = true
		if name == "v4" {
			v4 = n
		} else {
			v6 = n
		}
	}
	return v4, v6, nil
}

// SplitKey splits a key kind into its kind and argument: "header:x-a" gives
// ("header", "x-a"); "consumer" gives ("consumer", "").
func SplitKey(k string) (kind, arg string) {
	kind, arg, _ = strings.Cut(k, ":")
	return kind, arg
}
