package explain

import (
	"fmt"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	localrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// RateLimitCall is one ratelimit filter's call to the rate-limit service.
type RateLimitCall struct {
	Filter string `json:"filter"`
	Domain string `json:"domain"`
	Stage  uint32 `json:"stage"`
	// FailureMode is what happens when the service cannot be reached:
	// deny (500) or allow.
	FailureMode string       `json:"failure_mode"`
	Descriptors []Descriptor `json:"descriptors"`
}

// LocalRateLimit is one local (per-Envoy) token bucket a request draws on.
type LocalRateLimit struct {
	Descriptor Descriptor `json:"descriptor"`
	Bucket     string     `json:"bucket"`
}

// rateLimit lists the descriptors one ratelimit filter sends: the route's
// rate_limits of the filter's stage, then the virtual host's when the
// route includes them or has none (Envoy: source/extensions/filters/http/
// ratelimit/ratelimit.cc, populateRateLimitDescriptors with
// VhRateLimitOptions; source/common/router/config_impl.cc,
// include_vh_rate_limits). No descriptor: no call.
func (e *explainer) rateLimit(info *RouteInfo, name string, a, per *anypb.Any, vh *routev3.VirtualHost, rt *routev3.Route, f *facts) (FilterStep, error) {
	cfg := &ratelimitv3.RateLimit{}
	if err := a.UnmarshalTo(cfg); err != nil {
		return FilterStep{}, err
	}
	if per != nil {
		return FilterStep{Filter: name, Effect: "per-route config (not modelled)"}, nil
	}
	call := RateLimitCall{Filter: name, Domain: cfg.GetDomain(), Stage: cfg.GetStage(), FailureMode: "allow"}
	if cfg.GetFailureModeDeny() {
		call.FailureMode = "deny"
	}
	ra := rt.GetRoute()
	add := func(from string, rls []*routev3.RateLimit) error {
		for _, rl := range rls {
			if rl.GetStage().GetValue() != cfg.GetStage() || rl.GetDisableKey() != "" {
				continue
			}
			d, err := f.populate(from, rl.GetActions(), e.re)
			if err != nil {
				return err
			}
			d.Limit = e.limitOf(d)
			call.Descriptors = append(call.Descriptors, d)
		}
		return nil
	}
	if err := add("route", ra.GetRateLimits()); err != nil {
		return FilterStep{}, err
	}
	if ra.GetIncludeVhRateLimits().GetValue() || len(ra.GetRateLimits()) == 0 {
		if err := add("virtual host", vh.GetRateLimits()); err != nil {
			return FilterStep{}, err
		}
	}
	sent := 0
	for _, d := range call.Descriptors {
		if !strings.HasPrefix(d.Sent, "no") {
			sent++
		}
	}
	step := FilterStep{Filter: name}
	switch {
	case len(call.Descriptors) == 0:
		step.Effect = "no descriptors on this route: no call"
	case sent == 0:
		step.Effect = "every descriptor is left out for this request: no call"
		info.RateLimits = append(info.RateLimits, call)
	default:
		step.Effect = fmt.Sprintf("calls the rate-limit service (domain %s) with %d descriptor(s); unreachable service: %s; over a limit: 429",
			call.Domain, sent, map[string]string{"deny": "500 (fails closed)", "allow": "allowed (fails open)"}[call.FailureMode])
		info.RateLimits = append(info.RateLimits, call)
	}
	return step, nil
}

// limitOf names the policy limit a descriptor counts against, from its
// first entry (ENVOY-MAPPING.md: (ratelimit, "<name>#<i>") or (plan,
// consumer)).
func (e *explainer) limitOf(d Descriptor) string {
	if len(d.Entries) == 0 {
		return ""
	}
	first := d.Entries[0]
	switch first.Key {
	case wire.DescRateLimit:
		name, idx, ok := strings.Cut(first.Value, "#")
		rl := e.in.Policy.RateLimits[name]
		if !ok || rl == nil {
			return "RateLimit/" + first.Value
		}
		var i int
		if _, err := fmt.Sscan(idx, &i); err != nil || i < 0 || i >= len(rl.Spec.Limits) {
			return "RateLimit/" + first.Value
		}
		l := rl.Spec.Limits[i]
		s := fmt.Sprintf("RateLimit/%s limit #%d: %d per %s", name, i, l.Requests, l.Per)
		if rl.Spec.Shadow {
			s += " (shadow: counted, never rejected)"
		}
		return s
	case wire.DescPlan:
		c := e.in.Policy.Consumers[first.Value]
		if c == nil || c.Spec.Plan == "" {
			return "the consumer's Plan (none known for " + first.Value + ")"
		}
		return "Plan/" + c.Spec.Plan + " of Consumer/" + c.Name
	}
	return ""
}

// localRateLimit lists the local token buckets the request draws on: the
// descriptors of the per-route config's rate_limits, each matched against
// the configured descriptors (an entry without a value matches any value,
// one bucket per value) (Envoy: source/extensions/filters/http/
// local_ratelimit/local_ratelimit.cc; source/extensions/filters/common/
// local_ratelimit/local_ratelimit_impl.cc).
func (e *explainer) localRateLimit(info *RouteInfo, name string, per *anypb.Any, f *facts) (FilterStep, error) {
	if per == nil {
		return FilterStep{Filter: name, Effect: "no limits on this route"}, nil
	}
	cfg := &localrlv3.LocalRateLimit{}
	if err := per.UnmarshalTo(cfg); err != nil {
		return FilterStep{}, err
	}
	n := 0
	for _, rl := range cfg.GetRateLimits() {
		d, err := f.populate("route", rl.GetActions(), e.re)
		if err != nil {
			return FilterStep{}, err
		}
		d.Limit = e.limitOf(d)
		lr := LocalRateLimit{Descriptor: d, Bucket: "no configured descriptor matches: the default bucket"}
		for _, cd := range cfg.GetDescriptors() {
			if !localMatch(cd.GetEntries(), d.Entries) {
				continue
			}
			tb := cd.GetTokenBucket()
			lr.Bucket = fmt.Sprintf("%d requests per %s per Envoy", tb.GetMaxTokens(), dur(tb.GetFillInterval()))
			if cd.GetShadowMode() {
				lr.Bucket += " (shadow: counted, never rejected)"
			}
			break
		}
		if !strings.HasPrefix(d.Sent, "no") {
			n++
		}
		info.LocalRateLimits = append(info.LocalRateLimits, lr)
	}
	return FilterStep{Filter: name, Effect: fmt.Sprintf("%d local token bucket(s) apply; an empty bucket is 429", n)}, nil
}

type localEntry interface {
	GetKey() string
	GetValue() string
}

func localMatch[T localEntry](want []T, got []Entry) bool {
	if len(want) != len(got) {
		return false
	}
	for i, w := range want {
		if w.GetKey() != got[i].Key || (w.GetValue() != "" && w.GetValue() != got[i].Value) {
			return false
		}
	}
	return true
}
