package translate

import (
	"strings"

	localrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	rbacfv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	metadatav3 "github.com/envoyproxy/go-control-plane/envoy/type/metadata/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
)

const rbacType protoreflect.FullName = "envoy.extensions.filters.http.rbac.v3.RBAC"

// rbacRules: Envoy ignores an RBAC filter's rules when it also has a
// matcher, and its shadow_rules next to a shadow_matcher, without an error
// (api/envoy/extensions/filters/http/rbac/v3/rbac.proto: "If both rules
// and matcher are configured, rules will be ignored"): an IP list written
// as rules would then silently allow everyone. Gatehouse's own rule.
func (c *checker) rbacRules(where string, fs []*hcmv3.HttpFilter) {
	for _, f := range fs {
		if filterType(f) != rbacType {
			continue
		}
		m := &rbacfv3.RBAC{}
		if !c.unmarshal(where, f.GetTypedConfig(), m) {
			continue
		}
		if m.GetRules() != nil && m.GetMatcher() != nil {
			c.fail("%s http filter %q: has rules and a matcher; Envoy would ignore the rules", where, f.GetName())
		}
		if m.GetShadowRules() != nil && m.GetShadowMatcher() != nil {
			c.fail("%s http filter %q: has shadow_rules and a shadow_matcher; Envoy would ignore the shadow rules", where, f.GetName())
		}
	}
}

// metadataFromRBAC: a local rate limit that keys on an RBAC filter's
// shadow result (ddos.go, the per-client limit's exemptions) must run
// after an RBAC filter whose shadow rules write that key: the prefix of
// the key is the filter's shadow_rules_stat_prefix (rbac_filter.cc). Else
// the metadata is never there, the descriptor never produced, and the
// limit silently counts nobody. Envoy accepts either order: gatehouse's
// own rule.
func (c *checker) metadataFromRBAC(where string, fs []*hcmv3.HttpFilter) {
	written := map[string]bool{}
	for _, f := range fs {
		switch filterType(f) {
		case rbacType:
			m := &rbacfv3.RBAC{}
			if c.unmarshal(where, f.GetTypedConfig(), m) && (m.GetShadowRules() != nil || m.GetShadowMatcher() != nil) {
				written[m.GetShadowRulesStatPrefix()+"shadow_effective_policy_id"] = true
			}
		case localRateLimitType:
			m := &localrlv3.LocalRateLimit{}
			if !c.unmarshal(where, f.GetTypedConfig(), m) {
				continue
			}
			for _, rl := range m.GetRateLimits() {
				for _, a := range rl.GetActions() {
					md := a.GetMetadata()
					if md == nil || md.GetMetadataKey().GetKey() != rbacMetadataNamespace {
						continue
					}
					path := md.GetMetadataKey().GetPath()
					if len(path) != 1 || !written[path[0].GetKey()] {
						c.fail("%s http filter %q: reads RBAC shadow metadata %v that no RBAC filter before it writes; its limit would count nobody", where, f.GetName(), keysOf(path))
					}
				}
			}
		}
	}
}

func filterType(f *hcmv3.HttpFilter) protoreflect.FullName {
	return protoreflect.FullName(strings.TrimPrefix(f.GetTypedConfig().GetTypeUrl(), "type.googleapis.com/"))
}

func keysOf(path []*metadatav3.MetadataKey_PathSegment) []string {
	out := make([]string, 0, len(path))
	for _, p := range path {
		out = append(out, p.GetKey())
	}
	return out
}
