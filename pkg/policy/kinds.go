package policy

import "sort"

// Per-kind plumbing, so the loader can treat objects generically.

// newObject returns a pointer to a zero object of kind, or nil.
func newObject(kind string) any {
	switch kind {
	case KindGateway:
		return &Gateway{}
	case KindService:
		return &Service{}
	case KindRoute:
		return &Route{}
	case KindAuthentication:
		return &Authentication{}
	case KindAuthorization:
		return &Authorization{}
	case KindConsumer:
		return &Consumer{}
	case KindPlan:
		return &Plan{}
	case KindRateLimit:
		return &RateLimit{}
	case KindFirewall:
		return &Firewall{}
	case KindTransformation:
		return &Transformation{}
	}
	return nil
}

func metaOf(v any) *Meta {
	switch o := v.(type) {
	case *Gateway:
		return &o.Meta
	case *Service:
		return &o.Meta
	case *Route:
		return &o.Meta
	case *Authentication:
		return &o.Meta
	case *Authorization:
		return &o.Meta
	case *Consumer:
		return &o.Meta
	case *Plan:
		return &o.Meta
	case *RateLimit:
		return &o.Meta
	case *Firewall:
		return &o.Meta
	case *Transformation:
		return &o.Meta
	}
	return nil
}

func newSnapshot() *Snapshot {
	return &Snapshot{
		Gateways: map[string]*Gateway{}, Services: map[string]*Service{}, Routes: map[string]*Route{},
		Authentications: map[string]*Authentication{}, Authorizations: map[string]*Authorization{},
		Consumers: map[string]*Consumer{}, Plans: map[string]*Plan{}, RateLimits: map[string]*RateLimit{},
		Firewalls: map[string]*Firewall{}, Transformations: map[string]*Transformation{},
	}
}

// put stores v (one of newObject's types) under its name.
func (s *Snapshot) put(v any) {
	switch o := v.(type) {
	case *Gateway:
		s.Gateways[o.Name] = o
	case *Service:
		s.Services[o.Name] = o
	case *Route:
		s.Routes[o.Name] = o
	case *Authentication:
		s.Authentications[o.Name] = o
	case *Authorization:
		s.Authorizations[o.Name] = o
	case *Consumer:
		s.Consumers[o.Name] = o
	case *Plan:
		s.Plans[o.Name] = o
	case *RateLimit:
		s.RateLimits[o.Name] = o
	case *Firewall:
		s.Firewalls[o.Name] = o
	case *Transformation:
		s.Transformations[o.Name] = o
	}
}

// get returns the object kind/name, or nil.
func (s *Snapshot) get(kind, name string) any {
	if s == nil {
		return nil
	}
	var v any
	var ok bool
	switch kind {
	case KindGateway:
		v, ok = s.Gateways[name]
	case KindService:
		v, ok = s.Services[name]
	case KindRoute:
		v, ok = s.Routes[name]
	case KindAuthentication:
		v, ok = s.Authentications[name]
	case KindAuthorization:
		v, ok = s.Authorizations[name]
	case KindConsumer:
		v, ok = s.Consumers[name]
	case KindPlan:
		v, ok = s.Plans[name]
	case KindRateLimit:
		v, ok = s.RateLimits[name]
	case KindFirewall:
		v, ok = s.Firewalls[name]
	case KindTransformation:
		v, ok = s.Transformations[name]
	}
	if !ok {
		return nil
	}
	return v
}

// all returns the objects of kind ordered by name.
func (s *Snapshot) all(kind string) []any {
	if s == nil {
		return nil
	}
	var out []any
	add := func(v any) { out = append(out, v) }
	switch kind {
	case KindGateway:
		eachSorted(s.Gateways, add)
	case KindService:
		eachSorted(s.Services, add)
	case KindRoute:
		eachSorted(s.Routes, add)
	case KindAuthentication:
		eachSorted(s.Authentications, add)
	case KindAuthorization:
		eachSorted(s.Authorizations, add)
	case KindConsumer:
		eachSorted(s.Consumers, add)
	case KindPlan:
		eachSorted(s.Plans, add)
	case KindRateLimit:
		eachSorted(s.RateLimits, add)
	case KindFirewall:
		eachSorted(s.Firewalls, add)
	case KindTransformation:
		eachSorted(s.Transformations, add)
	}
	return out
}

func eachSorted[T any](m map[string]*T, fn func(any)) {
	for _, k := range sortedKeys(m) {
		fn(m[k])
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
