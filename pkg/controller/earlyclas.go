package controller

import (
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// earlyCLAs builds a translation's ClusterLoadAssignments while the
// translation finishes (translate.Options.EDSReady, called as its two
// groups start): its goroutines queue behind the groups and take the
// cores as each group ends, so the CLAs, which need only the EDS names
// and the registry, fill the time one group still runs. allEndpoints then
// takes what was built here for the EDS names the groups ask for, and
// builds anything else itself, so the result is the same as without it.
type earlyCLAs struct {
	b    *Builder
	eps  registry.Snapshot
	jobs []claJob
	done chan struct{} // closed once jobs are built; nil if never started
}

// start claims the CLAs of targets that cannot be kept from the last
// build and builds them on goroutines of their own. Called once, on
// Translate's goroutine.
func (e *earlyCLAs) start(targets []translate.EDSTarget) {
	seen := make(map[string]bool, len(targets))
	for _, t := range targets {
		if seen[t.EDS] {
			continue
		}
		seen[t.EDS] = true
		if _, ok := e.b.kept(t.EDS, t.Service, e.eps); ok {
			continue
		}
		e.jobs = append(e.jobs, claJob{eds: t.EDS, svc: t.Service, zone: t.Zone, eps: e.eps[t.Service]})
	}
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		_ = buildCLAs(e.jobs) // a failed job is built again by allEndpoints, which reports it
	}()
}

// wait waits for start's CLAs and returns them by EDS name (nil if start
// was not called).
func (e *earlyCLAs) wait() map[string]*claJob {
	if e.done == nil {
		return nil
	}
	<-e.done
	out := make(map[string]*claJob, len(e.jobs))
	for i := range e.jobs {
		out[e.jobs[i].eds] = &e.jobs[i]
	}
	return out
}

// kept returns the last build's CLA for eds when it can be kept: the name
// is the same and the Service's endpoints are unchanged.
func (b *Builder) kept(eds, svc string, eps registry.Snapshot) (*endpointv3.ClusterLoadAssignment, bool) {
	prev, ok := b.clas[eds]
	if !ok || !registry.Equal(b.endpoints[svc], eps[svc]) {
		return nil, false
	}
	return prev, true
}
