package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gatehouse-dev/gatehouse/pkg/waf/crs"
)

// firewallPathRule and firewallTagRule: a path prefix and a tag end up in
// the WAF's SecLang directives, so only characters that cannot close a
// quoted argument or start another directive are allowed (pkg/waf checks
// the same again when it compiles).
var (
	firewallPathRule = regexp.MustCompile(`^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$`)
	firewallTagRule  = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
)

func validateFirewall(o *objErrs, fw *Firewall) {
	if fw.Name == FirewallNone {
		o.add("name", "%q is reserved: firewall: none turns the firewall off", fw.Name)
	}
	sp := &fw.Spec
	if o.has("spec.paranoiaLevel") && (sp.ParanoiaLevel < 1 || sp.ParanoiaLevel > 4) {
		o.add("spec.paranoiaLevel", "%d is not a paranoia level; 1 (default) to 4", sp.ParanoiaLevel)
	}
	switch sp.FailureMode {
	case "", FailureModeDeny, FailureModeAllow:
	default:
		o.add("spec.failureMode", "%q is not a failure mode; one of deny (default: refuse the request when the WAF cannot answer), allow", sp.FailureMode)
	}
	if t := sp.AnomalyThresholds; t != nil {
		// CRS adds 2 to 5 per matched rule; 0 would block every request
		// with any score, and 10000 is far beyond any real total.
		for _, f := range []struct {
			name string
			v    int
		}{{"inbound", t.Inbound}, {"outbound", t.Outbound}} {
			p := "spec.anomalyThresholds." + f.name
			if o.has(p) && (f.v < 1 || f.v > 10000) {
				o.add(p, "%d is out of range; 1..10000 (CRS's default is %d)", f.v, map[string]int{"inbound": 5, "outbound": 4}[f.name])
			}
		}
		if t.Outbound != 0 && !sp.InspectResponse {
			o.add("spec.anomalyThresholds.outbound", "only applies to responses; set inspectResponse: true or remove it")
		}
	}
	if l := sp.Limits; l != nil {
		if o.has("spec.limits.requestBodyKB") && (l.RequestBodyKB < 1 || l.RequestBodyKB > MaxFirewallBodyKB) {
			o.add("spec.limits.requestBodyKB", "%d is out of range; 1..%d (the WAF keeps the body in memory)", l.RequestBodyKB, MaxFirewallBodyKB)
		}
		if o.has("spec.limits.responseBodyKB") {
			if l.ResponseBodyKB < 1 || l.ResponseBodyKB > MaxFirewallBodyKB {
				o.add("spec.limits.responseBodyKB", "%d is out of range; 1..%d (the WAF keeps the body in memory)", l.ResponseBodyKB, MaxFirewallBodyKB)
			}
			if !sp.InspectResponse {
				o.add("spec.limits.responseBodyKB", "responses are not inspected; set inspectResponse: true or remove it")
			}
		}
	}
	if ex := sp.Exclusions; ex != nil {
		checkRuleIDs(o, "spec.exclusions.ids", ex.IDs)
		checkTags(o, "spec.exclusions.tags", ex.Tags)
		seen := map[string]string{}
		for i, pe := range ex.Paths {
			p := fmt.Sprintf("spec.exclusions.paths[%d]", i)
			switch {
			case pe.Prefix == "":
				o.add(p+".prefix", "required: the path prefix the exclusion applies to")
			case !firewallPathRule.MatchString(pe.Prefix) || strings.Contains(pe.Prefix, `"`):
				o.add(p+".prefix", "%q is not a URL path (starts with /; letters, digits and RFC 3986 path characters)", pe.Prefix)
			case seen[pe.Prefix] != "":
				o.add(p+".prefix", "%q is already excluded by %s; merge them", pe.Prefix, seen[pe.Prefix])
			default:
				seen[pe.Prefix] = p
			}
			if len(pe.IDs) == 0 && len(pe.Tags) == 0 {
				o.add(p, "names no rule id and no tag; set ids or tags")
			}
			checkRuleIDs(o, p+".ids", pe.IDs)
			checkTags(o, p+".tags", pe.Tags)
		}
	}
}

// checkRuleIDs: an exclusion naming a rule the embedded CRS does not define
// (a typo, a rule removed by a CRS upgrade) would silently exclude nothing.
func checkRuleIDs(o *objErrs, p string, ids []int) {
	seen := map[int]bool{}
	for i, id := range ids {
		ip := fmt.Sprintf("%s[%d]", p, i)
		switch {
		case !crs.IsRule(id):
			o.add(ip, "%d is not a rule of the OWASP Core Rule Set gatehouse embeds", id)
		case seen[id]:
			o.add(ip, "%d is listed twice", id)
		}
		seen[id] = true
	}
}

func checkTags(o *objErrs, p string, tags []string) {
	for i, t := range tags {
		if !firewallTagRule.MatchString(t) {
			o.add(fmt.Sprintf("%s[%d]", p, i), "%q is not a CRS tag (letters, digits, . _ / -, such as attack-sqli or paranoia-level/2)", t)
		}
	}
}
