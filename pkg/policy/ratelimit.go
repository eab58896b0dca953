package policy

import (
	"fmt"
	"strings"
)

// MaxServiceDescriptors is how many descriptors of one request the
// rate-limit service reads (pkg/ratelimit DefaultMaxDescriptors): Envoy
// sends one per limit counted by the service, and the plan's last, so a
// RateLimit with more would lose its last limits and its plan silently.
const MaxServiceDescriptors = 16

// MaxServiceEntries is how many entries of one descriptor the rate-limit
// service reads (pkg/ratelimit DefaultMaxEntries); a longer descriptor is
// ignored, so a limit has at most MaxServiceEntries-1 keys (its first
// entry names the limit).
const MaxServiceEntries = 16

// MaxHeaderKeys bounds the header keys of one limit: each is sent as its
// value or as "missing", two descriptor variants per header key.
const MaxHeaderKeys = 3

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const unitsRule = "one of second, minute, hour, day, month"

func validatePlan(o *objErrs, pl *Plan) {
	sp := &pl.Spec
	if len(sp.RateLimits) == 0 && sp.Quota == nil {
		o.add("spec", "set at least one of rateLimits, quota")
	}
	seen := map[string]string{}
	for i, r := range sp.RateLimits {
		p := fmt.Sprintf("spec.rateLimits[%d]", i)
		checkRate(o, p, r, Units, unitsRule)
		if first := seen[r.Per]; first != "" && r.Per != "" {
			o.add(p+".per", "a limit per %s is already set (%s); keep one", r.Per, first)
		} else {
			seen[r.Per] = p
		}
	}
	if q := sp.Quota; q != nil {
		checkRate(o, "spec.quota", *q, []string{UnitDay, UnitMonth}, "one of day, month (a calendar month in UTC)")
	}
}

// checkRate checks a count and unit. Counts are bounded by uint32, the type
// of Envoy's RateLimitResponse.RateLimit.requests_per_unit and of
// local_ratelimit's max_tokens.
func checkRate(o *objErrs, p string, r Rate, units []string, rule string) {
	if r.Requests < 1 || int64(r.Requests) > maxUint32 {
		o.add(p+".requests", "%d is out of range; 1..%d", r.Requests, int64(maxUint32))
	}
	switch {
	case r.Per == "":
		o.add(p+".per", "required; %s", rule)
	case !oneOf(r.Per, units...):
		o.add(p+".per", "%q is not a unit here; %s", r.Per, rule)
	}
}

// Local limits (local: true) are counted by Envoy's local_ratelimit filter,
// which (1) runs before jwt_authn and ext_authz in the filter chain
// (ENVOY-MAPPING.md), and (2) builds its descriptors only from what the
// request itself carries: its rate_limits do not support dynamic_metadata
// actions. So it can key by route (per-route buckets), remote_address,
// path, method and header:NAME (dynamic descriptors, an LRU per Envoy:
// approximate under high cardinality), but never by consumer or claim:NAME,
// which exist only after authentication. A token bucket refills at a fixed
// interval, which a calendar month does not have.
var localKeyKinds = []string{KeyRoute, KeyRemoteAddress, KeyPath, KeyMethod, "header"}

const localKeyRule = "local: true counts inside each Envoy (local_ratelimit), which runs before authentication and sees only the request itself: its keys may be route, remote_address, path, method and header:NAME; count consumer and claim keys with the rate-limit service (remove local)"

