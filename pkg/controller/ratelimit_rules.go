package controller

import (
	"fmt"
	"sort"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// RateLimitRules is what the rate-limit service enforces for snap: per
// Gateway domain the RateLimits its Routes use, every non-local limit under
// its descriptor name "<ratelimit>#<index>", the Plans and which Consumer
// has which. Local limits are counted inside Envoy and never reach it.
func RateLimitRules(snap *policy.Snapshot) *ratelimit.Config {
	cfg := &ratelimit.Config{
		Domains:      map[string]*ratelimit.Domain{},
		Limits:       map[string]ratelimit.Limit{},
		Plans:        map[string]ratelimit.Plan{},
		ConsumerPlan: map[string]string{},
	}
	used := map[string]map[string]bool{} // domain -> RateLimit names
	for _, r := range snap.Routes {
		for _, gwName := range r.Spec.Gateways {
			gw := snap.Gateways[gwName]
			name := r.EffectiveRateLimit(gw)
			if name == "" || snap.RateLimits[name] == nil {
				continue
			}
			d := wire.Domain(gwName)
			if used[d] == nil {
				used[d] = map[string]bool{}
			}
			used[d][name] = true
		}
	}
	for d, names := range used {
		list := make([]string, 0, len(names))
		for n := range names {
			list = append(list, n)
		}
		sort.Strings(list)
		dom := &ratelimit.Domain{RateLimits: list}
		for _, n := range list {
			if rl := snap.RateLimits[n]; rl.Spec.Plan {
				dom.PlanMaxHits = max(dom.PlanMaxHits, rl.Spec.HitsAllowed())
			}
		}
		cfg.Domains[d] = dom
	}
	for name, rl := range snap.RateLimits {
		alg := ratelimit.FixedWindow
		if rl.Spec.SlidingWindow() {
			alg = ratelimit.SlidingWindow
		}
		for i, l := range rl.Spec.Limits {
			if l.Local {
				continue
			}
			cfg.Limits[fmt.Sprintf("%s#%d", name, i)] = ratelimit.Limit{
				Requests:  uint64(l.Requests),
				Unit:      ratelimit.Unit(l.Per),
				Algorithm: alg,
				Shadow:    rl.Spec.Shadow,
				MaxHits:   rl.Spec.HitsAllowed(),
				Keys:      append([]string(nil), l.Key...),
			}
		}
	}
	for name, p := range snap.Plans {
		plan := ratelimit.Plan{}
		for _, r := range p.Spec.RateLimits {
			plan.Limits = append(plan.Limits, ratelimit.Rate{Requests: uint64(r.Requests), Unit: ratelimit.Unit(r.Per)})
		}
		if q := p.Spec.Quota; q != nil {
			plan.Quota = &ratelimit.Rate{Requests: uint64(q.Requests), Unit: ratelimit.Unit(q.Per)}
		}
		cfg.Plans[name] = plan
	}
	for name, c := range snap.Consumers {
		if c.Spec.Plan != "" && snap.Plans[c.Spec.Plan] != nil {
			cfg.ConsumerPlan[name] = c.Spec.Plan
		}
	}
	return cfg
}
