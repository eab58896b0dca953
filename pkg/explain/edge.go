package explain

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	rbacconfv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	localrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// The Gateway's edge filters (xds/translate/ddos.go) are configured at the
// filter level, the same on every route: the IP lists and the per-client
// limit's exemptions (RBAC), and the per-client limit (local_ratelimit).

// edgeRBAC evaluates the IP lists (enforced rules) and the exemptions
// (shadow rules, whose matched policy Envoy writes into dynamic metadata
// under the prefixed key: source/extensions/filters/http/rbac/
// rbac_filter.cc) for the request's client address, when given.
func (e *explainer) edgeRBAC(name string, a *anypb.Any, f *facts) (FilterStep, error) {
	cfg := &rbacv3.RBAC{}
	if err := a.UnmarshalTo(cfg); err != nil {
		return FilterStep{}, err
	}
	client, known := clientAddr(f.clientIP)
	var parts []string
	if sh := cfg.GetShadowRules(); sh != nil {
		f.edgeShadowKnown = known
		for _, n := range sortedPolicies(sh) {
			desc := "per-client limit counts clients " + describePrincipals(sh.GetPolicies()[n].GetPrincipals())
			if known && principalsMatch(sh.GetPolicies()[n].GetPrincipals(), client) {
				if f.edgeShadow == nil {
					f.edgeShadow = map[string]string{}
				}
				f.edgeShadow[cfg.GetShadowRulesStatPrefix()+"shadow_effective_policy_id"] = n
			}
			parts = append(parts, desc)
		}
	}
	effect := ""
	if r := cfg.GetRules(); r != nil {
		var allowed []string
		for _, n := range sortedPolicies(r) {
			parts = append([]string{fmt.Sprintf("%s: allows only clients %s, else 403", n, describePrincipals(r.GetPolicies()[n].GetPrincipals()))}, parts...)
			if known && principalsMatch(r.GetPolicies()[n].GetPrincipals(), client) {
				allowed = append(allowed, n)
			}
		}
		switch {
		case r.GetAction() != rbacconfv3.RBAC_ALLOW:
			effect = "rules with action " + r.GetAction().String() + " (not modelled)"
		case known && len(allowed) == 0:
			effect = fmt.Sprintf("client %s is not allowed: 403", f.clientIP)
		case known:
			effect = fmt.Sprintf("client %s allowed", f.clientIP)
		}
	}
	if effect != "" {
		parts = append(parts, effect)
	}
	return FilterStep{Filter: name, Effect: strings.Join(parts, "; ")}, nil
}

// edgeLimit says which bucket the per-client limit counts the request in.
func (e *explainer) edgeLimit(name string, a *anypb.Any, f *facts) (FilterStep, error) {
	cfg := &localrlv3.LocalRateLimit{}
	if err := a.UnmarshalTo(cfg); err != nil {
		return FilterStep{}, err
	}
	var parts []string
	for _, d := range cfg.GetDescriptors() {
		tb := d.GetTokenBucket()
		parts = append(parts, fmt.Sprintf("per-client limit: %d requests per %s, bursts up to %d, per client address (IPv4, IPv6 /64) per Envoy, else 429",
			tb.GetTokensPerFill().GetValue(), dur(tb.GetFillInterval()), tb.GetMaxTokens()))
	}
	// Exempt clients: the first action reads the RBAC shadow metadata,
	// absent for them, and a metadata action that finds nothing produces
	// no descriptor (router_ratelimit.cc).
	for _, rl := range cfg.GetRateLimits() {
		for _, act := range rl.GetActions() {
			md := act.GetMetadata()
			if md == nil || len(md.GetMetadataKey().GetPath()) != 1 {
				continue
			}
			switch _, counted := f.edgeShadow[md.GetMetadataKey().GetPath()[0].GetKey()]; {
			case !f.edgeShadowKnown:
				parts = append(parts, "whether the client is exempt depends on its address (give a client IP)")
			case counted:
				parts = append(parts, fmt.Sprintf("client %s is counted", f.clientIP))
			default:
				parts = append(parts, fmt.Sprintf("client %s is exempt: not counted", f.clientIP))
			}
		}
	}
	return FilterStep{Filter: name, Effect: strings.Join(parts, "; ")}, nil
}

func clientAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a, err == nil
}

func sortedPolicies(r *rbacconfv3.RBAC) []string {
	names := make([]string, 0, len(r.GetPolicies()))
	for n := range r.GetPolicies() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// principalsMatch: any principal matches (engine_impl.cc); remote_ip is
// the stream's, detected, address (matchers.cc).
func principalsMatch(ps []*rbacconfv3.Principal, client netip.Addr) bool {
	for _, p := range ps {
		if principalMatch(p, client) {
			return true
		}
	}
	return false
}

func principalMatch(p *rbacconfv3.Principal, client netip.Addr) bool {
	switch {
	case p.GetAny():
		return true
	case p.GetRemoteIp() != nil:
		pfx, ok := cidrOf(p)
		return ok && pfx.Contains(client)
	case p.GetNotId() != nil:
		return !principalMatch(p.GetNotId(), client)
	case p.GetAndIds() != nil:
		for _, q := range p.GetAndIds().GetIds() {
			if !principalMatch(q, client) {
				return false
			}
		}
		return true
	case p.GetOrIds() != nil:
		return principalsMatch(p.GetOrIds().GetIds(), client)
	}
	return false
}

func cidrOf(p *rbacconfv3.Principal) (netip.Prefix, bool) {
	a, err := netip.ParseAddr(p.GetRemoteIp().GetAddressPrefix())
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, int(p.GetRemoteIp().GetPrefixLen().GetValue())), true
}

func describePrincipals(ps []*rbacconfv3.Principal) string {
	var out []string
	for _, p := range ps {
		out = append(out, describePrincipal(p))
	}
	return strings.Join(out, " or ")
}

func describePrincipal(p *rbacconfv3.Principal) string {
	switch {
	case p.GetAny():
		return "any"
	case p.GetRemoteIp() != nil:
		if pfx, ok := cidrOf(p); ok {
			return pfx.String()
		}
		return "(invalid CIDR)"
	case p.GetNotId() != nil:
		return "not " + describePrincipal(p.GetNotId())
	case p.GetAndIds() != nil:
		var out []string
		for _, q := range p.GetAndIds().GetIds() {
			out = append(out, describePrincipal(q))
		}
		return strings.Join(out, " and ")
	case p.GetOrIds() != nil:
		var out []string
		for _, q := range p.GetOrIds().GetIds() {
			out = append(out, describePrincipal(q))
		}
		return "in [" + strings.Join(out, ", ") + "]"
	}
	return "(not modelled)"
}