func validateRateLimit(o *objErrs, rl *RateLimit) {
	if rl.Name == RateLimitNone {
		o.add("name", "%q is reserved: rateLimit: none turns rate limiting off", rl.Name)
	}
	sp := &rl.Spec
	// plan: true alone is a RateLimit that applies only the caller's Plan.
	if len(sp.Limits) == 0 && !sp.Plan {
		o.add("spec.limits", "required: list at least one limit (or set plan: true to apply only the caller's Consumer Plan)")
	}
	service := 0
	for i := range sp.Limits {
		validateLimit(o, fmt.Sprintf("spec.limits[%d]", i), &sp.Limits[i])
		if !sp.Limits[i].Local {
			service++
		}
	}
	if sp.Plan {
		service++
	}
	if service > MaxServiceDescriptors {
		plan := ""
		if sp.Plan {
			plan = " plus the plan's descriptor"
		}
		o.add("spec.limits", "%d limits counted by the rate-limit service%s make %d descriptors per request; the service reads at most %d (the rest would silently not be counted): split the limits over RateLimits on different Routes, or count some locally", service-boolInt(sp.Plan), plan, service, MaxServiceDescriptors)
	}
	if !oneOf(sp.Algorithm, "", AlgorithmFixedWindow, AlgorithmSlidingWindow) {
		o.add("spec.algorithm", "%q is not an algorithm; one of fixed-window, sliding-window", sp.Algorithm)
	}
	if !oneOf(sp.FailureMode, "", FailureModeAllow, FailureModeDeny) {
		o.add("spec.failureMode", "%q is not a failure mode; one of allow, deny", sp.FailureMode)
	}
	if sp.MaxHitsAddend < 0 || sp.MaxHitsAddend > MaxHitsAddend {
		o.add("spec.maxHitsAddend", "%d is not between 1 and %d (2^32, past which every count is over every limit); leave it out for 1", sp.MaxHitsAddend, MaxHitsAddend)
	}
}

func validateLimit(o *objErrs, p string, l *Limit) {
	checkRate(o, p, Rate{Requests: l.Requests, Per: l.Per}, Units, unitsRule)
	if len(l.Key) > MaxServiceEntries-1 {
		o.add(p+".key", "%d keys; at most %d (the rate-limit service ignores a descriptor of more than %d entries, the first naming the limit)", len(l.Key), MaxServiceEntries-1, MaxServiceEntries)
	}
	seen := map[string]string{}
	headers := 0
	for i, k := range l.Key {
		kp := fmt.Sprintf("%s.key[%d]", p, i)
		kind, arg := SplitKey(k)
		norm := k
		switch {
		case oneOf(k, KeyConsumer, KeyRoute, KeyPath, KeyMethod):
		case kind == KeyRemoteAddress:
			if _, _, err := RemoteAddressMasks(k); err != nil {
				o.add(kp, "%q: %v", k, err)
				continue
			}
			norm = KeyRemoteAddress // Envoy sends one masked_remote_address entry whatever the masks
		case kind == "header" && strings.Contains(k, ":"):
			if !headerName(arg) {
				o.add(kp, "%q: %q is not a valid HTTP header name (for the path or method use the path or method key)", k, arg)
				continue
			}
			norm = KeyHeaderPrefix + strings.ToLower(arg)
			if headers++; headers == MaxHeaderKeys+1 {
				o.add(kp, "%q: at most %d header keys per limit: a request without a header is counted under %q, so each header key doubles the descriptors Envoy is configured with", k, MaxHeaderKeys, "missing")
			}
		case kind == "claim" && strings.Contains(k, ":"):
			if strings.TrimSpace(arg) == "" || strings.ContainsAny(arg, " \t\r\n") {
				o.add(kp, "%q: name the claim, such as claim:sub (no spaces)", k)
				continue
			}
		default:
			o.add(kp, "%q is not a key kind; one of consumer, route, remote_address (or remote_address:v4=N,v6=M), path, method, header:NAME, claim:NAME", k)
			continue
		}
		if first := seen[norm]; first != "" {
			o.add(kp, "duplicate key %q (also %s)", k, first)
			continue
		}
		seen[norm] = kp
		if l.Local && !oneOf(kind, localKeyKinds...) {
			o.add(kp, "%q cannot be counted locally: %s", k, localKeyRule)
		}
	}
	if l.Local && l.Per == UnitMonth {
		o.add(p+".per", "a local limit cannot be per month: a token bucket refills at a fixed interval and a calendar month has none; count it with the rate-limit service (remove local)")
	}
}
