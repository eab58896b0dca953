package policy

import "strings"

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
}

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
	KeyRemoteAddress = "remote_address"
	KeyPath          = "path"
	KeyMethod        = "method"
	KeyHeaderPrefix  = "header:" // + header name
	KeyClaimPrefix   = "claim:"  // + claim name (of the verified JWT payload)
)

// SplitKey splits a key kind into its kind and argument: "header:x-a" gives
// ("header", "x-a"); "consumer" gives ("consumer", "").
func SplitKey(k string) (kind, arg string) {
	kind, arg, _ = strings.Cut(k, ":")
	return kind, arg
}
