package ratelimit

import (
	"math"
	"strings"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// snapshot is a Config compiled for lookups on the request path. It is
// immutable once built and swapped in atomically.
type snapshot struct {
	domains      map[string]map[string]bool // domain → RateLimit names
	planMaxHits  map[string]uint64          // domain → largest hits_addend of a plan descriptor
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
	maxHits uint64                             // largest hits_addend allowed, at least 1
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
		planMaxHits:  make(map[string]uint64, len(c.Domains)),
		limits:       make(map[string]*compiledLimit, len(c.Limits)),
		plans:        make(map[string]*compiledPlan, len(c.Plans)),
		consumerPlan: make(map[string]*compiledPlan, len(c.ConsumerPlan)),
	}
	for name, d := range c.Domains {
		set := map[string]bool{}
		s.planMaxHits[name] = 1
		if d != nil {
			s.planMaxHits[name] = max(d.PlanMaxHits, 1)
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
			maxHits: max(l.MaxHits, 1),
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

// hitsAllowed is the largest hits_addend a descriptor of domain may carry:
// its limit's, or the domain's for a plan descriptor. A descriptor that
// is not counted (unknown, or a limit the domain does not use) has no
// bound: it costs nothing.
func (s *snapshot) hitsAllowed(domain string, known map[string]bool, entries []*rlcommon.RateLimitDescriptor_Entry) uint64 {
	if len(entries) == 0 {
		return math.MaxUint64
	}
	switch entries[0].GetKey() {
	case wire.DescRateLimit:
		if l := s.limits[entries[0].GetValue()]; l != nil && known[l.name] {
			return l.maxHits
		}
	case wire.DescPlan:
		return s.planMaxHits[domain]
	}
	return math.MaxUint64
}
