package policy

import (
	"fmt"
	"time"
)

// Mirror sends a copy of a share of a Route's requests to Service; its
// answers are discarded (Envoy's request_mirror_policies). Envoy only.
type Mirror struct {
	Service string `yaml:"service"`
	Percent *int   `yaml:"percent"` // 1..100; default 100
}

// P is the effective percentage.
func (m Mirror) P() int {
	if m.Percent == nil {
		return 100
	}
	return *m.Percent
}

// Fault injects a delay, an abort or both into a share of a Route's
// requests, for resilience testing. WhenHeader limits it to requests
// carrying a header, so a test client opts in and others are untouched.
type Fault struct {
	Delay      *FaultDelay  `yaml:"delay"`
	Abort      *FaultAbort  `yaml:"abort"`
	WhenHeader *HeaderMatch `yaml:"whenHeader"`
}

// FaultDelay holds a request for Duration before it goes on.
type FaultDelay struct {
	Duration Duration `yaml:"duration"`
	Percent  int      `yaml:"percent"` // 1..100, required
}

// FaultAbort answers with Status (HTTP) or GRPCStatus (a gRPC status
// code) instead of forwarding; exactly one of them.
type FaultAbort struct {
	Status     int  `yaml:"status"`
	GRPCStatus *int `yaml:"grpcStatus"`
	Percent    int  `yaml:"percent"` // 1..100, required
}

const (
	// MaxMirrors bounds a Route's mirrors: each one is a copy of every
	// mirrored request, sent by the gateway.
	MaxMirrors = 4
	// MaxFaultDelay: a longer delay would outlast the connection
	// manager's default stream idle timeout (5 minutes), so the request
	// would be reset rather than delayed.
	MaxFaultDelay = 5 * time.Minute
)

// validateTraffic checks a Route's mirror and fault blocks on their own;
// that mirrored Services exist is checked by resolveRoute.
func validateTraffic(o *objErrs, r *Route) {
	sp := &r.Spec
	if r.Answers() {
		for _, f := range []string{"mirror", "fault"} {
			if o.has("spec." + f) {
				o.add("spec."+f, "applies only to a Route with backends; remove it from a redirect or direct response")
			}
		}
		return
	}
	validateMirrors(o, sp)
	if f := sp.Fault; f != nil {
		validateFault(o, f)
	}
}

func validateMirrors(o *objErrs, sp *RouteSpec) {
	if o.has("spec.mirror") && len(sp.Mirror) == 0 {
		o.add("spec.mirror", "must list at least one Service (omit mirror for none)")
	}
	if len(sp.Mirror) > MaxMirrors {
		o.add("spec.mirror", "has %d entries; at most %d", len(sp.Mirror), MaxMirrors)
	}
	backends := map[string]bool{}
	for _, b := range sp.Backends {
		backends[b.Service] = true
	}
	seen := map[string]bool{}
	for i, m := range sp.Mirror {
		p := fmt.Sprintf("spec.mirror[%d]", i)
		switch {
		case m.Service == "":
			o.add(p+".service", "required: the name of a Service")
		case backends[m.Service]:
			o.add(p+".service", "Service %q is a backend of this Route; a Route cannot mirror to itself (it would get every request twice)", m.Service)
		case seen[m.Service]:
			o.add(p+".service", "duplicate Service %q", m.Service)
		}
		seen[m.Service] = true
		if p := m.P(); p < 1 || p > 100 {
			o.add(fmt.Sprintf("spec.mirror[%d].percent", i), "%d is out of range; 1..100 (omit it for 100)", p)
		}
	}
}

func validateFault(o *objErrs, f *Fault) {
	const p = "spec.fault"
	if f.Delay == nil && f.Abort == nil {
		o.add(p, "set at least one of delay, abort")
	}
	if d := f.Delay; d != nil {
		if d.Duration <= 0 || d.Duration.D() > MaxFaultDelay {
			o.add(p+".delay.duration", "%s is out of range; more than 0 and at most %s (required)", d.Duration.D(), MaxFaultDelay)
		}
		checkPercent(o, p+".delay.percent", d.Percent)
	}
	if a := f.Abort; a != nil {
		switch {
		case o.has(p+".abort.status") && a.GRPCStatus != nil:
			o.add(p+".abort", "set exactly one of status, grpcStatus")
		case a.GRPCStatus != nil:
			// 0 is OK, which is no fault; 17 and above are not gRPC codes.
			if c := *a.GRPCStatus; c < 1 || c > 16 {
				o.add(p+".abort.grpcStatus", "%d is not a gRPC error code; 1..16 (e.g. 14 UNAVAILABLE)", c)
			}
		case !o.has(p + ".abort.status"):
			o.add(p+".abort", "set exactly one of status, grpcStatus")
		case a.Status < 200 || a.Status > 599:
			// Envoy's FaultAbort.http_status: [200, 600).
			o.add(p+".abort.status", "%d is out of range; 200..599", a.Status)
		}
		checkPercent(o, p+".abort.percent", a.Percent)
	}
	if h := f.WhenHeader; h != nil {
		hp := p + ".whenHeader"
		if h.Name == "" {
			o.add(hp+".name", "required")
		} else if !headerName(h.Name) {
			o.add(hp+".name", "%q is not a valid HTTP header name", h.Name)
		}
		validateValueMatch(o, hp, h)
	}
}

func checkPercent(o *objErrs, p string, v int) {
	if v < 1 || v > 100 {
		o.add(p, "%d is out of range; 1..100 (required)", v)
	}
}

// MirrorServices lists the Services a Route mirrors to.
func (r *Route) MirrorServices() []string {
	out := make([]string, len(r.Spec.Mirror))
	for i, m := range r.Spec.Mirror {
		out[i] = m.Service
	}
	return out
}
