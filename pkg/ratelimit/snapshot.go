package ratelimit

import (
	"math"
	"strings"

	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// snapshot is a Config compiled for lookups on the request path. It is
// immutable once built and swapped in atomically.
type snapshot struct {
	domains      map[string]map[string]bool // domain → RateLimit names
	limits       map[string]*compiledLimit  // "<name>#<index>" → limit
	plans        map[string]*compiledPlan
	consumerPlan map[string]*compiledPlan
}

type compiledLimit struct {
	id      string
	name    string // the RateLimit's name
	keys    []string
	rate    Rate
	sliding bool
	shadow  bool
	proto   *rlsv3.RateLimitResponse_RateLimit // shared by responses; never mutated
}

type compiledPlan struct {
	name   string
	limits []compiledRate
	quota  *compiledRate
}

type compiledRate struct {
	label string // metrics label: "plan:<name>#<i>" or "quota:<name>"
	rate  Rate
	proto *rlsv3.RateLimitResponse_RateLimit
}

func compile(c *Config) *snapshot {
	s := &snapshot{
		domains:      make(map[string]map[string]bool, len(c.Domains)),
		limits:       make(map[string]*compiledLimit, len(c.Limits)),
		plans:        make(map[string]*compiledPlan, len(c.Plans)),
		consumerPlan: make(map[string]*compiledPlan, len(c.ConsumerPlan)),
	}
	for name, d := range c.Domains {
		set := map[string]bool{}
		if d != nil {
			for _, rl := range d.RateLimits {
				set[rl] = true
			}
		}
		s.domains[name] = set
	}
	for id, l := range c.Limits {
		name := id[:strings.LastIndexByte(id, '#')]
		s.limits[id] = &compiledLimit{
			id:      id,
			name:    name,
			keys:    descriptorKeys(l.Keys),
			rate:    Rate{l.Requests, l.Unit},
			sliding: l.Algorithm == SlidingWindow,
			shadow:  l.Shadow,
			proto:   protoLimit(id, Rate{l.Requests, l.Unit}),
		}
	}
	for name, p := range c.Plans {
		cp := &compiledPlan{name: name}
		for i, r := range p.Limits {
			label := "plan:" + name + "#" + itoa(i)
			cp.limits = append(cp.limits, compiledRate{label, r, protoLimit(label, r)})
		}
		if p.Quota != nil {
			label := "quota:" + name
			cp.quota = &compiledRate{label, *p.Quota, protoLimit(label, *p.Quota)}
		}
		s.plans[name] = cp
	}
	for consumer, plan := range c.ConsumerPlan {
		s.consumerPlan[consumer] = s.plans[plan]
	}
	return s
}

// descriptorKeys are the entry keys Envoy sends for a limit's policy keys
// (remote_address arrives as masked_remote_address).
func descriptorKeys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = wire.DescriptorKey(k)
	}
	return out
}

func protoLimit(name string, r Rate) *rlsv3.RateLimitResponse_RateLimit {
	n := r.Requests
	if n > math.MaxUint32 {
		n = math.MaxUint32
	}
	return &rlsv3.RateLimitResponse_RateLimit{Name: name, RequestsPerUnit: uint32(n), Unit: protoUnit(r.Unit)}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
