package controller

import (
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/waf"
)

// WAFRules are the WAF's policies for snap, by Firewall name (the name
// the translator passes as gRPC initial metadata on each Route).
func WAFRules(snap *policy.Snapshot) map[string]waf.Policy {
	out := make(map[string]waf.Policy, len(snap.Firewalls))
	for name, fw := range snap.Firewalls {
		sp := fw.Spec
		p := waf.Policy{ParanoiaLevel: sp.ParanoiaLevel, DetectionOnly: sp.DetectionOnly, InspectResponse: sp.InspectResponse}
		if t := sp.AnomalyThresholds; t != nil {
			p.InboundThreshold, p.OutboundThreshold = t.Inbound, t.Outbound
		}
		if l := sp.Limits; l != nil {
			p.RequestBodyLimit, p.ResponseBodyLimit = l.RequestBodyKB<<10, l.ResponseBodyKB<<10
		}
		if ex := sp.Exclusions; ex != nil {
			p.ExcludeIDs, p.ExcludeTags = ex.IDs, ex.Tags
			for _, pe := range ex.Paths {
				p.PathExclusions = append(p.PathExclusions, waf.PathExclusion{Prefix: pe.Prefix, IDs: pe.IDs, Tags: pe.Tags})
			}
		}
		out[name] = p
	}
	return out
}
