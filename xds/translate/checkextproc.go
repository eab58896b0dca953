package translate

import (
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// processorFilter is one of gatehouse's ext_proc filters (the WAF, request
// validation, transformation): what differs between them. The rules they
// share, each closing a way around the processor, are processorFilterRules
// and processorPerRoute; Envoy's own load-time rules for every ext_proc
// filter are extProcRules.
type processorFilter struct {
	filter    string // the HTTP filter's name (pkg/wire)
	what      string // the filter in messages: "the WAF"
	processor string // the processor pkg/extproc dispatches to
	// policyKey is the initial metadata naming the policy a Route runs;
	// policy names that policy's kind in messages.
	policyKey, policy string
	// namespace is the dynamic metadata namespace of the processor's
	// decisions, which the filter must receive ("" for none).
	namespace string
	// whyClosed says what failing open would let through.
	whyClosed string
	// routeMayFailOpen: a Route may set failure_mode_allow (a Firewall's
	// failureMode: allow); otherwise every Route fails closed.
	routeMayFailOpen bool
	// modes are the processor's processing-mode rules, for the filter and
	// for a Route's override; extra, if set, further filter-level rules.
	modes func(c *checker, where string, pm *extprocv3.ProcessingMode)
	extra func(c *checker, where string, m *extprocv3.ExternalProcessor)
	// done: the distinct per-route configs checked, by serialized value.
	done map[string]bool
}

// processorFilters returns the checker's processor filters by filter name,
// made on first use (each keeps its own per-route memo).
func (c *checker) processorFilters() map[string]*processorFilter {
	if c.procFilters == nil {
		c.procFilters = map[string]*processorFilter{}
		for _, p := range []processorFilter{wafProcessor, openAPIProcessor, transformProcessor} {
			c.procFilters[p.filter] = &p
		}
	}
	return c.procFilters
}

// processorFilter checks a filter named as one of gatehouse's processors:
// an ext_proc filter held to processorFilterRules.
func (c *checker) processorFilter(p *processorFilter, where string, mt protoreflect.MessageType, a *anypb.Any) {
	if mt == nil || mt.Descriptor().FullName() != extProcType {
		c.fail("%s: %s filter must be an ext_proc filter", where, p.what)
		return
	}
	m := &extprocv3.ExternalProcessor{}
	if c.unmarshal(where, a, m) {
		c.processorFilterRules(p, where, m)
	}
}

// processorFilterRules: the filter fails closed, calls gatehouse's
// external processing cluster, names its processor once and no policy
// (Routes choose theirs: pkg/extproc dispatches on the processor, the
// processor on the policy), receives the decision namespace (or Envoy
// drops the decisions before the access log), and its processing mode
// follows the processor's rules.
func (c *checker) processorFilterRules(p *processorFilter, where string, m *extprocv3.ExternalProcessor) {
	if m.GetFailureModeAllow() {
		c.fail("%s: %s must fail closed (failure_mode_allow: false): %s", where, p.what, p.whyClosed)
	}
	if eg := m.GetGrpcService().GetEnvoyGrpc(); eg == nil || eg.GetClusterName() != wire.ExtProcCluster {
		c.fail("%s: %s must call gatehouse's external processing cluster %q", where, p.what, wire.ExtProcCluster)
	}
	procs := 0
	for _, h := range m.GetGrpcService().GetInitialMetadata() {
		switch strings.ToLower(h.GetKey()) {
		case wire.ProcessorMetadataKey:
			procs++
			if h.GetValue() != p.processor {
				c.fail("%s: initial metadata %s is %q, want %q", where, wire.ProcessorMetadataKey, h.GetValue(), p.processor)
			}
		case p.policyKey:
			c.fail("%s: the %s is chosen per route (ExtProcPerRoute), not for the whole filter", where, p.policy)
		case wire.HeadersOnlyMetadataKey:
			c.fail("%s: %s is for upgrade routes only, never the whole filter: %s would judge every request before its body", where, wire.HeadersOnlyMetadataKey, p.what)
		}
	}
	if procs != 1 {
		c.fail("%s: initial metadata must name the processor once (%s: %s), has %d", where, wire.ProcessorMetadataKey, p.processor, procs)
	}
	if p.namespace != "" {
		found := false
		for _, n := range m.GetMetadataOptions().GetReceivingNamespaces().GetUntyped() {
			found = found || n == p.namespace
		}
		if !found {
			c.fail("%s: metadata_options.receiving_namespaces.untyped must list %s, or Envoy drops %s's decisions", where, p.namespace, p.what)
		}
	}
	if p.extra != nil {
		p.extra(c, where, m)
	}
	p.modes(c, where, m.GetProcessingMode())
}

// processorPerRoute: a Route either disables the filter or names exactly
// one policy, and does not change the processor, point the stream at
// another service, or (unless the processor allows it) fail open; a mode
// it overrides follows the processor's rules. Checked once per distinct
// config.
//
// up: the config is an upgrade route's (upgradeinspect.go): its mode asks
// for headers only, and for the request headers when the processor
// inspects requests (the WAF, validation).
func (c *checker) processorPerRoute(p *processorFilter, where string, a *anypb.Any, up bool) {
	key := string(a.GetValue())
	if up {
		key = "up\x00" + key
	}
	if p.done[key] {
		return
	}
	if p.done == nil {
		p.done = map[string]bool{}
	}
	p.done[key] = true
	pr := &extprocv3.ExtProcPerRoute{}
	if !c.unmarshal(where, a, pr) || pr.GetDisabled() {
		return
	}
	ov := pr.GetOverrides()
	if ov == nil {
		c.fail("%s: a per-route config of %s either disables the filter or names a %s in overrides", where, p.what, p.policy)
		return
	}
	names, headersOnly := 0, 0
	for _, h := range ov.GetGrpcInitialMetadata() {
		switch strings.ToLower(h.GetKey()) {
		case wire.HeadersOnlyMetadataKey:
			headersOnly++
			if h.GetValue() != "true" {
				c.fail("%s: %s is %q, want \"true\"", where, wire.HeadersOnlyMetadataKey, h.GetValue())
			}
		case p.policyKey:
			names++
			if h.GetValue() == "" {
				c.fail("%s: empty %s", where, p.policyKey)
			}
		case wire.ProcessorMetadataKey:
			c.fail("%s: a route must not change the processor (%s)", where, wire.ProcessorMetadataKey)
		}
	}
	judges := p.filter != wire.FilterTransform
	switch {
	case !up && headersOnly > 0:
		c.fail("%s: %s on a route that is not an upgrade route: %s would judge the request at its headers and let its body through uninspected", where, wire.HeadersOnlyMetadataKey, p.what)
	case up && judges && headersOnly != 1:
		c.fail("%s: %s on an upgrade route must be told %s: true once (has %d), or it waits for a request end that never comes and never judges the upgrade request", where, p.what, wire.HeadersOnlyMetadataKey, headersOnly)
	case up && !judges && headersOnly > 0:
		c.fail("%s: %s does not take %s", where, p.what, wire.HeadersOnlyMetadataKey)
	}
	if names != 1 {
		c.fail("%s: a route of %s must name exactly one %s (%s), names %d", where, p.what, p.policy, p.policyKey, names)
	}
	if ov.GetGrpcService() != nil {
		c.fail("%s: a route of %s must not point the filter at another service", where, p.what)
	}
	if !p.routeMayFailOpen && ov.GetFailureModeAllow().GetValue() {
		c.fail("%s: %s must fail closed on every route", where, p.what)
	}
	switch {
	case up:
		c.upgradeModeRules(p, where, ov.GetProcessingMode())
	case ov.GetProcessingMode() != nil:
		p.modes(c, where, ov.GetProcessingMode())
	}
}
